"""The values the binary decoder produces, and the type metadata it needs.

Produced: :class:`BinaryObject` (a decoded complex object, a ``dict`` with ``type_name``/``type_id``),
:class:`BinaryEnum`, the Python forms of Java dates, times and decimals (:func:`java_datetime`,
:func:`java_time`, :func:`java_decimal`); :func:`hashable` turns decoded map keys into dict keys. Needed:
:class:`TypeMeta`, the binary type metadata of one complex type, and :class:`NeedMetadata`, the signal that
it is missing. The reader itself is :mod:`hub.ignite.decode`; the metadata cache :mod:`hub.ignite.metadata`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

__all__ = [
    "BinaryEnum",
    "BinaryObject",
    "NeedMetadata",
    "TypeMeta",
    "hashable",
    "java_datetime",
    "java_decimal",
    "java_time",
]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


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


# Not in hub.core.errors: a control-flow signal between the decoder and metadata.py, not an error.
# BinaryDecoder.run catches it, fetches the metadata and decodes again; only BinaryDecoder.decode_sync
# (used by tests, nothing in hub/) passes it on.
class NeedMetadata(Exception):
    """A value needs binary type metadata that is not cached yet (:class:`~hub.ignite.metadata.BinaryDecoder`
    fetches it and decodes again)."""

    def __init__(self, type_id: int, schema_id: int | None) -> None:
        super().__init__(type_id, schema_id)
        self.type_id = type_id
        self.schema_id = schema_id


def hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted(((k, hashable(x)) for k, x in v.items()), key=repr))
    return v


def java_time(ms: int) -> dt.time:
    """A ``java.sql.Time`` (milliseconds since midnight, possibly with a date part) as a time of day."""
    ms %= 86_400_000
    return (dt.datetime.min + dt.timedelta(milliseconds=ms)).time()


def java_datetime(ms: int, nanos: int = 0) -> dt.datetime:
    """A Java date or timestamp (milliseconds since the epoch, plus nanoseconds) as an aware UTC datetime."""
    return _EPOCH + dt.timedelta(milliseconds=ms, microseconds=nanos // 1000)


def java_decimal(scale: int, mag: bytes) -> Decimal:
    """A ``BigDecimal``: its scale, and the unscaled value as big-endian magnitude, sign in the top bit."""
    if not mag:
        return Decimal(0)
    negative = bool(mag[0] & 0x80)
    if negative:
        mag = bytes([mag[0] & 0x7F]) + mag[1:]
    unscaled = int.from_bytes(mag, "big")
    digits = tuple(int(c) for c in str(unscaled))
    return Decimal((1 if negative else 0, digits, -scale))
