"""hub.core.doc: id validation and the content hash."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import UTC, date, datetime
from decimal import Decimal
from types import MappingProxyType, SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hub.core.doc as doc_module
from hub.core.doc import DELETED_HASH, ID_FIELD, MAX_ID_BYTES, check_id, doc_hash
from hub.core.errors import BadMessage

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)
DOCS = st.dictionaries(st.text(max_size=4), VALUES, max_size=5)


# -- check_id ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "x" * MAX_ID_BYTES, "é" * (MAX_ID_BYTES // 2), "日本"])
def test_valid_ids(value: str) -> None:
    assert check_id(value) == value


@pytest.mark.parametrize(
    "value",
    ["", "x" * (MAX_ID_BYTES + 1), "é" * (MAX_ID_BYTES // 2 + 1), None, 1, b"abc", ["a"]],
    ids=["empty", "too-long", "too-long-utf8", "none", "int", "bytes", "list"],
)
def test_invalid_ids(value: object) -> None:
    with pytest.raises(BadMessage, match="document id"):
        check_id(value)


def test_id_that_is_not_encodable_is_a_bad_message() -> None:
    # A lone surrogate is a str but not valid UTF-8: it must be refused as a BadMessage like
    # any other bad id, not leak a UnicodeEncodeError out of the validator.
    with pytest.raises(BadMessage):
        check_id("a\ud800")


# -- doc_hash ---------------------------------------------------------------------------------


def test_absent_document_hashes_to_the_deleted_marker() -> None:
    assert DELETED_HASH == 0
    assert doc_hash(None) == 0


def test_empty_document_is_present() -> None:
    assert doc_hash({}) != DELETED_HASH


def test_scalars_of_different_kinds_differ() -> None:
    kinds: list[Any] = [1, 1.0, True, "1", b"1", [1], {"1": 1}, None, 0, 0.0, False, "", b"", -0.0]
    hashes = [doc_hash({"v": v}) for v in kinds]
    assert len(set(hashes)) == len(kinds)


def test_map_order_does_not_matter() -> None:
    a = {"x": 1, "y": {"p": [1, 2], "q": "s"}}
    b = {"y": {"q": "s", "p": [1, 2]}, "x": 1}
    assert doc_hash(a) == doc_hash(b)
    assert doc_hash(OrderedDict(reversed(list(a.items())))) == doc_hash(a)
    assert doc_hash(MappingProxyType(a)) == doc_hash(a)


def test_list_order_matters() -> None:
    assert doc_hash({"l": [1, 2]}) != doc_hash({"l": [2, 1]})


def test_top_level_id_is_ignored() -> None:
    assert ID_FIELD == "id"
    assert doc_hash({"id": "a", "x": 1}) == doc_hash({"x": 1}) == doc_hash({"id": "b", "x": 1})
    assert doc_hash({"n": {"id": "a"}}) != doc_hash({"n": {}})  # only the top-level field


def test_lengths_delimit_strings_and_bytes() -> None:
    assert doc_hash({"l": ["ab", "c"]}) != doc_hash({"l": ["a", "bc"]})
    assert doc_hash({"l": [b"ab", b"c"]}) != doc_hash({"l": [b"a", b"bc"]})
    assert doc_hash({"ab": "c"}) != doc_hash({"a": "bc"})
    assert doc_hash({"l": [[1], 2]}) != doc_hash({"l": [[1, 2]]})


def test_coerced_forms_hash_alike() -> None:
    # Values that Ignite hands back in another Python form must keep the hash.
    assert doc_hash({"l": (1, 2)}) == doc_hash({"l": [1, 2]})
    assert doc_hash({"b": bytearray(b"ab")}) == doc_hash({"b": b"ab"}) == doc_hash({"b": memoryview(b"ab")})
    assert doc_hash({"d": Decimal("1.50")}) == doc_hash({"d": Decimal("1.5")})


def test_other_ignite_types() -> None:
    moment = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    day = date(2024, 5, 1)
    uid = UUID("12345678-1234-5678-1234-567812345678")
    values: list[Any] = [moment, day, datetime(2024, 5, 1), Decimal("1"), uid, str(uid), "2024-05-01"]
    hashes = [doc_hash({"v": v}) for v in values]
    assert len(set(hashes)) == len(values)
    assert doc_hash({"v": moment}) == doc_hash({"v": datetime(2024, 5, 1, 12, 30, tzinfo=UTC)})


class _Opaque:
    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __repr__(self) -> str:
        return f"Opaque({self.tag})"


def test_unknown_types_hash_by_repr() -> None:
    assert doc_hash({"o": _Opaque("a")}) == doc_hash({"o": _Opaque("a")})
    assert doc_hash({"o": _Opaque("a")}) != doc_hash({"o": _Opaque("b")})
    assert doc_hash({"o": _Opaque("a")}) != doc_hash({"o": "Opaque(a)"})


def test_a_zero_digest_still_means_present(monkeypatch: pytest.MonkeyPatch) -> None:
    class ZeroDigest:
        def update(self, data: bytes) -> None:
            pass

        def digest(self) -> bytes:
            return b"\x00" * 7 + b"\x80"  # only the bit that the 63-bit mask drops

    def fake_blake2b(digest_size: int) -> ZeroDigest:
        assert digest_size == 8
        return ZeroDigest()

    monkeypatch.setattr(doc_module, "hashlib", SimpleNamespace(blake2b=fake_blake2b))
    assert doc_hash({"x": 1}) == 1


def test_hash_is_stable() -> None:
    # The hash is stored in Ignite next to the data: it must not change between releases.
    digest = hashlib.blake2b(b"{s1:xi1;}", digest_size=8).digest()
    assert doc_hash({"x": 1}) == int.from_bytes(digest, "little") & (2**63 - 1)


@given(DOCS)
def test_present_documents_hash_to_positive_63_bit_ints(doc: dict[str, Any]) -> None:
    h = doc_hash(doc)
    assert 0 < h < 2**63
    assert h == doc_hash(dict(reversed(list(doc.items()))))
    assert h == doc_hash({**doc, "id": "ignored"})
