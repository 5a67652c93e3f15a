"""Decoding of Ignite binary-format values (as carried by CQ notifications) into plain Python.

:class:`BinaryReader` is synchronous and works on one frame buffer; the byte in front of each value selects
its reader function in a table indexed by type code. Complex objects (type 103) need binary type metadata
(field names, schema field order), cached per client by :class:`hub.ignite.metadata.BinaryDecoder`. When a
frame meets a type or schema it does not know yet, the synchronous pass raises :class:`NeedMetadata`; the
decoder then awaits the metadata and decodes the frame again. The value and metadata types are
:mod:`hub.ignite.binary_types`.

Mapping: complex object -> :class:`BinaryObject` (a ``dict`` with ``type_name``/``type_id``); map -> dict;
collection/array -> list; String -> str; byte[] -> bytes; UUID -> uuid.UUID; Date/Timestamp -> aware
``datetime`` (UTC); Time -> ``datetime.time``; decimal -> ``Decimal``; enum -> :class:`BinaryEnum`.
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hub.core.errors import BinaryDecodeError

from .binary_types import (
    BinaryEnum,
    BinaryObject,
    NeedMetadata,
    TypeMeta,
    hashable,
    java_datetime,
    java_decimal,
    java_time,
)
from .protocol import F32, F64, I8, I16, I32, I64, U16, TypeCode

# The value types live in binary_types.py; re-exported because callers and tests import them from here.
__all__ = ["BinaryEnum", "BinaryObject", "BinaryReader", "NeedMetadata", "TypeMeta", "hashable"]

_I64I32 = struct.Struct("<qi")
_U64U64 = struct.Struct("<QQ")
# complex object header after the type byte: version, flags, typeId, hash, length, schemaId, schemaOffset
_OBJ_HDR = struct.Struct("<BhiiiiI")

# complex-object header flags
_FLAG_USER_TYPE = 0x0001
_FLAG_HAS_SCHEMA = 0x0002
_FLAG_HAS_RAW = 0x0004
_FLAG_OFFSET_1 = 0x0008
_FLAG_OFFSET_2 = 0x0010
_FLAG_COMPACT = 0x0020

_MAX_DEPTH = 64


class BinaryReader:
    """One synchronous decoding pass over ``buf`` with known metadata ``meta``.

    :meth:`read` reads one value: its type byte selects the reader function in ``_READERS`` (a table
    indexed by type code); callers with their own framing (CQ batches, getAll maps, scan pages) mix
    :meth:`read` with :meth:`i32` and :meth:`u8`.
    """

    __slots__ = ("buf", "meta", "pos")

    def __init__(self, buf: bytes | bytearray | memoryview, pos: int, meta: dict[int, TypeMeta]) -> None:
        self.buf = buf
        self.pos = pos
        self.meta = meta

    # -- primitives -------------------------------------------------------------------------------------
    def _need(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.buf):
            raise BinaryDecodeError(f"truncated binary data at {self.pos} (need {n} bytes)")

    def u8(self) -> int:
        self._need(1)
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def i32(self) -> int:
        self._need(4)
        v: int = I32.unpack_from(self.buf, self.pos)[0]
        self.pos += 4
        return v

    def i64(self) -> int:
        self._need(8)
        v: int = I64.unpack_from(self.buf, self.pos)[0]
        self.pos += 8
        return v

    def _fixed(self, st: struct.Struct) -> Any:
        self._need(st.size)
        v = st.unpack_from(self.buf, self.pos)[0]
        self.pos += st.size
        return v

    def _raw(self, n: int) -> bytes:
        self._need(n)
        v = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return v

    def _items(self, n: int, depth: int) -> list[Any]:
        if n < 0:
            raise BinaryDecodeError(f"negative array length {n}")
        return [self.read(depth + 1) for _ in range(n)]

    def _prim_array(self, fmt: str, size: int) -> list[Any]:
        n = self.i32()
        self._need(n * size)
        vals = list(struct.unpack_from(f"<{n}{fmt}", self.buf, self.pos))
        self.pos += n * size
        return vals

    # -- values -----------------------------------------------------------------------------------------
    def read(self, depth: int = 0) -> Any:
        """Read the value at the current position (type byte and body) and move past it."""
        if depth > _MAX_DEPTH:
            raise BinaryDecodeError("binary object nested too deeply")
        start = self.pos
        code = self.u8()
        reader = _READERS[code]
        if reader is None:
            raise BinaryDecodeError(f"unsupported binary type code {code} at offset {start}")
        return reader(self, depth, start)

    def _enum(self, type_id: int, ordinal: int) -> BinaryEnum:
        meta = self.meta.get(type_id)
        if meta is None:
            if type_id == 0:
                return BinaryEnum(type_id, ordinal)
            raise NeedMetadata(type_id, None)
        return BinaryEnum(type_id, ordinal, meta.type_name, meta.enum_names.get(ordinal))

    def _complex(self, depth: int) -> Any:
        start = self.pos
        self._need(24)
        _version, flags, type_id, _hash, length, schema_id, schema_off = _OBJ_HDR.unpack_from(
            self.buf, start + 1
        )
        if length < 24 or start + length > len(self.buf):
            raise BinaryDecodeError(f"bad complex object length {length} at {start}")
        end = start + length
        self.pos = end
        if not flags & _FLAG_USER_TYPE:
            raise BinaryDecodeError(f"unsupported non-user complex object type {type_id}")
        meta = self.meta.get(type_id)
        schema_end = end - 4 if flags & _FLAG_HAS_RAW else end
        if not flags & _FLAG_HAS_SCHEMA or schema_end <= start + schema_off:
            # No fields (an empty document): nothing to look up. Ignite may hold no metadata for
            # such a value at all, so asking for it would fail and lose the feed for nothing.
            return BinaryObject(meta.type_name if meta is not None else "", type_id)
        if meta is None:
            raise NeedMetadata(type_id, schema_id)
        result = BinaryObject(meta.type_name, type_id)
        if flags & _FLAG_OFFSET_1:
            off_size, off_fmt = 1, "B"
        elif flags & _FLAG_OFFSET_2:
            off_size, off_fmt = 2, "H"
        else:
            off_size, off_fmt = 4, "i"
        if flags & _FLAG_COMPACT:
            ids = meta.schemas.get(schema_id)
            if ids is None:
                raise NeedMetadata(type_id, schema_id)
            n = (schema_end - start - schema_off) // off_size
            if n != len(ids):
                raise BinaryDecodeError(f"schema {schema_id} of type {meta.type_name} has {len(ids)} fields")
            offsets = struct.unpack_from(f"<{n}{off_fmt}", self.buf, start + schema_off)
            pairs = list(zip(ids, offsets, strict=True))
        else:
            entry = 4 + off_size
            n = (schema_end - start - schema_off) // entry
            pair = struct.Struct("<i" + off_fmt)
            pairs = [pair.unpack_from(self.buf, start + schema_off + i * entry) for i in range(n)]
        names = meta.field_names
        for field_id, off in pairs:
            name = names.get(field_id)
            if name is None:
                raise NeedMetadata(type_id, schema_id)
            # each field is read where its offset points (no reader object per field: every
            # document of a page goes through here)
            self.pos = start + off
            result[name] = self.read(depth + 1)
        self.pos = end
        return result


# --------------------------------------------------------------------------- the type-code table
# Each reader gets the reader positioned after the type byte, the nesting depth and the offset of the
# type byte (complex objects and handles are addressed from there) and returns the decoded value.

Read = Callable[[BinaryReader, int, int], Any]


def _null(r: BinaryReader, depth: int, start: int) -> None:
    return None


def _fixed(st: struct.Struct) -> Read:
    return lambda r, depth, start: r._fixed(st)


def _prim_array(fmt: str, size: int) -> Read:
    return lambda r, depth, start: r._prim_array(fmt, size)


def _string(r: BinaryReader, depth: int, start: int) -> str:
    n = r.i32()
    r._need(n)
    s = bytes(r.buf[r.pos : r.pos + n]).decode("utf-8", errors="surrogatepass")
    r.pos += n
    return s


def _uuid(r: BinaryReader, depth: int, start: int) -> uuid.UUID:
    # Ignite writes the most- then the least-significant long, each little-endian
    r._need(16)
    hi, lo = _U64U64.unpack_from(r.buf, r.pos)
    r.pos += 16
    return uuid.UUID(int=(hi << 64) | lo)


def _timestamp(r: BinaryReader, depth: int, start: int) -> dt.datetime:
    r._need(12)
    ms, nanos = _I64I32.unpack_from(r.buf, r.pos)
    r.pos += 12
    return java_datetime(ms, nanos)


def _decimal_value(r: BinaryReader, depth: int, start: int) -> Decimal:
    scale = r.i32()
    n = r.i32()
    return java_decimal(scale, r._raw(n))


def _complex(r: BinaryReader, depth: int, start: int) -> Any:
    r.pos = start
    return r._complex(depth)


def _items(r: BinaryReader, depth: int, start: int) -> list[Any]:
    """Arrays of nullable typed items (each with its own type byte): int length, items."""
    return r._items(r.i32(), depth)


def _typed_items(r: BinaryReader, depth: int, start: int) -> list[Any]:
    """Object and enum arrays: int component type id, int length, items."""
    r.i32()
    return r._items(r.i32(), depth)


def _collection(r: BinaryReader, depth: int, start: int) -> list[Any]:
    """int length, byte collection type, items."""
    n = r.i32()
    r._fixed(I8)
    return r._items(n, depth)


def _map(r: BinaryReader, depth: int, start: int) -> dict[Any, Any]:
    """int length, byte map type, key/value pairs."""
    n = r.i32()
    r._fixed(I8)
    if n < 0:
        raise BinaryDecodeError(f"negative map length {n}")
    out: dict[Any, Any] = {}
    for _ in range(n):
        k = hashable(r.read(depth + 1))
        out[k] = r.read(depth + 1)
    return out


def _wrapped(r: BinaryReader, depth: int, start: int) -> Any:
    """A wrapped binary object: int length, bytes, int offset of the value inside them."""
    n = r.i32()
    inner_start = r.pos
    r._need(n + 4)
    offset: int = I32.unpack_from(r.buf, inner_start + n)[0]
    value = BinaryReader(r.buf[inner_start : inner_start + n], offset, r.meta).read(depth + 1)
    r.pos = inner_start + n + 4
    return value


def _enum(r: BinaryReader, depth: int, start: int) -> BinaryEnum:
    type_id = r.i32()
    ordinal = r.i32()
    return r._enum(type_id, ordinal)


def _handle(r: BinaryReader, depth: int, start: int) -> Any:
    """A back-reference to an object earlier in this buffer."""
    back = r.i32()
    target = start - back
    if back <= 0 or target < 0:
        raise BinaryDecodeError(f"bad handle offset {back} at {start}")
    return BinaryReader(r.buf, target, r.meta).read(depth + 1)


_BY_CODE: dict[int, Read] = {
    TypeCode.NULL: _null,
    TypeCode.BYTE: _fixed(I8),
    TypeCode.SHORT: _fixed(I16),
    TypeCode.INT: _fixed(I32),
    TypeCode.LONG: _fixed(I64),
    TypeCode.FLOAT: _fixed(F32),
    TypeCode.DOUBLE: _fixed(F64),
    TypeCode.CHAR: lambda r, depth, start: chr(r._fixed(U16)),
    TypeCode.BOOL: lambda r, depth, start: r.u8() != 0,
    TypeCode.STRING: _string,
    TypeCode.UUID: _uuid,
    TypeCode.DATE: lambda r, depth, start: java_datetime(r._fixed(I64)),
    TypeCode.TIMESTAMP: _timestamp,
    TypeCode.TIME: lambda r, depth, start: java_time(r._fixed(I64)),
    TypeCode.DECIMAL: _decimal_value,
    TypeCode.BYTE_ARR: lambda r, depth, start: r._raw(r.i32()),
    TypeCode.SHORT_ARR: _prim_array("h", 2),
    TypeCode.INT_ARR: _prim_array("i", 4),
    TypeCode.LONG_ARR: _prim_array("q", 8),
    TypeCode.FLOAT_ARR: _prim_array("f", 4),
    TypeCode.DOUBLE_ARR: _prim_array("d", 8),
    TypeCode.CHAR_ARR: lambda r, depth, start: [chr(c) for c in r._prim_array("H", 2)],
    TypeCode.BOOL_ARR: lambda r, depth, start: [b != 0 for b in r._raw(r.i32())],
    TypeCode.STRING_ARR: _items,
    TypeCode.UUID_ARR: _items,
    TypeCode.DATE_ARR: _items,
    TypeCode.DECIMAL_ARR: _items,
    TypeCode.TIMESTAMP_ARR: _items,
    TypeCode.TIME_ARR: _items,
    TypeCode.OBJ_ARR: _typed_items,
    TypeCode.ENUM_ARR: _typed_items,
    TypeCode.COLLECTION: _collection,
    TypeCode.MAP: _map,
    TypeCode.BINARY_OBJ: _wrapped,
    TypeCode.ENUM: _enum,
    TypeCode.BINARY_ENUM: _enum,
    TypeCode.HANDLE: _handle,
    TypeCode.COMPLEX_OBJ: _complex,
}

#: Reader per type byte (0..255), None for codes this decoder does not know: a tuple, because indexing it
#: is the cheapest dispatch on the hot path (CQ events, getAll, scans).
_READERS: tuple[Read | None, ...] = tuple(_BY_CODE.get(code) for code in range(256))
