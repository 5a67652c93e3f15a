"""hub.core.query: filters, templates and the filter index (issue 12, partial sync)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.query import (
    MAX_CONDS,
    FilterError,
    FilterIndex,
    bind,
    parse_filter,
    parse_template,
)


def test_semantics_compare_only_values_of_one_kind() -> None:
    f = parse_filter([["n", "<", 5]])
    assert f.matches({"n": 4}) and f.matches({"n": 4.5}) and not f.matches({"n": 5})
    assert not f.matches({"n": "4"}) and not f.matches({}) and not f.matches({"n": None})
    assert not f.matches({"n": True})  # a bool is not a number here
    assert parse_filter({"n": 1}).matches({"n": 1.0})
    assert not parse_filter({"n": 1}).matches({"n": True})
    assert parse_filter({"gone": None}).matches({}) and parse_filter({"gone": None}).matches({"gone": None})
    s = parse_filter([["name", ">=", "b"], ["name", "<", "c"]])
    assert s.matches({"name": "bob"}) and not s.matches({"name": "carol"}) and not s.matches({"name": 3})
    i = parse_filter([["status", "in", ["open", 2]]])
    assert i.matches({"status": "open"}) and i.matches({"status": 2.0}) and not i.matches({"status": "done"})
    assert not f.matches(None)


def test_equal_filters_are_one_filter() -> None:
    a = parse_filter([["team", "==", "x"], ["done", "==", False]])
    b = parse_filter({"done": False, "team": "x", "team ": "y"} | {"team ": "y"})
    c = parse_filter([["done", "==", False], ["team", "==", "x"], ["team", "==", "x"]])
    assert a == c and hash(a) == hash(c) and a.key == c.key
    assert a != b


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "non-empty"),
        ("team = x", "non-empty"),
        ([["team", "=", "x"]], "op must be one of"),
        ([["", "==", "x"]], "field is a name"),
        ([["team", "==", ["x"]]], "must be a string, number"),
        ([["team", "==", {"a": 1}]], "must be a string, number"),
        ([["n", "<", float("nan")]], "finite"),
        ([["t", "in", []]], "'in' takes a list"),
        ([["t", "in", "abc"]], "'in' takes a list"),
        ([["t", "==", 1]] * (MAX_CONDS + 1), f"at most {MAX_CONDS}"),
        ([["t", "==", "x" * 2000]], "at most 1024"),
        ([["t", "=="]], "[field, op, value]"),
    ],
)
def test_bad_filters_say_why(raw: Any, message: str) -> None:
    with pytest.raises(FilterError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_filter(raw)


def test_transitions() -> None:
    f = parse_filter({"team": "x"})
    assert f.transition(None, {"team": "x"}) == "enter"
    assert f.transition({"team": "y"}, {"team": "x"}) == "enter"
    assert f.transition({"team": "x"}, {"team": "x", "v": 2}) == "stay"
    assert f.transition({"team": "x"}, {"team": "y"}) == "leave"
    assert f.transition({"team": "x"}, None) == "leave"
    assert f.transition({"team": "y"}, {"team": "z"}) is None
    assert f.transition(None, None) is None


def test_templates_bind_params_and_claims() -> None:
    t = parse_template(
        "room_messages",
        "messages",
        [
            ["room", "==", {"param": "room"}],
            ["team", "==", {"claim": "team"}],
            ["ts", ">=", {"param": "since"}],
        ],
    )
    assert t.params == {"room", "since"}
    f = bind(t, {"room": "R", "since": 10}, {"team": "red"})
    assert f == parse_filter([["room", "==", "R"], ["team", "==", "red"], ["ts", ">=", 10]])
    # a list claim (the user's teams) becomes `in`
    g = bind(t, {"room": "R", "since": 0}, {"team": ["red", "blue"]})
    assert g.matches({"room": "R", "team": "blue", "ts": 1}) and not g.matches(
        {"room": "R", "team": "green", "ts": 1}
    )
    with pytest.raises(FilterError, match="parameter 'since' missing"):
        bind(t, {"room": "R"}, {"team": "red"})
    with pytest.raises(FilterError, match="unknown parameters"):
        bind(t, {"room": "R", "since": 0, "team": "blue"}, {"team": "red"})  # no claim spoofing
    with pytest.raises(FilterError, match="no claim 'team'"):
        bind(t, {"room": "R", "since": 0}, {})
    with pytest.raises(FilterError, match="must be a string"):
        bind(t, {"room": ["R"], "since": 0}, {"team": "red"})
    with pytest.raises(FilterError, match="placeholder"):
        parse_template("bad", "c", [["room", "==", {"param": "a", "claim": "b"}]])
    ranged = parse_template("r", "c", [["level", ">=", {"claim": "levels"}]])
    with pytest.raises(FilterError, match="list claim"):
        bind(ranged, {}, {"levels": [1, 2]})


def test_index_files_by_equality_and_counts_subscriptions() -> None:
    idx = FilterIndex()
    x = parse_filter({"team": "x"})
    xo = parse_filter([["team", "==", "x"], ["done", "==", False]])
    many = parse_filter([["team", "in", ["y", "z"]]])
    ranged = parse_filter([["n", ">", 3]])
    for f in (x, x, xo, many, ranged):
        idx.add(f)
    assert len(idx) == 4 and idx.refs[x] == 2
    assert idx.candidates({"team": "x", "done": False}) == {x, xo, ranged}
    assert idx.candidates({"team": "x"}) == {x, ranged}  # xo is filed under done == False
    assert idx.candidates({"team": "z"}) == {many, ranged}
    assert idx.candidates({"team": "q"}) == {ranged}
    assert dict(idx.affected({"team": "x", "done": False}, {"team": "z", "n": 4})) == {
        x: "leave",
        xo: "leave",
        many: "enter",
        ranged: "enter",
    }
    assert idx.remove(x) == 1 and idx.remove(x) == 0 and idx.remove(x) == 0
    for f in (xo, many, ranged):
        idx.remove(f)
    assert len(idx) == 0 and not idx.buckets and not idx.fields and not idx.unfiled


values = st.one_of(
    st.sampled_from(["a", "b", "c"]), st.integers(-2, 2), st.sampled_from([0.5, 1.0, True, False, None])
)
fields = st.sampled_from(["team", "n", "done"])
conds = st.one_of(
    st.tuples(fields, st.sampled_from(["==", "<", "<=", ">", ">="]), values).map(list),
    st.tuples(fields, st.just("in"), st.lists(values, min_size=1, max_size=3)).map(list),
)
filters = st.lists(conds, min_size=1, max_size=3).map(parse_filter)
docs = st.one_of(st.none(), st.dictionaries(fields, values, max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.lists(filters, min_size=1, max_size=12), st.lists(st.tuples(docs, docs), max_size=8), st.data())
def test_the_index_finds_exactly_what_brute_force_finds(
    registered: list[Any], changes: list[tuple[Any, Any]], data: st.DataObject
) -> None:
    idx = FilterIndex()
    for f in registered:
        idx.add(f)
    # drop some subscriptions again: what is left must still be found, and only that
    live = list(registered)
    for f in data.draw(st.lists(st.sampled_from(registered), max_size=len(registered))):
        if f in live:
            live.remove(f)
            idx.remove(f)
    for old, new in changes:
        brute = {f: f.transition(old, new) for f in set(live)}
        assert dict(idx.affected(old, new)) == {f: t for f, t in brute.items() if t is not None}
