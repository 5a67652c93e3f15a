package main

import "testing"

func TestHistBucketsBoundValues(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1000, 123456789, 1 << 40, 1<<62 + 12345} {
		shift, sub := bucketOf(v)
		low := bucketLow(shift, sub)
		if low > v || float64(v-low) > float64(v)/100 {
			t.Fatalf("value %d in bucket (%d,%d) starting at %d", v, shift, sub, low)
		}
	}
}

func TestHistQuantiles(t *testing.T) {
	var h Hist
	for i := int64(1); i <= 10000; i++ {
		h.Record(i * 1000) // 1 µs .. 10 ms
	}
	for _, c := range []struct {
		q    float64
		want int64
	}{{0.5, 5_000_000}, {0.99, 9_900_000}, {0.999, 9_990_000}} {
		got := h.Quantile(c.q)
		if got > c.want || float64(c.want-got) > float64(c.want)/100 {
			t.Fatalf("q%.3f = %d, want about %d", c.q, got, c.want)
		}
	}
	if h.Count() != 10000 || h.max.Load() != 10_000_000 {
		t.Fatalf("count %d max %d", h.Count(), h.max.Load())
	}
}
