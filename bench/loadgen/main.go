// Command loadgen drives a synchub hub over its WebSocket protocol (docs/protocol.md).
//
// Modes:
//
//	churn   hold -conns subscribed connections, close -churn random ones per second (a share
//	        of them abruptly) and open as many, while -writers connections send -writes put
//	        mutations per second; every outcome is counted by kind.
//	ingest  -writers connections write as fast as the hub acknowledges (-window, -batch);
//	rest    the same through Ignite's REST API, one HTTP request per record (ingest.go).
//	presence -conns room members over -rooms rooms and the hubs of -url (comma separated),
//	        -writes presence updates per second; delay until the other members see them
//	        (presence.go).
//	fanout  -conns subscribers of one collection and one publisher at -writes updates per
//	        second (in batches of -batch); latency from the payload timestamp to receipt
//	        (log-linear histogram). -target centrifugo drives Centrifugo v6 instead (the
//	        benchmark's peer, centrifugo.go): -url is its WebSocket, -api its HTTP API.
//
// Output: one JSON object per line on stdout: "start", then "interval" every -interval, a
// "steady" marker once the ramp-up is over (ramp_ts, last_synced_ts: a connection storm's span),
// "steady_end" when the load stops, and a final "summary" (counts by kind, unexpected
// outcomes, latency percentiles, CPU seconds of this process).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type Options struct {
	Mode         string
	URL          string
	Conns        int
	Churn        float64
	Abrupt       float64
	Writes       float64
	Writers      int
	WriterBase   int
	Duration     time.Duration
	Interval     time.Duration
	RampRate     float64
	SubColl      string
	WriteColl    string
	SubWriteFrac float64
	SourceIPs    int
	NoBatch      bool
	Docs         int
	PadBytes     int
	Inflight     int
	Batch        int
	Rooms        int
	Filters      int
	Window       int
	Target       string
	API          string
	APIKey       string
}

// Publisher sends the writes: a synchub writer connection, or Centrifugo's HTTP API.
type Publisher interface {
	Connect(ctx context.Context) error
	Alive() bool
	Put(n int)
	Pending() int
	Close()
}

// LiveSet holds the subscribers that are synced and not being closed, for random victims.
type LiveSet struct {
	mu    sync.Mutex
	conns []*Conn
	index map[*Conn]int
}

func (s *LiveSet) Add(c *Conn) {
	s.mu.Lock()
	s.index[c] = len(s.conns)
	s.conns = append(s.conns, c)
	s.mu.Unlock()
}

func (s *LiveSet) Remove(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[c]
	if !ok {
		return false
	}
	last := s.conns[len(s.conns)-1]
	s.conns[i] = last
	s.index[last] = i
	s.conns = s.conns[:len(s.conns)-1]
	delete(s.index, c)
	return true
}

// TakeRandom removes and returns a random member (nil when empty).
func (s *LiveSet) TakeRandom() *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) == 0 {
		return nil
	}
	c := s.conns[rand.IntN(len(s.conns))]
	i := s.index[c]
	last := s.conns[len(s.conns)-1]
	s.conns[i] = last
	s.index[last] = i
	s.conns = s.conns[:len(s.conns)-1]
	delete(s.index, c)
	return c
}

func (s *LiveSet) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

type Run struct {
	opt      Options
	dialer   *Dialer
	stats    *Stats
	live     LiveSet
	pending  atomic.Int64 // subscribers being opened
	serial   atomic.Int64
	sem      chan struct{}
	wg       sync.WaitGroup
	start    time.Time
	phase    atomic.Value
	draining atomic.Bool
	ctx      context.Context
	synced   atomic.Int64 // when the latest subscriber got synced (unix ns): a storm's end
}

func emit(v map[string]any) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintln(os.Stderr, "json:", err)
		return
	}
	os.Stdout.Write(append(b, '\n'))
}

func cpuSeconds() (float64, float64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime), tv(ru.Stime)
}

// openRetrying opens a hub connection, retrying refusals by admission control after a jittered,
// growing backoff (0.5 s doubling to 8 s), as client-js does; other errors end it.
func (r *Run) openRetrying(id string) (*Conn, error) {
	backoff := 500 * time.Millisecond
	for {
		c, err := r.dialer.Open(r.ctx, id)
		if !errors.Is(err, errOverloaded) {
			return c, err
		}
		wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff)))
		select {
		case <-time.After(wait):
		case <-r.ctx.Done():
			return nil, r.ctx.Err()
		}
		backoff = min(2*backoff, 8*time.Second)
	}
}

// spawn opens one subscriber in the background; it joins the live set once synced.
func (r *Run) spawn() {
	r.pending.Add(1)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case r.sem <- struct{}{}:
		case <-r.ctx.Done():
			r.pending.Add(-1)
			return
		}
		n := r.serial.Add(1)
		coll := r.opt.SubColl
		if r.opt.SubWriteFrac > 0 && rand.Float64() < r.opt.SubWriteFrac {
			coll = r.opt.WriteColl
		}
		t0 := time.Now()
		id := fmt.Sprintf("lg-%s-s%d", r.dialer.RunID, n)
		var c *Conn
		var err error
		if r.opt.Target == "centrifugo" {
			c, err = r.dialer.OpenCentrifugo(r.ctx, id, coll)
		} else if c, err = r.openRetrying(id); err == nil {
			var filter []any
			if r.opt.Filters > 0 { // subscriber n follows the documents whose `team` is t<n mod filters>
				filter = []any{[]any{"team", "==", fmt.Sprintf("t%d", n%int64(r.opt.Filters))}}
			}
			if err = c.Subscribe(coll, filter); err != nil {
				r.stats.Inc("sync_failed:" + errKind(err))
				_ = c.ws.Close()
			}
		}
		<-r.sem
		if err == nil && r.draining.Load() { // opened during the drain: close it at once
			go c.Serve()
			c.Close(closingFinal)
			err = context.Canceled
		}
		r.pending.Add(-1)
		if err != nil {
			return
		}
		r.stats.SyncTime.Record(time.Since(t0).Nanoseconds())
		for now, last := time.Now().UnixNano(), r.synced.Load(); now > last && !r.synced.CompareAndSwap(last, now); {
			last = r.synced.Load()
		}
		r.stats.Open.Add(1)
		r.live.Add(c)
		c.Serve()
		r.stats.Open.Add(-1)
		r.live.Remove(c)
	}()
}

func (r *Run) interval() map[string]any {
	counts := r.stats.Snapshot()
	_, unexpected := Unexpected(counts)
	u, s := cpuSeconds()
	return map[string]any{
		"kind": "interval", "ts": float64(time.Now().UnixNano()) / 1e9,
		"elapsed_s": time.Since(r.start).Seconds(), "phase": r.phase.Load(),
		"open": r.stats.Open.Load(), "pending": r.pending.Load(), "counts": counts,
		"unexpected": unexpected, "delivered": r.stats.Delivered.Load(),
		"cpu_user_s": u, "cpu_sys_s": s, "goroutines": runtime.NumGoroutine(),
	}
}

func main() {
	var o Options
	flag.StringVar(&o.Mode, "mode", "churn", "churn or fanout")
	flag.StringVar(&o.URL, "url", "ws://127.0.0.1:8000/sync", "hub WebSocket URL")
	flag.IntVar(&o.Conns, "conns", 300, "subscribed connections to hold")
	flag.Float64Var(&o.Churn, "churn", 20, "connections closed and opened per second (churn mode)")
	flag.Float64Var(&o.Abrupt, "abrupt", 0.2, "share of churn closes without a close frame")
	flag.Float64Var(&o.Writes, "writes", 50, "put mutations per second (fanout: updates per second)")
	flag.IntVar(&o.Writers, "writers", 4, "writer connections (churn mode)")
	flag.IntVar(&o.WriterBase, "writer-base", 0, "index of the first writer: its documents are w<index>-<k> (load generators writing side by side)")
	flag.DurationVar(&o.Duration, "duration", 30*time.Second, "steady phase length (after the ramp-up)")
	flag.DurationVar(&o.Interval, "interval", 5*time.Second, "report interval")
	flag.Float64Var(&o.RampRate, "ramp-rate", 200, "connections opened per second during the ramp-up")
	flag.StringVar(&o.SubColl, "sub-coll", "soak_quiet", "collection the subscribers follow")
	flag.StringVar(&o.WriteColl, "write-coll", "soak_write", "collection the writers write")
	flag.Float64Var(&o.SubWriteFrac, "sub-write-frac", 0.01, "share of subscribers that follow the written collection")
	flag.BoolVar(&o.NoBatch, "no-batch", false, "do not ask the hub for batched messages (hello.features)")
	flag.IntVar(&o.SourceIPs, "src-ips", 8, "spread source addresses over 127.0.0.2.. (loopback hub only; 0: off)")
	flag.IntVar(&o.Docs, "docs", 500, "distinct documents per writer")
	flag.IntVar(&o.PadBytes, "pad", 100, "padding bytes per written document")
	flag.IntVar(&o.Inflight, "inflight", 512, "connections being opened at once, at most")
	flag.IntVar(&o.Batch, "batch", 10, "mutations per mut frame (Centrifugo: publications per /api/batch)")
	flag.IntVar(&o.Window, "window", 2000, "ingest: mutations unacknowledged per writer, at most")
	flag.IntVar(&o.Filters, "filters", 0, "fanout: query subscriptions over this many distinct filters (team == t<i>), 0: whole collection")
	flag.IntVar(&o.Rooms, "rooms", 100, "presence: rooms the members are spread over")
	flag.StringVar(&o.Target, "target", "synchub", "fanout: synchub, or centrifugo (its JSON protocol at -url, HTTP API at -api)")
	flag.StringVar(&o.API, "api", "http://127.0.0.1:8010/api", "Centrifugo HTTP API base URL")
	flag.StringVar(&o.APIKey, "api-key", "bench", "Centrifugo HTTP API key")
	flag.Parse()
	if o.Target != "synchub" && (o.Target != "centrifugo" || o.Mode != "fanout") {
		fmt.Fprintln(os.Stderr, "-target centrifugo needs -mode fanout; unknown -target", o.Target)
		os.Exit(2)
	}
	switch o.Mode {
	case "churn":
	case "fanout":
		o.Churn, o.Writers, o.SubWriteFrac, o.SubColl = 0, 1, 0, o.WriteColl
	case "ingest", "rest":
		ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := 0
		if o.Mode == "rest" {
			code = runREST(ctx, o, NewStats())
		} else {
			code = runIngest(ctx, o, NewStats(), fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffffff))
		}
		cancel()
		os.Exit(code)
	case "presence":
		ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := runPresence(ctx, o, NewStats(), fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffffff))
		cancel()
		os.Exit(code)
	default:
		fmt.Fprintln(os.Stderr, "unknown -mode", o.Mode)
		os.Exit(2)
	}
	os.Exit(run(o))
}

func run(o Options) int {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	stats := NewStats()
	r := &Run{
		opt: o, stats: stats, ctx: ctx, start: time.Now(), sem: make(chan struct{}, o.Inflight),
		dialer: &Dialer{URL: o.URL, SourceIPs: sourceIPs(o.URL, o.SourceIPs), Stats: stats, NoBatch: o.NoBatch,
			RunID: fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffffff)},
	}
	r.live.index = map[*Conn]int{}
	r.phase.Store("ramp")
	emit(map[string]any{"kind": "start", "ts": float64(r.start.UnixNano()) / 1e9, "options": o,
		"source_ips": len(r.dialer.SourceIPs), "pid": os.Getpid()})

	stopReport := make(chan struct{})
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		t := time.NewTicker(o.Interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				emit(r.interval())
			case <-stopReport:
				return
			}
		}
	}()

	// writers first: subscribers to the written collection see their changes from the start
	writers := make([]Publisher, 0, o.Writers)
	for i := 0; i < o.Writers; i++ {
		var w Publisher = NewWriter(r.dialer, o.WriterBase+i, o.WriteColl, o.Docs, o.PadBytes, o.Filters)
		if o.Target == "centrifugo" {
			w = NewCentPublisher(o.API, o.APIKey, o.WriteColl, o.PadBytes, stats)
		}
		if err := w.Connect(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "writer connect:", err)
		}
		writers = append(writers, w)
	}

	// ramp-up: open o.Conns subscribers at o.RampRate
	rampAt := time.Now()
	rampEvery := time.Duration(float64(time.Second) / o.RampRate)
	for i := 0; i < o.Conns && ctx.Err() == nil; i++ {
		r.spawn()
		time.Sleep(rampEvery)
	}
	for ctx.Err() == nil && r.pending.Load() > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	r.phase.Store("steady")
	steadyAt := time.Now()
	cu, cs := cpuSeconds()
	emit(map[string]any{"kind": "steady", "ts": float64(steadyAt.UnixNano()) / 1e9,
		"elapsed_s": time.Since(r.start).Seconds(), "open": stats.Open.Load(), "cpu_s": cu + cs,
		"ramp_ts": float64(rampAt.UnixNano()) / 1e9, "last_synced_ts": float64(r.synced.Load()) / 1e9})
	startCounts := stats.Snapshot()
	startDelivered := stats.Delivered.Load()

	// steady phase
	var wg sync.WaitGroup
	steady, stopSteady := context.WithTimeout(ctx, o.Duration)
	defer stopSteady()
	if o.Writes > 0 && len(writers) > 0 {
		wg.Add(1)
		go func() { // writes: batches of one, spread evenly over the writers
			defer wg.Done()
			t := time.NewTicker(time.Duration(float64(time.Second) * float64(o.Batch) / o.Writes))
			defer t.Stop()
			for i := 0; ; i++ {
				select {
				case <-steady.Done():
					return
				case <-t.C:
					w := writers[i%len(writers)]
					if !w.Alive() {
						stats.Inc("writer_reconnect")
						if err := w.Connect(steady); err != nil {
							continue
						}
					}
					w.Put(o.Batch)
				}
			}
		}()
	}
	if o.Churn > 0 {
		wg.Add(1)
		go func() { // churn: close a random synced subscriber and open a new one
			defer wg.Done()
			// The schedule is the elapsed time times the rate, not one churn per tick: a ticker
			// drops ticks when this process is descheduled, which offered less than the target
			// on a loaded box. Churns the schedule owes are made up at the next tick.
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			done := int64(0)
			for {
				select {
				case <-steady.Done():
					return
				case <-t.C:
					due := int64(time.Since(steadyAt).Seconds() * o.Churn)
					for ; done < due; done++ {
						if r.pending.Load() >= int64(o.Inflight) {
							// the hub is not taking connections as fast as the target churn:
							// hold back rather than queue without bound (the achieved rate is
							// reported); the debt is made up once openings finish
							stats.Inc("churn_deferred")
							break
						}
						if victim := r.live.TakeRandom(); victim != nil {
							how := closingGraceful
							if rand.Float64() < o.Abrupt {
								how = closingAbrupt
							}
							go victim.Close(how)
						}
						r.spawn()
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // top-up: replace subscribers lost for other reasons (counted as unexpected)
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-steady.Done():
				return
			case <-t.C:
				deficit := min(int64(o.Conns)-int64(r.live.Len())-r.pending.Load(), int64(o.Inflight)-r.pending.Load())
				for i := int64(0); i < deficit && i < int64(o.RampRate); i++ {
					stats.Inc("topup")
					r.spawn()
				}
			}
		}
	}()
	wg.Wait()
	steadyS := time.Since(steadyAt).Seconds()
	cu, cs = cpuSeconds()
	emit(map[string]any{"kind": "steady_end", "ts": float64(time.Now().UnixNano()) / 1e9,
		"elapsed_s": time.Since(r.start).Seconds(), "delivered": stats.Delivered.Load() - startDelivered,
		"cpu_s": cu + cs})
	endCounts := stats.Snapshot()
	delivered := stats.Delivered.Load() - startDelivered

	// drain: no new connections; let the opening ones finish and the acks in flight arrive
	// (the hub stops reading a connection with unacknowledged batches, so a close frame would
	// wait behind them), then close everything gracefully
	r.phase.Store("drain")
	r.draining.Store(true)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		unacked := 0
		for _, w := range writers {
			unacked += w.Pending()
		}
		if unacked == 0 && r.pending.Load() == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, w := range writers {
		if n := w.Pending(); n > 0 {
			stats.Add("unacked_at_end", uint64(n))
		}
	}
	var closing sync.WaitGroup
	for _, w := range writers {
		closing.Add(1)
		go func(w Publisher) { defer closing.Done(); w.Close() }(w)
	}
	for c := r.live.TakeRandom(); c != nil; c = r.live.TakeRandom() {
		closing.Add(1)
		go func(c *Conn) { defer closing.Done(); c.Close(closingFinal) }(c)
	}
	closing.Wait()
	cancel()
	r.wg.Wait()
	close(stopReport)
	<-reported

	counts := stats.Snapshot()
	unexpected, total := Unexpected(counts)
	steadyCounts := map[string]uint64{}
	for k, v := range endCounts {
		if d := v - startCounts[k]; d > 0 {
			steadyCounts[k] = d
		}
	}
	u, s := cpuSeconds()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	summary := map[string]any{
		"kind": "summary", "ts": float64(time.Now().UnixNano()) / 1e9, "mode": o.Mode, "options": o,
		"elapsed_s": time.Since(r.start).Seconds(), "steady_s": steadyS,
		"counts": counts, "steady_counts": steadyCounts,
		"unexpected": unexpected, "unexpected_total": total,
		"ack_rtt": stats.AckRTT.Summary(), "sync_time": stats.SyncTime.Summary(),
		"delivery": stats.Delivery.Summary(), "delivered_per_s": float64(delivered) / steadyS,
		"cpu_user_s": u, "cpu_sys_s": s, "go_sys_bytes": mem.Sys,
	}
	churned := steadyCounts["closed_graceful"] + steadyCounts["closed_abrupt"]
	summary["churn_per_s"] = float64(churned) / steadyS
	summary["writes_acked_per_s"] = float64(steadyCounts["ack:ok"]) / steadyS
	if o.Mode == "fanout" {
		acked := steadyCounts["ack:ok"]
		summary["expected_deliveries"] = acked * uint64(o.Conns)
		if o.Filters > 0 { // each change matches one filter
			summary["expected_deliveries"] = acked * uint64(o.Conns/o.Filters)
		}
	}
	emit(summary)
	if total > 0 {
		return 1
	}
	return 0
}
