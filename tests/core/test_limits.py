from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core import messages as m
from hub.core.limits import DEFAULT_DOC_LIMITS, OVERSIZE, DocLimits, Oversize, check, doc_size, fit
from hub.core.types import Change, MutationResult


def nested(levels: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        doc = {"d": doc}
    return doc


def test_a_document_within_the_limits_passes() -> None:
    assert check({"a": 1, "l": list(range(10_000)), "m": {str(i): i for i in range(10_000)}}) is None
    assert check(nested(16)) is None


def test_each_limit_is_named_with_its_value() -> None:
    assert check({"l": list(range(10_001))}) == Oversize("entries", 10_000, 10_001)
    assert check({str(i): i for i in range(10_001)}) == Oversize("entries", 10_000, 10_001)
    assert check(nested(17)) == Oversize("depth", 16, 17)
    over = check({"s": "x" * (256 * 1024)})
    assert over is not None and over.reason == "bytes" and over.limit == 256 * 1024 and over.size > over.limit


def test_for_frame_keeps_one_document_inside_a_frame() -> None:
    assert DEFAULT_DOC_LIMITS.for_frame(1 << 20) == DEFAULT_DOC_LIMITS
    assert DocLimits().for_frame(64 * 1024).bytes == 60 * 1024


def test_fit_replaces_an_oversize_document_by_its_placeholder() -> None:
    assert fit(None) is None
    assert fit({"a": 1}) == {"a": 1}
    assert fit({"l": list(range(10_001))}) == {
        OVERSIZE: {"reason": "entries", "limit": 10_000, "size": 10_001}
    }


def test_changes_and_results_carry_placeholders() -> None:
    big = {"l": list(range(20_000))}
    placeholder = {OVERSIZE: {"reason": "entries", "limit": 10_000, "size": 20_000}}
    frame = m.chg("c", [Change("a", 5, big), Change("b", 6, {"x": 1}), Change("c", 7, None)], ("e", 7))
    assert frame["changes"] == [["a", 5, placeholder], ["b", 6, {"x": 1}], ["c", 7, None]]
    assert m.page("c", 1, [Change("a", 5, big)], 1, None)["changes"] == [["a", 5, placeholder]]
    assert MutationResult(1, "conflict", 5, big).to_wire()["doc"] == placeholder


def test_values_the_codec_does_not_know_count_as_nine_bytes() -> None:
    assert check({"t": dt.time(1, 2)}, DocLimits(bytes=1 + 2 + 9)) is None
    assert check({"t": dt.time(1, 2)}, DocLimits(bytes=1 + 2 + 8)) == Oversize("bytes", 11, 12)


@settings(max_examples=300)
@given(
    st.dictionaries(
        st.text(max_size=12),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(min_value=-(2**63), max_value=2**64 - 1),
            st.floats(allow_nan=False),
            st.text(max_size=40),
            st.lists(
                st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text(max_size=8)),
                max_size=6,
            ),
        ),
        max_size=12,
    ),
    st.integers(min_value=1, max_value=600),
)
def test_the_cheap_bound_never_lets_an_oversize_document_pass(doc: dict[str, Any], limit: int) -> None:
    """Flat documents pass on a bound, without the walk: the verdict must be the walk's."""
    limits = DocLimits(bytes=limit)
    assert (check(doc, limits) is None) == (doc_size(doc) <= limit)
