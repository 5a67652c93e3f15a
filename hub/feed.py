"""The live feed of one collection, shared by every subscriber of this hub.

A reader task drains ``store.feed(coll)`` into an in-process queue at once (the store never waits
on the hub); the fan-out loop takes whatever batches are already waiting, merges them (several
changes share a frame under load), encodes each ``chg`` frame ONCE and hands the same bytes to
every subscriber (:meth:`hub.sync.Subscription.on_frame`: queued when LIVE, held when
CATCHING_UP). When the feed is lost (``FeedLost``, or any store error) it is reopened with
exponential backoff, then every subscriber gets ``resync {reason: "cq_lost"}`` and a new sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from hub.core import messages as m
from hub.core.cursor import Cursor
from hub.store.base import Change, Store
from hub.sync import PAGE_SIZE, Subscription, encode_chunks

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
    ) -> None:
        self.store = store
        self.coll = coll
        self.max_frame = max_frame
        self.max_changes = max_changes
        self.backoff = backoff
        self.subscribers: set[Subscription] = set()
        self.epoch = ""
        self.live = False
        self.frames_sent = 0
        self.changes_seen = 0
        self.losses = 0
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
                    if lost:
                        lost = False
                        for sub in list(self.subscribers):
                            sub.resync("cq_lost")
                    await self._pump(changes)
                    return  # the store closed the feed
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.live = False
                lost = True
                self.losses += 1
                log.warning("feed of %r lost (%s); reopening in %.2fs", self.coll, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff[1])

    async def _pump(self, changes: AsyncIterator[list[Change]]) -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue()

        async def read() -> None:
            try:
                async for batch in changes:
                    queue.put_nowait(batch)
            except BaseException as exc:
                queue.put_nowait(exc)
                raise
            queue.put_nowait(_END)

        reader = asyncio.create_task(read(), name=f"feed-reader:{self.coll}")
        try:
            while True:
                item = await queue.get()
                merged: list[Change] = []
                while True:
                    if item is _END:
                        if merged:
                            await self._fan_out(merged)
                        return
                    if isinstance(item, BaseException):
                        if merged:
                            await self._fan_out(merged)
                        raise item
                    merged.extend(item)
                    if len(merged) >= self.max_changes or queue.empty():
                        break
                    item = queue.get_nowait()
                await self._fan_out(merged)
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader

    def _build(self, cs: Sequence[Change]) -> dict[str, Any]:
        return m.chg(self.coll, cs, (self.epoch, max(c.ver for c in cs)))

    async def _fan_out(self, changes: list[Change]) -> None:
        self.changes_seen += len(changes)
        for start in range(0, len(changes), self.max_changes):
            chunk = changes[start : start + self.max_changes]
            for frame, part in encode_chunks(self._build, chunk, self.max_frame):
                cursor: Cursor = (self.epoch, max(c.ver for c in part))
                self.frames_sent += 1
                for i, sub in enumerate(list(self.subscribers)):
                    if i and i % FANOUT_YIELD_EVERY == 0:
                        await asyncio.sleep(0)
                    if sub in self.subscribers:
                        sub.on_frame(frame, cursor)
