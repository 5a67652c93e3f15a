package main

// -mode ingest: -writers hub connections each keep up to -window mutations unacknowledged, sent in
// batches of -batch (a closed loop: as fast as the hub acknowledges), for -duration; acked puts/s.
// -mode rest: the baseline, one HTTP request per record to Ignite's REST API (-url is its base,
// e.g. http://127.0.0.1:8080), -writers requests in flight on keep-alive connections.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func runIngest(ctx context.Context, o Options, stats *Stats, runID string) int {
	d := &Dialer{URL: o.URL, Stats: stats, RunID: runID}
	writers := make([]*Writer, 0, o.Writers)
	for i := 0; i < o.Writers; i++ {
		w := NewWriter(d, o.WriterBase+i, o.WriteColl, o.Docs, o.PadBytes, 0)
		w.MaxPending = o.Window
		if err := w.Connect(ctx); err != nil {
			fmt.Println(`{"kind":"error","error":"writer connect"}`)
			return 1
		}
		writers = append(writers, w)
	}
	return closedLoop(ctx, o, stats, func(i int) bool {
		w := writers[i]
		if w.Pending()+o.Batch > o.Window {
			return false
		}
		w.Put(o.Batch)
		return true
	}, func() {
		for _, w := range writers {
			for deadline := time.Now().Add(30 * time.Second); w.Pending() > 0 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			w.Close()
		}
	})
}

func runREST(ctx context.Context, o Options, stats *Stats) int {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.Writers}}
	pad := strings.Repeat("x", o.PadBytes)
	var k atomic.Int64
	put := func(int) bool {
		n := k.Add(1)
		doc := fmt.Sprintf(`{"ts":%d,"k":%d,"pad":"%s"}`, time.Now().UnixNano(), n, pad)
		q := url.Values{"cmd": {"put"}, "cacheName": {o.WriteColl}, "key": {fmt.Sprintf("d%d", n%int64(o.Docs))}, "val": {doc}}
		t0 := time.Now()
		resp, err := client.Get(o.URL + "/ignite?" + q.Encode())
		if err != nil {
			stats.Inc("lost:" + errKind(err))
			return true
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		stats.AckRTT.Record(time.Since(t0).Nanoseconds())
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"successStatus":0`) {
			stats.Inc(fmt.Sprintf("ack:http_%d", resp.StatusCode))
			return true
		}
		stats.Inc("ack:ok")
		return true
	}
	return closedLoop(ctx, o, stats, put, func() {})
}

// closedLoop runs step(i) in -writers goroutines for -duration (a step that returns false waits a
// little: the window is full) and reports the acknowledged puts per second.
func closedLoop(ctx context.Context, o Options, stats *Stats, step func(i int) bool, drain func()) int {
	cu, cs := cpuSeconds()
	start := time.Now()
	emit(map[string]any{"kind": "steady", "ts": float64(start.UnixNano()) / 1e9, "cpu_s": cu + cs})
	run, stop := context.WithTimeout(ctx, o.Duration)
	defer stop()
	var wg sync.WaitGroup
	for i := 0; i < o.Writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for run.Err() == nil {
				if !step(i) {
					time.Sleep(200 * time.Microsecond)
				}
			}
		}(i)
	}
	wg.Wait()
	acked := stats.Snapshot()["ack:ok"]
	secs := time.Since(start).Seconds()
	cu, cs = cpuSeconds()
	emit(map[string]any{"kind": "steady_end", "ts": float64(time.Now().UnixNano()) / 1e9, "cpu_s": cu + cs})
	drain()
	counts := stats.Snapshot()
	unexpected, total := Unexpected(counts)
	emit(map[string]any{
		"kind": "summary", "mode": o.Mode, "options": o, "counts": counts, "acked": acked,
		"acked_per_s": float64(acked) / secs, "steady_s": secs, "ack_rtt": stats.AckRTT.Summary(),
		"unexpected": unexpected, "unexpected_total": total,
	})
	if total > 0 {
		return 1
	}
	return 0
}
