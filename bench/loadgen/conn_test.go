package main

// A hub stand-in that refuses its first connections with 4532 "hub overloaded, retry later" (the
// admission control of docs/protocol.md) and then welcomes: the generator retries, counts the
// refusals apart from the failures, and ends connected.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

func hubStandIn(refusals int32, code int) (*httptest.Server, *atomic.Int32) {
	up := websocket.Upgrader{}
	var seen atomic.Int32
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		if seen.Add(1) <= refusals {
			msg := websocket.FormatCloseMessage(code, "hub overloaded, retry later")
			_ = ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			return
		}
		if _, _, err := ws.ReadMessage(); err != nil { // the hello
			return
		}
		welcome, _ := msgpack.Marshal(map[string]any{"t": "welcome", "v": 1})
		_ = ws.WriteMessage(websocket.BinaryMessage, welcome)
		_, _, _ = ws.ReadMessage() // until the client goes
	})), &seen
}

func TestOverloadRefusalsAreRetriedAndNotFailures(t *testing.T) {
	srv, seen := hubStandIn(2, closeOverloaded)
	defer srv.Close()
	stats := NewStats()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := &Run{ctx: ctx, stats: stats, dialer: &Dialer{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), Stats: stats}}
	c, err := r.openRetrying("s1")
	if err != nil {
		t.Fatalf("open: %v (counts %v)", err, stats.Snapshot())
	}
	_ = c.ws.Close()
	counts := stats.Snapshot()
	if got := counts["refused:overloaded"]; got != 2 || seen.Load() != 3 {
		t.Fatalf("refusals counted %d, connections %d: %v", got, seen.Load(), counts)
	}
	if u, n := Unexpected(counts); n != 0 {
		t.Fatalf("refusals counted as failures: %v", u)
	}
}

func TestOtherClosesBeforeWelcomeAreFailuresNotRetried(t *testing.T) {
	srv, seen := hubStandIn(1, 4003)
	defer srv.Close()
	stats := NewStats()
	r := &Run{ctx: context.Background(), stats: stats, dialer: &Dialer{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), Stats: stats}}
	if _, err := r.openRetrying("s1"); err == nil {
		t.Fatal("a 4003 close was retried into a connection")
	}
	if _, n := Unexpected(stats.Snapshot()); n != 1 || seen.Load() != 1 {
		t.Fatalf("want one failure and one attempt, got %v after %d", stats.Snapshot(), seen.Load())
	}
}
