package main

import (
	"math/bits"
	"sync/atomic"
)

// Hist is a log-linear histogram of non-negative durations in nanoseconds, after HdrHistogram:
// each power of two is cut into 2^subBits equal buckets, so a recorded value is known to within
// 1/2^subBits (0.8 % with 7 bits) from 1 ns to 2^63 ns. Record is lock-free (atomic adds), so
// thousands of goroutines can share one histogram.
type Hist struct {
	counts [64 - subBits + 1][1 << subBits]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Int64
}

const subBits = 7

func bucketOf(v int64) (int, int) {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	e := bits.Len64(u) // 0 for v == 0
	if e <= subBits {
		return 0, int(u)
	}
	// the top bit is implicit; the subBits bits below it pick the bucket
	shift := e - subBits
	return shift, int((u >> uint(shift-1)) & (1<<subBits - 1))
}

// lowest value of a bucket
func bucketLow(shift, sub int) int64 {
	if shift == 0 {
		return int64(sub)
	}
	return int64(uint64(sub|1<<subBits) << uint(shift-1))
}

// Record adds one value (ns); negative values count as 0.
func (h *Hist) Record(v int64) {
	shift, sub := bucketOf(v)
	h.counts[shift][sub].Add(1)
	h.total.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

// Count is the number of recorded values.
func (h *Hist) Count() uint64 { return h.total.Load() }

// Quantile returns the lowest value of the bucket holding the q-quantile (0 <= q <= 1).
func (h *Hist) Quantile(q float64) int64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for shift := range h.counts {
		for sub := range h.counts[shift] {
			seen += h.counts[shift][sub].Load()
			if seen >= rank {
				return bucketLow(shift, sub)
			}
		}
	}
	return h.max.Load()
}

// Summary in milliseconds: count, p50, p90, p99, p999, max.
func (h *Hist) Summary() map[string]any {
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	return map[string]any{
		"count":   h.Count(),
		"p50_ms":  ms(h.Quantile(0.5)),
		"p90_ms":  ms(h.Quantile(0.9)),
		"p99_ms":  ms(h.Quantile(0.99)),
		"p999_ms": ms(h.Quantile(0.999)),
		"max_ms":  ms(h.max.Load()),
	}
}
