"""hub.core.conflict: the three policies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.conflict import Decision, Doc, Incoming, MergeContext, MergeHook, Policy, Stored, decide

CURRENT = Stored({"a": 1}, ver=50, lww=40, by="bob")
ABSENT = Stored(None)


def put(ts: int, client: str = "carol", doc: Doc | None = None, base: int | None = 50) -> Incoming:
    return Incoming(client, "put", {"a": 2} if doc is None else doc, ts, base)


def delete(ts: int, client: str = "carol", base: int | None = 50) -> Incoming:
    return Incoming(client, "del", None, ts, base)


def unstamped(doc: Doc | None) -> Stored:
    return Stored(doc, ver=50, lww=40, by="bob", stamped=False)


def test_policy_values() -> None:
    assert [p.value for p in Policy] == ["lww", "reject-if-stale", "merge"]
    assert Policy("reject-if-stale") is Policy.REJECT_IF_STALE


def test_stored_defaults_to_a_stamped_absent_document() -> None:
    assert ABSENT == Stored(None, 0, 0, "", True)


# -- last writer wins ---------------------------------------------------------------------------


def test_lww_newer_write_wins() -> None:
    assert decide(Policy.LWW, CURRENT, put(41)) == Decision("ok", True, {"a": 2}, 41, "carol")


def test_lww_older_write_loses() -> None:
    assert decide(Policy.LWW, CURRENT, put(39)) == Decision("conflict", False, {"a": 1}, 40, "bob")


def test_lww_tie_is_broken_by_client_id() -> None:
    assert decide(Policy.LWW, CURRENT, put(40, client="carol")).status == "ok"  # "carol" > "bob"
    assert decide(Policy.LWW, CURRENT, put(40, client="alice")).status == "conflict"  # "alice" < "bob"
    assert decide(Policy.LWW, CURRENT, put(40, client="bob")).status == "conflict"  # same writer, same ts


def test_lww_ignores_base() -> None:
    assert decide(Policy.LWW, CURRENT, put(41, base=3)).status == "ok"


def test_lww_delete_wins_and_stores_a_tombstone() -> None:
    assert decide(Policy.LWW, CURRENT, delete(41)) == Decision("ok", True, None, 41, "carol")


def test_lww_delete_ignores_a_doc_sent_with_it() -> None:
    incoming = Incoming("carol", "del", {"junk": 1}, 41, 50)
    assert decide(Policy.LWW, CURRENT, incoming).doc is None


def test_lww_first_write_of_a_new_document() -> None:
    assert decide(Policy.LWW, ABSENT, put(0, base=0)) == Decision("ok", True, {"a": 2}, 0, "carol")


def test_lww_against_a_tombstone() -> None:
    tomb = Stored(None, ver=60, lww=55, by="bob")
    assert decide(Policy.LWW, tomb, put(54)) == Decision("conflict", False, None, 55, "bob")
    assert decide(Policy.LWW, tomb, put(56)).status == "ok"


def test_lww_unstamped_data_counts_as_newest() -> None:
    current = unstamped({"a": "external"})
    assert decide(Policy.LWW, current, put(10**15)) == Decision(
        "conflict", False, {"a": "external"}, 40, "bob"
    )


# -- reject if stale ----------------------------------------------------------------------------


def test_reject_matching_base_applies() -> None:
    assert decide(Policy.REJECT_IF_STALE, CURRENT, put(1, base=50)) == Decision(
        "ok", True, {"a": 2}, 1, "carol"
    )


@pytest.mark.parametrize("base", [49, 51, 0, None])
def test_reject_other_base_is_rejected(base: int | None) -> None:
    decision = decide(Policy.REJECT_IF_STALE, CURRENT, put(10**15, base=base))
    assert decision == Decision("rejected", False, {"a": 1}, 40, "bob")


@pytest.mark.parametrize("base", [0, None])
def test_reject_new_document_with_no_base(base: int | None) -> None:
    assert decide(Policy.REJECT_IF_STALE, ABSENT, put(1, base=base)).status == "ok"


def test_reject_delete_with_matching_base() -> None:
    assert decide(Policy.REJECT_IF_STALE, CURRENT, delete(1)) == Decision("ok", True, None, 1, "carol")


def test_reject_unstamped_data_rejects_even_a_matching_base() -> None:
    assert decide(Policy.REJECT_IF_STALE, unstamped({"a": 9}), put(1, base=50)).status == "rejected"


# -- merge ----------------------------------------------------------------------------------------

Call = tuple[Doc | None, Doc | None, MergeContext]


def recording(result: Doc | Callable[[Any, Any], Doc | None] | None) -> tuple[list[Call], MergeHook]:
    calls: list[Call] = []

    def hook(current: Doc | None, incoming: Doc | None, ctx: MergeContext) -> Doc | None:
        calls.append((current, incoming, ctx))
        return result(current, incoming) if callable(result) else result

    return calls, hook


def test_merge_needs_a_hook() -> None:
    with pytest.raises(ValueError, match="merge hook"):
        decide(Policy.MERGE, CURRENT, put(1))


def test_merge_hook_gets_current_incoming_and_context() -> None:
    calls, hook = recording({"a": 3})
    decide(Policy.MERGE, CURRENT, put(7, base=12), hook)
    assert calls == [({"a": 1}, {"a": 2}, MergeContext("carol", 7, 12, 50))]


def test_merge_result_other_than_sent_is_merged() -> None:
    _, hook = recording(lambda cur, inc: {**cur, **inc, "n": 1})
    assert decide(Policy.MERGE, CURRENT, put(7), hook) == Decision(
        "merged", True, {"a": 2, "n": 1}, 7, "carol"
    )


def test_merge_result_equal_to_sent_is_ok() -> None:
    _, hook = recording(lambda cur, inc: dict(inc))
    assert decide(Policy.MERGE, CURRENT, put(7), hook) == Decision("ok", True, {"a": 2}, 7, "carol")


def test_merge_is_always_written_even_when_stale_or_older() -> None:
    _, hook = recording(lambda cur, inc: cur)
    decision = decide(Policy.MERGE, CURRENT, put(1, base=3), hook)
    assert decision == Decision("merged", True, {"a": 1}, 1, "carol")


@pytest.mark.parametrize(
    ("op", "result", "status"),
    [("del", None, "ok"), ("put", None, "merged"), ("del", {"a": 1}, "merged")],
)
def test_merge_with_deletes(op: Literal["put", "del"], result: Doc | None, status: str) -> None:
    calls, hook = recording(result)
    incoming = Incoming("carol", op, {"a": 2} if op == "put" else None, 7, 50)
    decision = decide(Policy.MERGE, CURRENT, incoming, hook)
    assert (decision.status, decision.doc) == (status, result)
    assert calls[0][1] == incoming.doc


def test_merge_sees_unstamped_data() -> None:
    calls, hook = recording(lambda cur, inc: {**cur, **inc})
    decision = decide(Policy.MERGE, unstamped({"x": 1}), put(7), hook)
    assert decision == Decision("merged", True, {"x": 1, "a": 2}, 7, "carol")
    assert calls[0][0] == {"x": 1}


@pytest.mark.parametrize(
    ("stored_value", "sent_value"),
    [(1.0, 1), (True, 1), ([1.0], [1]), ({"k": True}, {"k": 1}), (0, False)],
    ids=repr,
)
def test_merge_result_of_another_type_is_merged(stored_value: Any, sent_value: Any) -> None:
    """A hook that keeps the stored value of an "equal" field changed the document.

    1, 1.0 and True are equal in Python but not on the wire nor in Ignite. Reporting "ok" would
    let the client keep its own document while the store holds another one: the client then
    ignores the change of the same version and never converges.
    """
    assert sent_value == stored_value

    def keep_equal_fields(cur: Doc | None, inc: Doc | None) -> Doc:
        assert cur is not None and inc is not None
        return {k: cur[k] if k in cur and cur[k] == v else v for k, v in inc.items()}

    _, hook = recording(keep_equal_fields)
    current = Stored({"a": stored_value}, ver=50, lww=40, by="bob")
    decision = decide(Policy.MERGE, current, put(7, doc={"a": sent_value}), hook)
    assert decision.doc == {"a": stored_value}
    assert decision.status == "merged"


# -- properties -----------------------------------------------------------------------------------

WRITES = st.tuples(
    st.sampled_from(["alice", "bob", "carol"]),
    st.sampled_from(["put", "del"]),
    st.integers(0, 5),
    st.integers(0, 20),
)


def _run(policy: Policy, start: Stored, writes: list[tuple[str, str, int, int]]) -> Stored:
    current = start
    for client, op, value, ts in writes:
        incoming = Incoming(
            client, "put" if op == "put" else "del", {"v": value} if op == "put" else None, ts, 0
        )
        d = decide(policy, current, incoming)
        if d.write:
            current = Stored(d.doc, current.ver + 1, d.lww, d.by)
    return current


@given(st.lists(WRITES, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_lww_outcome_does_not_depend_on_arrival_order(
    writes: list[tuple[str, str, int, int]], rnd: Any
) -> None:
    # Distinct (ts, client) pairs: a client never stamps two changes with one ts.
    unique = list({(w[3], w[0]): w for w in writes}.values())
    shuffled = list(unique)
    rnd.shuffle(shuffled)
    a = _run(Policy.LWW, ABSENT, unique)
    b = _run(Policy.LWW, ABSENT, shuffled)
    assert (a.doc, a.lww, a.by) == (b.doc, b.lww, b.by)
    winner = max(unique, key=lambda w: (w[3], w[0]))
    assert (a.lww, a.by) == (winner[3], winner[0])


@given(WRITES, WRITES)
def test_lww_is_idempotent(first: tuple[str, str, int, int], second: tuple[str, str, int, int]) -> None:
    once = _run(Policy.LWW, ABSENT, [first, second])
    twice = _run(Policy.LWW, ABSENT, [first, second, first, second])
    assert (once.doc, once.lww, once.by) == (twice.doc, twice.lww, twice.by)
