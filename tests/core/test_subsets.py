"""hub.core.subsets: which filters a collection accepts, catch-up classification, live fan-out."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.query import FilterError, FilterIndex, parse_filter, parse_template
from hub.core.subsets import QuerySpec, check_declared, classify, live, qkey, resolve
from hub.core.types import Change

SPEC = QuerySpec(
    "todos",
    {"team": "string", "done": "bool", "n": "long", "score": "double"},
    {
        "mine": parse_template(
            "mine", "todos", [["team", "==", {"claim": "team"}], ["n", ">=", {"param": "n"}]]
        )
    },
)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ([["title", "==", "x"]], "not declared"),
        ([["team", "==", 1]], "is a string"),
        ([["team", "in", ["a", 2]]], "is a string"),
        ([["n", ">", 1.5]], "is a long"),
        ([["n", "==", True]], "is a long"),
        ([["done", "<", True]], "needs a number"),
        ([["team", "<", None]], "needs a number"),
    ],
)
def test_filters_sql_and_the_core_could_disagree_on_are_refused(raw: Any, why: str) -> None:
    with pytest.raises(FilterError, match=why):
        check_declared(parse_filter(raw), SPEC)


def test_accepted_filters() -> None:
    for raw in (
        {"team": "x", "done": False},
        [["n", ">=", 2.0], ["score", "<", 1]],
        [["team", "in", ["a", None]]],
        [["done", "==", None]],
    ):
        check_declared(parse_filter(raw), SPEC)


def test_named_subscriptions_bind_claims_not_params() -> None:
    f = resolve(SPEC, None, "mine", {"n": 3}, {"team": "red"})
    assert f == parse_filter([["team", "==", "red"], ["n", ">=", 3]])
    with pytest.raises(FilterError, match="unknown parameters"):
        resolve(SPEC, None, "mine", {"n": 3, "team": "blue"}, {"team": "red"})
    with pytest.raises(FilterError, match="no claim"):
        resolve(SPEC, None, "mine", {"n": 3}, {})
    with pytest.raises(FilterError, match="no subscription named"):
        resolve(SPEC, None, "theirs", None, {})
    with pytest.raises(FilterError, match="no query subscriptions"):
        resolve(None, {"team": "x"}, None, None, {})
    with pytest.raises(FilterError, match="params are for named"):
        resolve(SPEC, {"team": "x"}, None, {"n": 1}, {})
    assert (
        qkey(f)
        == qkey(parse_filter([["n", ">=", 3], ["team", "==", "red"]]))
        != qkey(parse_filter({"team": "red"}))
    )


def test_catch_up_sends_matches_and_removes_the_rest() -> None:
    f = parse_filter({"team": "x"})
    rows = [Change("a", 5, {"team": "x"}), Change("b", 6, {"team": "y"}), Change("c", 7, None)]
    assert classify(f, rows) == [rows[0], Change("b", 6, None), Change("c", 7, None)]


docs = st.one_of(
    st.none(), st.fixed_dictionaries({"team": st.sampled_from(["x", "y", "z"]), "n": st.integers(0, 4)})
)


@settings(max_examples=200, deadline=None)
@given(old=docs, new=docs, prior=st.booleans())
def test_live_never_leaves_a_holder_with_a_document_outside_its_subset(
    old: Any, new: Any, prior: bool
) -> None:
    filters = [
        parse_filter({"team": "x"}),
        parse_filter([["n", ">=", 2]]),
        parse_filter({"team": "y", "n": 1}),
    ]
    index = FilterIndex()
    for f in filters:
        index.add(f)
    change = Change("d", 9, new, old=old, prior=prior)
    out = live(index, [change])
    for f in filters:
        got = out.get(f, [])
        if f.matches(new):  # the subscriber must get the document
            assert got == [change] and got[0].doc == new
        elif f.matches(old) or not prior:  # it may hold the document: a removal
            assert got == [Change("d", 9, None)]
        else:  # a change outside the subset, before and after: nothing
            assert got == []


def test_filters_on_one_and_true_are_different_subsets() -> None:
    # Python has 1 == True; subsets do not (they would share subscribers and frames)
    assert parse_filter({"n": 1}) != parse_filter({"n": True})
    assert parse_filter([["n", "in", [1]]]) != parse_filter([["n", "in", [True]]])
    assert parse_filter({"n": 1}) == parse_filter({"n": 1.0})
    index = FilterIndex()
    index.add(parse_filter({"n": 1}))
    index.add(parse_filter({"n": True}))
    assert len(index) == 2
