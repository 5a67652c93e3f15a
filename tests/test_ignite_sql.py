"""hub.ignite.sql: the request layout and the page reader (its inline types against the generic reader)."""

from __future__ import annotations

import struct
import uuid
from typing import Any

import pytest

from hub.core.errors import BinaryDecodeError, FastPathUnavailable
from hub.ignite.decode import BinaryReader
from hub.ignite.protocol import I32, I64, NULL, TypeCode, encode_string
from hub.ignite.sql import encode_args, encode_query, read_first_page, read_page


def value(v: Any) -> bytes:
    if isinstance(v, uuid.UUID):
        hi, lo = divmod(v.int, 1 << 64)
        return bytes([TypeCode.UUID]) + struct.pack("<QQ", hi, lo)
    if isinstance(v, float):
        return struct.pack("<bd", TypeCode.DOUBLE, v)
    if isinstance(v, tuple):  # ("int", n): a 32-bit INT column
        return struct.pack("<bi", TypeCode.INT, v[1])
    return encode_args([v])[4:]


ROWS: list[list[Any]] = [
    ["doc-1", 1 << 60, -(1 << 63), True],
    ["ünï ✓ \U0001f600", 0, None, False],
    [None, ("int", -7), 2.5, uuid.UUID(int=(1 << 127) + 5)],
    ["", -1, 7, None],
]


def page(rows: list[list[Any]], more: bool) -> bytes:
    body = I32.pack(len(rows)) + b"".join(value(v) for row in rows for v in row)
    return body + bytes([more])


def plain(rows: list[list[Any]]) -> list[list[Any]]:
    return [[v[1] if isinstance(v, tuple) else v for v in row] for row in rows]


def test_read_page_inline_and_generic_types_alike() -> None:
    buf = b"junk" + page(ROWS, True) + b"after"
    r = BinaryReader(buf, 4, {})
    rows, more = read_page(r, 4)
    assert rows == plain(ROWS) and more is True
    assert [[type(v) for v in row] for row in rows] == [[type(v) for v in row] for row in plain(ROWS)]
    assert buf[r.pos :] == b"after"
    # the generic reader reads the same values
    g = BinaryReader(buf, 8, {})
    assert [[g.read() for _ in range(4)] for _ in ROWS] == rows


def test_first_page() -> None:
    buf = I64.pack(42) + I32.pack(4) + page(ROWS[:1], False)
    assert read_first_page(BinaryReader(buf, 0, {})) == (42, 4, plain(ROWS[:1]), False)
    assert read_first_page(BinaryReader(I64.pack(9) + I32.pack(2) + page([], False), 0, {})) == (
        9,
        2,
        [],
        False,
    )


@pytest.mark.parametrize("cut", [1, 3, 6, 20, 60])
def test_truncated_pages_are_decode_errors(cut: int) -> None:
    buf = page(ROWS, False)
    with pytest.raises(BinaryDecodeError):
        read_page(BinaryReader(buf[: len(buf) - cut], 0, {}), 4)


def test_bad_counts() -> None:
    with pytest.raises(BinaryDecodeError, match="negative row count"):
        read_page(BinaryReader(I32.pack(-1) + b"\x00", 0, {}), 1)
    with pytest.raises(BinaryDecodeError, match="negative column count"):
        read_first_page(BinaryReader(I64.pack(1) + I32.pack(-2) + I32.pack(0) + b"\x00", 0, {}))


def test_args_are_typed_as_pyignite_types_them() -> None:
    assert encode_args(["a", 5, 2.5, True, None]) == (
        I32.pack(5)
        + encode_string("a")
        + struct.pack("<bq", TypeCode.LONG, 5)
        + struct.pack("<bd", TypeCode.DOUBLE, 2.5)
        + bytes([TypeCode.BOOL, 1])
        + NULL
    )
    for bad in (uuid.UUID(int=1), b"x", 1 << 63, [1]):
        with pytest.raises(FastPathUnavailable):
            encode_args([bad])


def test_query_layout() -> None:
    raw = encode_query("SELECT ?", [1], 100, enforce_join_order=True)
    head = I32.pack(0) + b"\x00" + encode_string("PUBLIC") + I32.pack(100) + I32.pack(-1)
    head += encode_string("SELECT ?") + encode_args([1])
    # statement type ANY, distributed joins, local, replicated only, enforce join order, collocated,
    # lazy, timeout (long), include field names
    assert raw == head + bytes([0, 0, 0, 0, 1, 0, 0]) + I64.pack(0) + b"\x00"
    with pytest.raises(ValueError, match="page size"):
        encode_query("SELECT 1", [], 0)
