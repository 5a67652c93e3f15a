"""The store calls of subscriptions' syncs (snapshots, catch-ups), bounded hub-wide and shared."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from hub.core.query import Filter
from hub.core.types import Change
from hub.store.base import CollectionInfo, Store, SubsetPage

#: Store calls of syncs (snapshots, catch-ups) running at once, hub-wide.
SYNC_READ_SLOTS = 32

T = TypeVar("T")


class SharedPage(list[Change]):
    """A page of changes read once for every sync that asked for it (:meth:`SyncReads.changes`),
    with the encoded forms of its parts, made once for all of them (``hub.server.subscription``).
    Read-only for its users."""

    __slots__ = ("encoded",)

    def __init__(self, changes: list[Change]) -> None:
        super().__init__(changes)
        self.encoded: dict[Hashable, bytes] = {}


class SyncSlots:
    """Hub-wide: at most ``n`` store calls of syncs at a time, and the calls waiting for a slot by
    what they read (:meth:`SyncReads.shared`)."""

    def __init__(self, n: int = SYNC_READ_SLOTS) -> None:
        self.sem = asyncio.Semaphore(n)
        self.queued: dict[Hashable, asyncio.Task[Any]] = {}


class SyncReads:
    """The store calls of syncs of one connection, at most ``slots`` at a time for the whole hub.

    A lost feed resyncs every subscriber of its collection at once; thousands of catch-ups then
    raced for the store, each call timed out, and every connection closed with 4503 (the
    connection soak, docs/reliability.md). Bounded, they queue here and complete at the store's
    pace. Only store calls hold a slot, never a send: a stalled client cannot keep one.

    Reads that are the same (a connection storm: every client asks for the first page of one
    collection) share one store call while it waits for its slot (:meth:`shared`).
    """

    __slots__ = ("slots", "store")

    def __init__(self, store: Store, slots: SyncSlots) -> None:
        self.store = store
        self.slots = slots

    async def shared(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` under a slot. A call made with the same ``key`` while this one waits for its
        slot waits for this one instead: it starts after every call that joined it was made, so its
        result is one each of them could have read itself (a read that had started already could
        miss what committed before a joiner's call; those are never joined). Results are shared:
        callers must not change them."""
        queued = self.slots.queued
        task = queued.get(key)
        if task is None:
            task = asyncio.ensure_future(self._run(key, call))
            task.add_done_callback(_retrieve)
            queued[key] = task
        return await asyncio.shield(task)  # one caller cancelled leaves the call to the others

    async def _run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        me, queued = asyncio.current_task(), self.slots.queued
        try:
            async with self.slots.sem:
                if queued.get(key) is me:  # running now: later calls start a call of their own
                    del queued[key]
                return await call()
        finally:
            if queued.get(key) is me:
                del queued[key]

    async def info(self, coll: str) -> CollectionInfo:
        return await self.shared(("info", coll), lambda: self.store.info(coll))

    async def count(self, coll: str) -> int:
        return await self.shared(("count", coll), lambda: self.store.count(coll))

    async def changes(self, coll: str, after: int, limit: int, *, include_deleted: bool) -> list[Change]:
        async def read() -> list[Change]:
            return SharedPage(await self.store.changes(coll, after, limit, include_deleted=include_deleted))

        return await self.shared(("changes", coll, after, limit, include_deleted), read)

    async def subset(self, coll: str, where: Filter, after: int, limit: int) -> SubsetPage:
        return await self.shared(
            ("subset", coll, where, after, limit), lambda: self.store.subset(coll, where, after, limit)
        )

    async def leavers(self, coll: str, where: Filter, after: int) -> list[Change] | None:
        return await self.shared(
            ("leavers", coll, where, after), lambda: self.store.leavers(coll, where, after)
        )

    async def advance(self, coll: str) -> int:
        # shared too: a watermark raised after the call was made is all a caller needs
        return await self.shared(("advance", coll), lambda: self.store.advance(coll))

    async def reader_mark(self, coll: str, client: str) -> str | None:
        async with self.slots.sem:
            return await self.store.reader_mark(coll, client)

    async def set_reader_mark(self, coll: str, client: str, mark: str) -> None:
        async with self.slots.sem:
            await self.store.set_reader_mark(coll, client, mark)


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Every caller of a shared call may have gone (cancelled): its error is still retrieved."""
    if not task.cancelled():
        task.exception()
