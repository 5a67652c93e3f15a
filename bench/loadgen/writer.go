package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Writer sends put mutations whose document carries its send time (`ts`, Unix ns) and counts
// the acks by status. It keeps at most maxPending mutations unacknowledged; beyond that a
// mutation is not sent and counted as write_skipped (the hub is slower than the target rate).
type Writer struct {
	Index      int
	ClientID   string
	Coll       string
	Docs       int
	Pad        string
	MaxPending int
	Filters    int // > 0: documents carry team = t<k mod Filters>
	dialer     *Dialer
	stats      *Stats

	mu      sync.Mutex
	conn    *Conn
	seq     int64
	k       int
	hlc     int64
	pending map[int64]int64 // seq -> send time (ns)
}

func NewWriter(d *Dialer, i int, coll string, docs, padBytes, filters int) *Writer {
	return &Writer{
		Index: i, ClientID: fmt.Sprintf("lg-%s-w%d", d.RunID, i), Coll: coll, Docs: docs, Filters: filters,
		Pad: strings.Repeat("x", padBytes), MaxPending: 2000, dialer: d, stats: d.Stats,
		pending: map[int64]int64{},
	}
}

// Connect (re)opens the writer's connection; unacknowledged mutations of a broken one are
// counted as unacked (the load generator does not replay them).
func (w *Writer) Connect(ctx context.Context) error {
	c, err := w.dialer.Open(ctx, w.ClientID)
	if err != nil {
		return err
	}
	c.onAck = w.ack
	w.mu.Lock()
	if n := len(w.pending); n > 0 {
		w.stats.Add("unacked", uint64(n))
		w.pending = map[int64]int64{}
	}
	w.conn = c
	w.mu.Unlock()
	go c.Serve()
	return nil
}

func (w *Writer) nextHLC() int64 {
	v := time.Now().UnixMilli() << 16
	if v <= w.hlc {
		v = w.hlc + 1
	}
	w.hlc = v
	return v
}

// Put sends one batch of n mutations.
func (w *Writer) Put(n int) {
	w.mu.Lock()
	c := w.conn
	if c == nil || len(w.pending)+n > w.MaxPending {
		w.mu.Unlock()
		w.stats.Add("write_skipped", uint64(n))
		return
	}
	batch := make([]any, 0, n)
	now := time.Now().UnixNano()
	for i := 0; i < n; i++ {
		w.seq++
		w.k++
		id := fmt.Sprintf("w%d-%d", w.Index, w.k%w.Docs)
		doc := map[string]any{"ts": now, "w": w.Index, "k": w.k, "pad": w.Pad}
		if w.Filters > 0 { // a document keeps its team: it never leaves its subset
			id = fmt.Sprintf("w%d-%d", w.Index, w.k)
			doc["team"] = fmt.Sprintf("t%d", w.k%w.Filters)
		}
		batch = append(batch, map[string]any{
			"seq": w.seq, "coll": w.Coll, "id": id, "op": "put", "ts": w.nextHLC(), "base": nil, "doc": doc,
		})
		w.pending[w.seq] = now
	}
	w.mu.Unlock()
	if err := c.send(map[string]any{"t": "mut", "batch": batch}); err != nil {
		w.stats.Add("write_send_failed", uint64(n))
		return
	}
	w.stats.Add("mut_sent", uint64(n))
}

func (w *Writer) ack(m map[string]any) {
	results, _ := m["results"].([]any)
	now := time.Now().UnixNano()
	for _, r := range results {
		res, _ := r.(map[string]any)
		seq, _ := toInt64(res["seq"])
		w.mu.Lock()
		sent, ok := w.pending[seq]
		delete(w.pending, seq)
		w.mu.Unlock()
		if ok {
			w.stats.AckRTT.Record(now - sent)
		}
		s := fmt.Sprintf("%v", res["s"])
		if code, ok := toInt64(res["code"]); ok {
			s = fmt.Sprintf("%s:%d", s, code)
		}
		w.stats.Inc("ack:" + s)
	}
}

// Pending is the number of mutations sent and not yet acknowledged.
func (w *Writer) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// Alive reports whether the writer's connection is still being served.
func (w *Writer) Alive() bool {
	w.mu.Lock()
	c := w.conn
	w.mu.Unlock()
	if c == nil {
		return false
	}
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

func (w *Writer) Close() {
	w.mu.Lock()
	c := w.conn
	w.mu.Unlock()
	if c != nil {
		c.Close(closingFinal)
	}
}
