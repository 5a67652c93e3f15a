"""Decoding of Ignite binary-format values (as carried by CQ notifications) into plain Python.

The decoder is synchronous and works on one frame buffer. Complex objects (type 103) need binary type
metadata (field names, schema field order): it is fetched with OP_GET_BINARY_TYPE (3002) over one of the
client's *pooled* connections (never over the CQ connection, whose reader must not wait on itself) and
cached per client. When a frame meets a type or schema it does not know yet, the synchronous pass raises
``_NeedMetadata``; :meth:`BinaryDecoder.decode` then awaits the metadata and decodes the frame again.

Mapping: complex object -> :class:`BinaryObject` (a ``dict`` with ``type_name``/``type_id``); map -> dict;
collection/array -> list; String -> str; byte[] -> bytes; UUID -> uuid.UUID; Date/Timestamp -> aware
``datetime`` (UTC); Time -> ``datetime.time``; decimal -> ``Decimal``; enum -> :class:`BinaryEnum`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import struct
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple

__all__ = [
    "BinaryDecodeError",
    "BinaryDecoder",
    "BinaryEnum",
    "BinaryObject",
    "TypeMeta",
]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_I8 = struct.Struct("<b")
_I16 = struct.Struct("<h")
_U16 = struct.Struct("<H")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")
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


class BinaryDecodeError(ValueError):
    """The buffer is not valid Ignite binary data (or uses a type this decoder does not know)."""


class BinaryObject(dict[str, Any]):
    """A decoded Ignite complex object: its fields as a dict, plus the binary type name and id."""

    __slots__ = ("type_id", "type_name")

    def __init__(self, type_name: str, type_id: int, fields: dict[str, Any] | None = None) -> None:
        super().__init__(fields or {})
        self.type_name = type_name
        self.type_id = type_id

    def __repr__(self) -> str:
        return f"BinaryObject({self.type_name!r}, {dict.__repr__(self)})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BinaryObject):
            return self.type_name == other.type_name and dict.__eq__(self, other)
        return dict.__eq__(self, other)

    __hash__ = None

    def __reduce__(self) -> Any:
        return (BinaryObject, (self.type_name, self.type_id, dict(self)))


class BinaryEnum(NamedTuple):
    """An Ignite enum value; ``name`` is resolved from binary metadata when the type is registered."""

    type_id: int
    ordinal: int
    type_name: str | None = None
    name: str | None = None


@dataclass(slots=True)
class TypeMeta:
    """Binary type metadata needed to decode one complex type."""

    type_id: int
    type_name: str
    field_names: dict[int, str] = field(default_factory=dict)  # field id -> name
    schemas: dict[int, list[int]] = field(default_factory=dict)  # schema id -> field ids in order
    enum_names: dict[int, str] = field(default_factory=dict)  # ordinal -> literal


class _NeedMetadata(Exception):
    def __init__(self, type_id: int, schema_id: int | None) -> None:
        super().__init__(type_id, schema_id)
        self.type_id = type_id
        self.schema_id = schema_id


MetadataFetcher = Callable[[int], "asyncio.Future[TypeMeta | None] | Any"]


def _java_time(ms: int) -> dt.time:
    ms %= 86_400_000
    return (dt.datetime.min + dt.timedelta(milliseconds=ms)).time()


def _datetime(ms: int, nanos: int = 0) -> dt.datetime:
    return _EPOCH + dt.timedelta(milliseconds=ms, microseconds=nanos // 1000)


def _decimal(scale: int, mag: bytes) -> Decimal:
    if not mag:
        return Decimal(0)
    negative = bool(mag[0] & 0x80)
    if negative:
        mag = bytes([mag[0] & 0x7F]) + mag[1:]
    unscaled = int.from_bytes(mag, "big")
    digits = tuple(int(c) for c in str(unscaled))
    return Decimal((1 if negative else 0, digits, -scale))


class _Reader:
    """One synchronous decoding pass over ``buf`` with known metadata ``meta``."""

    __slots__ = ("buf", "meta", "pos")

    def __init__(self, buf: bytes | bytearray | memoryview, pos: int, meta: dict[int, TypeMeta]) -> None:
        self.buf = buf
        self.pos = pos
        self.meta = meta

    # -- primitives -------------------------------------------------------------------------------------
    def _need(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.buf):
            raise BinaryDecodeError(f"truncated binary data at {self.pos} (need {n} bytes)")

    def i8(self) -> int:
        self._need(1)
        v: int = _I8.unpack_from(self.buf, self.pos)[0]
        self.pos += 1
        return v

    def u8(self) -> int:
        self._need(1)
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def i32(self) -> int:
        self._need(4)
        v: int = _I32.unpack_from(self.buf, self.pos)[0]
        self.pos += 4
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

    def _string_body(self) -> str:
        n = self.i32()
        self._need(n)
        s = bytes(self.buf[self.pos : self.pos + n]).decode("utf-8", errors="surrogatepass")
        self.pos += n
        return s

    def _uuid_body(self) -> uuid.UUID:
        # Ignite writes the most- then the least-significant long, each little-endian
        self._need(16)
        hi, lo = _U64U64.unpack_from(self.buf, self.pos)
        self.pos += 16
        return uuid.UUID(int=(hi << 64) | lo)

    def _timestamp_body(self) -> dt.datetime:
        self._need(12)
        ms, nanos = _I64I32.unpack_from(self.buf, self.pos)
        self.pos += 12
        return _datetime(ms, nanos)

    def _decimal_body(self) -> Decimal:
        scale = self.i32()
        n = self.i32()
        return _decimal(scale, self._raw(n))

    def _array(self, n: int, item: Callable[[], Any]) -> list[Any]:
        if n < 0:
            raise BinaryDecodeError(f"negative array length {n}")
        return [item() for _ in range(n)]

    def _prim_array(self, fmt: str, size: int) -> list[Any]:
        n = self.i32()
        self._need(n * size)
        vals = list(struct.unpack_from(f"<{n}{fmt}", self.buf, self.pos))
        self.pos += n * size
        return vals

    # -- objects ----------------------------------------------------------------------------------------
    def read(self, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise BinaryDecodeError("binary object nested too deeply")
        start = self.pos
        code = self.u8()
        if code == 101:  # NULL
            return None
        if code == 3:
            return self.i32()
        if code == 9:
            return self._string_body()
        if code == 4:
            return self._fixed(_I64)
        if code == 103:
            self.pos = start
            return self._complex(depth)
        if code == 1:
            return self.i8()
        if code == 2:
            return self._fixed(_I16)
        if code == 5:
            return self._fixed(_F32)
        if code == 6:
            return self._fixed(_F64)
        if code == 7:
            return chr(self._fixed(_U16))
        if code == 8:
            return self.u8() != 0
        if code == 10:
            return self._uuid_body()
        if code == 11:
            return _datetime(self._fixed(_I64))
        if code == 12:
            return self._raw(self.i32())
        if code == 13:
            return self._prim_array("h", 2)
        if code == 14:
            return self._prim_array("i", 4)
        if code == 15:
            return self._prim_array("q", 8)
        if code == 16:
            return self._prim_array("f", 4)
        if code == 17:
            return self._prim_array("d", 8)
        if code == 18:
            return [chr(c) for c in self._prim_array("H", 2)]
        if code == 19:
            return [b != 0 for b in self._raw(self.i32())]
        if code in (20, 21, 22, 31, 34, 37):  # arrays of nullable typed items (each with its type byte)
            return self._array(self.i32(), lambda: self.read(depth + 1))
        if code == 23:  # object array: int componentTypeId, int length, objects
            self.i32()
            return self._array(self.i32(), lambda: self.read(depth + 1))
        if code == 24:  # collection: int length, byte collection type, objects
            n = self.i32()
            self.i8()
            return self._array(n, lambda: self.read(depth + 1))
        if code == 25:  # map: int length, byte map type, key/value pairs
            n = self.i32()
            self.i8()
            if n < 0:
                raise BinaryDecodeError(f"negative map length {n}")
            out: dict[Any, Any] = {}
            for _ in range(n):
                k = _hashable(self.read(depth + 1))
                out[k] = self.read(depth + 1)
            return out
        if code == 27:  # wrapped binary object: int length, bytes, int offset
            n = self.i32()
            inner_start = self.pos
            self._need(n + 4)
            offset: int = _I32.unpack_from(self.buf, inner_start + n)[0]
            inner = _Reader(self.buf[inner_start : inner_start + n], offset, self.meta)
            value = inner.read(depth + 1)
            self.pos = inner_start + n + 4
            return value
        if code in (28, 38):  # enum / binary enum: int typeId, int ordinal
            type_id = self.i32()
            ordinal = self.i32()
            return self._enum(type_id, ordinal)
        if code == 29:  # enum array: int typeId, int length, enums
            self.i32()
            return self._array(self.i32(), lambda: self.read(depth + 1))
        if code == 30:
            return self._decimal_body()
        if code == 33:
            return self._timestamp_body()
        if code == 36:
            return _java_time(self._fixed(_I64))
        if code == 102:  # handle: back-reference to an object earlier in this buffer
            back = self.i32()
            target = start - back
            if back <= 0 or target < 0:
                raise BinaryDecodeError(f"bad handle offset {back} at {start}")
            return _Reader(self.buf, target, self.meta).read(depth + 1)
        raise BinaryDecodeError(f"unsupported binary type code {code} at offset {start}")

    def _enum(self, type_id: int, ordinal: int) -> BinaryEnum:
        meta = self.meta.get(type_id)
        if meta is None:
            if type_id == 0:
                return BinaryEnum(type_id, ordinal)
            raise _NeedMetadata(type_id, None)
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
        if meta is None:
            raise _NeedMetadata(type_id, schema_id)
        result = BinaryObject(meta.type_name, type_id)
        if not flags & _FLAG_HAS_SCHEMA:
            return result
        if flags & _FLAG_OFFSET_1:
            off_size, off_fmt = 1, "B"
        elif flags & _FLAG_OFFSET_2:
            off_size, off_fmt = 2, "H"
        else:
            off_size, off_fmt = 4, "i"
        schema_end = end - 4 if flags & _FLAG_HAS_RAW else end
        if flags & _FLAG_COMPACT:
            ids = meta.schemas.get(schema_id)
            if ids is None:
                raise _NeedMetadata(type_id, schema_id)
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
        for field_id, off in pairs:
            name = meta.field_names.get(field_id)
            if name is None:
                raise _NeedMetadata(type_id, schema_id)
            sub = _Reader(self.buf, start + off, self.meta)
            result[name] = sub.read(depth + 1)
        return result


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted(((k, _hashable(x)) for k, x in v.items()), key=repr))
    return v


def _meta_from_result(type_id: int, value: Any) -> TypeMeta | None:
    if not value or not value.get("type_exists"):
        return None
    meta = TypeMeta(type_id=type_id, type_name=str(value.get("type_name") or f"#{type_id}"))
    for f in value.get("binary_fields") or []:
        meta.field_names[int(f["field_id"])] = str(f["field_name"])
    schema = value.get("schema") or {}
    for s_id, field_ids in schema.items():
        meta.schemas[int(s_id)] = [int(x) for x in field_ids]
    for e in value.get("enums") or []:
        meta.enum_names[int(e["type_id"])] = str(e["literal"])
    return meta


class BinaryDecoder:
    """Decodes binary values for one pyignite client, caching type metadata (shared per client)."""

    _shared: ClassVar[weakref.WeakKeyDictionary[Any, BinaryDecoder]] = weakref.WeakKeyDictionary()

    def __init__(self, client: Any) -> None:
        self._client = client
        self.meta: dict[int, TypeMeta] = {}
        self._lock = asyncio.Lock()

    @classmethod
    def for_client(cls, client: Any) -> BinaryDecoder:
        dec = cls._shared.get(client)
        if dec is None:
            dec = cls(client)
            cls._shared[client] = dec
        return dec

    def decode_sync(self, buf: bytes | bytearray | memoryview, pos: int = 0) -> tuple[Any, int]:
        """Decode one value at ``pos``; raises ``_NeedMetadata`` when a type is not cached yet."""
        r = _Reader(buf, pos, self.meta)
        return r.read(), r.pos

    async def run(self, fn: Callable[[_Reader], Any], buf: bytes | bytearray | memoryview, pos: int) -> Any:
        """Run ``fn`` over a reader at ``pos``, fetching missing metadata and retrying as needed."""
        fetched: set[tuple[int, int | None]] = set()
        while True:
            try:
                return fn(_Reader(buf, pos, self.meta))
            except _NeedMetadata as need:
                key = (need.type_id, need.schema_id)
                if key in fetched:
                    raise BinaryDecodeError(
                        f"binary type {need.type_id} (schema {need.schema_id}) is not registered"
                    ) from None
                fetched.add(key)
                await self.fetch_metadata(need.type_id)

    async def decode(self, buf: bytes | bytearray | memoryview, pos: int = 0) -> Any:
        """Decode one value at ``pos`` (fetching metadata over the client's pooled connections)."""
        return await self.run(lambda r: r.read(), buf, pos)

    async def fetch_metadata(self, type_id: int) -> TypeMeta | None:
        from pyignite.api.binary import get_binary_type_async

        async with self._lock:
            conn = await self._client.random_node()
            result = await get_binary_type_async(conn, type_id)
            if result.status != 0:
                raise BinaryDecodeError(f"OP_GET_BINARY_TYPE({type_id}) failed: {result.message}")
            meta = _meta_from_result(type_id, result.value)
            if meta is not None:
                self.meta[type_id] = meta
            return meta
