"""The live feed of one collection, shared by every subscriber of this hub.

A reader task drains ``store.feed(coll)`` into an in-process queue at once (the store never waits
on the hub); the fan-out loop takes whatever batches are already waiting, merges them (several
changes share a frame under load), encodes each ``chg`` frame ONCE and hands the same bytes to
every subscriber (:meth:`hub.server.subscription.Subscription.on_frame`: queued when LIVE, held when
CATCHING_UP). When the feed is lost (``FeedLost``, or any store error) it is reopened with
exponential backoff, then every subscriber gets ``resync {reason: "cq_lost"}`` and a new sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from hub.core import messages as m
from hub.core.cursor import Cursor
from hub.core.errors import FeedLost
from hub.core.types import Change
from hub.server.subscription import PAGE_SIZE, Subscription, encode_chunks
from hub.store.base import Store

if TYPE_CHECKING:
    from hub.authz import AccessPolicy
    from hub.metrics import HubMetrics

log = logging.getLogger(__name__)

FANOUT_YIELD_EVERY = 200  # subscribers served between two yields to the event loop
_END = object()


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
    ) -> None:
        self.store = store
        self.policy = policy
        self.metrics = metrics
        self.recover = recover
        self.coll = coll
        self.max_frame = max_frame
        self.max_changes = max_changes
        self.backoff = backoff
        self.max_pending = max_pending
        self.subscribers: set[Subscription] = set()
        self.epoch = ""
        self.live = False
        self._task: asyncio.Task[None] | None = None
        self._opened = asyncio.Event()

    # ----------------------------------------------------------------- lifecycle

    async def start(self, timeout: float = 30.0) -> None:
        """Start the feed and wait until it is open (so no change after this call is missed)."""
        self._task = asyncio.create_task(self._run(), name=f"feed:{self.coll}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._opened.wait(), timeout)

    async def stop(self) -> None:
        self.live = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def add(self, sub: Subscription) -> None:
        self.subscribers.add(sub)

    def remove(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)

    # ----------------------------------------------------------------- the loop

    async def _run(self) -> None:
        delay = self.backoff[0]
        lost = False
        while True:
            try:
                async with self.store.feed(self.coll) as changes:
                    self.epoch = (await self.store.info(self.coll)).epoch
                    self.live = True
                    self._opened.set()
                    delay = self.backoff[0]
                    lost = False
                    # Anyone subscribed now synced while no feed ran (a lost one, or a first open
                    # slower than start()'s timeout): live changes may have been missed.
                    for sub in list(self.subscribers):
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
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=self.max_pending + 2)

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

        reader = asyncio.create_task(read(), name=f"feed-reader:{self.coll}")
        try:
            while True:
                item = await queue.get()
                merged: list[Change] = []
                first = 0.0
                while True:
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
                await self._fan_out(merged, first)
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader

    def _build(self, cs: Sequence[Change]) -> dict[str, Any]:
        return m.chg(self.coll, cs, (self.epoch, max(c.ver for c in cs)))

    async def _fan_out(self, changes: list[Change], received: float = 0.0) -> None:
        received = received or time.monotonic()
        filtered = self.policy.has_row_filter(self.coll)
        for start in range(0, len(changes), self.max_changes):
            chunk = changes[start : start + self.max_changes]
            if filtered:
                await self._fan_out_filtered(chunk, received)
                continue
            # Fast path: one encoded frame for every subscriber.
            await self._deliver(chunk, list(self.subscribers), received)

    async def _fan_out_filtered(self, chunk: list[Change], received: float) -> None:
        """Row-filtered collection: group subscribers by what they may see (the filter runs once
        per distinct identity, ``AccessPolicy.fanout``) and encode each group's frames once."""
        subs = [(sub, sub.identity) for sub in list(self.subscribers) if sub.identity is not None]
        for group, visible in self.policy.fanout(self.coll, chunk, subs):
            await self._deliver(visible, group, received)

    async def _deliver(
        self, changes: Sequence[Change], subs: Sequence[Subscription], received: float
    ) -> None:
        """Encode ``changes`` once (split to fit ``max_frame``) and hand the same bytes to ``subs``
        (those still subscribed), yielding to the event loop every FANOUT_YIELD_EVERY of them."""
        for frame, part in encode_chunks(self._build, changes, self.max_frame):
            cursor: Cursor = (self.epoch, max(c.ver for c in part))
            for i, sub in enumerate(subs):
                if i and i % FANOUT_YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                if sub in self.subscribers:
                    sub.on_frame(frame, cursor, received, len(part))
