package main

// The receive path's fast lane: at 1,000,000 deliveries/s a generic decode (a map per frame, a
// map and a string per document) made the load generator the busiest process on the box, and
// the bytes it could not read in time sat in its sockets' buffers, counted as the server's
// latency. Here a `chg`/`qchg` message (or a batch of them) is walked in place and only each
// document's `ts` is read; any other message goes the generic way (conn.go).

import (
	"bytes"
	"encoding/binary"
	"math"
)

// mp walks msgpack bytes without allocating; ok turns false on anything malformed or unexpected.
type mp struct {
	b  []byte
	i  int
	ok bool
}

func (p *mp) need(n int) bool {
	if p.i+n > len(p.b) {
		p.ok = false
	}
	return p.ok
}

func (p *mp) u(n int) uint64 {
	if !p.need(n) {
		return 0
	}
	var v uint64
	switch n {
	case 1:
		v = uint64(p.b[p.i])
	case 2:
		v = uint64(binary.BigEndian.Uint16(p.b[p.i:]))
	case 4:
		v = uint64(binary.BigEndian.Uint32(p.b[p.i:]))
	case 8:
		v = binary.BigEndian.Uint64(p.b[p.i:])
	}
	p.i += n
	return v
}

// head reads a type byte and returns (kind, length or value): kind 'm' map, 'a' array, 's' str,
// 'i' int (value in n, as int64 bits), 'x' anything else (n: its byte length to skip).
func (p *mp) head() (byte, int64) {
	if !p.need(1) {
		return 0, 0
	}
	c := p.b[p.i]
	p.i++
	switch {
	case c <= 0x7f:
		return 'i', int64(c)
	case c >= 0xe0:
		return 'i', int64(int8(c))
	case c&0xf0 == 0x80:
		return 'm', int64(c & 0x0f)
	case c&0xf0 == 0x90:
		return 'a', int64(c & 0x0f)
	case c&0xe0 == 0xa0:
		return 's', int64(c & 0x1f)
	}
	switch c {
	case 0xc0, 0xc2, 0xc3: // nil, false, true
		return 'x', 0
	case 0xc4, 0xd9:
		return sOrX(c, int64(p.u(1)))
	case 0xc5, 0xda:
		return sOrX(c, int64(p.u(2)))
	case 0xc6, 0xdb:
		return sOrX(c, int64(p.u(4)))
	case 0xca:
		return 'x', 4
	case 0xcb:
		return 'x', 8
	case 0xcc:
		return 'i', int64(p.u(1))
	case 0xcd:
		return 'i', int64(p.u(2))
	case 0xce:
		return 'i', int64(p.u(4))
	case 0xcf:
		v := p.u(8)
		if v > math.MaxInt64 {
			return 'x', 0
		}
		return 'i', int64(v)
	case 0xd0:
		return 'i', int64(int8(p.u(1)))
	case 0xd1:
		return 'i', int64(int16(p.u(2)))
	case 0xd2:
		return 'i', int64(int32(p.u(4)))
	case 0xd3:
		return 'i', int64(p.u(8))
	case 0xdc:
		return 'a', int64(p.u(2))
	case 0xdd:
		return 'a', int64(p.u(4))
	case 0xde:
		return 'm', int64(p.u(2))
	case 0xdf:
		return 'm', int64(p.u(4))
	case 0xd4:
		return 'x', 2
	case 0xd5:
		return 'x', 3
	case 0xd6:
		return 'x', 5
	case 0xd7:
		return 'x', 9
	case 0xd8:
		return 'x', 17
	case 0xc7:
		return 'x', int64(p.u(1)) + 1
	case 0xc8:
		return 'x', int64(p.u(2)) + 1
	case 0xc9:
		return 'x', int64(p.u(4)) + 1
	}
	p.ok = false
	return 0, 0
}

func sOrX(c byte, n int64) (byte, int64) {
	if c >= 0xd9 {
		return 's', n
	}
	return 'x', n // bin
}

// skip passes over one whole value.
func (p *mp) skip() {
	for todo := 1; todo > 0 && p.ok; todo-- {
		k, n := p.head()
		switch k {
		case 'm':
			todo += int(2 * n)
		case 'a':
			todo += int(n)
		case 's', 'x':
			if p.need(int(n)) {
				p.i += int(n)
			}
		}
	}
}

// str reads a string value (nil when the value is something else: it is skipped).
func (p *mp) str() []byte {
	start := p.i
	k, n := p.head()
	if k != 's' {
		p.i = start
		p.skip()
		return nil
	}
	if !p.need(int(n)) {
		return nil
	}
	s := p.b[p.i : p.i+int(n)]
	p.i += int(n)
	return s
}

var (
	keyT       = []byte("t")
	keyChanges = []byte("changes")
	keyTS      = []byte("ts")
	tChg       = []byte("chg")
	tQchg      = []byte("qchg")
)

// frameChanges walks one frame (a map); it returns the offset of its `changes` value when the
// frame is a chg or qchg, else -1.
func (p *mp) frameChanges() int {
	k, n := p.head()
	if k != 'm' {
		p.ok = false
		return -1
	}
	at, isChg := -1, false
	for j := int64(0); j < n && p.ok; j++ {
		key := p.str()
		switch {
		case bytes.Equal(key, keyT):
			t := p.str()
			isChg = bytes.Equal(t, tChg) || bytes.Equal(t, tQchg)
		case bytes.Equal(key, keyChanges):
			at = p.i
			p.skip()
		default:
			p.skip()
		}
	}
	if !isChg || !p.ok {
		return -1
	}
	return at
}

// timestamps appends the `ts` of every document in the changes array at p.i ([id, ver, doc]).
func (p *mp) timestamps(out []int64) []int64 {
	k, n := p.head()
	if k != 'a' {
		p.ok = false
		return out
	}
	for j := int64(0); j < n && p.ok; j++ {
		k, parts := p.head()
		if k != 'a' || parts != 3 {
			p.ok = false
			return out
		}
		p.skip() // id
		p.skip() // ver
		start := p.i
		k, fields := p.head()
		if k != 'm' {
			p.i = start
			p.skip() // a removal: nil
			continue
		}
		for f := int64(0); f < fields && p.ok; f++ {
			if key := p.str(); bytes.Equal(key, keyTS) {
				start := p.i
				if k, v := p.head(); k == 'i' {
					out = append(out, v)
					continue
				}
				p.i = start
			}
			p.skip()
		}
	}
	return out
}

// chgTimestamps reads a message that holds only chg/qchg frames (one, or a batch of them): it
// returns the number of frames and appends the documents' `ts` to out; ok is false for any other
// message, which the caller decodes the generic way.
func chgTimestamps(data []byte, out []int64) (frames int, ts []int64, ok bool) {
	p := mp{b: data, ok: true}
	var at [256]int
	offsets := at[:0]
	if len(data) > 0 && (data[0]&0xf0 == 0x90 || data[0] == 0xdc || data[0] == 0xdd) {
		_, n := p.head()
		for j := int64(0); j < n && p.ok; j++ {
			if o := p.frameChanges(); o >= 0 {
				offsets = append(offsets, o)
			} else {
				return 0, out, false
			}
		}
	} else if o := p.frameChanges(); o >= 0 {
		offsets = append(offsets, o)
	}
	if !p.ok || len(offsets) == 0 {
		return 0, out, false
	}
	for _, o := range offsets {
		p.i = o
		out = p.timestamps(out)
	}
	return len(offsets), out, p.ok
}

// centTimestamp finds the `ts` of a Centrifugo publication line (`{"push":{...,"pub":{"data":
// {...,"ts":N,...}}}}`); ok is false for any other line.
func centTimestamp(line []byte) (int64, bool) {
	i := bytes.Index(line, []byte(`"pub":`))
	if i < 0 {
		return 0, false
	}
	j := bytes.Index(line[i:], []byte(`"ts":`))
	if j < 0 {
		return 0, false
	}
	var v int64
	digits := 0
	for _, c := range line[i+j+5:] {
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + int64(c-'0')
		digits++
	}
	return v, digits > 0
}
