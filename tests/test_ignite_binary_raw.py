"""hub.store.ignite.values: values written directly are byte for byte what pyignite writes."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pyignite.stream import BinaryStream

from hub.ignite.decode import TypeMeta
from hub.ignite.metadata import BinaryDecoder
from hub.store.ignite.encode import ObjectLayout, RawBinary
from hub.store.ignite.schema import MetaRow, SynchubMeta, encode_meta
from hub.store.ignite.values import ValueType


class _Client:
    def __init__(self, compact: bool) -> None:
        self.compact_footer = compact


def _pyignite_bytes(obj: Any, compact: bool) -> bytes:
    with BinaryStream(_Client(compact)) as stream:
        obj._from_python(stream)
        return bytes(stream.getvalue())


DOCS: list[dict[str, Any]] = [
    {"i": 1, "title": "concurrent write 1"},
    {"a": None, "b": True, "c": False, "d": -(1 << 63), "e": 1.5, "f": "", "g": b"\x00\xff"},
    {"s": "ünïcødé ✓ 😀", "n": 2**40},
    {"big": "x" * 300, "after": 7},
    {"huge": "y" * 70000, "after": 1},
    {"l": [1, "a", None, [2.5]], "m": {"k": {"n": [True]}}},
    {
        "t": dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC),
        "u": uuid.UUID(int=12345),
        "dec": Decimal("1.25"),
    },
]


@pytest.mark.parametrize("compact", [True, False])
@pytest.mark.parametrize("doc", DOCS)
def test_raw_value_equals_pyignite(doc: dict[str, Any], compact: bool) -> None:
    vt = ValueType("todo")
    (raw, hint), stored = vt.encode_raw(doc, compact)
    obj, stored2 = ValueType("todo").encode(doc)
    assert hint is RawBinary
    assert stored == stored2
    assert raw == _pyignite_bytes(obj, compact)


@pytest.mark.parametrize("compact", [True, False])
def test_meta_row_equals_pyignite(compact: bool) -> None:
    for row in (MetaRow(1 << 50, 7, "client-1", (1 << 63) - 1, False), MetaRow(3, 3, "", 0, True)):
        assert encode_meta(row, compact) == (_pyignite_bytes(row.to_ignite(), compact), RawBinary)[0]
        assert _pyignite_bytes(
            SynchubMeta(VER=row.ver, LWW=row.lww, BY=row.by, H=row.h, DEL=row.deleted), compact
        )


def test_layout_reads_back_with_the_cq_decoder() -> None:
    vt = ValueType("todo")
    (raw, _), stored = vt.encode_raw({"i": 3, "title": "x", "ok": True})
    layout: ObjectLayout = next(iter(vt._layouts.values()))
    dec = BinaryDecoder(None)
    dec.meta[layout.type_id] = TypeMeta(
        layout.type_id,
        "todo",
        dict(zip(layout.field_ids, layout.names, strict=True)),
        {layout.schema_id: list(layout.field_ids)},
    )
    value, end = dec.decode_sync(raw)
    assert end == len(raw)
    assert dict(value) == stored


@pytest.mark.parametrize("compact", [True, False])
def test_an_empty_document_decodes_without_metadata(compact: bool) -> None:
    """A value with no fields needs no type metadata (Ignite may hold none for it); asking for it
    failed and lost the feed of a collection where someone wrote ``{}``."""
    (raw, _), stored = ValueType("todo").encode_raw({}, compact)
    assert stored == {}
    value, end = BinaryDecoder(None).decode_sync(raw)  # no metadata cached at all
    assert end == len(raw)
    assert dict(value) == {}
