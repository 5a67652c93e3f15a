"""An in-process :class:`~hub.store.base.Store` for fast core and transport tests.

Mutations go through the write rule :func:`hub.core.mutation.apply` exactly as in the Ignite store,
so vetting, dedup, conflict policies and version stamping behave the same. Test helpers simulate the
outside world: :meth:`MemoryStore.external_write` (a non-hub writer), :meth:`MemoryStore.drop_feed`
(a lost continuous query), :meth:`MemoryStore.purge_tombstones` (retention),
:meth:`MemoryStore.new_epoch` and :attr:`MemoryStore.available` (Ignite unreachable).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from hub.core import mutation
from hub.core.conflict import Stored
from hub.core.dedup import DedupRecord, record_key
from hub.core.errors import FeedLost, StoreUnavailable
from hub.core.hlc import Hlc, physical_ms
from hub.core.query import Filter
from hub.core.types import Change, CollectionSpec, Doc, Mutation, MutationResult, WriteCheck

from .base import CollectionInfo, SubsetPage

_LOST = object()
_END = object()


@dataclass(slots=True)
class _Coll:
    spec: CollectionSpec
    epoch: str
    floor: int = 0
    closed: int = 0
    docs: dict[str, Stored] = field(default_factory=dict)
    feeds: list[asyncio.Queue[Any]] = field(default_factory=list)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class MemoryStore:
    """The Store contract, in memory."""

    def __init__(self, *, clock: Any = _now_ms) -> None:
        self._colls: dict[str, _Coll] = {}
        self._dedup: dict[str, DedupRecord] = {}
        self._marks: dict[tuple[str, str], str] = {}
        self._hlc = Hlc()
        self._clock = clock
        self._lock = asyncio.Lock()
        self.available = True
        self.opened = False
        self.apply_calls = 0

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        self.opened = True

    async def close(self) -> None:
        self.opened = False
        for c in self._colls.values():
            for q in c.feeds:
                q.put_nowait(_END)

    async def ping(self) -> bool:
        return self.available

    def _check(self) -> None:
        if not self.available:
            raise StoreUnavailable("memory store marked unavailable")

    # ------------------------------------------------------------------ collections

    async def ensure_collection(self, spec: CollectionSpec) -> CollectionInfo:
        self._check()
        c = self._colls.get(spec.name)
        if c is None:
            c = self._colls[spec.name] = _Coll(spec, uuid.uuid4().hex[:12])
        else:
            c.spec = spec
        return CollectionInfo(c.epoch, c.floor, c.closed)

    async def info(self, coll: str) -> CollectionInfo:
        self._check()
        c = self._coll(coll)
        return CollectionInfo(c.epoch, c.floor, c.closed)

    def _coll(self, coll: str) -> _Coll:
        try:
            return self._colls[coll]
        except KeyError:
            raise KeyError(f"unknown collection {coll!r}") from None

    # ------------------------------------------------------------------ writes

    async def apply(
        self,
        client: str,
        batch: Sequence[Mutation],
        *,
        check: WriteCheck | None = None,
        owner: str | None = None,
    ) -> list[MutationResult]:
        self._check()
        self.apply_calls += 1
        async with self._lock:
            record = self._dedup.setdefault(record_key(owner, client), DedupRecord())
            results: list[MutationResult] = []
            emitted: dict[str, list[Change]] = {}
            for mut in batch:
                c = self._colls.get(mut.coll)
                current = Stored(None) if c is None else c.docs.get(mut.id, Stored(None))
                outcome = mutation.apply(
                    mut,
                    None if c is None else c.spec,
                    current,
                    record,
                    client=client,
                    hlc=self._hlc,
                    now_ms=self._clock(),
                    check=check,
                    floor=0 if c is None else c.floor,
                )
                if c is not None and outcome.stored is not None:
                    c.docs[mut.id] = outcome.stored
                    emitted.setdefault(mut.coll, []).extend(outcome.result.changed)
                results.append(outcome.result)
            for coll, chs in emitted.items():
                self._emit(coll, chs)
            return results

    def external_write(self, coll: str, doc_id: str, doc: Doc | None) -> Change:
        """Write like a non-hub writer would (no dedup, no client), then stamp it as a hub does
        when its continuous query reports the write; the feed reports the change."""
        c = self._coll(coll)
        current = c.docs.get(doc_id, Stored(None))
        ver = self._hlc.next_after(self._clock(), current.ver)
        plain = None if doc is None else {k: v for k, v in doc.items() if k != "id"}
        c.docs[doc_id] = Stored(plain, ver, ver, "", True)
        ch = Change(doc_id, ver, plain)
        self._emit(coll, [ch])
        return ch

    def _emit(self, coll: str, chs: list[Change]) -> None:
        for q in self._colls[coll].feeds:
            q.put_nowait(list(chs))

    # ------------------------------------------------------------------ reads

    async def changes(self, coll: str, after: int, limit: int, *, include_deleted: bool) -> list[Change]:
        self._check()
        c = self._coll(coll)
        items = sorted(
            (s.ver, i, s.doc)
            for i, s in c.docs.items()
            if s.ver > after and (include_deleted or s.doc is not None)
        )
        # Never split a version between pages: readers resume with ``after = last ver``.
        end = limit
        while 0 < end < len(items) and items[end][0] == items[end - 1][0]:
            end += 1
        return [Change(i, ver, None if doc is None else dict(doc)) for ver, i, doc in items[:end]]

    async def subset(self, coll: str, where: Filter, after: int, limit: int) -> SubsetPage:
        self._check()
        c = self._coll(coll)
        items = sorted(
            (s.ver, i, s.doc)
            for i, s in c.docs.items()
            if s.ver > after and s.doc is not None and where.matches(s.doc)
        )
        end = limit
        while 0 < end < len(items) and items[end][0] == items[end - 1][0]:
            end += 1
        page = [Change(i, ver, dict(doc)) for ver, i, doc in items[:end] if doc is not None]
        return SubsetPage(page, page[-1].ver if page else after, len(items) > end)

    async def leavers(self, coll: str, where: Filter, after: int) -> list[Change] | None:
        """No moves kept: a catch-up removes every change since ``after`` that does not match."""
        self._check()
        return None

    def hub_time_ms(self) -> int:
        """One process, one clock: its wall clock, never below a version it issued or saw."""
        return max(int(self._clock()), physical_ms(self._hlc.last))

    async def advance(self, coll: str) -> int:
        """One process stamps everything under one lock: whatever it issued has committed."""
        self._check()
        c = self._coll(coll)
        c.closed = max(c.closed, self._hlc.now(self._clock()))
        return c.closed

    async def unseen(
        self, coll: str, after: int, upto: int, seen: Mapping[str, int], limit: int = 5000
    ) -> tuple[list[Change], int]:
        self._check()
        c = self._coll(coll)
        out = sorted(
            (s.ver, i, s.doc) for i, s in c.docs.items() if after < s.ver <= upto and seen.get(i, -1) < s.ver
        )
        return [Change(i, ver, None if doc is None else dict(doc)) for ver, i, doc in out], upto

    def sweeps(self, coll: str) -> bool:
        """One process, one sweeper (which finds nothing)."""
        return True

    async def sweep(self, coll: str, partitions: int) -> list[Change]:
        """Every write here reports its change (external_write included): nothing to find."""
        self._check()
        self._coll(coll)
        return []

    async def check_loss(self, coll: str) -> bool:
        """Memory loses nothing on its own (``lose`` simulates it)."""
        self._check()
        self._coll(coll)
        return False

    async def reader_mark(self, coll: str, client: str) -> str | None:
        self._check()
        return self._marks.get((coll, client))

    async def set_reader_mark(self, coll: str, client: str, mark: str) -> None:
        self._check()
        self._marks[(coll, client)] = mark

    async def count(self, coll: str) -> int:
        self._check()
        return sum(1 for s in self._coll(coll).docs.values() if s.doc is not None)

    async def served(self, coll: str) -> bool:
        self._check()
        return coll in self._colls

    def live_docs(self, coll: str) -> dict[str, dict[str, Any]]:
        """Every live document of ``coll`` (tests compare client models with it)."""
        return {i: dict(s.doc) for i, s in self._coll(coll).docs.items() if s.doc is not None}

    def get(self, coll: str, doc_id: str) -> Stored | None:
        """The stored document with its metadata (tests)."""
        return self._coll(coll).docs.get(doc_id)

    # ------------------------------------------------------------------ feed

    @asynccontextmanager
    async def feed(self, coll: str) -> AsyncIterator[AsyncIterator[list[Change]]]:
        c = self._coll(coll)
        q: asyncio.Queue[Any] = asyncio.Queue()
        c.feeds.append(q)

        async def iterate() -> AsyncIterator[list[Change]]:
            while True:
                item = await q.get()
                if item is _LOST:
                    raise FeedLost(f"feed of {coll!r} dropped")
                if item is _END:
                    return
                yield item

        try:
            yield iterate()
        finally:
            if q in c.feeds:
                c.feeds.remove(q)

    # ------------------------------------------------------------------ fault helpers

    def drop_feed(self, coll: str) -> None:
        """Simulate a lost continuous query: every open feed of ``coll`` raises FeedLost."""
        c = self._coll(coll)
        for q in c.feeds:
            q.put_nowait(_LOST)
        c.feeds.clear()

    def purge_tombstones(self, coll: str) -> None:
        """Remove every tombstone of ``coll`` and raise its floor past them (retention)."""
        c = self._coll(coll)
        dead = {i: s.ver for i, s in c.docs.items() if s.doc is None}
        for i in dead:
            del c.docs[i]
        if dead:
            c.floor = max(c.floor, *dead.values())

    def new_epoch(self, coll: str) -> str:
        """Start a new generation of ``coll`` (old cursors become invalid)."""
        c = self._coll(coll)
        c.epoch = uuid.uuid4().hex[:12]
        return c.epoch

    def feed_count(self, coll: str) -> int:
        return len(self._coll(coll).feeds)
