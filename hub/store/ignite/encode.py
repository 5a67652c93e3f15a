"""Ignite binary objects written directly, without pyignite's per-field serialiser.

The writing counterpart of :mod:`hub.ignite.decode`. pyignite serialises a ``GenericObjectMeta``
instance field by field in pure Python (ctypes structures per field, a schema lookup and a type
registration check per object), which dominated the hub's write path. :class:`ObjectLayout` writes
the same bytes (header, fields, footer, hash code, exactly as pyignite lays them out; tests compare
the two byte for byte) and callers hand them to pyignite as ``(bytes, RawBinary)``, a type hint
that pyignite writes verbatim. :func:`string_key` does the same for String cache keys.

Registering a layout's binary type schema in the cluster is the caller's job
(:meth:`hub.store.ignite.values.ValueType.register`).
"""

from __future__ import annotations

import struct
from typing import Any

from pyignite.datatypes import (  # type: ignore[import-untyped,unused-ignore]
    BoolObject,
    ByteArrayObject,
    ByteObject,
    DoubleObject,
    FloatObject,
    IntObject,
    LongObject,
    ShortObject,
    String,
)
from pyignite.datatypes.base import IgniteDataType  # type: ignore[import-untyped,unused-ignore]
from pyignite.stream import BinaryStream  # type: ignore[import-untyped,unused-ignore]
from pyignite.utils import entity_id, hashcode, schema_id  # type: ignore[import-untyped,unused-ignore]

__all__ = ["ObjectLayout", "RawBinary", "string_key"]

_TC_OBJECT = 103
_NULL = bytes([101])
_FLAG_USER_TYPE = 0x0001
_FLAG_HAS_SCHEMA = 0x0002
_FLAG_OFFSET_1 = 0x0008
_FLAG_OFFSET_2 = 0x0010
_FLAG_COMPACT = 0x0020
_HEADER = struct.Struct("<bbhiiiii")  # type code, version, flags, type id, hash, length, schema id, offset
_HEADER_LEN = _HEADER.size
_LONG = struct.Struct("<bq")
_INT = struct.Struct("<bi")
_SHORT = struct.Struct("<bh")
_BYTE = struct.Struct("<bb")
_DOUBLE = struct.Struct("<bd")
_FLOAT = struct.Struct("<bf")
_LEN = struct.Struct("<bi")
_TRUE = bytes([8, 1])
_FALSE = bytes([8, 0])


def _w_long(v: Any) -> bytes:
    return _LONG.pack(4, v)


def _w_int(v: Any) -> bytes:
    return _INT.pack(3, v)


def _w_short(v: Any) -> bytes:
    return _SHORT.pack(2, v)


def _w_byte(v: Any) -> bytes:
    return _BYTE.pack(1, v)


def _w_double(v: Any) -> bytes:
    return _DOUBLE.pack(6, v)


def _w_float(v: Any) -> bytes:
    return _FLOAT.pack(5, v)


def _w_bool(v: Any) -> bytes:
    return _TRUE if v else _FALSE


def _w_string(v: Any) -> bytes:
    raw: bytes = v.encode("utf-8")
    return _LEN.pack(9, len(raw)) + raw


def _w_bytes(v: Any) -> bytes:
    raw = bytes(v)
    return _LEN.pack(12, len(raw)) + raw


#: Field types written here directly (the common scalars); others go through pyignite's own writer.
_WRITERS: dict[Any, Any] = {
    LongObject: _w_long,
    IntObject: _w_int,
    ShortObject: _w_short,
    ByteObject: _w_byte,
    DoubleObject: _w_double,
    FloatObject: _w_float,
    BoolObject: _w_bool,
    String: _w_string,
    ByteArrayObject: _w_bytes,
}


def _pyignite_writer(hint: Any) -> Any:
    def write(v: Any) -> bytes:
        with BinaryStream(None) as stream:  # the client is only needed for nested binary objects
            hint.from_python(stream, v)
            return bytes(stream.getvalue())

    return write


class RawBinary(IgniteDataType):  # type: ignore[misc]
    """pyignite type hint for a value already in Ignite's binary format: ``put(k, (raw, RawBinary))``."""

    @classmethod
    def from_python(cls, stream: Any, value: bytes, **kwargs: Any) -> None:
        stream.write(value)

    @classmethod
    async def from_python_async(cls, stream: Any, value: bytes, **kwargs: Any) -> None:
        stream.write(value)


def string_key(key: str) -> tuple[bytes, Any]:
    """A String cache key pre-serialised for pyignite (keys of ``get_all``/``put_all``/``remove_keys``)."""
    return _w_string(key), RawBinary


class ObjectLayout:
    """One schema (ordered field names and types) of a binary type, written without pyignite."""

    __slots__ = ("data_class", "field_ids", "names", "schema_id", "type_id", "writers")

    def __init__(self, data_class: Any) -> None:
        self.data_class = data_class  # the pyignite class (registration, and readers of the schema)
        schema = data_class.schema
        self.names = tuple(schema)
        self.type_id = int(data_class.type_id)
        self.schema_id = int(schema_id(schema))
        self.field_ids = tuple(int(entity_id(n)) for n in self.names)
        self.writers = tuple(_WRITERS.get(hint) or _pyignite_writer(hint) for hint in schema.values())

    def write(self, values: Any, compact: bool = True) -> bytes:
        """The binary object holding ``values`` (in schema order; None = null), as pyignite writes it."""
        parts: list[bytes] = []
        offsets: list[int] = []
        pos = _HEADER_LEN
        for write, v in zip(self.writers, values, strict=True):
            b = _NULL if v is None else write(v)
            offsets.append(pos)
            pos += len(b)
            parts.append(b)
        data = b"".join(parts)
        last = offsets[-1] if offsets else 0
        flags = _FLAG_USER_TYPE | _FLAG_HAS_SCHEMA
        if last < 255:
            flags |= _FLAG_OFFSET_1
            fmt = "B"
        elif last < 65535:
            flags |= _FLAG_OFFSET_2
            fmt = "H"
        else:
            fmt = "I"
        n = len(offsets)
        if compact:
            flags |= _FLAG_COMPACT
            footer = struct.pack(f"<{n}{fmt}", *offsets)
        else:
            footer = struct.pack(
                "<" + ("i" + fmt) * n,
                *(x for pair in zip(self.field_ids, offsets, strict=True) for x in pair),
            )
        schema_offset = _HEADER_LEN + len(data)
        header = _HEADER.pack(
            _TC_OBJECT,
            1,
            flags,
            self.type_id,
            hashcode(data),
            schema_offset + len(footer),
            self.schema_id,
            schema_offset,
        )
        return header + data + footer
