"""One subscription of one connection: catch-up / snapshot runs and the CATCHING_UP → LIVE switch.

A :class:`Subscription` is registered with its collection's :class:`hub.server.feed.Feed` *before* the
sync reads the store, so no live change can fall between the pages and the live stream. While
CATCHING_UP, live frames are held (bounded); after ``synced`` they are flushed and the
subscription is LIVE. If the held frames overflow, they are dropped and the sync simply pages
on (tombstones included) until the store has nothing newer, then sends ``synced``.

(``_sync`` is over 60 lines: one sync run and its reads ahead read best in one place, next to
docs/sync-model.md §4.)
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from hub.core import messages as m
from hub.core import query_messages as qm
from hub.core.cursor import Cursor, plan_sync
from hub.core.errors import RetentionPassed
from hub.core.limits import DEFAULT_DOC_LIMITS
from hub.core.query import Filter
from hub.core.subsets import qkey
from hub.core.types import Change
from hub.server.pages import cut_pages, encode_chunks, encode_shared_page
from hub.server.readermark import check_reader, reader_mark
from hub.server.subsetread import read_subset
from hub.server.syncreads import SharedPage, SyncReads
from hub.store.base import Store

if TYPE_CHECKING:
    from hub.auth.identity import Identity
    from hub.authz import AccessPolicy
    from hub.metrics import HubMetrics

log = logging.getLogger(__name__)

#: Changes per ``page`` frame at most (docs/protocol.md).
PAGE_SIZE = 500
#: Changes per store read of a whole-collection sync at most: several frames' worth, so a sync
#: makes a quarter of the round trips to Ignite (its SQL page and data read) it would make per frame.
READ_SIZE = 4 * PAGE_SIZE
#: What one store read may hold, about: the next read's size follows the bytes per change of the
#: previous one (documents of up to 256 KiB would otherwise make 2,000 of them half a GiB).
READ_BYTES = 8 << 20


class SubState(enum.Enum):
    CATCHING_UP = "catching_up"
    LIVE = "live"
    STOPPED = "stopped"


class Port(Protocol):
    """What a subscription needs from its connection."""

    store: Store
    sync_reads: SyncReads
    overlap_ms: int
    max_frame: int
    hold_bytes: int
    policy: AccessPolicy
    metrics: HubMetrics

    @property
    def identity(self) -> Identity | None:
        """The connection's current identity (row filters)."""
        ...

    @property
    def client_id(self) -> str:
        """The client id of ``hello``."""
        ...

    def send_control(
        self, msg: dict[str, Any], coll: str | None = None, cursor: Cursor | None = None
    ) -> None: ...

    async def send_sync(self, coll: str, frame: bytes) -> None: ...

    def send_live_now(self, coll: str, frame: bytes, cursor: Cursor) -> bool:
        """Write a live frame at once if nothing waits before it; False: use :meth:`push_live`."""
        ...

    def push_live(
        self, coll: str, frame: bytes, cursor: Cursor, received: float = 0.0, events: int = 0
    ) -> bool: ...

    def delivered(self, coll: str) -> Cursor | None: ...

    def fail(self, exc: BaseException) -> None: ...


def stream_key(coll: str, sub_id: int, query: bool) -> str:
    """The out-queue key of a subscription's frames (its delivered cursor, what a resync drops): the
    collection for a whole-collection subscription, one per ``sub`` id for query subscriptions."""
    return f"{coll}\x1f{sub_id}" if query else coll


@dataclass(frozen=True, slots=True)
class Query:
    """A query subscription's subset: the bound filter, its stream name ``q``, and how it was asked
    for (a named subscription is bound again when the token's claims change)."""

    filter: Filter
    name: str | None = None
    params: Mapping[str, Any] | None = None

    @property
    def q(self) -> str:
        return qkey(self.filter)


class Subscription:
    # Slots: one per subscribed connection (docs/benchmarks.md, memory).
    __slots__ = (
        "coll",
        "cursor",
        "doc_limits",
        "gone",
        "held",
        "held_bytes",
        "held_overflow",
        "key",
        "port",
        "query",
        "state",
        "sub_id",
        "task",
    )

    def __init__(
        self, port: Port, coll: str, sub_id: int, cursor: Cursor | None, query: Query | None = None
    ) -> None:
        self.port = port
        self.coll = coll
        self.sub_id = sub_id
        self.query = query
        self.key = stream_key(coll, sub_id, query is not None)
        self.cursor = cursor  # where the current sync started; once synced, the cursor it sent
        self.doc_limits = DEFAULT_DOC_LIMITS.for_frame(port.max_frame)  # pages hold what a client can
        self.state = SubState.CATCHING_UP
        self.held: list[tuple[bytes, Cursor, float, int]] = []
        self.held_bytes = 0
        self.held_overflow = False
        self.task: asyncio.Task[None] | None = None
        # A subset's catch-up: its removals (store.leavers), read with its first page; [None]: the
        # store cannot tell, every change that does not match is a removal.
        self.gone: list[list[Change] | None] = []

    @property
    def identity(self) -> Identity | None:
        return self.port.identity

    # ----------------------------------------------------------------- control

    def start(self, cursor: Cursor | None, reason: str | None = None, *, announced: bool = False) -> None:
        """(Re)start a sync from ``cursor``; ``reason`` makes it a ``resync`` (``announced``: the
        caller already queued the ``resync`` message)."""
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
        self.state = SubState.CATCHING_UP
        self.cursor = cursor
        self.held.clear()
        self.held_bytes = 0
        self.held_overflow = False
        self.task = asyncio.create_task(self._run(cursor, reason, announced), name=f"sync:{self.key}")

    def resync(self, reason: str) -> None:
        """A gap in the live stream (``slow``, ``cq_lost``): catch up from the last cursor written
        to the socket. A cursor only ever covers what the client was sent (feed.py), so nothing
        after it is lost, and a lost feed does not make every subscriber re-read everything."""
        if self.state is SubState.STOPPED:
            return
        delivered, held = self.port.delivered(self.key), self.cursor
        if held is None or (delivered is not None and delivered[0] == held[0] and delivered[1] > held[1]):
            held = delivered
        self.start(held, reason)

    def stop(self) -> None:
        self.state = SubState.STOPPED
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
        self.held.clear()

    # ----------------------------------------------------------------- live frames (from the feed)

    def on_frame(self, frame: bytes, cursor: Cursor, received: float = 0.0, events: int = 0) -> bool:
        """Take a live frame; True when it went out at once (fanout.py counts those), else False."""
        if self.state is SubState.LIVE:
            if self.port.send_live_now(self.key, frame, cursor):
                return True
            if not self.port.push_live(self.key, frame, cursor, received, events):
                self.resync("slow")
        elif self.state is SubState.CATCHING_UP:
            if self.held_overflow:
                return False
            if self.held_bytes + len(frame) > self.port.hold_bytes:
                self.held.clear()
                self.held_bytes = 0
                self.held_overflow = True
                return False
            self.held.append((frame, cursor, received, events))
            self.held_bytes += len(frame)
        return False

    # ----------------------------------------------------------------- the sync run

    async def _run(self, cursor: Cursor | None, reason: str | None, announced: bool = False) -> None:
        try:
            await self._sync(cursor, reason, announced)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.port.fail(exc)
        finally:
            if self.task is asyncio.current_task():
                self.task = None  # synced: a live subscription keeps no finished task

    def _page(
        self, done: int, total: int | None, at: Cursor | None, last: Change, cs: Sequence[Change]
    ) -> dict[str, Any]:
        # a page cut into several frames: only its last frame holds everything up to ``at``
        cursor = at if cs[-1] is last else None
        if self.query is not None:
            return qm.qpage(self.coll, self.sub_id, cs, done, cursor, self.doc_limits)
        return m.page(self.coll, self.sub_id, cs, done, total, cursor, self.doc_limits)

    def _shared(self, batch: list[Change], visible: list[Change]) -> SharedPage | None:
        """The page as read when it goes out as read, so its encoded form is shared with other syncs."""
        if (
            isinstance(batch, SharedPage)
            and self.query is None
            and len(visible) == len(batch)
            and not self.port.policy.has_row_filter(self.coll)
        ):
            return batch
        return None

    def _page_head(self, done: int, total: int | None, at: Cursor | None, last: bool) -> dict[str, Any]:
        return m.page_head(self.coll, self.sub_id, done, total, at if last else None)

    def _resync_msg(self, reason: str, mode: str) -> dict[str, Any]:
        if self.query is not None:
            return qm.qresync(self.coll, self.sub_id, reason, mode)
        return m.resync(self.coll, reason, mode)

    async def _read(
        self, after: int, include_deleted: bool, size: int = PAGE_SIZE
    ) -> tuple[list[Change], int, bool]:
        """One store read from ``after`` (of up to ``size`` changes; a subset's: ``PAGE_SIZE``): its
        changes, the version it reached, whether it was full."""
        reads = self.port.sync_reads
        if self.query is not None:
            return await read_subset(
                reads, self.coll, self.query.filter, self.gone, after, include_deleted, PAGE_SIZE
            )
        batch = await reads.changes(self.coll, after, size, include_deleted=include_deleted)
        return batch, batch[-1].ver if batch else after, len(batch) >= size

    def _visible(self, batch: list[Change], mode: str) -> list[Change]:
        """What the connection's identity may receive of a page (docs/security.md §4)."""
        identity = self.port.identity
        if identity is None:
            return batch
        return self.port.policy.filter_changes(
            identity, self.coll, batch, mode="snapshot" if mode == "snapshot" else "delta"
        )

    async def _total(self, mode: str) -> int | None:
        """``page.total`` of a snapshot: the collection's size, unless a row filter applies (the
        count would tell a user how much exists that they cannot read)."""
        if mode != "snapshot" or self.query is not None or self.port.policy.has_row_filter(self.coll):
            return None
        return await self.port.sync_reads.count(self.coll)

    def _count_resync(self, reason: str) -> None:
        self.port.metrics.resyncs.labels(reason).inc()

    async def _sync(self, cursor: Cursor | None, reason: str | None, announced: bool = False) -> None:
        port, coll = self.port, self.coll
        store = port.sync_reads
        started = time.monotonic()
        info = await store.info(coll)
        plan = plan_sync(cursor, info.epoch, info.floor, port.overlap_ms)
        mark = reader_mark(port.identity, port.policy, coll)
        plan, mark = await check_reader(store, coll, port.client_id, cursor, plan, mark)
        # Pages carry a cursor to resume from, except while a row filter's reader fingerprint
        # still has to be recorded: it must be in place before any cursor leaves, and recording
        # it up front is only right when the client holds no cursor of another reader (its own
        # first sync, not a restart for new claims).
        resumable = mark is None or (cursor is None and reason is None)
        reason = reason or plan.resync_reason
        mode, after, reset = plan.mode, plan.after, plan.reset
        if reason is not None:
            if not announced:
                port.send_control(self._resync_msg(reason, mode), self.key)
            self._count_resync(reason)
        total = await self._total(mode)
        done = 0
        if mark is not None and resumable:
            await store.set_reader_mark(coll, port.client_id, mark)
            mark = None
        elif mark is not None:
            # Raise the watermark first: every cursor issued before this sync is then below the
            # cursor it ends with, which is what the mark is recorded with (see above).
            await store.advance(coll)
            info = await store.info(coll)
        # Everything at or below the watermark read before the first page committed before it:
        # once paging ends, the client holds all of it (or newer), whatever the clocks.
        covered = info.closed
        include_deleted = mode == "catchup"
        self.gone = []
        # The next store read runs while this one's frames are encoded and queued (one ahead: at
        # most two reads' changes held), so Ignite and the hub work at the same time.
        ahead: asyncio.Task[tuple[list[Change], int, bool]] | None = None
        size = PAGE_SIZE  # the first read; then as many as READ_BYTES hold, up to READ_SIZE
        try:
            while True:
                try:
                    if ahead is not None:
                        read, ahead = ahead, None
                        batch, last, full = await read
                    else:
                        batch, last, full = await self._read(after, include_deleted, size)
                except RetentionPassed:
                    if mode == "snapshot":
                        raise
                    port.send_control(self._resync_msg("retention", "snapshot"), self.key)
                    self._count_resync("retention")
                    mode, after, reset, include_deleted, done = "snapshot", 0, True, False, 0
                    total = await self._total("snapshot")
                    continue
                if full and self.query is None:
                    # (a subset's reads share ``self.gone``, merged in order: one at a time)
                    ahead = asyncio.create_task(self._read(last, include_deleted, size))
                visible = self._visible(batch, mode) if batch else []
                shared = self._shared(batch, visible)
                sent = start = 0
                for chunk, at in cut_pages(visible, last, covered, info.epoch, resumable, PAGE_SIZE):
                    done += len(chunk)
                    if shared is not None:  # the same frames as below, the changes encoded once
                        head = partial(self._page_head, done, total, at)
                        end = start + len(chunk)
                        frames = encode_shared_page(head, shared, start, end, self.doc_limits, port.max_frame)
                    else:
                        build = partial(self._page, done, total, at, chunk[-1])
                        frames = [f for f, _ in encode_chunks(build, chunk, port.max_frame)]
                    start += len(chunk)
                    for frame in frames:
                        sent += len(frame)
                        await port.send_sync(self.key, frame)
                if visible:
                    size = max(1, min(READ_SIZE, READ_BYTES * len(visible) // max(sent, 1)))
                after = last
                if not full:
                    if not self.held_overflow:
                        break
                    # Live changes were dropped while we paged: what they carried committed after
                    # the watermark of this round, so page again from it, tombstones included.
                    self.held_overflow = False
                    self.gone = []  # removals since the new ``after``
                    after = min(after, covered)
                    covered = (await store.info(coll)).closed
                    include_deleted = True
        finally:
            if ahead is not None:  # cancelled, or failed: its error is this run's (already raised)
                ahead.cancel()
                ahead.add_done_callback(lambda t: t.cancelled() or t.exception())
        ver = covered
        if cursor is not None and mode == "catchup" and cursor[0] == info.epoch:
            ver = max(ver, cursor[1])
        out: Cursor = (info.epoch, ver)
        if mark is not None:  # before the cursor leaves: whoever resumes from it is checked
            await store.set_reader_mark(coll, port.client_id, f"{mark} {out[1]}")
        if self.query is not None:
            done_msg = qm.qsynced(coll, self.sub_id, self.query.q, out, mode, reset)
        else:
            done_msg = m.synced(coll, self.sub_id, out, mode, reset)
        port.send_control(done_msg, self.key, out)
        # The client holds ``out`` once that frame is written, and control frames are never dropped:
        # a resync before it is written (held frames overflowing right below) starts from it, not
        # from where this sync started (for a first sync: nothing, a needless snapshot).
        self.cursor = out
        port.metrics.catchup_seconds.labels(mode).observe(time.monotonic() - started)
        # No await from here on: the switch to LIVE and the flush are atomic for the feed.
        self.state = SubState.LIVE
        held, self.held = self.held, []
        self.held_bytes = 0
        for frame, c, received, events in held:
            if not port.push_live(self.key, frame, c, received, events):
                self.resync("slow")
                return
