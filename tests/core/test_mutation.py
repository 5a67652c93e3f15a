"""hub.core.mutation: the write rule, one mutation against one stored document (vet, dedup,
decide, encode, stamp, record)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pytest

from hub.core.conflict import Doc, Incoming, MergeContext, MergeHook, Policy, Stored
from hub.core.dedup import DedupRecord
from hub.core.errors import ErrorCode, InvalidDocument
from hub.core.hlc import Hlc, pack
from hub.core.mutation import Outcome as MutationOutcome
from hub.core.mutation import Refusal, apply, vet
from hub.core.types import Change, CollectionSpec, Mutation

NOW = 1_000
TS = pack(950, 0)
CURRENT = Stored({"a": 1}, ver=pack(900, 0), lww=pack(900, 0), by="bob")


def incoming(
    op: Literal["put", "del"] = "put",
    doc: Doc | None = None,
    ts: int = pack(950, 0),
    base: int | None = pack(900, 0),
    client: str = "carol",
) -> Incoming:
    return Incoming(client, op, ({"a": 2} if doc is None else doc) if op == "put" else None, ts, base)


@dataclass(frozen=True)
class Outcome:
    """The outcome as the wire and the dedup record see it, plus what is stored."""

    result: dict[str, Any]
    stored: Stored | None


def apply_one(
    record: DedupRecord,
    current: Stored,
    seq: int,
    inc: Incoming,
    policy: Policy,
    merge: MergeHook | None,
    hlc: Hlc,
    now_ms: int,
) -> Outcome:
    m = Mutation(inc.client, seq, "docs", "d1", inc.op, inc.doc, inc.ts, inc.base)
    spec = CollectionSpec("docs", policy=policy, merge=merge)
    out = apply(m, spec, current, record, client=inc.client, hlc=hlc, now_ms=now_ms)
    return Outcome(out.result.to_wire(), out.stored)


def run(
    current: Stored = CURRENT,
    inc: Incoming | None = None,
    *,
    record: DedupRecord | None = None,
    seq: int = 1,
    policy: Policy = Policy.LWW,
    hlc: Hlc | None = None,
) -> tuple[Outcome, DedupRecord, Hlc]:
    record = DedupRecord() if record is None else record
    hlc = Hlc() if hlc is None else hlc
    out = apply_one(record, current, seq, incoming() if inc is None else inc, policy, None, hlc, NOW)
    return out, record, hlc


def test_write_stamps_a_new_version_and_records_the_result() -> None:
    out, record, hlc = run()
    assert out.result == {"seq": 1, "s": "ok", "ver": pack(NOW, 0)}
    assert out.stored == Stored({"a": 2}, pack(NOW, 0), pack(950, 0), "carol", True)
    assert record.last_seq == 1
    assert record.results[1] == out.result
    assert hlc.last == pack(NOW, 0)


def test_delete_stores_a_tombstone() -> None:
    out, _, _ = run(inc=incoming("del"))
    assert out.stored is not None
    assert out.stored.doc is None
    assert out.result == {"seq": 1, "s": "ok", "ver": pack(NOW, 0)}


def test_new_version_exceeds_one_from_a_faster_hub() -> None:
    ahead = Stored({"a": 1}, ver=pack(5_000, 3), lww=1, by="bob")  # stamped by a hub 4 s ahead
    out, _, _ = run(ahead)
    assert out.stored is not None
    assert out.stored.ver == pack(5_000, 4)
    assert out.result["ver"] == pack(5_000, 4)


def test_replay_returns_the_original_outcome_and_writes_nothing() -> None:
    first, record, hlc = run()
    assert first.stored is not None
    replay, _, _ = run(first.stored, incoming(doc={"a": 99}), record=record, hlc=hlc)
    assert replay.stored is None
    assert replay.result == {**first.result, "dup": True}
    assert hlc.last == first.stored.ver  # no version was consumed


def test_replay_of_a_conflict_returns_the_original_server_doc() -> None:
    first, record, _ = run(inc=incoming(ts=1))
    assert first.result == {"seq": 1, "s": "conflict", "ver": CURRENT.ver, "doc": {"a": 1}}
    replay, _, _ = run(CURRENT, incoming(ts=1), record=record)
    assert replay.result == {**first.result, "dup": True}
    assert replay.stored is None


def test_replay_after_the_document_changed_reports_the_current_document() -> None:
    """The original outcome is stale once the document moved on.

    A client that lost the ack, then resynced by snapshot (which carries no tombstones) holds no
    version for the id; told "ok at v1" it would bring back a document deleted at v2 for good.
    """
    first, record, _ = run()
    assert first.stored is not None and first.result["s"] == "ok"
    deleted = Stored(None, ver=first.stored.ver + 5, lww=first.stored.ver + 5, by="dave")
    replay, _, _ = run(deleted, record=record)
    assert replay == Outcome({"seq": 1, "s": "dup", "dup": True, "ver": deleted.ver, "doc": None}, None)
    assert record.results[1] == first.result  # the record itself is unchanged


def test_evicted_replay_reports_the_current_document() -> None:
    record = DedupRecord(last_seq=7)
    out, _, hlc = run(record=record, seq=3)
    assert out == Outcome({"seq": 3, "s": "dup", "dup": True, "ver": CURRENT.ver, "doc": {"a": 1}}, None)
    assert hlc.last == 0
    assert record.results == {}


def test_evicted_replay_of_a_deleted_document() -> None:
    tomb = Stored(None, ver=pack(900, 1), lww=1, by="bob")
    out, _, _ = run(tomb, record=DedupRecord(last_seq=7), seq=7)
    assert out.result == {"seq": 7, "s": "dup", "dup": True, "ver": pack(900, 1), "doc": None}


def test_evicted_replay_of_a_document_that_never_existed() -> None:
    out, _, _ = run(Stored(None), record=DedupRecord(last_seq=2), seq=1)
    assert out.result == {"seq": 1, "s": "dup", "dup": True, "ver": 0, "doc": None}


def test_result_doc_is_a_plain_copy() -> None:
    out, _, _ = run(inc=incoming(ts=1))
    assert type(out.result["doc"]) is dict
    assert out.result["doc"] is not CURRENT.doc


def test_conflict_on_stamped_data_writes_nothing() -> None:
    out, record, hlc = run(inc=incoming(ts=1))
    assert out.stored is None
    assert out.result == {"seq": 1, "s": "conflict", "ver": CURRENT.ver, "doc": {"a": 1}}
    assert record.results[1] == out.result
    assert hlc.last == 0


def test_rejected_on_stamped_data_writes_nothing() -> None:
    out, _, _ = run(inc=incoming(base=1), policy=Policy.REJECT_IF_STALE)
    assert out.stored is None
    assert out.result == {"seq": 1, "s": "rejected", "ver": CURRENT.ver, "doc": {"a": 1}}


@pytest.mark.parametrize(
    ("policy", "status"), [(Policy.LWW, "conflict"), (Policy.REJECT_IF_STALE, "rejected")]
)
def test_keeping_unstamped_data_stamps_it(policy: Policy, status: str) -> None:
    external = Stored({"a": "ext"}, ver=pack(900, 0), lww=pack(900, 0), by="bob", stamped=False)
    out, record, _ = run(external, incoming(ts=pack(10_000, 0)), policy=policy)
    ver = pack(NOW, 0)
    assert out.stored == Stored({"a": "ext"}, ver, ver, "", True)
    assert out.result == {"seq": 1, "s": status, "ver": ver, "doc": {"a": "ext"}}
    assert record.results[1] == out.result


def test_keeping_an_unstamped_delete_stamps_a_tombstone() -> None:
    external = Stored(None, ver=pack(900, 0), lww=1, by="bob", stamped=False)
    out, _, _ = run(external, incoming(ts=pack(10_000, 0)))
    assert out.stored is not None
    assert (out.stored.doc, out.stored.stamped) == (None, True)
    assert out.stored.ver > external.ver
    assert out.result["doc"] is None


def test_merge_writes_the_merged_document() -> None:
    seen: list[MergeContext] = []

    def hook(current: Doc | None, new: Doc | None, ctx: MergeContext) -> Doc | None:
        seen.append(ctx)
        return {**(current or {}), **(new or {}), "merged": True}

    record = DedupRecord()
    out = apply_one(record, CURRENT, 4, incoming(ts=1, base=3), Policy.MERGE, hook, Hlc(), NOW)
    assert out.stored == Stored({"a": 2, "merged": True}, pack(NOW, 0), 1, "carol", True)
    assert out.result == {"seq": 4, "s": "merged", "ver": pack(NOW, 0), "doc": {"a": 2, "merged": True}}
    assert seen == [MergeContext("carol", 1, 3, CURRENT.ver)]


def test_merge_without_a_hook_fails_before_recording() -> None:
    record = DedupRecord()
    with pytest.raises(ValueError):
        apply_one(record, CURRENT, 1, incoming(), Policy.MERGE, None, Hlc(), NOW)
    assert record == DedupRecord()


def test_a_batch_of_seqs_on_one_document() -> None:
    record, hlc, current = DedupRecord(), Hlc(), Stored(None)
    versions = []
    for seq in (1, 2, 3):
        out = apply_one(record, current, seq, incoming(ts=pack(950, seq)), Policy.LWW, None, hlc, NOW)
        assert out.stored is not None
        current = out.stored
        versions.append(current.ver)
    assert versions == [pack(NOW, 0), pack(NOW, 1), pack(NOW, 2)]
    assert record.last_seq == 3
    last = apply_one(record, current, 3, incoming(), Policy.LWW, None, hlc, NOW)
    assert last.result == {"seq": 3, "s": "ok", "ver": pack(NOW, 2), "dup": True}
    earlier = apply_one(record, current, 2, incoming(), Policy.LWW, None, hlc, NOW)
    assert earlier.result == {"seq": 2, "s": "dup", "dup": True, "ver": pack(NOW, 2), "doc": {"a": 2}}


# -- vetting, the write permission, encoding ------------------------------------------------------------


def mut(
    seq: int = 1, coll: str = "docs", op: Literal["put", "del"] = "put", doc: Doc | None = None
) -> Mutation:
    return Mutation("carol", seq, coll, "d1", op, {"a": 2} if doc is None and op == "put" else doc, TS, None)


def test_vet() -> None:
    assert vet("docs", True, "put", {"a": 1}) is None
    assert vet("docs", True, "del", None) is None
    assert vet("nope", None, "put", {}) == Refusal(ErrorCode.UNKNOWN_COLLECTION, "unknown collection 'nope'")
    assert vet("docs", False, "del", None) == Refusal(ErrorCode.FORBIDDEN, "collection 'docs' is read-only")
    assert vet("docs", True, "put", None) == Refusal(ErrorCode.INVALID_MUTATION, "put without a document")


@pytest.mark.parametrize(
    ("spec", "m", "code"),
    [
        (None, mut(coll="nope"), ErrorCode.UNKNOWN_COLLECTION),
        (CollectionSpec("docs", writable=False), mut(), ErrorCode.FORBIDDEN),
        (
            CollectionSpec("docs"),
            Mutation("carol", 1, "docs", "d1", "put", None, 2, None),
            ErrorCode.INVALID_MUTATION,
        ),
    ],
)
def test_refusals_are_recorded_and_replayed(
    spec: CollectionSpec | None, m: Mutation, code: ErrorCode
) -> None:
    record, hlc = DedupRecord(), Hlc()
    out = apply(m, spec, CURRENT, record, client="carol", hlc=hlc, now_ms=NOW)
    assert (out.result.s, out.result.code, out.stored, out.replayed) == ("error", code, None, False)
    assert record.results[1] == out.result.to_wire()
    again = apply(m, spec, CURRENT, record, client="carol", hlc=hlc, now_ms=NOW)
    assert (again.result.s, again.result.code, again.result.dup, again.replayed) == (
        "error",
        code,
        True,
        True,
    )
    assert hlc.last == 0


def test_write_check_sees_the_stored_and_the_new_document() -> None:
    seen: list[tuple[str, str, Doc | None, Doc | None]] = []

    def check(coll: str, doc_id: str, old: Doc | None, new: Doc | None) -> bool:
        seen.append((coll, doc_id, old, new))
        return False

    record = DedupRecord()
    out = apply(
        mut(), CollectionSpec("docs"), CURRENT, record, client="carol", hlc=Hlc(), now_ms=NOW, check=check
    )
    assert seen == [("docs", "d1", {"a": 1}, {"a": 2})]
    assert out.result.to_wire() == {"seq": 1, "s": "error", "ver": 0, "code": 4403, "msg": "forbidden"}
    assert out.stored is None and record.results[1]["code"] == 4403


def test_encode_gives_the_stored_document_and_the_store_value() -> None:
    def encode(doc: Doc) -> tuple[Doc, Any]:
        return {k: float(v) for k, v in doc.items()}, b"raw"

    out = apply(
        mut(),
        CollectionSpec("docs"),
        CURRENT,
        DedupRecord(),
        client="carol",
        hlc=Hlc(),
        now_ms=NOW,
        encode=encode,
    )
    ver = pack(NOW, 0)
    assert out.stored == Stored({"a": 2.0}, ver, TS, "carol", True)
    assert out.value == b"raw"
    assert (out.result.s, out.result.doc, out.result.changed) == (
        "ok",
        {"a": 2.0},
        [Change("d1", ver, {"a": 2.0})],
    )


def test_an_invalid_document_is_refused_and_stamps_nothing() -> None:
    def encode(doc: Doc) -> tuple[Doc, Any]:
        raise InvalidDocument("field 'a': not a Long")

    record, hlc = DedupRecord(), Hlc()
    out = apply(
        mut(), CollectionSpec("docs"), CURRENT, record, client="carol", hlc=hlc, now_ms=NOW, encode=encode
    )
    assert (out.result.s, out.result.code, out.result.msg) == ("error", 4001, "field 'a': not a Long")
    assert out.stored is None and hlc.last == 0 and 1 in record.results


def test_another_error_from_encode_changes_nothing() -> None:
    def encode(doc: Doc) -> tuple[Doc, Any]:
        raise LookupError("fetch the type first")

    record, hlc = DedupRecord(), Hlc()
    with pytest.raises(LookupError):
        apply(
            mut(), CollectionSpec("docs"), CURRENT, record, client="carol", hlc=hlc, now_ms=NOW, encode=encode
        )
    assert record == DedupRecord() and hlc.last == 0


def test_a_delete_is_not_encoded() -> None:
    def encode(doc: Doc) -> tuple[Doc, Any]:
        raise AssertionError("no document to encode")

    out = apply(
        mut(op="del"),
        CollectionSpec("docs"),
        CURRENT,
        DedupRecord(),
        client="carol",
        hlc=Hlc(),
        now_ms=NOW,
        encode=encode,
    )
    assert out.stored is not None and out.stored.doc is None and out.value is None


def test_the_id_field_is_not_stored() -> None:
    out = apply(
        mut(doc={"id": "d1", "a": 3}),
        CollectionSpec("docs"),
        CURRENT,
        DedupRecord(),
        client="carol",
        hlc=Hlc(),
        now_ms=NOW,
    )
    assert out.stored is not None and out.stored.doc == {"a": 3}


def _after_purge(policy: Policy, base: int | None, ts: int) -> tuple[MutationOutcome, DedupRecord]:
    """A put on a document deleted at (900) whose tombstone was purged: floor 900, nothing stored."""
    m = Mutation("carol", 1, "docs", "d1", "put", {"a": 2}, ts, base)
    rec = DedupRecord()
    spec = CollectionSpec("docs", policy=policy)
    return apply(m, spec, Stored(None), rec, client="carol", hlc=Hlc(), now_ms=NOW, floor=pack(900, 0)), rec


LOSERS = [(Policy.LWW, "conflict"), (Policy.REJECT_IF_STALE, "rejected")]


@pytest.mark.parametrize(("policy", "status"), LOSERS)
def test_an_edit_older_than_a_purged_delete_loses_and_learns_the_floor(policy: Policy, status: str) -> None:
    out, record = _after_purge(policy, base=pack(800, 0), ts=pack(850, 0))
    assert out.stored is None
    # "deleted at the floor": a version the client adopts (a version 0 it would ignore, keeping its copy)
    assert out.result.to_wire() == {"seq": 1, "s": status, "ver": pack(900, 0), "doc": None}
    replay = record.replay_of(1)
    assert replay is not None and replay["ver"] == pack(900, 0)  # a replay answers the same


def test_a_client_that_learnt_the_floor_recreates_the_document_under_reject_if_stale() -> None:
    # The rejected answer gave the client ver=floor: its next write, based on it, is a creation.
    # (Before, the answer carried ver 0, the client kept its old base and every retry was refused.)
    out, _ = _after_purge(Policy.REJECT_IF_STALE, base=pack(900, 0), ts=pack(950, 0))
    assert out.result.s == "ok"
    assert out.stored is not None and out.stored.doc == {"a": 2}
    assert out.stored.ver > pack(900, 0)


def test_reject_if_stale_still_refuses_a_base_below_the_floor() -> None:
    out, _ = _after_purge(Policy.REJECT_IF_STALE, base=pack(800, 0), ts=pack(990, 0))
    assert out.result.s == "rejected" and out.stored is None


def test_an_edit_newer_than_a_purged_delete_wins_under_lww() -> None:
    out, _ = _after_purge(Policy.LWW, base=pack(800, 0), ts=pack(950, 0))
    assert out.result.s == "ok" and out.stored is not None


def test_a_new_document_is_created_whatever_the_floor() -> None:
    for policy in (Policy.LWW, Policy.REJECT_IF_STALE):
        out, _ = _after_purge(policy, base=0, ts=pack(850, 0))
        assert out.result.s == "ok", policy
