"""hub.core.dedup: per-client records that make replays no-ops."""

from __future__ import annotations

from typing import Any

from hub.core.dedup import MAX_GAPS, RETAINED_RESULTS, DedupRecord


def _result(seq: int, **extra: Any) -> dict[str, Any]:
    return {"seq": seq, "s": "ok", "ver": 100 + seq, **extra}


def test_new_record_has_seen_nothing() -> None:
    record = DedupRecord()
    assert record.last_seq == 0
    assert record.results == {}
    assert record.replay_of(1) is None


def test_replay_returns_the_original_result_marked_dup() -> None:
    record = DedupRecord()
    record.record(1, _result(1))
    record.record(2, {"seq": 2, "s": "conflict", "ver": 7, "doc": {"a": 1}})
    assert record.replay_of(1) == {"seq": 1, "s": "ok", "ver": 101, "dup": True}
    assert record.replay_of(2) == {"seq": 2, "s": "conflict", "ver": 7, "doc": {"a": 1}, "dup": True}
    assert record.replay_of(3) is None
    # The stored result is not changed by a replay.
    assert record.results[1] == _result(1)


def test_seq_below_last_without_a_result_is_an_evicted_dup() -> None:
    record = DedupRecord(last_seq=10)
    assert record.replay_of(10) == {"seq": 10, "s": "dup", "dup": True}
    assert record.replay_of(1) == {"seq": 1, "s": "dup", "dup": True}
    assert record.replay_of(11) is None


def test_last_seq_never_goes_back() -> None:
    record = DedupRecord()
    record.record(5, _result(5))
    record.record(3, _result(3))
    assert record.last_seq == 5


def test_results_beyond_retention_are_evicted_oldest_first() -> None:
    record = DedupRecord()
    total = RETAINED_RESULTS + 3
    for seq in range(1, total + 1):
        record.record(seq, _result(seq))
    assert len(record.results) == RETAINED_RESULTS
    assert min(record.results) == 4
    assert record.last_seq == total
    for evicted in (1, 2, 3):
        assert record.replay_of(evicted) == {"seq": evicted, "s": "dup", "dup": True}
    assert record.replay_of(4) == {**_result(4), "dup": True}
    assert record.replay_of(total) == {**_result(total), "dup": True}


def test_eviction_keeps_the_newest_with_gaps_in_seqs() -> None:
    record = DedupRecord()
    seqs = [10 * i for i in range(1, RETAINED_RESULTS + 2)]
    for seq in seqs:
        record.record(seq, _result(seq))
    assert sorted(record.results) == seqs[1:]
    assert record.replay_of(10) == {"seq": 10, "s": "dup", "dup": True}
    # only the newest MAX_GAPS runs of missing seqs are kept: an older one counts as applied
    assert len(record.gaps) == MAX_GAPS
    assert record.replay_of(15) == {"seq": 15, "s": "dup", "dup": True}
    assert record.replay_of(seqs[-1] - 5) is None  # in a kept run: new


def test_a_seq_below_the_highest_that_never_came_is_new_once() -> None:
    """Mutations may arrive out of order (a write held back, later ones sent ahead on another
    connection): a missing seq below the highest is new, applied once, then a replay."""
    record = DedupRecord()
    for seq in (1, 4, 5, 9):
        record.record(seq, _result(seq))
    assert record.gaps == [[2, 3], [6, 8]]
    for new in (2, 3, 6, 7, 8):
        assert record.replay_of(new) is None
    record.record(7, _result(7))
    record.record(2, _result(2))
    assert record.gaps == [[3, 3], [6, 6], [8, 8]]
    assert record.replay_of(7) == {**_result(7), "dup": True}
    assert record.replay_of(2) == {**_result(2), "dup": True}
    assert record.replay_of(3) is None and record.replay_of(8) is None
    for seq in (3, 6, 8):
        record.record(seq, _result(seq))
    assert record.gaps == [] and record.last_seq == 9
    assert all(record.replay_of(s) is not None for s in range(1, 10))


def test_gaps_survive_the_round_trip_and_bad_stored_runs_are_dropped() -> None:
    record = DedupRecord()
    record.record(3, _result(3))
    record.record(7, _result(7))
    plain = record.to_plain()
    assert plain["gaps"] == [[1, 2], [4, 6]]
    assert DedupRecord.from_plain(plain) == record
    # a record is data from the store: runs that overlap, reach past last or are not pairs of ints
    # are ignored, so a stored record can never make an applied seq new
    bad = {**plain, "gaps": [[1, 2], [2, 3], [5, 99], ["x", 1], [6], [6, 6]]}
    assert DedupRecord.from_plain(bad).gaps == [[1, 2], [6, 6]]


def test_plain_round_trip() -> None:
    record = DedupRecord()
    record.record(2, _result(2))
    record.record(1, {"seq": 1, "s": "rejected", "ver": 3, "doc": None})
    plain = record.to_plain()
    assert plain == {
        "last": 2,
        "res": [[1, {"seq": 1, "s": "rejected", "ver": 3, "doc": None}], [2, _result(2)]],
    }
    again = DedupRecord.from_plain(plain)
    assert again == record
    assert again.results[2] is not record.results[2]


def test_from_plain_of_nothing_is_a_new_record() -> None:
    assert DedupRecord.from_plain(None) == DedupRecord()
    assert DedupRecord.from_plain({}) == DedupRecord()


def test_eviction_matches_a_plain_model_for_mixed_results_in_any_order() -> None:
    import random

    rng = random.Random(7)
    record, model = DedupRecord(), {}
    seqs = list(range(1, RETAINED_RESULTS + 600))
    rng.shuffle(seqs)
    for seq in seqs:
        res = _result(seq) if rng.random() < 0.8 else {"seq": seq, "s": "conflict", "ver": seq, "doc": None}
        record.record(seq, res)
        model[seq] = res
        for old in sorted(model)[: max(0, len(model) - RETAINED_RESULTS)]:
            del model[old]
    assert record.results == dict(sorted(model.items()))
    for seq in rng.sample(seqs, 200):
        expect = {**model[seq], "dup": True} if seq in model else {"seq": seq, "s": "dup", "dup": True}
        assert record.replay_of(seq) == expect
