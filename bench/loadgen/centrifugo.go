package main

// The peer of the fan-out benchmark: Centrifugo (v6), driven by the same generator so both
// servers are measured with the same client code. Subscribers speak Centrifugo's JSON client
// protocol on its WebSocket (connect, subscribe, publications pushed, empty-object pings);
// the publisher uses its HTTP API (/api/batch of publish commands, one request per batch, as
// the synchub writer sends one mut frame per batch).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

type centReply struct {
	ID    uint32 `json:"id"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Push *centPush `json:"push"`
}

type centPush struct {
	Pub *centPub `json:"pub"`
}

type centPub struct {
	Data struct {
		TS int64 `json:"ts"`
	} `json:"data"`
}

func (c *Conn) sendText(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// readCent reads one frame: newline-separated replies; an empty object is a ping.
func (c *Conn) readCent(deadline time.Duration) ([]centReply, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(deadline))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	var out []centReply
	for _, line := range bytes.Split(data, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if ts, ok := centTimestamp(line); ok { // a publication: only its timestamp is read (scan.go)
			var r centReply
			r.Push = &centPush{Pub: &centPub{}}
			r.Push.Pub.Data.TS = ts
			out = append(out, r)
			continue
		}
		var r centReply
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("json: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}

// awaitCent waits for the reply to request id, answering pings.
func (c *Conn) awaitCent(id uint32, what string) error {
	for {
		replies, err := c.readCent(120 * time.Second)
		if err != nil {
			return err
		}
		for _, r := range replies {
			switch {
			case r.ID == id && r.Error != nil:
				c.stats.Inc(fmt.Sprintf("error_frame:%d", r.Error.Code))
				return fmt.Errorf("%s refused: %s", what, r.Error.Message)
			case r.ID == id:
				return nil
			case r.ID == 0 && r.Push == nil:
				_ = c.sendText([]byte("{}"))
			}
		}
	}
}

// OpenCentrifugo dials, connects and subscribes to channel; the connection is ready (the
// equivalent of synchub's synced) once it returns.
func (d *Dialer) OpenCentrifugo(ctx context.Context, id, channel string) (*Conn, error) {
	ws, err := d.dial(ctx)
	if err != nil {
		d.Stats.Inc("connect_failed:" + errKind(err))
		return nil, err
	}
	d.Stats.Inc("connect_ok")
	c := &Conn{ID: id, ws: ws, done: make(chan struct{}), stats: d.Stats, json: true}
	if err := c.sendText([]byte(`{"id":1,"connect":{"name":"` + id + `"}}`)); err != nil {
		_ = ws.Close()
		return nil, err
	}
	if err := c.awaitCent(1, "connect"); err != nil {
		d.Stats.Inc("welcome_failed:" + errKind(err))
		_ = ws.Close()
		return nil, err
	}
	d.Stats.Inc("welcome")
	if err := c.sendText([]byte(`{"id":2,"subscribe":{"channel":"` + channel + `"}}`)); err != nil {
		_ = ws.Close()
		return nil, err
	}
	if err := c.awaitCent(2, "subscribe"); err != nil {
		d.Stats.Inc("sync_failed:" + errKind(err))
		_ = ws.Close()
		return nil, err
	}
	d.Stats.Inc("synced")
	return c, nil
}

// serveCent reads publications until the connection ends.
func (c *Conn) serveCent() {
	defer close(c.done)
	for {
		replies, err := c.readCent(90 * time.Second)
		if err != nil {
			c.ended(err)
			return
		}
		now := time.Now().UnixNano()
		for _, r := range replies {
			switch {
			case r.Push != nil && r.Push.Pub != nil:
				c.stats.Chg.Add(1)
				if ts := r.Push.Pub.Data.TS; ts > 0 {
					c.stats.Delivery.Record(now - ts)
					c.stats.Delivered.Add(1)
				}
			case r.Push != nil: // join/leave/unsubscribe pushes: not expected here
				c.stats.Inc("protocol_error:push")
			case r.Error != nil:
				c.stats.Inc(fmt.Sprintf("error_frame:%d", r.Error.Code))
			case r.ID == 0:
				if err := c.sendText([]byte("{}")); err != nil && c.closing.Load() == notClosing {
					c.stats.Inc("lost:pong_" + errKind(err))
				}
			}
		}
	}
}

// CentPublisher publishes through Centrifugo's HTTP API, one /api/batch request per batch; a
// batch answered 200 with no per-command error counts its publications as ack:ok.
type CentPublisher struct {
	API        string // e.g. http://127.0.0.1:8010/api
	Key        string
	Channel    string
	Pad        string
	MaxPending int
	stats      *Stats
	client     *http.Client

	mu      sync.Mutex
	k       int
	pending int
	wg      sync.WaitGroup
}

func NewCentPublisher(api, key, channel string, padBytes int, stats *Stats) *CentPublisher {
	return &CentPublisher{
		API: strings.TrimSuffix(api, "/"), Key: key, Channel: channel, Pad: strings.Repeat("x", padBytes),
		MaxPending: 2000, stats: stats,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
}

func (p *CentPublisher) Connect(context.Context) error { return nil }
func (p *CentPublisher) Alive() bool                   { return true }
func (p *CentPublisher) Close()                        { p.wg.Wait() }

func (p *CentPublisher) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending
}

type centPublish struct {
	Publish struct {
		Channel string         `json:"channel"`
		Data    map[string]any `json:"data"`
	} `json:"publish"`
}

func (p *CentPublisher) Put(n int) {
	p.mu.Lock()
	if p.pending+n > p.MaxPending {
		p.mu.Unlock()
		p.stats.Add("write_skipped", uint64(n))
		return
	}
	p.pending += n
	now := time.Now().UnixNano()
	cmds := make([]centPublish, n)
	for i := range cmds {
		p.k++
		cmds[i].Publish.Channel = p.Channel
		cmds[i].Publish.Data = map[string]any{"ts": now, "w": 0, "k": p.k, "pad": p.Pad}
	}
	p.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"commands": cmds})
	p.stats.Add("mut_sent", uint64(n))
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() { p.mu.Lock(); p.pending -= n; p.mu.Unlock() }()
		req, _ := http.NewRequest("POST", p.API+"/batch", bytes.NewReader(body))
		req.Header.Set("X-API-Key", p.Key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := p.client.Do(req)
		if err != nil {
			p.stats.Add("unacked", uint64(n))
			return
		}
		data, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		p.stats.AckRTT.Record(time.Now().UnixNano() - now)
		if resp.StatusCode != http.StatusOK || bytes.Contains(data, []byte(`"error"`)) {
			p.stats.Add(fmt.Sprintf("ack:http_%d", resp.StatusCode), uint64(n))
			return
		}
		p.stats.Add("ack:ok", uint64(n))
	}()
}
