"""Rooms on a running hub: the members of its connections, their refresh in the backplane, the
reconnect grace, and the fan-out of presence deltas and broadcasts to its connections.

The decisions are the core's (hub/core/presence.py: the room table, deltas, departures, limits);
access comes from ``[rooms]`` (hub/rooms.py); the backplane (hub/store/backplane.py) carries
members and broadcasts between hubs. One task reads the backplane's events, one ticks (departures
due, refreshes once per round of ttl / 3 spread over the round, the stale-member safety net).
docs/sync-model.md "Presence".
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.auth.identity import Identity
from hub.core import room_messages as rm
from hub.core.errors import ErrorCode, HubError
from hub.core.presence import Delta, Departures, Key, Member, RefreshRounds, RoomTable, oversize
from hub.core.ratelimit import TokenBucket
from hub.metrics import Gauge, HubMetrics
from hub.rooms import RoomSettings
from hub.store.backplane import Backplane, Broadcast, Event, MemberGone, MemberPut

log = logging.getLogger(__name__)

TICK_S = 0.25
#: Refreshes in flight at once (each is one backplane round trip).
REFRESH_CONCURRENCY = 32
START_TIMEOUT_S = 30.0


def now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class Port(Protocol):
    """What presence needs of a connection (:class:`~hub.server.connection.Connection`)."""

    id: str

    @property
    def identity(self) -> Identity | None: ...

    @property
    def client_id(self) -> str: ...

    def send_control(self, msg: dict[str, Any]) -> None: ...


@dataclass(slots=True)
class ConnRooms:
    """One connection's rooms (room -> member id) and its broadcast budget."""

    bucket: TokenBucket
    joined: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Owned:
    member: Member
    port: Port | None  # None: the connection closed, the member waits out the grace period
    rooms: ConnRooms | None


class Presence:
    def __init__(
        self, hub_id: str, settings: RoomSettings, backplane: Backplane, metrics: HubMetrics
    ) -> None:
        self.hub_id = hub_id
        self.settings = settings
        self.limits = settings.limits
        self.backplane = backplane
        self.table = RoomTable(hub_id)
        self.departures = Departures()
        self.owned: dict[Key, Owned] = {}
        self.listeners: dict[str, dict[str, Port]] = {}
        self.live = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._members = _gauge(metrics, "synchub_room_members", "Room members this hub knows (all hubs').")
        self._rooms = _gauge(metrics, "synchub_rooms_local", "Rooms with a member connected to this hub.")
        self.metrics = metrics

    def for_connection(self) -> ConnRooms:
        return ConnRooms(TokenBucket(self.settings.msg_rate, self.settings.msg_burst))

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        await self.backplane.open()
        self._tasks = [
            asyncio.create_task(self._events(), name="presence-events"),
            asyncio.create_task(self._ticker(), name="presence-ticker"),
        ]
        async with asyncio.timeout(START_TIMEOUT_S):
            await self.live.wait()

    async def stop(self) -> None:
        # Members are left to expire (ttl): clients of a hub shutting down reconnect elsewhere
        # within the grace and take their entries over without a leave.
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        with contextlib.suppress(Exception):
            await self.backplane.close()

    # ----------------------------------------------------------------- requests of a connection

    async def handle(self, port: Port, cr: ConnRooms, msg: rm.RoomMessage) -> None:
        identity = port.identity
        if identity is None:
            return
        try:
            if isinstance(msg, rm.Join):
                await self._join(port, cr, identity, msg.room, msg.tag, msg.state)
            elif isinstance(msg, rm.PresenceUpdate):
                await self._update(port, cr, msg.room, msg.state)
            elif isinstance(msg, rm.Leave):
                await self._leave(port, cr, msg.room)
            else:
                await self._broadcast(port, cr, identity, msg.room, msg.msg)
        except _Refused as r:
            port.send_control(rm.room_error(msg.room, r.code, r.why))

    async def _join(self, port: Port, cr: ConnRooms, who: Identity, room: str, tag: str, state: Any) -> None:
        if not self.settings.can_join(who, room):
            raise _Refused(ErrorCode.FORBIDDEN, "forbidden")
        if room not in cr.joined and len(cr.joined) >= self.limits.max_rooms:
            raise _Refused(ErrorCode.TOO_MANY_ROOMS, f"in {self.limits.max_rooms} rooms already")
        self._check(state, self.limits.state_bytes, "state")
        mid = cr.joined.get(room) or rm.member_id(port.client_id, tag)
        key = (room, mid)
        self.departures.cancel(key)
        prior = self.owned.get(key)
        if prior is not None and prior.port is not None and prior.port is not port:
            self._unlisten(prior, key)  # the same client on another connection of this hub
        user = None if who.anonymous else who.subject
        m = Member(room, mid, user, state, f"{self.hub_id}/{port.id}", self.table.next_version(key))
        self._fanout(self.table.put_own(m, now_ms()))
        self.listeners.setdefault(room, {})[mid] = port
        cr.joined[room] = mid
        self.owned[key] = Owned(m, port, cr)
        port.send_control(rm.members(room, [x.wire() for x in self.table.members(room)]))
        self._gauges()
        await self._write(m)

    async def _update(self, port: Port, cr: ConnRooms, room: str, state: Any) -> None:
        key = self._joined(cr, room)
        self._check(state, self.limits.state_bytes, "state")
        own = self.owned.get(key)
        if own is None:
            raise _Refused(ErrorCode.NOT_JOINED, "not in this room")
        m = dataclasses.replace(own.member, state=state, v=self.table.next_version(key))
        own.member = m
        self._fanout(self.table.put_own(m, now_ms()))
        await self._write(m)

    async def _leave(self, port: Port, cr: ConnRooms, room: str) -> None:
        key = self._joined(cr, room)
        own = self.owned.pop(key, None)
        cr.joined.pop(room, None)
        self._drop_listener(room, key[1], port)
        self.departures.cancel(key)
        if own is not None:
            await self._remove(own.member)  # the backplane's echo makes the ``left``
        self._gauges()

    async def _broadcast(self, port: Port, cr: ConnRooms, who: Identity, room: str, msg: Any) -> None:
        key = self._joined(cr, room)
        if not self.settings.can_broadcast(who, room):
            raise _Refused(ErrorCode.FORBIDDEN, "forbidden")
        self._check(msg, self.limits.msg_bytes, "message")
        if not cr.bucket.take(now_ms()):
            self.metrics.rate_limited.labels("broadcast").inc()
            raise _Refused(ErrorCode.RATE_LIMITED, "rate limited (broadcast): message dropped")
        frame = rm.bcast(room, key[1], None if who.anonymous else who.subject, msg)
        for mid, other in list(self.listeners.get(room, {}).items()):
            if mid != key[1]:
                other.send_control(frame)
        try:
            await self.backplane.publish(self.hub_id, frame)
        except HubError as exc:
            log.warning("broadcast not published to other hubs: %s", exc.message)

    async def recheck(self, port: Port, cr: ConnRooms) -> None:
        """After an in-band token refresh: like collections, rooms follow the new claims. A room the
        identity may no longer join is left (the others see ``left``) and refused with 4403."""
        who = port.identity
        if who is None:
            return
        for room in [r for r in cr.joined if not self.settings.can_join(who, r)]:
            await self._leave(port, cr, room)
            port.send_control(rm.room_error(room, ErrorCode.FORBIDDEN, "forbidden (token refreshed)"))

    def disconnected(self, port: Port, cr: ConnRooms) -> None:
        """The connection closed: its members stay listed for the grace period."""
        now = now_ms()
        for room, mid in cr.joined.items():
            key = (room, mid)
            self._drop_listener(room, mid, port)
            own = self.owned.get(key)
            if own is not None and own.port is port:
                own.port = own.rooms = None
                self.departures.schedule(key, now, self.settings.grace_ms)
        cr.joined.clear()
        self._gauges()

    def _joined(self, cr: ConnRooms, room: str) -> Key:
        mid = cr.joined.get(room)
        if mid is None:
            raise _Refused(ErrorCode.NOT_JOINED, "not in this room")
        return (room, mid)

    def _check(self, value: Any, limit: int, what: str) -> None:
        why = oversize(value, limit, self.limits)
        if why is not None:
            raise _Refused(ErrorCode.TOO_LARGE, f"{what}: {why}")

    # ----------------------------------------------------------------- backplane writes

    async def _write(self, m: Member) -> None:
        try:
            await self.backplane.put(m)
        except HubError as exc:
            # the refresh puts it back (restore) within ttl / 3
            self.table.write_failed(m.key)
            log.warning("presence write failed: %s", exc.message)

    async def _remove(self, m: Member) -> None:
        try:
            await self.backplane.remove(m)
        except HubError as exc:
            log.warning("presence remove failed (the entry expires): %s", exc.message)

    # ----------------------------------------------------------------- fan-out

    def _fanout(self, d: Delta | None) -> None:
        if d is None:
            return
        listeners = self.listeners.get(d.member.room)
        if not listeners:
            return
        frame = rm.delta(d.kind, d.member.room, d.member.wire())
        for port in list(listeners.values()):
            port.send_control(frame)

    def _drop_listener(self, room: str, mid: str, port: Port) -> None:
        listeners = self.listeners.get(room)
        if listeners is not None and listeners.get(mid) is port:
            del listeners[mid]
            if not listeners:
                del self.listeners[room]

    def _unlisten(self, own: Owned, key: Key) -> None:
        """Another connection took ``key`` over: the old one is no longer in the room."""
        if own.port is not None:
            self._drop_listener(key[0], key[1], own.port)
            own.port.send_control(rm.delta("left", key[0], own.member.wire()))
        if own.rooms is not None:
            own.rooms.joined.pop(key[0], None)

    def _gauges(self) -> None:
        self._members.set(len(self.table))
        self._rooms.set(len(self.listeners))

    # ----------------------------------------------------------------- tasks

    async def _events(self) -> None:
        delay = 0.1
        while True:
            try:
                first = True
                async for batch in self.backplane.events():
                    if first:  # the stream is open: what was written before it is in the snapshot
                        first = False
                        for d in self.table.reconcile(await self.backplane.snapshot(), now_ms()):
                            self._fanout(d)
                        self._gauges()
                        self.live.set()
                        delay = 0.1
                    self._apply(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.live.clear()
                log.warning("presence events lost (%r); reopening in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _apply(self, batch: list[Event]) -> None:
        now = now_ms()
        for ev in batch:
            if isinstance(ev, MemberPut):
                self._fanout(self.table.put_event(ev.member, now))
                own = self.owned.get(ev.member.key)
                cur = self.table.get(ev.member.key)
                if own is not None and cur is not None and cur.owner != own.member.owner:
                    del self.owned[ev.member.key]  # taken over by the client's new connection
                    self.departures.cancel(ev.member.key)
                    self._unlisten(own, ev.member.key)
            elif isinstance(ev, MemberGone):
                if ev.key in self.owned and ev.owner != self.owned[ev.key].member.owner:
                    continue  # an older entry of a member this hub holds now
                self._fanout(self.table.remove_event(ev.key, ev.owner))
            elif isinstance(ev, Broadcast) and ev.hub != self.hub_id:
                room = ev.frame.get("room")
                for port in list(self.listeners.get(room, {}).values()) if isinstance(room, str) else []:
                    port.send_control(ev.frame)
        self._gauges()

    async def _ticker(self) -> None:
        ttl = self.settings.ttl_ms
        rounds = RefreshRounds(ttl // 3, int(TICK_S * 1000), now_ms())
        while True:
            await asyncio.sleep(TICK_S)
            now = now_ms()
            for key in self.departures.due(now):
                own = self.owned.get(key)
                if own is not None and own.port is None:
                    del self.owned[key]
                    await self._remove(own.member)
            due = rounds.due(now, lambda: list(self.owned))
            if due:
                await self._refresh([own.member for k in due if (own := self.owned.get(k)) is not None])
            if self.live.is_set():
                for d in self.table.stale(now, ttl + ttl // 3):
                    self._fanout(d)

    async def _refresh(self, members: list[Member]) -> None:
        slots = asyncio.Semaphore(REFRESH_CONCURRENCY)

        async def one(m: Member) -> None:
            async with slots:
                try:
                    if await self.backplane.refresh(m):
                        return
                    cur = self.table.get(m.key)
                    own = self.owned.get(m.key)
                    if own is None or own.member != m:
                        return  # left, or written again meanwhile
                    if cur is None or cur.owner == m.owner:
                        await self.backplane.restore(m)  # expired under a live member
                except HubError as exc:
                    log.warning("presence refresh failed: %s", exc.message)

        await asyncio.gather(*(one(m) for m in members))


class _Refused(Exception):
    def __init__(self, code: int, why: str) -> None:
        super().__init__(why)
        self.code = code
        self.why = why


def _gauge(metrics: HubMetrics, name: str, help: str) -> Gauge:
    try:
        return metrics.registry.gauge(name, help)
    except ValueError:  # a second hub on the same metrics (tests): count, unexported
        return Gauge(name, help)
