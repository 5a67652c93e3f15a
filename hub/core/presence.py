"""Presence, without I/O: a hub's view of every room's members, the deltas its changes make, the
reconnect grace and the limits of room messages (docs/sync-model.md "Presence").

Every hub mirrors the cluster's presence entries (one per room and member, written by the hub
holding the member's connection, refreshed there, expiring in the backplane when not). A member
is identified by ``(room, id)`` where ``id`` is its client id (stable across reconnects): a client
that comes back within the grace period, on this hub or another, takes its entry over, and the
others see at most ``updated`` (when its state changed), never ``left`` + ``joined``.

Ordering: a hub applies its own puts at once (so a joiner's snapshot holds itself) and marks them
*pending* until the backplane echoes them back. Events for one key arrive in the backplane's order,
so while a put of ours is pending, anything else for that key was written before it and is
ignored; after the echo a foreign put is a takeover. Removals are applied only from the backplane
(a conditional remove that lost to a takeover makes no event, hence no flap).

Times are milliseconds passed in by the caller.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from .limits import DocLimits, check

Key = tuple[str, str]  # (room, member id)


@dataclass(frozen=True, slots=True)
class Member:
    room: str
    id: str
    user: str | None
    state: Any
    owner: str  # "<hub id>/<connection id>": the connection holding the member now
    v: int  # the owner's version: each write of the member raises it

    @property
    def key(self) -> Key:
        return (self.room, self.id)

    @property
    def hub(self) -> str:
        return self.owner.partition("/")[0]

    def wire(self) -> dict[str, Any]:
        return {"id": self.id, "user": self.user, "state": self.state}


@dataclass(frozen=True, slots=True)
class Delta:
    kind: Literal["joined", "updated", "left"]
    member: Member


@dataclass(slots=True)
class RoomTable:
    """The members of every room as this hub (``hub_id``) knows them."""

    hub_id: str
    rooms: dict[str, dict[str, Member]] = field(default_factory=dict)
    seen_ms: dict[Key, int] = field(default_factory=dict)  # last event (or own write) per member
    pending: dict[Key, Member] = field(default_factory=dict)  # own puts not echoed yet

    def get(self, key: Key) -> Member | None:
        return self.rooms.get(key[0], {}).get(key[1])

    def members(self, room: str) -> list[Member]:
        return sorted(self.rooms.get(room, {}).values(), key=lambda m: m.id)

    def __len__(self) -> int:
        return sum(len(r) for r in self.rooms.values())

    def next_version(self, key: Key) -> int:
        """The version a new write of ``key`` takes: above what this hub has seen of it."""
        cur = self.get(key)
        return 1 if cur is None else cur.v + 1

    def _set(self, m: Member, now_ms: int) -> Delta | None:
        cur = self.get(m.key)
        self.rooms.setdefault(m.room, {})[m.id] = m
        self.seen_ms[m.key] = now_ms
        if cur is None:
            return Delta("joined", m)
        if cur.state != m.state or cur.user != m.user:
            return Delta("updated", m)
        return None  # a refresh, or a takeover with the same state: nothing to tell

    def put_own(self, m: Member, now_ms: int) -> Delta | None:
        """This hub writes ``m`` (a join, update or takeover by one of its connections)."""
        self.pending[m.key] = m
        return self._set(m, now_ms)

    def put_event(self, m: Member, now_ms: int) -> Delta | None:
        """The backplane reports ``m`` written (by any hub, this one included)."""
        mine = self.pending.get(m.key)
        if mine is not None:
            if m == mine:
                del self.pending[m.key]
                self.seen_ms[m.key] = now_ms
            return None  # written before our pending put: already overtaken
        cur = self.get(m.key)
        if cur is not None and cur.owner == m.owner and m.v <= cur.v:
            self.seen_ms[m.key] = now_ms
            return None  # a refresh (or an old write of the same owner)
        return self._set(m, now_ms)

    def write_failed(self, key: Key) -> None:
        """Our put did not reach the backplane: no echo will come to clear it."""
        self.pending.pop(key, None)

    def remove_event(self, key: Key, owner: str | None) -> Delta | None:
        """The backplane reports the entry removed or expired; ``owner``: whose entry it was (None
        when the event does not say)."""
        if key in self.pending:
            return None  # our put comes after it
        cur = self.get(key)
        if cur is None or (owner is not None and cur.owner != owner):
            return None
        return self._drop(cur)

    def _drop(self, m: Member) -> Delta:
        room = self.rooms[m.room]
        del room[m.id]
        if not room:
            del self.rooms[m.room]
        self.seen_ms.pop(m.key, None)
        self.pending.pop(m.key, None)
        return Delta("left", m)

    def stale(self, now_ms: int, max_age_ms: int) -> list[Delta]:
        """Drop other hubs' members no event has refreshed for ``max_age_ms``: the safety net when
        an expiry event is lost (their hub refreshes them every ttl / 3)."""
        out: list[Delta] = []
        for key, seen in list(self.seen_ms.items()):
            m = self.get(key)
            if m is not None and m.hub != self.hub_id and now_ms - seen > max_age_ms:
                out.append(self._drop(m))
        return out

    def reconcile(self, snapshot: Iterable[Member], now_ms: int) -> list[Delta]:
        """After the event stream was lost and reopened: the backplane's entries are the truth for
        other hubs' members (this hub's own are kept: its refresh writes them back)."""
        self.pending.clear()
        listed: dict[Key, Member] = {m.key: m for m in snapshot}
        out: list[Delta] = []
        for room in list(self.rooms.values()):
            for m in list(room.values()):
                if m.key not in listed and m.hub != self.hub_id:
                    out.append(self._drop(m))
        for m in listed.values():
            cur = self.get(m.key)
            if cur is not None and cur.hub == self.hub_id:
                continue
            d = self.put_event(m, now_ms)
            if d is not None:
                out.append(d)
        return out


@dataclass(slots=True)
class Departures:
    """Members whose connection closed without ``leave``: they stay listed until ``due`` (the
    grace period) unless their client joins again first."""

    due_ms: dict[Key, int] = field(default_factory=dict)

    def schedule(self, key: Key, now_ms: int, grace_ms: int) -> None:
        self.due_ms[key] = now_ms + grace_ms

    def cancel(self, key: Key) -> bool:
        return self.due_ms.pop(key, None) is not None

    def due(self, now_ms: int) -> list[Key]:
        out = [k for k, t in self.due_ms.items() if t <= now_ms]
        for k in out:
            del self.due_ms[k]
        return out


class RefreshRounds:
    """Which of a hub's members to refresh at each tick: every member once per round of
    ``period_ms``, spread evenly over the round. Refreshing them all at once made a burst every
    round: hundreds of backplane round trips, then as many events decoded by every hub, which held
    the event loop for tens of milliseconds and made the tail of presence latency (bench/presence.py).

    A member joined during a round is refreshed in the next one; its entry was just written, and
    the longest time between two refreshes of a member stays below two rounds (the caller's round
    is a third of the entry's time to live)."""

    def __init__(self, period_ms: int, tick_ms: int, now_ms: int) -> None:
        self.period_ms = max(1, period_ms)
        self.ticks = max(1, self.period_ms // max(1, tick_ms))
        self.next_ms = now_ms + self.period_ms
        self.queue: deque[Key] = deque()
        self.per_tick = 0

    def due(self, now_ms: int, members: Callable[[], Iterable[Key]]) -> list[Key]:
        """The keys to refresh now; ``members`` (the hub's members) is read when a round starts."""
        if not self.queue and now_ms >= self.next_ms:
            self.queue.extend(members())
            self.next_ms = now_ms + self.period_ms
            self.per_tick = -(-len(self.queue) // self.ticks)
        take = min(self.per_tick, len(self.queue))
        return [self.queue.popleft() for _ in range(take)]


@dataclass(frozen=True, slots=True)
class RoomLimits:
    """Limits of room messages (the ``[rooms]`` settings, docs/protocol.md "Rooms")."""

    state_bytes: int = 4096  # msgpack size of a member's state
    msg_bytes: int = 16_384  # msgpack size of one broadcast message
    max_rooms: int = 32  # rooms one connection may be in at once
    depth: int = 16
    entries: int = 10_000

    def to_wire(self) -> dict[str, int]:
        return {"state_bytes": self.state_bytes, "msg_bytes": self.msg_bytes, "max_rooms": self.max_rooms}


def oversize(value: Any, limit: int, limits: RoomLimits) -> str | None:
    """Why ``value`` (a state or a message) breaks ``limit`` bytes, depth or entries; None if it fits.

    Measured as the value of a one-entry map, so a few bytes more than the value alone."""
    over = check({"v": value}, DocLimits(limit, limits.entries, limits.depth + 1))
    if over is None:
        return None
    return f"{over.reason} {over.size} over the limit of {over.limit}"
