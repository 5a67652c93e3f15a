"""The store calls of subscriptions' syncs (snapshots, catch-ups), bounded hub-wide."""

from __future__ import annotations

import asyncio

from hub.core.query import Filter
from hub.core.types import Change
from hub.store.base import CollectionInfo, Store, SubsetPage

#: Store calls of syncs (snapshots, catch-ups) running at once, hub-wide.
SYNC_READ_SLOTS = 32


class SyncReads:
    """The store calls of syncs, at most ``slots`` at a time for the whole hub.

    A lost feed resyncs every subscriber of its collection at once; thousands of catch-ups then
    raced for the store, each call timed out, and every connection closed with 4503 (the
    connection soak, docs/reliability.md). Bounded, they queue here and complete at the store's
    pace. Only store calls hold a slot, never a send: a stalled client cannot keep one.
    """

    __slots__ = ("slots", "store")

    def __init__(self, store: Store, slots: asyncio.Semaphore) -> None:
        self.store = store
        self.slots = slots

    async def info(self, coll: str) -> CollectionInfo:
        async with self.slots:
            return await self.store.info(coll)

    async def count(self, coll: str) -> int:
        async with self.slots:
            return await self.store.count(coll)

    async def changes(self, coll: str, after: int, limit: int, *, include_deleted: bool) -> list[Change]:
        async with self.slots:
            return await self.store.changes(coll, after, limit, include_deleted=include_deleted)

    async def subset(self, coll: str, where: Filter, after: int, limit: int) -> SubsetPage:
        async with self.slots:
            return await self.store.subset(coll, where, after, limit)

    async def leavers(self, coll: str, where: Filter, after: int) -> list[Change] | None:
        async with self.slots:
            return await self.store.leavers(coll, where, after)

    async def advance(self, coll: str) -> int:
        async with self.slots:
            return await self.store.advance(coll)

    async def reader_mark(self, coll: str, client: str) -> str | None:
        async with self.slots:
            return await self.store.reader_mark(coll, client)

    async def set_reader_mark(self, coll: str, client: str, mark: str) -> None:
        async with self.slots:
            await self.store.set_reader_mark(coll, client, mark)
