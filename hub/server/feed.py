"""The live feed of one collection, shared by every subscriber of this hub.

A reader task drains ``store.feed(coll)`` into an in-process queue at once (the store never waits
on the hub); the fan-out loop takes whatever batches are already waiting, merges them (several
changes share a frame under load), encodes each ``chg`` frame ONCE and hands the same bytes to
every subscriber (``fanout.py``, then :meth:`hub.server.subscription.Subscription.on_frame`: queued
when LIVE, held when CATCHING_UP). When the feed is lost (``FeedLost``, or any store error) it is
reopened with exponential backoff, then every subscriber gets ``resync {reason: "cq_lost"}`` and
catches up from the last cursor written to its socket.

Cursors do not come from the versions of the changes sent: a change with a lower version can still
commit, or its event still be on its way, after a higher one went out. Once a second (and every ten
when idle) the feed *settles*: it raises the collection's closed watermark ``W``
(``Store.advance``: nothing at or below it can commit any more), reads the changes in
``(covered, W']`` it has not sent, ``W'`` being the watermark the previous settle raised
(``Store.unseen``: a late event, or one that never came), sends them, and only then moves
``covered`` to ``W'``. Every ``chg`` carries ``covered`` as its cursor; a
settle that sent anything ends with an empty ``chg`` carrying the new one (docs/sync-model.md §4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hub.core.errors import FeedLost, StoreUnavailable
from hub.core.ratelimit import SharedBudget, duty_cycle
from hub.core.types import Change
from hub.server.fanout import FanOut
from hub.server.subscription import PAGE_SIZE, Subscription
from hub.store.base import Store

if TYPE_CHECKING:
    from hub.authz import AccessPolicy
    from hub.metrics import HubMetrics

log = logging.getLogger(__name__)

SETTLE_EVERY_S = 1.0  # settle this often while changes flow
SETTLE_IDLE_S = 10.0  # and at least this often when none do (repairs events that never came)
LOSS_CHECK_S = 5.0  # look for lost partitions and a new epoch this often
MAX_SEEN = 500_000  # ids remembered between two settles; more means settling cannot keep up
STOP_TIMEOUT_S = 5.0  # a feed that has not ended this long after stop() is left behind (logged)
_END = object()
_TICK = object()


class Feed:
    def __init__(
        self,
        store: Store,
        coll: str,
        *,
        max_frame: int = 1 << 20,
        max_changes: int = PAGE_SIZE,
        backoff: tuple[float, float] = (0.05, 5.0),
        policy: AccessPolicy,
        metrics: HubMetrics,
        recover: Callable[[], Awaitable[None]] | None = None,
        max_pending: int = 4096,
        sweep_partitions: int = 16,
        sweep_share: float | SharedBudget = 0.1,
    ) -> None:
        self.store = store
        self.policy = policy
        self.metrics = metrics
        self.recover = recover
        self.coll = coll
        self.max_changes = max_changes
        self.backoff = backoff
        self.max_pending = max_pending
        self.sweep_partitions = sweep_partitions
        # a float: this feed's own share; the hub passes one budget shared by all its feeds
        budget = sweep_share if isinstance(sweep_share, SharedBudget) else SharedBudget(sweep_share)
        self.sweep_budget = budget
        self.fan = FanOut(coll, policy, max_frame, max_changes, metrics)
        self.audience = self.fan.audience
        self.subscribers = self.fan.subscribers  # whole-collection subscriptions
        self.by_filter = self.fan.by_filter  # query subscriptions by distinct filter
        # Every change with a version <= covered was committed before this feed opened or has been
        # fanned out; _seen: the versions fanned out above it, since the last settle.
        self._seen: dict[str, int] = {}
        self._top = 0  # the highest version fanned out
        self._cursor_sent = 0  # the cursor of the last settle frame
        self._prev_closed = 0  # the watermark raised by the last settle
        self._sent_since_settle = False
        self._last_settle = 0.0
        self.live = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._opened = asyncio.Event()

    @property
    def epoch(self) -> str:
        return self.fan.cursor[0]

    @epoch.setter
    def epoch(self, epoch: str) -> None:
        self.fan.cursor = (epoch, self.fan.cursor[1])

    @property
    def covered(self) -> int:
        return self.fan.cursor[1]

    @covered.setter
    def covered(self, covered: int) -> None:
        self.fan.cursor = (self.fan.cursor[0], covered)

    # ----------------------------------------------------------------- lifecycle

    async def start(self, timeout: float = 30.0) -> None:
        """Start the feed and wait until it is open (so no change after this call is missed)."""
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"feed:{self.coll}")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._opened.wait()

    async def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop the feed's task: cancelled, again and again until it ends, within ``timeout``.

        One cancellation is not enough: a library call that completes as the cancellation arrives
        can drop it (pyignite connects with ``asyncio.wait_for``, which on Python 3.11 does), and
        the loop then carried on reopening the feed; the hub's shutdown awaited it for ever and a
        SIGTERMed hub whose Ignite was gone never exited (found by the chaos suite)."""
        self.live = False
        self._stopping = True
        task, self._task = self._task, None
        if task is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not task.done():
            left = deadline - loop.time()
            if left <= 0:
                log.error("feed of %r did not stop within %.0fs: left behind", self.coll, timeout)
                return
            task.cancel()
            await asyncio.wait({task}, timeout=min(0.5, left))
        if not task.cancelled():
            with contextlib.suppress(BaseException):
                task.result()

    def add(self, sub: Subscription) -> None:
        self.audience.add(sub)

    def remove(self, sub: Subscription) -> None:
        self.audience.remove(sub)

    # ----------------------------------------------------------------- the loop

    async def _run(self) -> None:
        delay = self.backoff[0]
        lost = False
        while not self._stopping:
            try:
                # Read before the continuous query starts: what is at or below it committed before.
                start = (await self.store.info(self.coll)).closed
                async with self.store.feed(self.coll) as changes:
                    self.epoch = (await self.store.info(self.coll)).epoch
                    self.covered, self._seen, self._top, self._cursor_sent = start, {}, 0, 0
                    self._prev_closed = 0
                    self._last_settle = 0.0
                    self.live = True
                    self._opened.set()
                    delay = self.backoff[0]
                    lost = False
                    # Anyone subscribed now synced while no feed ran (a lost one, or a first open
                    # slower than start()'s timeout): live changes may have been missed.
                    for sub in self.audience.all():
                        sub.resync("cq_lost")
                    await self._pump(changes)
                    self.live = False  # the store closed the feed: /readyz must not report it live
                    log.warning("feed of %r closed by the store", self.coll)
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.live = False
                lost = True
                log.warning("feed of %r lost (%s); reopening in %.2fs", self.coll, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff[1])
            if lost and self.recover is not None:
                try:
                    await self.recover()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("feed of %r: store not back yet (%s)", self.coll, exc)

    async def _pump(self, changes: AsyncIterator[list[Change]]) -> None:
        # Bounded like every queue in the hub. The fan-out never awaits a client, so a full queue
        # means this process is starved: treat it as a lost feed (resync) rather than grow.
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=self.max_pending + 4)

        ticking = [True]  # a _TICK is in the queue (at most one: the queue keeps room for it)

        async def tick() -> None:
            while True:
                await asyncio.sleep(SETTLE_EVERY_S)
                if not ticking[0]:
                    ticking[0] = True
                    queue.put_nowait(_TICK)

        async def read() -> None:
            try:
                async for batch in changes:
                    if queue.qsize() >= self.max_pending:
                        raise FeedLost(f"fan-out fell {self.max_pending} batches behind")
                    # When the store knows when it received the event, the push lag starts there.
                    received = getattr(batch, "received", None) or time.monotonic()
                    queue.put_nowait((received, batch))
            except BaseException as exc:
                queue.put_nowait(exc)
                raise
            queue.put_nowait(_END)

        async def sweep() -> None:
            # Off the fan-out path: scanning partitions must not delay live changes. One hub process
            # of the fleet sweeps a collection (store.sweeps: Ignite's coverage lease); the stamps it
            # writes reach the other hubs' subscribers through their settles. Its cost grows with
            # the collection (every document is compared each cycle), so it is paced to about
            # sweep_share of the time, split between the collections this process sweeps: a large
            # collection's cycle takes longer instead of its hub spending cores on it.
            budget = self.sweep_budget
            todo, pause = self.sweep_partitions, SETTLE_EVERY_S
            try:
                while True:
                    await asyncio.sleep(pause)
                    if not self.store.sweeps(self.coll):
                        budget.leave(self)
                        todo, pause = self.sweep_partitions, SETTLE_EVERY_S
                        continue
                    share = budget.take(self)
                    t0 = time.monotonic()
                    try:
                        found = await self.store.sweep(self.coll, todo)
                    except Exception as exc:  # e.g. a value nobody can decode: the next slice may be fine
                        log.warning("feed of %r: sweeping failed (%s)", self.coll, exc)
                        continue
                    took = time.monotonic() - t0
                    todo, pause = duty_cycle(took, todo, self.sweep_partitions, share, SETTLE_EVERY_S)
                    # Stamped just now: sent like any change. Dropped when the queue is full,
                    # settling still finds them (committed, not sent).
                    if found and queue.qsize() < self.max_pending:
                        self.metrics.events_repaired.inc(len(found))
                        queue.put_nowait((time.monotonic(), found))
            finally:
                budget.leave(self)

        async def watch() -> None:
            # A new epoch (partition loss, store/ignite/loss.py; or a meta table rebuilt): every
            # cursor of the old one is void, so every subscriber gets a snapshot with reset.
            while True:
                await asyncio.sleep(LOSS_CHECK_S)
                try:
                    await self.store.check_loss(self.coll)
                    epoch = (await self.store.info(self.coll)).epoch
                except Exception as exc:  # e.g. the cluster is busy: the next check may do
                    log.warning("feed of %r: checking for lost partitions failed (%s)", self.coll, exc)
                    continue
                if epoch != self.epoch:
                    log.warning("feed of %r: new epoch %s; its subscribers resync", self.coll, epoch)
                    self.epoch, self._cursor_sent = epoch, 0
                    for sub in self.audience.all():
                        sub.resync("epoch")

        reader = asyncio.create_task(read(), name=f"feed-reader:{self.coll}")
        ticker = asyncio.create_task(tick(), name=f"feed-settle:{self.coll}")
        tasks = [ticker, reader, asyncio.create_task(watch(), name=f"feed-watch:{self.coll}")]
        if self.sweep_partitions:
            tasks.append(asyncio.create_task(sweep(), name=f"feed-sweep:{self.coll}"))
        queue.put_nowait(_TICK)  # settle at once: covered is still the value from before the open
        try:
            while True:
                item = await queue.get()
                merged: list[Change] = []
                first = 0.0
                while True:
                    if item is _TICK:
                        ticking[0] = False
                        if merged:
                            await self._fan_out(merged, first)
                            merged = []
                        await self._settle()
                        break
                    if item is _END:
                        if merged:
                            await self._fan_out(merged, first)
                        return
                    if isinstance(item, BaseException):
                        if merged:
                            await self._fan_out(merged, first)
                        raise item
                    received, batch = item
                    first = first or received
                    merged.extend(batch)
                    self.metrics.events_in.inc(len(batch))
                    if len(merged) >= self.max_changes or queue.empty():
                        break
                    item = queue.get_nowait()
                if merged:
                    await self._fan_out(merged, first)
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def _settle(self) -> None:
        """Move ``covered`` up to the closed watermark, sending what was not sent below it first."""
        try:
            now = time.monotonic()
            behind = self._top > self.covered  # sent changes the cursor does not cover yet
            if not (self._sent_since_settle or behind) and now - self._last_settle < SETTLE_IDLE_S:
                return
            self._sent_since_settle, self._last_settle = False, now
            fresh = await self.store.advance(self.coll)
            # Settle up to the watermark raised a settle ago, when it is new: events of versions below
            # it have had a tick to arrive, so the read finds only what never came; settling up to
            # the fresh one made a busy feed fetch, one tick early, the changes its queue still held.
            # (The first settle after an open settles up to the fresh one: it repairs the gap.)
            closed = self._prev_closed or fresh
            self._prev_closed = fresh
            after = self.covered
            if not self.fan:
                # Nobody to repair for: a subscriber that joins syncs from the store up to a
                # watermark of its own, at or above this one, and takes live changes above it.
                after = closed
            while after < closed:
                missed, after = await self.store.unseen(self.coll, after, closed, self._seen)
                if missed:
                    self.metrics.events_repaired.inc(len(missed))
                    await self._fan_out(missed)
        except StoreUnavailable as exc:  # try again at the next tick; nothing moved
            log.warning("feed of %r: settling failed (%s)", self.coll, exc)
            if len(self._seen) > MAX_SEEN:
                raise FeedLost(f"settling failed with {len(self._seen)} changes unsettled") from exc
            return
        self.metrics.clock_skew_seconds.set(getattr(self.store, "clock_skew_ms", 0) / 1000)
        self.covered = closed
        self._seen = {k: v for k, v in self._seen.items() if v > closed}
        if self._top > self._cursor_sent:  # subscribers hold changes the last cursor does not cover
            self._cursor_sent = closed
            await self.fan.cursor_frames(closed)

    async def _fan_out(self, changes: list[Change], received: float = 0.0) -> None:
        received = received or time.monotonic()
        seen, covered = self._seen, self.covered
        # At or below ``covered`` it was sent: a settle covers only what it sent or saw sent, and
        # nothing commits below the watermark. (An event that waited while a settle sent it.)
        changes = [c for c in changes if c.ver > covered]
        if not changes:
            return
        for c in changes:
            if seen.get(c.id, -1) < c.ver:
                seen[c.id] = c.ver
        self._top = max(self._top, max(c.ver for c in changes))
        self._sent_since_settle = True
        await self.fan.changes(changes, received)
