"""The write rule: one client mutation against one stored document (vet -> decide -> stamp).

Both stores run it inside their transaction (``hub/store/ignite/write.py`` and ``hub/store/memory.py``),
and the Hypothesis model of hubs and clients (``tests/core/model.py``) runs it too, so the rules the
model checks are the rules Ignite runs. A store reads the client's dedup record and the stored document,
calls :func:`apply` for each mutation in order, and writes back what it returns (data, metadata, dedup
record) atomically.

The steps, in order:

1. **dedup**: a mutation whose ``seq`` the record holds is a replay: it writes nothing and is answered
   from the record (:func:`replay_result`);
2. **vet** (:func:`vet`): unknown collection, read-only collection, ``put`` without a document; then
   the connection's row-level write permission (``check``) on the stored document;
3. **decide**: the collection's conflict policy (:func:`hub.core.conflict.decide`), after one rule
   of its own: a mutation based on a version of a document that no longer has any trace (its
   tombstone was purged, so it was deleted at or below the collection's ``floor``) and made no later
   than that floor loses, as it would have to the delete (:func:`_purged_delete`);
4. **encode**: the store turns the document to write into what it will store (``encode``; Ignite
   coerces field types and may refuse the document with :class:`~hub.core.errors.InvalidDocument`);
5. **stamp**: a new version above the document's, ``Hlc.next_after(now_ms, current.ver)``; a decision
   that keeps an unstamped document (written by a non-hub writer) still stamps it, so the version the
   client is told about is a real one;
6. **record**: every outcome of a new ``seq``, refusals included, goes into the dedup record.

Nothing is changed (record, HLC) before step 5: an exception from ``encode`` leaves everything as it
was, so a store may catch it, fetch what it needed (Ignite: binary type fields registered elsewhere)
and call :func:`apply` again. ``check`` and the merge hook must therefore be pure (they are: the merge
hook must be deterministic anyway, every hub reaching the same outcome).

:func:`vet` is also what the session (``hub/core/session.py``) filters a batch with before it reaches
the store, so that a batch of refusals needs no transaction; the store's call is the authoritative one
(and the only one for direct ``Store.apply`` callers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .conflict import Decision, Incoming, Policy, Stored, decide
from .dedup import DedupRecord
from .doc import ID_FIELD
from .errors import ErrorCode, InvalidDocument
from .hlc import Hlc, bound_ts, physical_ms
from .types import Change, CollectionSpec, Doc, Mutation, MutationResult, WriteCheck

Encode = Callable[[Doc], tuple[Doc, Any]]
"""``encode(doc) -> (doc as it will read back, the store's value for it)``: the store's encoding of a
document about to be written. Raises :class:`~hub.core.errors.InvalidDocument` when a field cannot be
stored; that mutation is then answered 4001. The value is handed back in :attr:`Outcome.value`."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a mutation is not applied: the ``code`` and ``msg`` of its ``error`` result."""

    code: ErrorCode
    msg: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to answer and what to store for one mutation."""

    result: MutationResult
    stored: Stored | None  # the document's new state (data and metadata); None: nothing to write
    value: Any = None  # ``encode``'s value for ``stored.doc``; None when only the metadata changes
    replayed: bool = False  # answered from the dedup record, which is unchanged


def vet(coll: str, writable: bool | None, op: Literal["put", "del"], doc: Doc | None) -> Refusal | None:
    """Refuse a mutation that cannot apply whatever is stored (None: go ahead).

    Args:
        coll: the mutation's collection.
        writable: the collection's ``writable`` setting; None when the hub does not serve ``coll``.
        op: ``put`` or ``del``.
        doc: the document of a ``put``.
    """
    if writable is None:
        return Refusal(ErrorCode.UNKNOWN_COLLECTION, f"unknown collection {coll!r}")
    if not writable:
        return Refusal(ErrorCode.FORBIDDEN, f"collection {coll!r} is read-only")
    if op == "put" and doc is None:
        return Refusal(ErrorCode.INVALID_MUTATION, "put without a document")
    return None


def apply(
    m: Mutation,
    spec: CollectionSpec | None,
    current: Stored,
    record: DedupRecord,
    *,
    client: str,
    hlc: Hlc,
    now_ms: int,
    check: WriteCheck | None = None,
    encode: Encode | None = None,
    floor: int = 0,
) -> Outcome:
    """Run the write rule (module doc) for ``m`` by ``client`` against ``current``.

    Args:
        m: the mutation.
        spec: its collection; None when the hub does not serve ``m.coll``.
        current: the stored document with its metadata (``Stored(None)`` when absent).
        record: the client's dedup record; a new ``seq``'s result is recorded in it.
        client: the client applying the batch (the last-writer-wins tie breaker).
        hlc: the hub's clock; advanced only when something is written.
        now_ms: the hub's wall clock.
        check: the connection's row-level write permission.
        encode: the store's encoding of a document to write (default: stored as given).
        floor: the collection's tombstone floor (versions of purged tombstones are at or below it).

    Raises:
        Whatever ``encode`` raises other than InvalidDocument; nothing has changed then.
    """
    replay = record.replay_of(m.seq)
    if replay is not None:
        if spec is not None:
            replay = replay_result(replay, current.ver, current.doc)
        return Outcome(_replayed(replay), None, replayed=True)
    refusal = vet(m.coll, None if spec is None else spec.writable, m.op, m.doc)
    if refusal is None and check is not None:
        if not check(m.coll, m.id, current.doc, m.doc if m.op == "put" else None):
            refusal = Refusal(ErrorCode.FORBIDDEN, "forbidden")
    if refusal is not None:
        outcome = _refused(m.seq, refusal)
    else:
        assert spec is not None  # vet refuses a collection the hub does not serve
        # Last-writer-wins never trusts a client clock past the hub's time (docs/sync-model.md §2).
        ts = bound_ts(m.ts, max(now_ms, physical_ms(hlc.last)))
        base = m.base
        if _traceless(current) and floor and (base or 0) >= floor:
            base = 0  # the client holds the purged delete (as answered below): a new document
        incoming = Incoming(client, m.op, _without_id(m.doc), ts, base)
        if _purged_delete(current, incoming, floor):
            decision = _lost_to_delete(spec.policy)
        else:
            decision = decide(spec.policy, current, incoming, spec.merge)
        outcome = _stamp(m, decision, current, hlc, now_ms, encode)
        if _traceless(current) and not outcome.stored and outcome.result.s in ("conflict", "rejected"):
            # Nothing is left of the document but the floor: answer "deleted at the floor", a version
            # the client can hold and base its next write on (else it keeps its stale copy and, under
            # reject-if-stale, every later write of the document is refused forever).
            outcome.result.ver = floor
    record.record(m.seq, outcome.result.to_wire())
    return outcome


def _traceless(current: Stored) -> bool:
    """No data and no metadata: never written, or deleted with its tombstone purged since."""
    return current.doc is None and current.ver == 0 and current.stamped


def _purged_delete(current: Stored, incoming: Incoming, floor: int) -> bool:
    """Whether ``incoming`` edits a document deleted since, whose tombstone is purged: the client held
    a version (``base``) but nothing of the document is left, and the edit is not newer than the
    newest purged delete. Replayed offline edits then never resurrect a deleted document."""
    return _traceless(current) and (incoming.base or 0) > 0 and incoming.ts <= floor


def _lost_to_delete(policy: Policy) -> Decision:
    status: Literal["conflict", "rejected"] = "rejected" if policy is Policy.REJECT_IF_STALE else "conflict"
    return Decision(status, False, None, 0, "")


def _stamp(
    m: Mutation, decision: Decision, current: Stored, hlc: Hlc, now_ms: int, encode: Encode | None
) -> Outcome:
    """Encode and stamp what ``decision`` writes; stamp an unstamped document it keeps."""
    if decision.write:
        doc, value = decision.doc, None
        if doc is not None and encode is not None:
            try:
                doc, value = encode(doc)
            except InvalidDocument as e:
                return _refused(m.seq, Refusal(ErrorCode.INVALID_MUTATION, str(e)))
        ver = hlc.next_after(now_ms, current.ver)
        stored = Stored(doc, ver, decision.lww, decision.by, True)
    elif not current.stamped:
        ver = hlc.next_after(now_ms, current.ver)
        stored, value = Stored(current.doc, ver, ver, "", True), None
    else:
        return Outcome(MutationResult(m.seq, decision.status, current.ver, _plain(current.doc)), None)
    result = MutationResult(m.seq, decision.status, ver, _plain(stored.doc))
    result.changed.append(Change(m.id, ver, _plain(stored.doc)))
    return Outcome(result, stored, value)


def _refused(seq: int, refusal: Refusal) -> Outcome:
    return Outcome(MutationResult(seq, "error", code=refusal.code, msg=refusal.msg), None)


def _replayed(replay: dict[str, Any]) -> MutationResult:
    return MutationResult(
        int(replay["seq"]),
        str(replay["s"]),
        int(replay.get("ver", 0)),
        replay.get("doc"),
        dup=True,
        code=replay.get("code"),
        msg=replay.get("msg"),
    )


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


def _without_id(doc: Doc | None) -> Doc | None:
    return None if doc is None else {k: v for k, v in doc.items() if k != ID_FIELD}


def _plain(doc: Doc | None) -> dict[str, Any] | None:
    return None if doc is None else dict(doc)
