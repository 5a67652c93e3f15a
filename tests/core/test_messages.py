"""hub.core.messages: parsing client messages and building hub messages."""

from __future__ import annotations

from typing import Any

import pytest

from hub.core import messages as m
from hub.core.errors import BadFrame, BadMessage, UnknownType
from hub.core.types import Change


def test_parse_every_client_message() -> None:
    assert m.parse({"t": "hello", "v": [1, 2], "client": "c", "token": None, "extra": 1}) == m.Hello(
        (1, 2), "c", None, None
    )
    hello = m.parse({"t": "hello", "v": [1], "client": "c", "features": ["batch", "future"]})
    assert isinstance(hello, m.Hello) and hello.features == frozenset({"batch", "future"})
    assert m.parse({"t": "sub", "id": 3, "coll": "todos", "cursor": ["e", 5]}) == m.Sub(3, "todos", ("e", 5))
    assert m.parse({"t": "sub", "id": 3, "coll": "todos"}) == m.Sub(3, "todos", None)
    assert m.parse({"t": "unsub", "coll": "todos"}) == m.Unsub("todos")
    assert m.parse({"t": "ping", "n": 1}) == m.Ping(1)
    assert m.parse({"t": "pong", "n": 2}) == m.Pong(2)
    mut = m.parse(
        {
            "t": "mut",
            "batch": [
                {
                    "seq": 1,
                    "coll": "c",
                    "id": "a",
                    "op": "put",
                    "doc": {"id": "a", "x": 1},
                    "ts": 9,
                    "base": 0,
                },
                {"seq": 2, "coll": "c", "id": "a", "op": "del", "doc": {"ignored": 1}, "ts": 10},
            ],
        }
    )
    assert mut == m.Mut(
        (m.MutationIn(1, "c", "a", "put", {"x": 1}, 9, 0), m.MutationIn(2, "c", "a", "del", None, 10, None))
    )


@pytest.mark.parametrize(
    "obj",
    [
        {"t": "hello", "v": [], "client": "c"},
        {"t": "hello", "v": [True], "client": "c"},
        {"t": "hello", "v": [1], "client": "x" * 129},
        {"t": "hello", "v": [1], "client": "c", "token": 5},
        {"t": "hello", "v": [1], "client": "c", "features": "batch"},
        {"t": "hello", "v": [1], "client": "c", "features": [1]},
        {"t": "hello", "v": [1], "client": "c", "features": ["x" * 33]},
        {"t": "hello", "v": [1], "client": "c", "features": ["f"] * 17},
        {"t": "sub", "id": True, "coll": "c"},
        {"t": "sub", "id": 1, "coll": ""},
        {"t": "sub", "id": 1, "coll": "c", "cursor": ["e"]},
        {"t": "sub", "id": 1, "coll": "c", "cursor": ["e", -1]},
        {"t": "sub", "id": 1 << 64, "coll": "c"},
        {"t": "mut", "batch": []},
        {"t": "mut", "batch": "x"},
        {"t": "mut", "batch": [5]},
        {"t": "mut", "batch": [{"seq": 0}]},
        {"t": "ping"},
    ],
)
def test_bad_messages(obj: dict[str, Any]) -> None:
    with pytest.raises(BadMessage):
        m.parse(obj)


@pytest.mark.parametrize("obj", [{"t": "nope"}, {"x": 1}, {"t": 5}])
def test_unknown_type(obj: dict[str, Any]) -> None:
    with pytest.raises(UnknownType):
        m.parse(obj)


def test_not_a_map() -> None:
    with pytest.raises(BadFrame):
        m.parse([1, 2])


@pytest.mark.parametrize(
    "raw",
    [
        {"seq": 1, "coll": "c", "id": "", "op": "put", "doc": {}, "ts": 1},
        {"seq": 1, "coll": "c", "id": "a", "op": "upsert", "doc": {}, "ts": 1},
        {"seq": 1, "coll": "c", "id": "a", "op": "put", "doc": None, "ts": 1},
        {"seq": 1, "coll": "c", "id": "a", "op": "put", "doc": {"id": "b"}, "ts": 1},
        {"seq": 1, "coll": "c", "id": "a", "op": "put", "doc": {}, "ts": "1"},
        {"seq": 1, "coll": "c", "id": "a", "op": "put", "doc": {}, "ts": 1, "base": -1},
        {"seq": 1, "coll": 7, "id": "a", "op": "put", "doc": {}, "ts": 1},
    ],
)
def test_invalid_mutation_keeps_seq(raw: dict[str, Any]) -> None:
    parsed = m.parse({"t": "mut", "batch": [raw]})
    assert isinstance(parsed, m.Mut)
    (only,) = parsed.batch
    assert isinstance(only, m.InvalidMutation) and only.seq == 1


def test_builders() -> None:
    chs = [Change("a", 5, {"x": 1}), Change("b", 6, None)]
    assert m.welcome(1, "h", 10, 20, 30) == {
        "t": "welcome",
        "v": 1,
        "hub": "h",
        "ping_ms": 10,
        "max_batch": 20,
        "max_frame": 30,
        "user": None,
        "doc_limits": {"bytes": 256 * 1024, "entries": 10_000, "depth": 16},
        "features": [],
    }
    assert m.welcome(1, "h", 10, 20, 30, "alice")["user"] == "alice"
    assert m.page("c", 1, chs, 2, None)["changes"] == [["a", 5, {"x": 1}], ["b", 6, None]]
    assert m.page("c", 1, chs, 2, None)["cursor"] is None
    assert m.page("c", 1, chs, 2, None, ("e", 5))["cursor"] == ["e", 5]
    assert m.synced("c", 1, ("e", 6), "snapshot", True) == {
        "t": "synced",
        "coll": "c",
        "id": 1,
        "cursor": ["e", 6],
        "mode": "snapshot",
        "reset": True,
    }
    assert m.chg("c", chs, ("e", 6))["cursor"] == ["e", 6]
    assert m.resync("c", "slow", "catchup") == {
        "t": "resync",
        "coll": "c",
        "reason": "slow",
        "mode": "catchup",
    }
    assert m.ack([{"seq": 1, "s": "ok", "ver": 3}]) == {
        "t": "ack",
        "results": [{"seq": 1, "s": "ok", "ver": 3}],
    }
    assert m.error(4404, "x", 3) == {"t": "error", "code": 4404, "msg": "x", "ref": 3}
    assert m.ping(1) == {"t": "ping", "n": 1} and m.pong(2) == {"t": "pong", "n": 2}
    assert m.error_result(4, 4403, "ro") == {"seq": 4, "s": "error", "ver": 0, "code": 4403, "msg": "ro"}
