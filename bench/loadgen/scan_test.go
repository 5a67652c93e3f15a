package main

import (
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func enc(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func chgFrame(kind string, docs ...any) map[string]any {
	changes := []any{}
	for i, d := range docs {
		changes = append(changes, []any{"d", i + 1, d})
	}
	return map[string]any{"t": kind, "coll": "c", "changes": changes, "cursor": []any{"e", 7}}
}

func TestChgTimestampsReadsEveryDocumentOfAFrameOrABatch(t *testing.T) {
	one := enc(t, chgFrame("chg", map[string]any{"pad": "xx", "ts": int64(1 << 40), "k": 3}, nil,
		map[string]any{"ts": 5, "nested": map[string]any{"ts": 9}}))
	frames, ts, ok := chgTimestamps(one, nil)
	if !ok || frames != 1 || len(ts) != 2 || ts[0] != 1<<40 || ts[1] != 5 {
		t.Fatalf("one frame: %v %v %v", frames, ts, ok)
	}
	batch := enc(t, []any{chgFrame("chg", map[string]any{"ts": 1}), chgFrame("qchg", map[string]any{"ts": 2})})
	frames, ts, ok = chgTimestamps(batch, ts[:0])
	if !ok || frames != 2 || len(ts) != 2 || ts[0] != 1 || ts[1] != 2 {
		t.Fatalf("batch: %v %v %v", frames, ts, ok)
	}
	empty := enc(t, chgFrame("chg"))
	if frames, ts, ok = chgTimestamps(empty, ts[:0]); !ok || frames != 1 || len(ts) != 0 {
		t.Fatalf("a cursor frame: %v %v %v", frames, ts, ok)
	}
}

func TestChgTimestampsLeavesOtherMessagesToTheGenericDecoder(t *testing.T) {
	for name, msg := range map[string][]byte{
		"ping":           enc(t, map[string]any{"t": "ping", "n": 1}),
		"batch with ack": enc(t, []any{chgFrame("chg", map[string]any{"ts": 1}), map[string]any{"t": "ack"}}),
		"truncated":      enc(t, chgFrame("chg", map[string]any{"ts": 1}))[:20],
		"not a map":      enc(t, "chg"),
		"bad change":     enc(t, map[string]any{"t": "chg", "changes": []any{[]any{"d", 1}}}),
	} {
		if _, _, ok := chgTimestamps(msg, nil); ok {
			t.Errorf("%s: taken by the fast path", name)
		}
	}
}

func TestCentTimestamp(t *testing.T) {
	line := []byte(`{"push":{"channel":"fanout","pub":{"data":{"k":3,"pad":"xx","ts":1712345,"w":0},"offset":4}}}`)
	if ts, ok := centTimestamp(line); !ok || ts != 1712345 {
		t.Fatalf("%v %v", ts, ok)
	}
	if _, ok := centTimestamp([]byte(`{"id":1,"subscribe":{}}`)); ok {
		t.Fatal("a reply taken for a publication")
	}
}
