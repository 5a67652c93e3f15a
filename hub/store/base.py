"""The contract between the hub and the place documents are kept.

``IgniteStore`` (hub/store/ignite/) is the product; ``MemoryStore`` (hub/store/memory.py)
implements the same contract in process for fast transport tests. Both must pass the same
contract tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from hub.core.conflict import MergeHook, Policy

Doc = Mapping[str, Any]

WriteCheck = Callable[[str, str, "Doc | None", "Doc | None"], bool]
"""``check(coll, doc_id, stored_doc, new_doc) -> bool``: the row-level write permission of the
connection (``AccessPolicy.check_write`` bound to its identity). The store calls it inside its
transaction, with the stored document, before deciding the mutation; a refusal is answered
``{s: "error", code: 4403}``, recorded for dedup, and nothing is stored."""


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    """A synced collection as configured by the operator."""

    name: str
    cache: str = ""  # Ignite cache name; defaults to ``name``
    value_type: str = ""  # Ignite binary type name of stored values; defaults to ``name``
    policy: Policy = Policy.LWW
    merge: MergeHook | None = None
    writable: bool = True
    atomicity: Literal["TRANSACTIONAL", "ATOMIC"] = "TRANSACTIONAL"
    backups: int = 0

    @property
    def cache_name(self) -> str:
        return self.cache or self.name

    @property
    def type_name(self) -> str:
        return self.value_type or self.name


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    epoch: str  # generation of the collection's sync metadata; a new one invalidates cursors
    floor: int  # tombstones with versions <= floor may have been purged


@dataclass(frozen=True, slots=True)
class Change:
    """A committed, stamped change. ``doc`` is None for a delete. ``doc`` never holds ``id``."""

    id: str
    ver: int
    doc: Doc | None


@dataclass(frozen=True, slots=True)
class Mutation:
    client: str
    seq: int
    coll: str
    id: str
    op: Literal["put", "del"]
    doc: Doc | None  # without the ``id`` field
    ts: int
    base: int | None


@dataclass(slots=True)
class MutationResult:
    """One entry of an ``ack``; ``to_wire`` gives the protocol map."""

    seq: int
    s: str  # ok | conflict | rejected | merged | error | dup
    ver: int = 0
    doc: Doc | None = None
    dup: bool = False
    code: int | None = None
    msg: str | None = None
    changed: list[Change] = field(default_factory=list)  # what this mutation stored (for metrics/tests)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "s": self.s, "ver": self.ver}
        if self.s not in ("ok", "error"):  # an error result carries no doc (docs/protocol.md)
            out["doc"] = dict(self.doc) if self.doc is not None else None
        if self.dup:
            out["dup"] = True
        if self.code is not None:
            out["code"] = self.code
            out["msg"] = self.msg or ""
        return out


class TimedChanges(list[Change]):
    """A feed batch that records when the store received the underlying events
    (``time.monotonic()``); the hub's push-lag metric starts there."""

    def __init__(self, changes: Sequence[Change] = (), received: float = 0.0) -> None:
        super().__init__(changes)
        self.received = received


class FeedLost(Exception):
    """The live feed of a collection broke (continuous query lost); changes may have been missed."""


class RetentionPassed(Exception):
    """``changes(..., include_deleted=True)`` was asked for versions at or below the collection's floor:
    tombstones it needs may have been purged. The hub answers with a RESYNC (reason ``retention``)."""


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ensure_collection(self, spec: CollectionSpec) -> CollectionInfo:
        """Create the collection's caches and metadata if missing; return its epoch and floor."""
        ...

    async def info(self, coll: str) -> CollectionInfo: ...

    async def apply(
        self, client: str, batch: Sequence[Mutation], *, check: WriteCheck | None = None
    ) -> list[MutationResult]:
        """Apply a client's mutations exactly once, in order, atomically with their dedup record.
        ``check`` (when given) vets every new mutation against the stored document first.

        Raises StoreUnavailable when nothing could be decided; then nothing of the batch was applied
        (the caller replays it later)."""
        ...

    async def changes(self, coll: str, after: int, limit: int, *, include_deleted: bool) -> list[Change]:
        """Changes with ``ver > after`` in version order: ``limit`` of them, or a few more so that
        a page never ends between two changes with the same version (resume with the last ``ver``)."""
        ...

    async def count(self, coll: str) -> int:
        """Number of live documents (an estimate is fine; for progress reporting)."""
        ...

    def feed(self, coll: str) -> AbstractAsyncContextManager[AsyncIterator[list[Change]]]:
        """Live stamped changes of a collection, from whatever writer. The iterator raises FeedLost
        when the underlying continuous query is lost; the caller reopens it and resyncs."""
        ...

    async def ping(self) -> bool:
        """Whether the store is reachable (for /readyz)."""
        ...
