"""Documents <-> Ignite binary objects for :mod:`hub.store.ignite` (encoding values, reading them back).

A document is stored as a binary object of the collection's value type whose fields are the document's
fields (``id`` excluded: it is the cache key). Field types must agree with what the type already
registered (Ignite refuses a field whose type changes, and an SQL table reads its columns by type), so
:class:`ValueType` knows the registered fields and coerces incoming values to them; new fields get a type
inferred from the Python value.

Values read back through pyignite (get) are normalised by :func:`plain` to the same plain Python values
the hub's decoder (:mod:`hub.ignite.decode`: CQ events, and getAll/scan via :mod:`hub.store.ignite.read`)
produces, so that ``doc_hash`` agrees whichever path a hub read a value from
(tests/integration/test_store_read.py compares the two).

Writing: :meth:`ValueType.encode_raw` coerces a document and has it written by an
:class:`~hub.store.ignite.encode.ObjectLayout` (bytes laid out as pyignite would, without its slow
serialiser). The binary type schema of each layout is registered in the cluster once
(:meth:`ValueType.register`), before the first value using it is written, so that other clients and
SQL read these values as usual.
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pyignite import GenericObjectMeta  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes import (  # type: ignore[import-untyped,unused-ignore]
    BoolObject,
    ByteArrayObject,
    ByteObject,
    CharObject,
    CollectionObject,
    DateObject,
    DecimalObject,
    DoubleObject,
    FloatObject,
    IntObject,
    LongObject,
    MapObject,
    ShortObject,
    String,
    TimestampObject,
    UUIDObject,
)

from hub.core.doc import ID_FIELD
from hub.core.errors import InvalidDocument
from hub.ignite.binary_types import BinaryEnum
from hub.store.ignite.encode import ObjectLayout, RawBinary

_INT_RANGES: dict[Any, tuple[int, int]] = {
    ByteObject: (-(1 << 7), (1 << 7) - 1),
    ShortObject: (-(1 << 15), (1 << 15) - 1),
    IntObject: (-(1 << 31), (1 << 31) - 1),
    LongObject: (-(1 << 63), (1 << 63) - 1),
}
_F32 = struct.Struct("<f")


def infer(value: Any) -> Any:
    """The pyignite type hint for a new field holding ``value`` (None: leave the field out)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return BoolObject
    if isinstance(value, int):
        return LongObject
    if isinstance(value, float):
        return DoubleObject
    if isinstance(value, str):
        return String
    if isinstance(value, bytes | bytearray | memoryview):
        return ByteArrayObject
    if isinstance(value, list | tuple):
        return CollectionObject
    if isinstance(value, Mapping):
        return MapObject
    if isinstance(value, dt.datetime):
        return TimestampObject
    if isinstance(value, Decimal):
        return DecimalObject
    if isinstance(value, uuid.UUID):
        return UUIDObject
    raise InvalidDocument(f"unsupported value type {type(value).__name__}")


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _misfit(name: str, hint: Any, value: Any) -> InvalidDocument:
    # built only when raised: coerce runs for every field of every document written
    fits = getattr(hint, "__name__", hint)
    return InvalidDocument(f"field {name!r}: {type(value).__name__} does not fit {fits}")


# Over 60 lines on purpose: one branch per Ignite type hint, read top to bottom like a table.
def coerce(name: str, hint: Any, value: Any) -> tuple[Any, Any]:
    """(value to hand pyignite, plain value as it will read back) for field ``name`` of type ``hint``."""
    if value is None:
        return None, None
    if hint in _INT_RANGES:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _misfit(name, hint, value)
        lo, hi = _INT_RANGES[hint]
        if not lo <= value <= hi:
            raise InvalidDocument(f"field {name!r}: {value} is out of range")
        return value, value
    if hint is DoubleObject or hint is FloatObject:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _misfit(name, hint, value)
        f = float(value)
        if hint is FloatObject:
            f = _F32.unpack(_F32.pack(f))[0]
        return f, f
    if hint is BoolObject:
        if not isinstance(value, bool):
            raise _misfit(name, hint, value)
        return value, value
    if hint is String:
        if not isinstance(value, str):
            raise _misfit(name, hint, value)
        return value, value
    if hint is CharObject:
        if not isinstance(value, str) or len(value) != 1:
            raise _misfit(name, hint, value)
        return value, value
    if hint is ByteArrayObject:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise _misfit(name, hint, value)
        return bytes(value), bytes(value)
    if hint is CollectionObject:
        if not isinstance(value, list | tuple):
            raise _misfit(name, hint, value)
        items = [_nested(name, v) for v in value]
        return (CollectionObject.ARR_LIST, [i[0] for i in items]), [i[1] for i in items]
    if hint is MapObject:
        if not isinstance(value, Mapping):
            raise _misfit(name, hint, value)
        pairs = {str(k): _nested(name, v) for k, v in value.items()}
        return (MapObject.HASH_MAP, {k: p[0] for k, p in pairs.items()}), {k: p[1] for k, p in pairs.items()}
    if hint is TimestampObject or hint is DateObject:
        if not isinstance(value, dt.datetime):
            raise _misfit(name, hint, value)
        value = _utc(value)
        ms = value.microsecond // 1000
        whole = value.replace(microsecond=ms * 1000)
        if hint is DateObject:
            return whole, whole
        nanos = (value.microsecond % 1000) * 1000
        return (whole, nanos), value
    if hint is DecimalObject:
        if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
            raise _misfit(name, hint, value)
        d = value if isinstance(value, Decimal) else Decimal(str(value))
        return d, d
    if hint is UUIDObject:
        try:
            u = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        except ValueError:
            raise _misfit(name, hint, value) from None
        return u, u
    raise InvalidDocument(
        f"field {name!r}: the stored type {getattr(hint, '__name__', hint)} is not supported"
    )


def _nested(name: str, value: Any) -> tuple[Any, Any]:
    """A value inside a list or map: pyignite infers scalars; lists and maps become Collection/Map."""
    if isinstance(value, list | tuple):
        return coerce(name, CollectionObject, value)
    if isinstance(value, Mapping):
        return coerce(name, MapObject, value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value), bytes(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value, value
    hint = infer(value)
    return coerce(name, hint, value)


#: Types :func:`plain` returns as they are.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """A value read through pyignite as plain Python (as :mod:`hub.ignite.decode` decodes it)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, BinaryEnum):  # as pyignite reads an enum: (type id, ordinal)
        return [value.type_id, value.ordinal]
    if isinstance(value, dt.timedelta):  # pyignite reads java.sql.Time as a timedelta
        ms = value // dt.timedelta(milliseconds=1)
        return (dt.datetime.min + dt.timedelta(milliseconds=ms % 86_400_000)).time()
    if isinstance(value, tuple) and len(value) == 2:
        first, second = value
        if isinstance(first, int) and isinstance(second, list):
            return [plain(v) for v in second]
        if isinstance(first, int) and isinstance(second, dict):
            return {plain(k): plain(v) for k, v in second.items()}
        if isinstance(first, dt.datetime) and isinstance(second, int):
            return _aware(first) + dt.timedelta(microseconds=second // 1000)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dt.datetime):
        return _aware(value)
    schema = getattr(type(value), "schema", None)
    if schema is not None and hasattr(type(value), "type_name"):  # a nested object: all its fields
        return {name: plain(getattr(value, name, None)) for name in schema}
    return value


def _aware(value: dt.datetime) -> dt.datetime:
    # pyignite builds datetimes with datetime.fromtimestamp (local time, naive).
    return value.astimezone(dt.UTC)


def fields_of(obj: Any) -> dict[str, Any]:
    """The fields of a binary object read through pyignite (or decoded from a CQ event) as a plain dict."""
    if obj is None:
        raise TypeError("no object")
    if isinstance(obj, dict):  # hub.ignite.binary_types.BinaryObject (CQ events) or a plain map
        # scalars (most values) as they are, without a call each: every document of a sync page
        return {str(k): v if type(v) in _SCALARS else plain(v) for k, v in obj.items() if k != ID_FIELD}
    schema = getattr(type(obj), "schema", None)
    if schema is None:
        raise TypeError(f"not a binary object: {type(obj).__name__}")
    return {name: plain(getattr(obj, name, None)) for name in schema if name != ID_FIELD}


_JAVA_TYPES: dict[str, Any] = {
    "java.lang.Integer": IntObject,
    "java.lang.Long": LongObject,
    "java.lang.Short": ShortObject,
    "java.lang.Byte": ByteObject,
    "java.lang.Boolean": BoolObject,
    "java.lang.Double": DoubleObject,
    "java.lang.Float": FloatObject,
    "java.lang.String": String,
    "java.lang.Character": CharObject,
    "java.math.BigDecimal": DecimalObject,
    "java.util.UUID": UUIDObject,
    "java.sql.Timestamp": TimestampObject,
    "java.util.Date": DateObject,
    "[B": ByteArrayObject,
}


def query_entity_fields(entities: Any, type_name: str) -> dict[str, Any]:
    """Value fields (name -> pyignite type) that an SQL table / QueryEntity declares for ``type_name``."""
    out: dict[str, Any] = {}
    for qe in entities or ():
        if qe.get("value_type_name") != type_name:
            continue
        key_fields = {qe.get("key_field_name"), "_KEY", "_VAL"}
        for f in qe.get("query_fields") or ():
            name = f.get("name")
            hint = _JAVA_TYPES.get(f.get("type_name") or "")
            if name and name not in key_fields and not f.get("is_key_field") and hint is not None:
                out[name] = hint
    return out


class ValueType:
    """The binary type of a collection's values: known field types, coercion, object classes."""

    def __init__(self, type_name: str, fields: Mapping[str, Any] | None = None) -> None:
        self.type_name = type_name
        self.fields: dict[str, Any] = dict(fields or {})
        self._classes: dict[tuple[tuple[str, Any], ...], type] = {}
        self._layouts: dict[tuple[tuple[str, Any], ...], ObjectLayout] = {}
        self._unregistered: dict[int, Any] = {}  # schema id -> pyignite class not yet registered
        self._registered_for: Any = None  # the types token the schemas were registered under

    @classmethod
    async def load(cls, client: Any, type_name: str) -> ValueType:
        """Read the registered schemas of ``type_name`` (none yet is fine)."""
        vt = cls(type_name)
        await vt.refresh(client)
        return vt

    def unknown(self, doc: Mapping[str, Any]) -> bool:
        """Whether ``doc`` has fields this type does not know yet (worth a :meth:`refresh` first)."""
        return any(k not in self.fields and k != ID_FIELD and v is not None for k, v in doc.items())

    async def refresh(self, client: Any) -> None:
        """Fold in the fields registered in the cluster (another hub or application may have added some)."""
        info = await client.get_binary_type(self.type_name)
        if info.get("type_exists"):
            for schema in info.get("schemas") or ():
                for name, hint in schema.items():
                    self.fields.setdefault(name, hint)

    def encode(self, doc: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        """(binary object for pyignite, the document as it will read back) for ``doc``.

        Raises:
            InvalidDocument: a field does not fit the registered type.
        """
        schema, values, stored = self._coerce(doc)
        return self._class(schema)(**values), stored

    def encode_raw(
        self, doc: Mapping[str, Any], compact: bool = True
    ) -> tuple[tuple[bytes, Any], dict[str, Any]]:
        """Like :meth:`encode`, but the value is already serialised: ``((bytes, RawBinary), stored doc)``.
        Call :meth:`register` before writing it.

        Raises:
            InvalidDocument: a field does not fit the registered type.
        """
        schema, values, stored = self._coerce(doc)
        key = tuple(schema)
        layout = self._layouts.get(key)
        if layout is None:
            layout = self._layouts[key] = ObjectLayout(self._class(schema))
            self._unregistered[layout.schema_id] = layout.data_class
        return (layout.write(values.values(), compact), RawBinary), stored

    async def register(self, client: Any, token: Any) -> None:
        """Register the binary schemas of values made by :meth:`encode_raw`: each once per ``token``
        (:attr:`~hub.store.ignite.tx.Context.types_token`: the client, until it meets a new node)."""
        if self._registered_for != token:
            self._registered_for = token
            self._unregistered = {lay.schema_id: lay.data_class for lay in self._layouts.values()}
        while self._unregistered:
            sid, data_class = next(iter(self._unregistered.items()))
            await client.register_binary_type(data_class)
            self._unregistered.pop(sid, None)

    def _class(self, schema: list[tuple[str, Any]]) -> Any:
        key = tuple(schema)
        data_class = self._classes.get(key)
        if data_class is None:
            data_class = GenericObjectMeta(
                f"{self.type_name}_{len(self._classes)}",
                (),
                {},
                type_name=self.type_name,
                schema=OrderedDict(schema),
            )
            self._classes[key] = data_class
        return data_class

    def _coerce(self, doc: Mapping[str, Any]) -> tuple[list[tuple[str, Any]], dict[str, Any], dict[str, Any]]:
        schema: list[tuple[str, Any]] = []
        values: dict[str, Any] = {}
        stored: dict[str, Any] = {}
        for name in sorted(doc):
            if name == ID_FIELD:
                continue
            if not isinstance(name, str) or not name:
                raise InvalidDocument("field names must be non-empty strings")
            value = doc[name]
            hint = self.fields.get(name)
            if hint is None:
                hint = infer(value)
                if hint is None:
                    continue  # None in a field the type does not know: pyignite cannot register a null type
            out, back = coerce(name, hint, value)
            schema.append((name, hint))
            values[name] = out
            stored[name] = back
        for name, hint in schema:
            self.fields.setdefault(name, hint)
        return schema, values, stored


def plain_doc(value: Any) -> dict[str, Any] | None:
    """A data-cache value (pyignite object, CQ-decoded object or None) as a plain field dict."""
    if value is None:
        return None
    try:
        return fields_of(value)
    except TypeError:
        return {"value": plain(value)}  # not a binary object: someone stored a bare value
