"""hub.core.session: the per-connection state machine, driven without I/O."""

from __future__ import annotations

from typing import Any

from hub.core import messages as m
from hub.core.errors import BadFrame
from hub.core.session import (
    TRANSITIONS,
    ApplyBatch,
    Authenticate,
    Close,
    Send,
    Session,
    SessionConfig,
    State,
    Subscribe,
    Unsubscribe,
)

HELLO = {"t": "hello", "v": [1], "client": "c1", "token": "tok"}


def new_session(**kw: Any) -> Session:
    cfg = SessionConfig("hub1", {"todos": True, "ro": False}, ping_ms=1000, max_batch=3, **kw)
    return Session(cfg, now_ms=0)


def ready() -> Session:
    s = new_session()
    assert s.receive_frame(HELLO, 1) == [Authenticate("tok")]
    assert s.state is State.AUTHENTICATING
    (welcome,) = s.authenticated(2)
    assert isinstance(welcome, Send) and welcome.msg["t"] == "welcome" and welcome.msg["hub"] == "hub1"
    assert s.state is State.READY and s.client == "c1" and s.version == 1
    return s


def close_code(effects: list[Any]) -> int:
    (eff,) = effects
    assert isinstance(eff, Close)
    return eff.code


def test_welcome_names_the_authenticated_user() -> None:
    s = new_session()
    s.receive_frame(HELLO, 1)
    (welcome,) = s.authenticated(2, "alice")
    assert isinstance(welcome, Send) and welcome.msg["user"] == "alice"
    anon = new_session()
    anon.receive_frame(HELLO, 1)
    (welcome,) = anon.authenticated(2)
    assert isinstance(welcome, Send) and welcome.msg["user"] is None


def test_transition_table_covers_every_state() -> None:
    assert set(TRANSITIONS) == set(State)


def test_anything_before_hello_is_4003() -> None:
    s = new_session()
    assert close_code(s.receive_frame({"t": "ping", "n": 1}, 1)) == 4003
    assert s.state is State.CLOSED
    assert s.receive_frame(HELLO, 2) == []  # closed sessions ignore everything
    assert s.tick(10_000) == []


def test_second_hello_is_4003() -> None:
    assert close_code(ready().receive_frame(HELLO, 3)) == 4003


def test_no_common_version_is_4002() -> None:
    assert close_code(new_session().receive_frame({**HELLO, "v": [7]}, 1)) == 4002


def test_auth_failure_closes_with_given_code() -> None:
    s = new_session()
    s.receive_frame(HELLO, 1)
    assert close_code(s.auth_failed(4010, "missing")) == 4010
    assert s.authenticated(3) == [] and s.auth_failed(4010, "x") == []


def test_unknown_type_and_bad_fields() -> None:
    assert close_code(ready().receive_frame({"t": "wat"}, 3)) == 4004
    assert close_code(ready().receive_frame({"t": "sub", "id": "1", "coll": "todos"}, 3)) == 4001
    assert close_code(ready().receive_frame([1], 3)) == 4000
    assert close_code(ready().fail(BadFrame("text"))) == 4000


def test_sub_unsub() -> None:
    s = ready()
    assert s.receive_frame({"t": "sub", "id": 1, "coll": "todos", "cursor": ["e", 3]}, 3) == [
        Subscribe("todos", 1, ("e", 3))
    ]
    assert s.subscriptions == {"todos"}
    (err,) = s.receive_frame({"t": "sub", "id": 2, "coll": "nope"}, 3)
    assert isinstance(err, Send) and err.msg == m.error(4404, "unknown collection 'nope'", 2)
    assert s.receive_frame({"t": "unsub", "coll": "todos"}, 4) == [Unsubscribe("todos")]
    assert s.receive_frame({"t": "unsub", "coll": "todos"}, 4) == []


def test_subscription_ended_by_the_hub() -> None:
    s = ready()
    s.receive_frame({"t": "sub", "id": 1, "coll": "todos"}, 3)
    s.subscription_ended("todos")
    assert s.subscriptions == set()
    assert s.receive_frame({"t": "unsub", "coll": "todos"}, 4) == []


def mutation(seq: int, coll: str = "todos", **kw: Any) -> dict[str, Any]:
    return {"seq": seq, "coll": coll, "id": "a", "op": "put", "doc": {"x": seq}, "ts": seq, **kw}


def test_mut_prefilters_unknown_readonly_invalid() -> None:
    s = ready()
    (eff,) = s.receive_frame({"t": "mut", "batch": [mutation(1), mutation(2, "nope"), mutation(3, "ro")]}, 3)
    assert isinstance(eff, ApplyBatch) and eff.client == "c1"
    first, unknown, ro = eff.slots
    assert isinstance(first, m.MutationIn) and first.seq == 1
    # whether another hub serves "nope" only the adapter can ask the store (server/mutations.py)
    assert isinstance(unknown, m.MutationIn) and unknown.coll == "nope"
    assert isinstance(ro, dict) and ro["code"] == 4403
    (ack,) = s.receive_frame({"t": "mut", "batch": [mutation(4, "ro"), mutation(5, op="bad")]}, 4)
    assert isinstance(ack, Send) and ack.msg["t"] == "ack"
    assert [r["code"] for r in ack.msg["results"]] == [4403, 4001]


def test_batch_too_large_is_4001() -> None:
    assert (
        close_code(ready().receive_frame({"t": "mut", "batch": [mutation(i) for i in range(1, 5)]}, 3))
        == 4001
    )


def test_ping_pong_and_liveness() -> None:
    s = ready()
    assert s.receive_frame({"t": "ping", "n": 5}, 10) == [Send(m.pong(5))]
    assert s.receive_frame({"t": "pong", "n": 1}, 20) == []
    assert s.tick(500) == []
    assert s.tick(1020) == [Send(m.ping(1))]
    assert s.tick(1500) == []
    assert s.tick(2020) == [Send(m.ping(2))]
    assert close_code(s.tick(2021 + 20)) == 4508  # silent since t=20 for more than 2 x ping_ms


def test_next_tick_is_the_next_ping_or_the_idle_deadline() -> None:
    s = new_session()
    assert s.next_tick_ms() == 0 + 2 * 1000 + 1  # before hello: only the idle deadline
    s = ready()  # heard and pinged at t=2
    assert s.next_tick_ms() == 2 + 1000
    assert s.tick(1002) == [Send(m.ping(1))]
    assert s.next_tick_ms() == 1002 + 1000  # the next ping, just before the idle deadline (2003)
    assert s.tick(2002) == [Send(m.ping(2))]
    assert s.next_tick_ms() == 2 + 2000 + 1  # still silent since t=2: the idle deadline
    assert s.receive_frame({"t": "pong", "n": 1}, 2100) == []
    assert s.next_tick_ms() == 2002 + 1000


def test_silence_is_not_counted_while_the_hub_does_not_listen() -> None:
    s = ready()
    assert s.receive_frame({"t": "pong", "n": 1}, 20) == []
    # the reader holds back (backpressure) until t=4000: the peer cannot be heard meanwhile
    assert s.tick(500, listening=False) == []
    assert s.tick(1020, listening=False) == [Send(m.ping(1))]
    assert s.tick(4000, listening=False) == [Send(m.ping(2))]  # no 4508: not silence
    assert s.tick(4500) == []
    assert s.tick(5000) == [Send(m.ping(3))]
    assert close_code(s.tick(6001)) == 4508  # silent for more than 2 x ping_ms since t=4000


def test_receive_never_raises() -> None:
    s = new_session()
    s.cfg = SessionConfig("h", None, ping_ms=1)  # type: ignore[arg-type]  # broken config: a bug
    s.receive_frame(HELLO, 1)
    s.authenticated(1)
    assert close_code(s.receive_frame({"t": "sub", "id": 1, "coll": "x"}, 2)) == 4510


def test_welcome_carries_the_document_limits_one_document_fits_a_frame() -> None:
    s = Session(SessionConfig("hub1", {"todos": True}, max_frame=64 * 1024), 0)
    s.receive_frame({"t": "hello", "v": [1], "client": "c1", "token": None}, 1)
    (welcome,) = s.authenticated(2)
    assert isinstance(welcome, Send)
    assert welcome.msg["doc_limits"] == {"bytes": 64 * 1024 - 4096, "entries": 10_000, "depth": 16}


def test_mut_over_the_document_limits_fails_alone_with_4413() -> None:
    s = ready()
    big = {"seq": 2, "coll": "todos", "id": "b", "op": "put", "doc": {"l": list(range(10_001))}, "ts": 2}
    deep: dict[str, Any] = {"x": 1}
    for _ in range(16):
        deep = {"d": deep}
    batch = [mutation(1), big, {**mutation(3), "doc": deep}]
    (eff,) = s.receive_frame({"t": "mut", "batch": batch}, 3)
    assert isinstance(eff, ApplyBatch)
    first, too_big, too_deep = eff.slots
    assert isinstance(first, m.MutationIn)
    assert isinstance(too_big, dict) and (too_big["seq"], too_big["s"], too_big["code"]) == (2, "error", 4413)
    assert "entries 10001" in too_big["msg"] and "doc" not in too_big
    assert isinstance(too_deep, dict) and too_deep["code"] == 4413 and "depth" in too_deep["msg"]
    # a placeholder written back would replace the real document
    (ack,) = s.receive_frame({"t": "mut", "batch": [{**mutation(4), "doc": {"$oversize": {}}}]}, 4)
    assert isinstance(ack, Send) and [r["code"] for r in ack.msg["results"]] == [4001]
    assert s.state is State.READY
