"""hub.core.outqueue: byte budget and the per-collection overflow decision."""

from __future__ import annotations

from hub.core.outqueue import NO_ENTRIES, OutQueue


def test_live_overflow_drops_only_that_collection() -> None:
    q = OutQueue(budget=100)
    assert q.push_live(b"a" * 40, "a", ("e", 1))
    assert q.push_live(b"b" * 40, "b", ("e", 2))
    assert q.size == 80
    assert not q.push_live(b"a" * 40, "a", ("e", 3))
    assert q.overflows == 1
    assert [e.coll for e in q.entries] == ["b"] and q.size == 40
    assert q.push_live(b"a" * 40, "a", ("e", 3))  # room again after the drop


def test_empty_queue_takes_an_oversized_frame() -> None:
    q = OutQueue(budget=10)
    assert q.has_room(1000)
    assert q.push_live(b"x" * 1000, "a", ("e", 1))
    assert not q.has_room(1)


def test_control_frames_have_a_hard_limit() -> None:
    q = OutQueue(budget=10)
    assert q.push_control(b"x" * 15)
    assert q.push_control(b"x" * 5)
    assert not q.push_control(b"x" * 1)


def test_a_page_larger_than_the_budget_never_refuses_the_control_frames_behind_it() -> None:
    # found by the chaos suite (queue_bytes 256 KiB, a 576 KB page of large documents): the
    # `synced` behind the page was refused, the connection closed 4529, and so on every reconnect
    q = OutQueue(budget=256 * 1024)
    assert q.has_room(600_000)
    q.push_sync(b"p" * 600_000, "a")
    assert q.push_control(b"synced", "a", ("e", 9))
    assert q.push_control(b"ack" * 100)
    # a peer that floods requests without reading is still cut off by the control bytes alone
    while q.push_control(b"x" * 4096):
        pass
    assert 2 * q.budget - 4096 < q.control_size <= 2 * q.budget
    while (e := q.pop()) is not None:
        q.sent(e)
    assert q.size == 0 and q.control_size == 0


def test_delivered_cursor_follows_sent_frames() -> None:
    q = OutQueue(budget=1000)
    q.push_control(b"s", "a", ("e", 5))
    q.push_live(b"c", "a", ("e", 9))
    q.push_live(b"c", "a", ("e", 7))
    q.push_sync(b"p", "a")
    assert q.delivered == {}
    while (e := q.pop()) is not None:
        q.sent(e)
    assert q.delivered == {"a": ("e", 9)}
    assert q.size == 0 and len(q) == 0 and q.pop() is None
    q.push_live(b"c", "a", ("f", 1))
    q.sent(q.pop())  # type: ignore[arg-type]
    assert q.delivered["a"] == ("f", 1)  # a new epoch replaces the old cursor


def test_drop_and_forget() -> None:
    q = OutQueue(budget=1000)
    q.push_sync(b"p", "a")
    q.push_live(b"l", "a", ("e", 1))
    q.push_control(b"c", "a")
    q.push_live(b"l", "b", ("e", 1))
    assert q.drop("a") == 2
    assert [(e.kind, e.coll) for e in q.entries] == [("control", "a"), ("live", "b")]
    q.delivered["a"] = ("e", 1)
    q.forget("a")
    assert [e.coll for e in q.entries] == ["b"] and "a" not in q.delivered and q.size == 1
    assert q.control_size == 0


def test_pop_many_takes_the_oldest_frames_within_the_limits() -> None:
    q2 = OutQueue(budget=10_000)
    frames = [bytes([i]) * 100 for i in range(5)] + [b"c" * 50]
    for i, f in enumerate(frames[:5]):
        q2.push_live(f, "a", ("e", i + 1))
    q2.push_control(frames[5], "a")
    got = q2.pop_many(250, 10)
    assert [e.frame for e in got] == frames[:2]  # a third would pass 250 bytes
    got = q2.pop_many(10_000, 2)
    assert [e.frame for e in got] == frames[2:4]  # at most 2
    assert [e.frame for e in q2.pop_many(10, 10)] == [frames[4]]  # one frame even over max_bytes
    assert [e.frame for e in q2.pop_many(10_000, 10)] == [frames[5]]
    assert q2.pop_many(10_000, 10) == [] and q2.size == 0 and q2.control_size == 0


def test_an_empty_queue_holds_no_deque() -> None:
    q = OutQueue(budget=1000)
    assert q.entries is NO_ENTRIES and q.pop() is None and q.pop_many(100, 10) == []
    q.push_control(b"a" * 10, "a")
    q.push_live(b"b" * 10, "b", ("e", 1))
    assert len(q) == 2 and q.pop_many(100, 1)[0].coll == "a"
    assert q.pop_many(100, 10)[0].coll == "b"
    assert q.entries is NO_ENTRIES and q.size == 0  # emptied: the deque is let go
    q.push_sync(b"c" * 10, "c")
    assert q.drop("other") == 0 and len(q) == 1
    assert q.drop("c") == 1 and q.entries is NO_ENTRIES
    q.push_sync(b"d" * 10, "d")
    assert q.pop() is not None and q.entries is NO_ENTRIES and q.pop() is None
