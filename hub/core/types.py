"""The vocabulary the core and the stores share: collections, mutations, results, changes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .conflict import MergeHook, Policy
from .limits import fit

Doc = Mapping[str, Any]

WriteCheck = Callable[[str, str, "Doc | None", "Doc | None"], bool]
"""``check(coll, doc_id, stored_doc, new_doc) -> bool``: the row-level write permission of the
connection (``AccessPolicy.check_write`` bound to its identity). The write rule calls it inside the
store's transaction, with the stored document, before deciding the mutation; a refusal is answered
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
    backups: int = 1  # durable by default: a node lost loses nothing (docs/operations.md)
    #: Declared fields (name, type: string | long | double | bool): SQL columns with an index each,
    #: which query subscriptions may filter on (hub/core/subsets.py).
    fields: tuple[tuple[str, str], ...] = ()

    @property
    def cache_name(self) -> str:
        return self.cache or self.name

    @property
    def type_name(self) -> str:
        return self.value_type or self.name


@dataclass(frozen=True, slots=True)
class Change:
    """A committed, stamped change. ``doc`` is None for a delete. ``doc`` never holds ``id``.

    ``old``: the document before this change, when ``prior`` says it is known (a continuous-query
    event carries it); query subscriptions use it to tell enter / stay / leave (hub/core/subsets.py).
    Neither takes part in equality."""

    id: str
    ver: int
    doc: Doc | None
    old: Doc | None = field(default=None, compare=False)
    prior: bool = field(default=False, compare=False)


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
            doc = fit(self.doc)  # a stored document beyond the limits travels as its placeholder
            out["doc"] = dict(doc) if doc is not None else None
        if self.dup:
            out["dup"] = True
        if self.code is not None:
            out["code"] = self.code
            out["msg"] = self.msg or ""
        return out
