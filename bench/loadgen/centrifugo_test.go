package main

// The Centrifugo side of the generator against a stand-in speaking the same JSON protocol (the
// real server is only built by `make bench`): connect, subscribe, a ping answered, publications
// in one newline-separated frame counted with their latency, and a refused subscribe reported.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func centStandIn(t *testing.T, refuse bool, pongs chan<- string) *httptest.Server {
	up := websocket.Upgrader{}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for step := 0; ; step++ {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var cmd map[string]any
			_ = json.Unmarshal(data, &cmd)
			switch {
			case cmd["connect"] != nil:
				_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"connect":{"client":"x","ping":25,"pong":true}}`))
			case cmd["subscribe"] != nil && refuse:
				_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"id":2,"error":{"code":103,"message":"permission denied"}}`))
			case cmd["subscribe"] != nil:
				_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"id":2,"subscribe":{}}`))
				now := time.Now().UnixNano()
				pubs := fmt.Sprintf(`{}`+"\n"+`{"push":{"channel":"c","pub":{"data":{"ts":%d,"k":1}}}}`+"\n"+
					`{"push":{"channel":"c","pub":{"data":{"ts":%d,"k":2}}}}`, now, now)
				_ = ws.WriteMessage(websocket.TextMessage, []byte(pubs))
			default: // the pong
				pongs <- string(data)
			}
		}
	}))
}

func TestCentrifugoSubscriberCountsPublications(t *testing.T) {
	pongs := make(chan string, 1)
	srv := centStandIn(t, false, pongs)
	defer srv.Close()
	stats := NewStats()
	d := &Dialer{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), Stats: stats}
	c, err := d.OpenCentrifugo(context.Background(), "s1", "c")
	if err != nil {
		t.Fatal(err)
	}
	go c.Serve()
	select {
	case p := <-pongs:
		if p != "{}" {
			t.Fatalf("pong %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the ping was not answered")
	}
	for deadline := time.Now().Add(5 * time.Second); stats.Delivered.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d of 2", stats.Delivered.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Close(closingFinal)
	counts := stats.Snapshot()
	if counts["synced"] != 1 || counts["chg"] != 2 || stats.Delivery.Summary()["count"] != uint64(2) {
		t.Fatalf("counts %v, delivery %v", counts, stats.Delivery.Summary())
	}
	if _, n := Unexpected(counts); n != 0 {
		t.Fatalf("unexpected %v", counts)
	}
}

func TestCentrifugoRefusedSubscribeIsReported(t *testing.T) {
	srv := centStandIn(t, true, make(chan string, 1))
	defer srv.Close()
	stats := NewStats()
	d := &Dialer{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), Stats: stats}
	if _, err := d.OpenCentrifugo(context.Background(), "s1", "c"); err == nil {
		t.Fatal("a refused subscribe opened")
	}
	if _, n := Unexpected(stats.Snapshot()); n == 0 {
		t.Fatalf("nothing unexpected counted: %v", stats.Snapshot())
	}
}
