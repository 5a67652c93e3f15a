"""Presence without I/O: deltas, echo ordering, takeovers, grace, the stale safety net, limits."""

from __future__ import annotations

import dataclasses

import pytest

from hub.core import messages as m
from hub.core import room_messages as rm
from hub.core.errors import BadMessage, CloseCode
from hub.core.presence import Departures, Member, RefreshRounds, RoomLimits, RoomTable, oversize
from hub.core.session import Authenticate, Close, RoomOp, Session, SessionConfig


def member(mid: str = "c1", owner: str = "A/1", v: int = 1, state: object = None, room: str = "r") -> Member:
    return Member(room, mid, "u-" + mid, state, owner, v)


def test_own_put_then_echo_makes_one_delta() -> None:
    t = RoomTable("A")
    a = member(state={"x": 1})
    d = t.put_own(a, 0)
    assert d is not None and d.kind == "joined"
    assert t.put_event(a, 1) is None  # the echo
    assert t.pending == {}
    assert [x.id for x in t.members("r")] == ["c1"]


def test_foreign_put_older_than_a_pending_own_put_is_ignored() -> None:
    t = RoomTable("B")
    t.put_event(member(owner="A/1", v=4, state=1), 0)
    mine = member(owner="B/7", v=5, state=1)
    assert t.put_own(mine, 1) is None  # takeover with the same state: nothing to tell
    # A's update, written before our takeover, arrives now: ignored (our echo is pending)
    assert t.put_event(member(owner="A/1", v=5, state=2), 2) is None
    assert t.put_event(mine, 3) is None
    assert t.get(("r", "c1")) == mine
    # after the echo, a foreign put is a takeover
    d = t.put_event(member(owner="C/2", v=6, state=3), 4)
    assert d is not None and d.kind == "updated" and d.member.owner == "C/2"


def test_refresh_events_make_no_delta_and_old_writes_are_ignored() -> None:
    t = RoomTable("B")
    t.put_event(member(v=2, state="a"), 0)
    assert t.put_event(member(v=2, state="a"), 1) is None
    assert t.put_event(member(v=1, state="old"), 2) is None
    d = t.put_event(member(v=3, state="b"), 3)
    assert d is not None and d.kind == "updated"


def test_removal_of_an_older_owner_does_not_remove_the_new_one() -> None:
    t = RoomTable("B")
    t.put_event(member(owner="A/1"), 0)
    t.put_event(member(owner="C/1", v=2), 1)
    assert t.remove_event(("r", "c1"), "A/1") is None
    d = t.remove_event(("r", "c1"), "C/1")
    assert d is not None and d.kind == "left"
    assert t.members("r") == [] and "r" not in t.rooms


def test_removal_while_an_own_put_is_pending_is_ignored() -> None:
    t = RoomTable("B")
    t.put_own(member(owner="B/1"), 0)
    assert t.remove_event(("r", "c1"), None) is None
    assert t.get(("r", "c1")) is not None


def test_write_failed_lets_later_events_through() -> None:
    t = RoomTable("B")
    t.put_own(member(owner="B/1"), 0)
    t.write_failed(("r", "c1"))
    d = t.put_event(member(owner="C/1", v=2, state=9), 1)
    assert d is not None and d.kind == "updated"


def test_stale_drops_only_other_hubs_members_past_the_age() -> None:
    t = RoomTable("B")
    t.put_event(member("x", owner="A/1"), 0)
    t.put_own(member("y", owner="B/1"), 0)
    assert t.stale(1000, 1000) == []
    t.put_event(member("x", owner="A/1"), 900)  # refreshed
    assert t.stale(1900, 1000) == []
    gone = t.stale(1901 + 1000, 1000)
    assert [(d.kind, d.member.id) for d in gone] == [("left", "x")]
    assert [x.id for x in t.members("r")] == ["y"]


def test_reconcile_after_a_lost_stream() -> None:
    t = RoomTable("B")
    t.put_event(member("gone", owner="A/1"), 0)
    t.put_event(member("kept", owner="A/1", state=1), 0)
    t.put_own(member("own", owner="B/1"), 0)
    deltas = t.reconcile([member("kept", owner="A/1", v=2, state=2), member("new", owner="C/1")], 5)
    assert sorted((d.kind, d.member.id) for d in deltas) == [
        ("joined", "new"),
        ("left", "gone"),
        ("updated", "kept"),
    ]
    assert [x.id for x in t.members("r")] == ["kept", "new", "own"]


def test_departures() -> None:
    d = Departures()
    d.schedule(("r", "a"), 100, 50)
    d.schedule(("r", "b"), 100, 80)
    assert d.due(149) == []
    assert d.cancel(("r", "b"))
    assert d.due(150) == [("r", "a")]
    assert d.due(10_000) == []


def test_oversize() -> None:
    limits = RoomLimits(state_bytes=100, msg_bytes=200)
    assert oversize({"x": "a" * 50}, 100, limits) is None
    why = oversize({"x": "a" * 150}, 100, limits)
    assert why is not None and why.startswith("bytes")
    deep: object = 1
    for _ in range(20):
        deep = [deep]
    assert oversize(deep, 100, limits) is not None


def test_member_wire_and_version() -> None:
    t = RoomTable("A")
    assert t.next_version(("r", "c1")) == 1
    t.put_own(member(v=7), 0)
    assert t.next_version(("r", "c1")) == 8
    assert member().wire() == {"id": "c1", "user": "u-c1", "state": None}
    assert dataclasses.replace(member(), owner="X/2").hub == "X"


# --------------------------------------------------------------------------- messages and session


def test_parse_room_messages() -> None:
    assert m.parse({"t": "join", "room": "r", "state": {"a": 1}}) == rm.Join("r", {"a": 1}, "")
    assert m.parse({"t": "pupdate", "room": "r", "state": 2, "tag": "t1"}) == rm.PresenceUpdate("r", 2, "t1")
    assert m.parse({"t": "leave", "room": "r"}) == rm.Leave("r", "")
    assert m.parse({"t": "bcast", "room": "r", "msg": "hi"}) == rm.Broadcast("r", "hi", "")
    for bad in ({"t": "join"}, {"t": "join", "room": ""}, {"t": "leave", "room": "r", "tag": 5}):
        with pytest.raises(BadMessage):
            m.parse(bad)
    assert rm.member_id("c", "") == "c" and rm.member_id("c", "t") == "c#t"


def _ready(features: tuple[str, ...]) -> Session:
    s = Session(SessionConfig("h", {}, features=features, room_limits={"max_rooms": 3}), 0)
    assert isinstance(s.receive(m.Hello((1,), "c", "tok", None), 0)[0], Authenticate)
    (welcome,) = s.authenticated(0, "u")
    assert welcome.msg["features"] == list(features)  # type: ignore[union-attr]
    return s


def test_session_hands_room_messages_to_the_presence_service() -> None:
    s = _ready((rm.FEATURE,))
    effects = s.receive_frame({"t": "join", "room": "r", "state": 1}, 1)
    assert effects == [RoomOp(rm.Join("r", 1, ""))]


def test_a_hub_without_rooms_closes_4004_on_join() -> None:
    s = _ready(())
    (close,) = s.receive_frame({"t": "join", "room": "r"}, 1)
    assert isinstance(close, Close) and close.code == CloseCode.UNKNOWN_TYPE


def test_room_messages_before_hello_are_out_of_order() -> None:
    s = Session(SessionConfig("h", {}, features=(rm.FEATURE,)), 0)
    (close,) = s.receive_frame({"t": "bcast", "room": "r", "msg": 1}, 1)
    assert isinstance(close, Close) and close.code == CloseCode.UNEXPECTED_MESSAGE


def _run_rounds(
    members: list[tuple[str, str]], period: int, tick: int, until: int
) -> dict[tuple[str, str], list[int]]:
    rounds = RefreshRounds(period, tick, 0)
    seen: dict[tuple[str, str], list[int]] = {k: [] for k in members}
    for now in range(tick, until + 1, tick):
        for k in rounds.due(now, lambda: list(members)):
            seen[k].append(now)
    return seen


def test_refresh_rounds_spread_every_member_once_per_round_over_its_ticks() -> None:
    members = [("r", str(i)) for i in range(500)]
    rounds = RefreshRounds(5000, 250, 0)
    per_tick = [len(rounds.due(t, lambda: list(members))) for t in range(250, 10_001, 250)]
    assert sum(per_tick[:19]) == 0  # nothing before the first round is due
    assert per_tick[19:39] == [25] * 20  # 500 members over the 20 ticks of a round, not 500 at once
    seen = _run_rounds(members, 5000, 250, 19_750)
    assert all(len(times) == 3 for times in seen.values())  # the rounds of 5, 10 and 15 s


def test_refresh_rounds_a_member_is_never_left_unrefreshed_for_two_rounds() -> None:
    period, tick = 5000, 250
    rounds = RefreshRounds(period, tick, 0)
    members = [("r", "a")]
    last: dict[tuple[str, str], int] = {("r", "a"): 0}
    worst = 0
    for now in range(tick, 60_000, tick):
        if now % 1000 == 0:  # a member joins every second, written (refreshed) as it joins
            key = ("r", f"j{now}")
            members.append(key)
            last[key] = now
        for k in rounds.due(now, lambda: list(members)):
            worst = max(worst, now - last[k])
            last[k] = now
    assert 0 < worst <= 2 * period
    assert all(60_000 - t <= 2 * period for t in last.values())
