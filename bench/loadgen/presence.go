package main

// -mode presence: -conns members spread over -rooms rooms and over the hubs of -url (comma
// separated: member i talks to hub i mod len), each joins its room; in the steady phase random
// members send `pupdate` at -writes per second in all, their state carrying the send time. Every
// other member of the room records the delay until its `updated` (and, at the start, `joined`)
// arrives, apart for members on the same hub as the sender and on another hub (the presence
// backplane through Ignite).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

type presenceRun struct {
	hubs    int
	rooms   int
	members []*Conn
	mu      sync.Mutex
	same    *Hist // sender and receiver on one hub
	cross   *Hist // on two hubs
	joins   *Hist // join sent -> `joined` seen by the others
	stats   *Stats
}

// Member i is in room i mod rooms, on hub (i / rooms) mod hubs: every room spans the hubs.
func (p *presenceRun) hubOfIndex(i int) int { return (i / p.rooms) % p.hubs }

// hubOf parses the hub back out of a member id "lg-<run>-m<i>".
func (p *presenceRun) hubOf(id string) int {
	i, err := strconv.Atoi(id[strings.LastIndexByte(id, 'm')+1:])
	if err != nil {
		return -1
	}
	return p.hubOfIndex(i)
}

func (p *presenceRun) serve(c *Conn, hub int) {
	defer close(c.done)
	for {
		m, err := c.read(90 * time.Second)
		if err != nil {
			c.ended(err)
			return
		}
		switch m["t"] {
		case "updated", "joined":
			member, _ := m["member"].(map[string]any)
			state, _ := member["state"].(map[string]any)
			ts, ok := toInt64(state["ts"])
			if !ok || ts <= 0 {
				continue
			}
			d := time.Now().UnixNano() - ts
			id, _ := member["id"].(string)
			if id == c.ID { // its own update, echoed
				continue
			}
			switch {
			case m["t"] == "joined":
				p.joins.Record(d)
			case p.hubOf(id) == hub:
				p.same.Record(d)
			default:
				p.cross.Record(d)
			}
			c.stats.Inc(fmt.Sprintf("%v", m["t"]))
			c.stats.Delivered.Add(1)
		case "members", "left":
			c.stats.Inc(fmt.Sprintf("%v", m["t"]))
		case "ping":
			_ = c.send(map[string]any{"t": "pong", "n": m["n"]})
		case "rerror":
			code, _ := toInt64(m["code"])
			c.stats.Inc(fmt.Sprintf("error_frame:%d", code))
		default:
			c.stats.Inc(fmt.Sprintf("protocol_error:%v", m["t"]))
		}
	}
}

func runPresence(ctx context.Context, o Options, stats *Stats, runID string) int {
	urls := strings.Split(o.URL, ",")
	p := &presenceRun{hubs: len(urls), rooms: max(1, o.Rooms), same: &stats.Delivery, cross: &Hist{}, joins: &Hist{}, stats: stats}
	dialers := make([]*Dialer, len(urls))
	for i, u := range urls {
		dialers[i] = &Dialer{URL: u, SourceIPs: sourceIPs(u, o.SourceIPs), Stats: stats, RunID: runID}
	}
	start := time.Now()
	emit(map[string]any{"kind": "start", "ts": float64(start.UnixNano()) / 1e9, "options": o})
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.Inflight)
	for i := 0; i < o.Conns && ctx.Err() == nil; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			hub := p.hubOfIndex(i)
			c, err := dialers[hub].Open(ctx, fmt.Sprintf("lg-%s-m%d", runID, i))
			if err != nil {
				return
			}
			room := fmt.Sprintf("bench-%d", i%p.rooms)
			state := map[string]any{"ts": time.Now().UnixNano(), "n": 0}
			if err := c.send(map[string]any{"t": "join", "room": room, "state": state, "tag": nil}); err != nil {
				stats.Inc("join_failed")
				return
			}
			p.mu.Lock()
			p.members = append(p.members, c)
			p.mu.Unlock()
			stats.Open.Add(1)
			go p.serve(c, hub)
		}(i)
		time.Sleep(time.Duration(float64(time.Second) / o.RampRate))
	}
	wg.Wait()
	time.Sleep(2 * time.Second) // the last joins reach everyone
	cu, cs := cpuSeconds()
	steadyAt := time.Now()
	emit(map[string]any{"kind": "steady", "ts": float64(steadyAt.UnixNano()) / 1e9, "open": stats.Open.Load(), "cpu_s": cu + cs})
	sentUpdates := 0
	if o.Writes > 0 && len(p.members) > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.Writes))
		end := time.After(o.Duration)
	loop:
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				break loop
			case <-end:
				break loop
			case <-t.C:
				i := rand.IntN(len(p.members))
				c := p.members[i]
				var idx int
				fmt.Sscanf(c.ID[strings.LastIndexByte(c.ID, 'm')+1:], "%d", &idx)
				room := fmt.Sprintf("bench-%d", idx%p.rooms)
				state := map[string]any{"ts": time.Now().UnixNano(), "n": n}
				if err := c.send(map[string]any{"t": "pupdate", "room": room, "state": state, "tag": nil}); err == nil {
					sentUpdates++
				}
			}
		}
		t.Stop()
	}
	cu, cs = cpuSeconds()
	emit(map[string]any{"kind": "steady_end", "ts": float64(time.Now().UnixNano()) / 1e9, "cpu_s": cu + cs,
		"delivered": stats.Delivered.Load()})
	time.Sleep(3 * time.Second) // updates in flight arrive
	var closing sync.WaitGroup
	for _, c := range p.members {
		closing.Add(1)
		go func(c *Conn) { defer closing.Done(); c.Close(closingFinal) }(c)
	}
	closing.Wait()
	counts := stats.Snapshot()
	unexpected, total := Unexpected(counts)
	perRoom := float64(o.Conns) / float64(p.rooms)
	emit(map[string]any{
		"kind": "summary", "mode": "presence", "options": o, "counts": counts,
		"unexpected": unexpected, "unexpected_total": total,
		"updates_sent": sentUpdates, "expected_updated": float64(sentUpdates) * (perRoom - 1),
		"same_hub": p.same.Summary(), "cross_hub": p.cross.Summary(), "joined": p.joins.Summary(),
		"steady_s": time.Since(steadyAt).Seconds(), "cpu_user_s": cu, "cpu_sys_s": cs,
	})
	if total > 0 {
		return 1
	}
	return 0
}
