package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// How a connection is being closed by the load generator.
const (
	notClosing int32 = iota
	closingGraceful
	closingAbrupt
	closingFinal
)

// Dialer opens WebSocket connections to the hub, spreading source addresses over 127.0.0.2.. so
// that 10,000s of connections (and their TIME_WAIT ports) do not exhaust one address's ports.
type Dialer struct {
	URL       string
	SourceIPs []net.IP
	RunID     string
	Stats     *Stats
	NoBatch   bool // do not ask the hub for batched messages (hello.features)
	next      atomic.Uint64
}

func sourceIPs(rawURL string, n int) []net.IP {
	u, err := url.Parse(rawURL)
	if err != nil || n <= 0 {
		return nil
	}
	host := net.ParseIP(u.Hostname())
	if host == nil || !host.IsLoopback() || host.To4() == nil {
		return nil // only loopback has the whole 127/8 to pick from
	}
	ips := make([]net.IP, 0, n)
	for i := 0; i < n; i++ {
		ips = append(ips, net.IPv4(127, 0, byte((2+i)/256), byte((2+i)%256)))
	}
	return ips
}

func (d *Dialer) dial(ctx context.Context) (*websocket.Conn, error) {
	nd := &net.Dialer{Timeout: 10 * time.Second}
	if len(d.SourceIPs) > 0 {
		ip := d.SourceIPs[d.next.Add(1)%uint64(len(d.SourceIPs))]
		nd.LocalAddr = &net.TCPAddr{IP: ip}
	}
	wd := websocket.Dialer{
		NetDialContext:   nd.DialContext,
		HandshakeTimeout: 20 * time.Second,
		ReadBufferSize:   2048,
		WriteBufferSize:  2048,
	}
	ws, resp, err := wd.DialContext(ctx, d.URL, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	return ws, err
}

// Conn is one client connection: a subscriber (Coll set) or a writer.
type Conn struct {
	ID      string
	ws      *websocket.Conn
	wmu     sync.Mutex
	closing atomic.Int32
	done    chan struct{}
	stats   *Stats
	onAck   func(map[string]any)
	json    bool             // a Centrifugo connection (centrifugo.go)
	pending []map[string]any // the rest of a batched message, handed out one frame per read
}

func (c *Conn) send(msg map[string]any) error {
	b, err := msgpack.Marshal(msg)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

func (c *Conn) read(deadline time.Duration) (map[string]any, error) {
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.pending = c.pending[1:]
		return m, nil
	}
	data, err := c.readRaw(deadline)
	if err != nil {
		return nil, err
	}
	return c.decode(data)
}

// readRaw reads one binary message.
func (c *Conn) readRaw(deadline time.Duration) ([]byte, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(deadline))
	kind, data, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	if kind != websocket.BinaryMessage {
		return nil, fmt.Errorf("frame of type %d", kind)
	}
	return data, nil
}

// decode decodes a message the generic way: its first frame, the rest of a batch kept for read.
func (c *Conn) decode(data []byte) (map[string]any, error) {
	if len(data) > 0 && (data[0]&0xf0 == 0x90 || data[0] == 0xdc || data[0] == 0xdd) {
		// a batch (docs/protocol.md): the frames one after the other
		var batch []map[string]any
		if err := msgpack.Unmarshal(data, &batch); err != nil || len(batch) == 0 {
			return nil, fmt.Errorf("msgpack batch: %v", err)
		}
		c.stats.Inc("batched_messages")
		c.pending = batch[1:]
		return batch[0], nil
	}
	var m map[string]any
	if err := msgpack.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("msgpack: %w", err)
	}
	return m, nil
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case int:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), true
	}
	return 0, false
}

// errKind names a read or dial error for the counters.
func errKind(err error) string {
	var ne net.Error
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce): // the hub closed the connection (e.g. 4503 while a sync was running)
		return fmt.Sprintf("close_%d", ce.Code)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "addr_not_avail"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too_many_files"
	case errors.Is(err, net.ErrClosed):
		return "closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, websocket.ErrBadHandshake):
		return "bad_handshake"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return strings.ReplaceAll(s, " ", "_")
}

// closeOverloaded is the hub's 4532 "hub overloaded, retry later" (docs/protocol.md), sent right
// after the upgrade while its event loop runs later than `overload_lag_ms`.
const closeOverloaded = 4532

// errOverloaded: Open was refused with closeOverloaded; the caller retries after a backoff, as
// client-js does.
var errOverloaded = errors.New("hub overloaded")

// Open dials and says hello; the connection is ready once it returns. A refusal by admission
// control returns errOverloaded.
func (d *Dialer) Open(ctx context.Context, id string) (*Conn, error) {
	ws, err := d.dial(ctx)
	if err != nil {
		d.Stats.Inc("connect_failed:" + errKind(err))
		return nil, err
	}
	d.Stats.Inc("connect_ok")
	c := &Conn{ID: id, ws: ws, done: make(chan struct{}), stats: d.Stats}
	hello := map[string]any{"t": "hello", "v": []int{1}, "client": id, "token": nil, "now": time.Now().UnixMilli()}
	if !d.NoBatch {
		hello["features"] = []string{"batch"}
	}
	if err := c.send(hello); err != nil {
		d.Stats.Inc("welcome_failed:send")
		_ = ws.Close()
		return nil, err
	}
	for {
		m, err := c.read(30 * time.Second)
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code == closeOverloaded {
				// admission control (docs/protocol.md): a refusal to retry later, not a failure
				d.Stats.Inc("refused:overloaded")
				_ = ws.Close()
				return nil, errOverloaded
			} else if errors.As(err, &ce) {
				d.Stats.Inc(fmt.Sprintf("hub_close:%d", ce.Code))
			} else {
				d.Stats.Inc("welcome_failed:" + errKind(err))
			}
			_ = ws.Close()
			return nil, err
		}
		switch m["t"] {
		case "welcome":
			d.Stats.Inc("welcome")
			return c, nil
		case "ping":
			_ = c.send(map[string]any{"t": "pong", "n": m["n"]})
		default:
			d.Stats.Inc(fmt.Sprintf("protocol_error:before_welcome:%v", m["t"]))
		}
	}
}

// Subscribe sends sub and waits for synced (answering pings, counting pages). A non-nil filter
// makes it a query subscription (qpage... qsynced, then qchg).
func (c *Conn) Subscribe(coll string, filter []any) error {
	sub := map[string]any{"t": "sub", "id": 1, "coll": coll, "cursor": nil}
	if filter != nil {
		sub["filter"] = filter
	}
	if err := c.send(sub); err != nil {
		return err
	}
	for {
		m, err := c.read(120 * time.Second)
		if err != nil {
			return err
		}
		switch m["t"] {
		case "page", "qpage":
			c.stats.Inc("page")
		case "synced", "qsynced":
			c.stats.Inc("synced")
			return nil
		case "chg", "qchg":
			c.stats.Inc("chg_before_synced")
		case "ping":
			_ = c.send(map[string]any{"t": "pong", "n": m["n"]})
		case "resync":
			c.stats.Inc(fmt.Sprintf("resync:%v", m["reason"]))
		case "error":
			code, _ := toInt64(m["code"])
			c.stats.Inc(fmt.Sprintf("error_frame:%d", code))
			return fmt.Errorf("sub refused: %v", m["msg"])
		}
	}
}

// Serve reads until the connection ends and counts how it ended; it closes c.done.
func (c *Conn) Serve() {
	if c.json {
		c.serveCent()
		return
	}
	defer close(c.done)
	var ts []int64
	for {
		var m map[string]any
		var err error
		if len(c.pending) > 0 {
			m, err = c.read(0)
		} else {
			var data []byte
			if data, err = c.readRaw(90 * time.Second); err == nil { // the hub pings every 15 s by default
				var frames int
				var ok bool
				if frames, ts, ok = chgTimestamps(data, ts[:0]); ok {
					c.stats.Chg.Add(uint64(frames))
					c.stats.recordDeliveries(time.Now().UnixNano(), ts)
					continue
				}
				m, err = c.decode(data)
			}
		}
		if err != nil {
			c.ended(err)
			return
		}
		switch m["t"] {
		case "chg", "qchg":
			c.stats.Chg.Add(1)
			changes, _ := m["changes"].([]any)
			now := time.Now().UnixNano()
			for _, ch := range changes {
				parts, _ := ch.([]any)
				if len(parts) != 3 {
					continue
				}
				doc, _ := parts[2].(map[string]any)
				if ts, ok := toInt64(doc["ts"]); ok && ts > 0 {
					c.stats.Delivery.Record(now - ts)
					c.stats.Delivered.Add(1)
				}
			}
		case "ping":
			if err := c.send(map[string]any{"t": "pong", "n": m["n"]}); err != nil && c.closing.Load() == notClosing {
				c.stats.Inc("lost:pong_" + errKind(err))
			}
		case "pong":
		case "ack":
			if c.onAck != nil {
				c.onAck(m)
			}
		case "page", "synced", "qpage", "qsynced":
			c.stats.Inc(fmt.Sprintf("%v", m["t"]))
		case "resync", "qresync":
			c.stats.Inc(fmt.Sprintf("resync:%v", m["reason"]))
		case "error":
			code, _ := toInt64(m["code"])
			c.stats.Inc(fmt.Sprintf("error_frame:%d", code))
		default:
			c.stats.Inc(fmt.Sprintf("protocol_error:%v", m["t"]))
		}
	}
}

func (c *Conn) ended(err error) {
	how := c.closing.Load()
	var ce *websocket.CloseError
	isClose := errors.As(err, &ce)
	switch {
	case how == notClosing && isClose:
		c.stats.Inc(fmt.Sprintf("hub_close:%d", ce.Code))
	case how == notClosing:
		c.stats.Inc("lost:" + errKind(err))
	case how == closingAbrupt:
		c.stats.Inc("closed_abrupt")
	case isClose && ce.Code == websocket.CloseNormalClosure:
		if how == closingFinal {
			c.stats.Inc("closed_final")
		} else {
			c.stats.Inc("closed_graceful")
		}
	case isClose:
		c.stats.Inc(fmt.Sprintf("hub_close:%d", ce.Code))
	default:
		c.stats.Inc("lost_while_closing:" + errKind(err))
	}
	_ = c.ws.Close()
}

// Close ends the connection: with a close handshake (graceful), or by dropping the TCP
// connection without a close frame (abrupt; half of those with a RST).
func (c *Conn) Close(how int32) {
	if !c.closing.CompareAndSwap(notClosing, how) {
		return
	}
	if how == closingAbrupt {
		if tcp, ok := c.ws.UnderlyingConn().(*net.TCPConn); ok && rand.IntN(2) == 0 {
			_ = tcp.SetLinger(0)
		}
		_ = c.ws.Close()
		<-c.done
		return
	}
	c.wmu.Lock()
	err := c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(5*time.Second))
	c.wmu.Unlock()
	if err != nil {
		_ = c.ws.Close()
		<-c.done
		return
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.stats.Inc("close_timeout")
		_ = c.ws.Close()
		<-c.done
	}
}
