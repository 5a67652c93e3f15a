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
        return Outcome(replay_result(replay, current.ver, current.doc), None)
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


def replay_result(replay: dict[str, Any], current_ver: int, current_doc: Any) -> dict[str, Any]:
    """The answer to a replayed mutation, given its recorded result and the document now.

    Refusals (``error``) are answered again as recorded. Any other recorded outcome stands only
    while the document is still at the version it produced: if the result was evicted, or the
    document changed since, the original outcome is stale (a client holding no newer version,
    e.g. after a snapshot, which carries no tombstones, would take it), so the answer is the current
    document with ``s: "dup"``.
    """
    if replay["s"] == "error":
        return replay
    if replay["s"] == "dup" or replay.get("ver") != current_ver:
        return {"seq": replay["seq"], "s": "dup", "dup": True, "ver": current_ver, "doc": _plain(current_doc)}
    return replay


def _plain(doc: Any) -> dict[str, Any] | None:
    return None if doc is None else dict(doc)
