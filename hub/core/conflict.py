"""Conflict policies: what happens when a client mutation meets the stored document.

Every hub runs the same pure function on the same inputs (read inside the Ignite transaction
that then writes the outcome), so the outcome is deterministic whichever hub applies it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from .doc import doc_hash

Doc = Mapping[str, Any]


class Policy(StrEnum):
    LWW = "lww"
    REJECT_IF_STALE = "reject-if-stale"
    MERGE = "merge"


@dataclass(frozen=True, slots=True)
class Stored:
    """The document as stored, with its sync metadata.

    ``stamped`` is False when the data was changed by a writer that is not a hub and no hub has
    stamped it yet: its version is then unknown and counts as newer than anything a client saw.
    """

    doc: Doc | None
    ver: int = 0
    lww: int = 0
    by: str = ""
    stamped: bool = True


@dataclass(frozen=True, slots=True)
class Incoming:
    client: str
    op: Literal["put", "del"]
    doc: Doc | None
    ts: int
    base: int | None


@dataclass(frozen=True, slots=True)
class MergeContext:
    client: str
    ts: int
    base: int | None
    current_ver: int


MergeHook = Callable[[Doc | None, Doc | None, MergeContext], Doc | None]
"""``merge(current, incoming, ctx) -> result``; ``None`` for any document means deleted."""

Status = Literal["ok", "conflict", "rejected", "merged"]


@dataclass(frozen=True, slots=True)
class Decision:
    status: Status
    write: bool
    doc: Doc | None
    lww: int
    by: str


def _keep(current: Stored, status: Status) -> Decision:
    return Decision(status, False, current.doc, current.lww, current.by)


def decide(policy: Policy, current: Stored, incoming: Incoming, merge: MergeHook | None = None) -> Decision:
    """Decide the outcome of ``incoming`` against ``current`` under ``policy``."""
    new_doc = incoming.doc if incoming.op == "put" else None
    if policy is Policy.LWW:
        if current.stamped and (incoming.ts, incoming.client) > (current.lww, current.by):
            return Decision("ok", True, new_doc, incoming.ts, incoming.client)
        return _keep(current, "conflict")
    if policy is Policy.REJECT_IF_STALE:
        if current.stamped and (incoming.base or 0) == current.ver:
            return Decision("ok", True, new_doc, incoming.ts, incoming.client)
        return _keep(current, "rejected")
    if merge is None:
        raise ValueError("the merge policy needs a merge hook")
    ctx = MergeContext(incoming.client, incoming.ts, incoming.base, current.ver)
    result = merge(current.doc, new_doc, ctx)
    status: Status = "ok" if _same(result, new_doc) else "merged"
    return Decision(status, True, result, incoming.ts, incoming.client)


def _same(a: Doc | None, b: Doc | None) -> bool:
    # By content hash, not ``==``: 1, 1.0 and True are equal in Python but differ on the wire.
    return doc_hash(a) == doc_hash(b)
