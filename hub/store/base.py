"""The contract between the hub and the place documents are kept.

``IgniteStore`` (hub/store/ignite/) is the product; ``MemoryStore`` (hub/store/memory.py)
implements the same contract in process for fast transport tests. Both must pass the same
contract tests. The types they exchange (``CollectionSpec``, ``Mutation``, ``MutationResult``,
``Change``) are the core's: :mod:`hub.core.types`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from hub.core.query import Filter
from hub.core.types import Change, CollectionSpec, Mutation, MutationResult, WriteCheck


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    epoch: str  # generation of the collection's sync metadata; a new one invalidates cursors
    floor: int  # tombstones with versions <= floor may have been purged
    closed: int = 0  # every change with a version <= closed that will ever commit has committed


@dataclass(frozen=True, slots=True)
class SubsetPage:
    """A page of a subset: the matching documents, the version the page reached (resume with
    ``VER > last``), and whether it was full (more may follow)."""

    changes: list[Change]
    last: int
    full: bool


class TimedChanges(list[Change]):
    """A feed batch that records when the store received the underlying events
    (``time.monotonic()``); the hub's push-lag metric starts there."""

    def __init__(self, changes: Sequence[Change] = (), received: float = 0.0) -> None:
        super().__init__(changes)
        self.received = received


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ensure_collection(self, spec: CollectionSpec) -> CollectionInfo:
        """Create the collection's caches and metadata if missing; return its epoch and floor."""
        ...

    async def info(self, coll: str) -> CollectionInfo: ...

    async def apply(
        self,
        client: str,
        batch: Sequence[Mutation],
        *,
        check: WriteCheck | None = None,
        owner: str | None = None,
    ) -> list[MutationResult]:
        """Apply a client's mutations exactly once, in order, atomically with their dedup record
        (that of ``client`` for the authenticated subject ``owner``: ``hub.core.dedup.record_key``).
        ``check`` (when given) vets every new mutation against the stored document first.

        Raises StoreUnavailable when nothing could be decided; then nothing of the batch was applied
        (the caller replays it later)."""
        ...

    async def changes(self, coll: str, after: int, limit: int, *, include_deleted: bool) -> list[Change]:
        """Changes with ``ver > after`` in version order: ``limit`` of them, or a few more so that
        a page never ends between two changes with the same version (resume with the last ``ver``)."""
        ...

    async def subset(self, coll: str, where: Filter, after: int, limit: int) -> SubsetPage:
        """Live documents matching ``where`` with ``ver > after`` in version order, read over the
        collection's declared fields (query subscriptions' snapshots); paged as ``changes``."""
        ...

    async def leavers(self, coll: str, where: Filter, after: int) -> list[Change] | None:
        """Removals a catch-up of the subset ``where`` from ``after`` must send, in version order:
        documents that may have matched at ``after`` (a recorded move above it from values that
        matched, or a version whose move was not recorded) and do not match now, or are deleted.
        None when the store cannot tell (moves not recorded, or purged, since ``after``): then every
        change since ``after`` that does not match is a removal. Raises RetentionPassed as
        ``changes`` with ``include_deleted``."""
        ...

    def hub_time_ms(self) -> int:
        """The fleet's time as this hub knows it (ms): its wall clock, corrected by how far the
        versions of other hubs run ahead of it. Client clocks are judged against it."""
        ...

    async def advance(self, coll: str) -> int:
        """Raise the collection's closed watermark and return it: every change with a version at or
        below it that will ever commit has committed, and ``changes``/``unseen`` see it."""
        ...

    async def unseen(
        self, coll: str, after: int, upto: int, seen: Mapping[str, int], limit: int = 5000
    ) -> tuple[list[Change], int]:
        """Changes with ``after < ver <= upto`` (tombstones included) except those whose version
        ``seen[id]`` already reached, with the version they cover: ``upto``, or less when ``limit``
        rows were read (call again from there)."""
        ...

    def sweeps(self, coll: str) -> bool:
        """Whether this hub sweeps ``coll`` now: one hub process of the fleet at a time (the Ignite
        store's: the one whose feed holds the collection's coverage lease)."""
        ...

    async def sweep(self, coll: str, partitions: int) -> list[Change]:
        """Reconcile the next ``partitions`` slices of the collection, round robin: stamp what changed
        without a change event (bulk loaders, ``clear()``, eviction) and return those changes."""
        ...

    async def check_loss(self, coll: str) -> bool:
        """Watch for data the store lost without a trace (Ignite: lost partitions); True when this
        call gave the collection a new epoch because of it (every cursor of the old one is void)."""
        ...

    async def reader_mark(self, coll: str, client: str) -> str | None:
        """What ``set_reader_mark`` last recorded for this client and collection (None: nothing)."""
        ...

    async def set_reader_mark(self, coll: str, client: str, mark: str) -> None:
        """Record under which read permissions ``client``'s cursor of ``coll`` was issued."""
        ...

    async def count(self, coll: str) -> int:
        """Number of live documents (an estimate is fine; for progress reporting)."""
        ...

    async def served(self, coll: str) -> bool:
        """Whether some hub sharing this store has opened ``coll`` (this one may not serve it: a
        rolling deploy); False when none ever did."""
        ...

    def feed(self, coll: str) -> AbstractAsyncContextManager[AsyncIterator[list[Change]]]:
        """Live stamped changes of a collection, from whatever writer. The iterator raises FeedLost
        when the underlying continuous query is lost; the caller reopens it and resyncs."""
        ...

    async def ping(self) -> bool:
        """Whether the store is reachable (for /readyz)."""
        ...
