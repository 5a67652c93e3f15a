"""Applying one client mutation to one stored document: the step every store repeats inside its
transaction. Pure: the store reads ``Stored`` and the dedup record, calls :func:`apply_one`, and
writes back what it returns (data, metadata, dedup record) atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .conflict import Decision, Incoming, MergeHook, Policy, Stored, decide
from .dedup import DedupRecord
from .hlc import Hlc


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to store and what to answer. ``stored`` is None when nothing needs writing."""

    result: dict[str, Any]
    stored: Stored | None


def apply_one(
    record: DedupRecord,
    current: Stored,
    seq: int,
    incoming: Incoming,
    policy: Policy,
    merge: MergeHook | None,
    hlc: Hlc,
    now_ms: int,
) -> Outcome:
    """Decide one mutation, stamp a new version if anything is written, record the result.

    A replay (``seq`` already applied) writes nothing; it returns the recorded result while the
    document is still at the recorded version, else the current document with ``s: "dup"``. A decision
    that keeps an unstamped document still stamps it, so the version the client is told about is
    a real one.
    """
    replay = record.replay_of(seq)
    if replay is not None:
        if replay["s"] == "dup" or replay["ver"] != current.ver:
            # Evicted, or the document changed since: the original outcome is stale, and a client
            # holding no newer version (after a snapshot, which has no tombstones) would take it.
            replay = {"seq": seq, "s": "dup", "dup": True, "ver": current.ver, "doc": _plain(current.doc)}
        return Outcome(replay, None)
    decision: Decision = decide(policy, current, incoming, merge)
    stored: Stored | None = None
    if decision.write:
        ver = hlc.next_after(now_ms, current.ver)
        stored = Stored(decision.doc, ver, decision.lww, decision.by, True)
    elif not current.stamped:
        ver = hlc.next_after(now_ms, current.ver)
        stored = Stored(current.doc, ver, ver, "", True)
    else:
        ver = current.ver
    doc = stored.doc if stored is not None else current.doc
    result: dict[str, Any] = {"seq": seq, "s": decision.status, "ver": ver}
    if decision.status != "ok":
        result["doc"] = _plain(doc)
    record.record(seq, result)
    return Outcome(result, stored)


def _plain(doc: Any) -> dict[str, Any] | None:
    return None if doc is None else dict(doc)
