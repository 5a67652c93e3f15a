"""hub.store.ignite.recent (the feed's shortcut for this hub's own commits) and the dedup record codec."""

from __future__ import annotations

import asyncio

from hub.codec import decode, encode
from hub.core.dedup import RETAINED_RESULTS, DedupRecord
from hub.store.ignite.recent import RecentCommits
from hub.store.ignite.write import dump_record, load_record


async def test_only_a_committed_entry_with_the_same_hash_answers_and_only_once() -> None:
    rc = RecentCommits()
    batch = rc.pending([("c", "k", 11, 100), ("c", "j", 12, 101)])
    rc.settle(batch, True)
    e = rc.claim("c", "k")
    assert e is not None and e.matches(11) == 100 and e.matches(99) is None
    assert rc.claim("c", "k") is None  # consumed by the first event
    failed = rc.pending([("c", "x", 1, 5)])
    rc.settle(failed, False)
    assert rc.claim("c", "x") is None


async def test_an_event_overtaking_the_commit_reply_waits_for_it() -> None:
    rc = RecentCommits()
    batch = rc.pending([("c", "k", 11, 100)])
    claimed = {"k": (rc.claim("c", "k"), 11)}
    assert claimed["k"][0] is not None
    task = asyncio.create_task(rc.resolve(claimed))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    rc.settle(batch, True)
    assert await task == {"k": 100}
    lost = rc.pending([("c", "q", 3, 7)])
    claimed = {"q": (rc.claim("c", "q"), 3)}
    task = asyncio.create_task(rc.resolve(claimed))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    rc.settle(lost, False)
    assert await task == {}


async def test_bounded_and_forgotten_per_cache() -> None:
    rc = RecentCommits(max_entries=3)
    rc.settle(rc.pending([("c", str(i), i, i) for i in range(5)]), True)
    assert len(rc) == 3 and rc.claim("c", "0") is None and rc.claim("c", "4") is not None
    rc.settle(rc.pending([("d", "a", 1, 1)]), True)
    rc.forget("c")
    assert len(rc) == 1


def test_dedup_record_round_trip_compact_and_legacy() -> None:
    record = DedupRecord()
    for seq in range(1, 6):
        record.record(seq, {"seq": seq, "s": "ok", "ver": 100 + seq})
    record.record(6, {"seq": 6, "s": "conflict", "ver": 7, "doc": {"a": 1}})
    record.record(7, {"seq": 7, "s": "error", "ver": 0, "code": 4403, "msg": "forbidden"})
    record.record(8, {"seq": 8, "s": "ok", "ver": 108})
    again = load_record(dump_record(record))
    assert again == record and list(again.results) == sorted(record.results)
    assert load_record(encode(record.to_plain())) == record  # written by an earlier hub
    ok = [x for seq in range(1, 6) for x in (seq, 100 + seq)] + [8, 108]
    res = [[s, r] for s, r in record.results.items() if s in (6, 7)]
    assert load_record(encode({"last": 8, "ok": ok, "res": res})) == record  # and by the next ones
    assert load_record(None) == DedupRecord()
    # seqs that never came (out of order) are kept as runs: still new after the round trip
    record.record(12, {"seq": 12, "s": "ok", "ver": 112})
    again = load_record(dump_record(record))
    assert again.gaps == [[9, 11]] and again == record and again.replay_of(10) is None


def test_a_loaded_record_keeps_evicting_oldest_first() -> None:
    record = DedupRecord()
    for seq in range(1, RETAINED_RESULTS + 1):
        result = (
            {"seq": seq, "s": "conflict", "ver": seq}
            if seq % 1000 == 0
            else {"seq": seq, "s": "ok", "ver": seq}
        )
        record.record(seq, result)
    raw = dump_record(record)
    assert len(raw) < 17 * RETAINED_RESULTS  # two int64 per plain result, not a map each
    again = load_record(raw)
    assert again == record
    for seq in range(RETAINED_RESULTS + 1, RETAINED_RESULTS + 1001):
        again.record(seq, {"seq": seq, "s": "ok", "ver": seq})
    assert len(again) == RETAINED_RESULTS and min(again.results) == 1001
    assert again.replay_of(1000) == {"seq": 1000, "s": "dup", "dup": True}
    assert again.replay_of(2000) == {"seq": 2000, "s": "conflict", "ver": 2000, "dup": True}
    assert again.replay_of(1001) == {"seq": 1001, "s": "ok", "ver": 1001, "dup": True}
    # a hub of before (a rolling deploy) reads the record as one without its plain results: their
    # replays answer a bare dup (applied, never again), the others their result
    older = DedupRecord.from_plain(decode(dump_record(again)))
    assert older.replay_of(1001) == {"seq": 1001, "s": "dup", "dup": True}
    assert older.replay_of(3000) == {"seq": 3000, "s": "conflict", "ver": 3000, "dup": True}
    assert older.replay_of(again.last_seq + 1) is None
