package main

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Stats counts every outcome by kind. Counters named in Unexpected are failures; the rest are
// what a healthy run produces.
type Stats struct {
	mu     sync.Mutex
	counts map[string]uint64

	Open      atomic.Int64 // connections past welcome and not yet closed
	Delivery  Hist         // payload timestamp -> chg received (ns)
	AckRTT    Hist         // mut sent -> ack received (ns)
	SyncTime  Hist         // dial -> synced (ns)
	Delivered atomic.Uint64
	Chg       atomic.Uint64 // chg/qchg frames received (counted apart: the hottest counter)
}

// recordDeliveries records the deliveries of one message received at now (payload timestamps ts).
func (s *Stats) recordDeliveries(now int64, ts []int64) {
	n := 0
	for _, t := range ts {
		if t > 0 {
			s.Delivery.Record(now - t)
			n++
		}
	}
	s.Delivered.Add(uint64(n))
}

func NewStats() *Stats { return &Stats{counts: map[string]uint64{}} }

func (s *Stats) Inc(kind string) { s.Add(kind, 1) }

func (s *Stats) Add(kind string, n uint64) {
	s.mu.Lock()
	s.counts[kind] += n
	s.mu.Unlock()
}

func (s *Stats) Snapshot() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64, len(s.counts)+1)
	for k, v := range s.counts {
		out[k] = v
	}
	if n := s.Chg.Load(); n > 0 {
		out["chg"] += n
	}
	return out
}

// unexpectedPrefixes: counter kinds that mean something went wrong.
var unexpectedPrefixes = []string{
	"connect_failed",
	"handshake_failed",
	"welcome_failed",
	"sync_failed",
	"hub_close:",     // the hub closed a connection we had not asked to close
	"lost:",          // a connection broke without a close frame
	"error_frame:",   // an error message from the hub
	"ack:",           // counted only for statuses other than ok (see writer)
	"resync:",        // the hub asked for a resync
	"write_skipped",  // the writer fell behind its target rate
	"close_timeout",  // our graceful close got no answer
	"protocol_error", // a frame we could not read
	"unacked",        // mutations never acknowledged (connection lost, or still pending at the end)
}

// Unexpected returns the failure counters and their total.
func Unexpected(counts map[string]uint64) (map[string]uint64, uint64) {
	out := map[string]uint64{}
	var total uint64
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, p := range unexpectedPrefixes {
			if len(k) >= len(p) && k[:len(p)] == p && k != "ack:ok" {
				out[k] = counts[k]
				total += counts[k]
			}
		}
	}
	return out, total
}
