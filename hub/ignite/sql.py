"""SQL fields queries in the thin-client wire format: the request the hub sends itself and the pages it
reads back with :class:`~hub.ignite.decode.BinaryReader` (pure: bytes in, values out).

pyignite parses every value of a SQL response with its own awaits and ctypes classes built per row,
which made SQL reads of the meta tables (settle, catch-up, subset pages) a large share of the hub's
CPU. The layout, as Ignite's ``ClientCacheSqlFieldsQueryRequest`` reads it (no feature bits that add
fields are negotiated: pyignite's handshake offers none of them)::

    OP_QUERY_SQL_FIELDS (2004)   int cache id (0) · byte flags (0) · String schema · int page size ·
                                 int max rows · String query · int arg count · args (typed values) ·
                                 byte statement type · bool distributed joins · bool local ·
                                 bool replicated only · bool enforce join order · bool collocated ·
                                 bool lazy · long timeout ms · bool include field names
        response                 long cursor id · int column count · page
    OP_..._CURSOR_GET_PAGE (2005)  long cursor id
        response                 page
    page                         int row count · (row count * column count) values · bool more

The server closes a cursor itself once it sent the last page (``more`` false); an unfinished one stays
open until OP_RESOURCE_CLOSE or the end of the connection.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from hub.core.errors import BinaryDecodeError, FastPathUnavailable

from .decode import BinaryReader
from .protocol import I32, I64, NULL, TypeCode, encode_string

__all__ = ["encode_args", "encode_query", "read_first_page", "read_page"]

_LONG = struct.Struct("<bq")
_DOUBLE = struct.Struct("<bd")
_INT64 = (-(1 << 63), (1 << 63) - 1)
# plain ints: comparing with an IntEnum member costs an attribute lookup per value
_STRING_CODE, _LONG_CODE, _BOOL_CODE, _NULL_CODE = (
    int(TypeCode.STRING),
    int(TypeCode.LONG),
    int(TypeCode.BOOL),
    int(TypeCode.NULL),
)
_int = I32.unpack_from
_long = I64.unpack_from
_BOOL = {True: bytes([TypeCode.BOOL, 1]), False: bytes([TypeCode.BOOL, 0])}
# statement type ANY (0), then distributed joins, local, replicated only (all false)
_AFTER_ARGS = b"\x00\x00\x00\x00"


def encode_arg(value: Any) -> bytes:
    """One query argument, typed as pyignite types it (int -> long, float -> double, str, bool, None).

    Raises:
        FastPathUnavailable: another type (the caller hands the query to pyignite).
    """
    kind = type(value)
    if kind is str:
        return encode_string(value)
    if kind is bool:
        return _BOOL[value]
    if kind is int:
        if not _INT64[0] <= value <= _INT64[1]:
            raise FastPathUnavailable(f"query argument {value} does not fit a long")
        return _LONG.pack(TypeCode.LONG, value)
    if kind is float:
        return _DOUBLE.pack(TypeCode.DOUBLE, value)
    if value is None:
        return NULL
    raise FastPathUnavailable(f"query argument of type {kind.__name__}")


def encode_args(args: Sequence[Any]) -> bytes:
    return I32.pack(len(args)) + b"".join(encode_arg(a) for a in args)


def encode_query(
    query: str,
    args: Sequence[Any],
    page_size: int,
    *,
    schema: str | None = "PUBLIC",
    enforce_join_order: bool = False,
) -> bytes:
    """The OP_QUERY_SQL_FIELDS payload: no cache (``schema`` names the schema), every row
    (max rows -1), no timeout, no field names; options as pyignite's ``client.sql`` defaults them."""
    if page_size < 1:
        raise ValueError(f"page size must be positive, not {page_size}")
    head = I32.pack(0) + b"\x00"  # cache id 0 (none), flags 0 (no transaction, no expiry policy)
    head += NULL if schema is None else encode_string(schema)
    head += I32.pack(page_size) + I32.pack(-1) + encode_string(query) + encode_args(args)
    flags = _AFTER_ARGS + bytes([enforce_join_order, 0, 0])  # enforce join order, collocated, lazy
    return head + flags + I64.pack(0) + b"\x00"  # timeout 0 (none), include field names: no


def read_page(r: BinaryReader, columns: int) -> tuple[list[list[Any]], bool]:
    """One page at the reader's position: its rows (lists of ``columns`` values) and the more flag.

    The types of the meta tables' columns (VARCHAR, BIGINT, BOOLEAN, NULL) are read inline: through
    :meth:`BinaryReader.read` a value costs about three times as much, and a page is thousands of them.
    """
    buf, pos = r.buf, r.pos
    size = len(buf)
    try:
        n = _int(buf, pos)[0]
        if n < 0:
            raise BinaryDecodeError(f"negative row count {n}")
        pos += 4
        rows: list[list[Any]] = []
        for _ in range(n):
            row: list[Any] = []
            add = row.append
            for _ in range(columns):
                code = buf[pos]
                if code == _STRING_CODE:
                    end = pos + 5 + _int(buf, pos + 1)[0]
                    if end > size or end < pos + 5:
                        raise BinaryDecodeError(f"truncated string at {pos}")
                    add(str(buf[pos + 5 : end], "utf-8", "surrogatepass"))
                    pos = end
                elif code == _LONG_CODE:
                    add(_long(buf, pos + 1)[0])
                    pos += 9
                elif code == _BOOL_CODE:
                    add(buf[pos + 1] != 0)
                    pos += 2
                elif code == _NULL_CODE:
                    add(None)
                    pos += 1
                else:
                    r.pos = pos
                    add(r.read())
                    pos = r.pos
            rows.append(row)
        more = buf[pos] != 0
    except (struct.error, IndexError):
        raise BinaryDecodeError(f"truncated SQL page at {pos}") from None
    r.pos = pos + 1
    return rows, more


def read_first_page(r: BinaryReader) -> tuple[int, int, list[list[Any]], bool]:
    """The OP_QUERY_SQL_FIELDS response: cursor id, column count, the first page's rows and more flag."""
    cursor = r.i64()
    columns = r.i32()
    if columns < 0:
        raise BinaryDecodeError(f"negative column count {columns}")
    rows, more = read_page(r, columns)
    return cursor, columns, rows, more
