"""hub.ignite.decode: every entry of the type-code table reads what pyignite writes."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pyignite import datatypes as T
from pyignite.stream import BinaryStream

from hub.core.errors import BinaryDecodeError
from hub.ignite.decode import BinaryEnum, BinaryReader, hashable
from hub.ignite.protocol import TypeCode

U = uuid.UUID(int=(1 << 100) + 7)
TS = dt.datetime(2020, 1, 2, 3, 4, 5, 6000)


class _Client:
    compact_footer = True


def _ignite(value: Any, hint: Any) -> bytes:
    with BinaryStream(_Client()) as stream:
        hint.from_python(stream, value)
        return bytes(stream.getvalue())


CASES: list[tuple[Any, Any, Any]] = [
    (None, T.Null, None),
    (-5, T.ByteObject, -5),
    (-300, T.ShortObject, -300),
    (1 << 20, T.IntObject, 1 << 20),
    (-(1 << 40), T.LongObject, -(1 << 40)),
    (1.5, T.FloatObject, 1.5),
    (2.25, T.DoubleObject, 2.25),
    ("x", T.CharObject, "x"),
    (True, T.BoolObject, True),
    ("héllo ✓", T.String, "héllo ✓"),
    (U, T.UUIDObject, U),
    (dt.datetime(2020, 1, 2, tzinfo=dt.UTC), T.DateObject, dt.datetime(2020, 1, 2, tzinfo=dt.UTC)),
    ((TS, 123000), T.TimestampObject, TS.replace(microsecond=6123, tzinfo=dt.UTC)),
    (dt.timedelta(hours=3, milliseconds=5), T.TimeObject, dt.time(3, 0, 0, 5000)),
    (Decimal("-12.345"), T.DecimalObject, Decimal("-12.345")),
    (b"\x00\xff", T.ByteArrayObject, b"\x00\xff"),
    ([1, -2], T.ShortArrayObject, [1, -2]),
    ([1, -2], T.IntArrayObject, [1, -2]),
    ([1 << 40], T.LongArrayObject, [1 << 40]),
    ([1.5], T.FloatArrayObject, [1.5]),
    ([2.5], T.DoubleArrayObject, [2.5]),
    (["a", "b"], T.CharArrayObject, ["a", "b"]),
    ([True, False], T.BoolArrayObject, [True, False]),
    (["a", None], T.StringArrayObject, ["a", None]),
    ([U], T.UUIDArrayObject, [U]),
    ([Decimal("1.1")], T.DecimalArrayObject, [Decimal("1.1")]),
    ((T.ObjectArrayObject.OBJECT, [1, "a", None]), T.ObjectArrayObject, [1, "a", None]),
    ((T.CollectionObject.ARR_LIST, [1, "x", [2]]), T.CollectionObject, [1, "x", [2]]),
    ((T.MapObject.HASH_MAP, {"a": 1, 2: [3]}), T.MapObject, {"a": 1, 2: [3]}),
    ((0, 5), T.EnumObject, BinaryEnum(0, 5)),
]


@pytest.mark.parametrize(("value", "hint", "expected"), CASES, ids=[c[1].__name__ for c in CASES])
def test_reads_what_pyignite_writes(value: Any, hint: Any, expected: Any) -> None:
    raw = _ignite(value, hint)
    reader = BinaryReader(raw, 0, {})
    assert reader.read() == expected
    assert reader.pos == len(raw)


def test_unknown_and_truncated_values_raise() -> None:
    for raw in (bytes([TypeCode.BINARY_OBJ - 1]), b"\xc8", b"\x03\x01", b"\x09\x05\x00\x00\x00ab"):
        with pytest.raises(BinaryDecodeError):
            BinaryReader(raw, 0, {}).read()


def test_handle_points_back_and_nesting_is_bounded() -> None:
    value = _ignite("abc", T.String)
    handle = bytes([TypeCode.HANDLE]) + len(value).to_bytes(4, "little", signed=True)
    reader = BinaryReader(value + handle, len(value), {})
    assert reader.read() == "abc"
    deep = (bytes([TypeCode.COLLECTION]) + (1).to_bytes(4, "little") + b"\x01") * 70 + b"\x65"
    with pytest.raises(BinaryDecodeError, match="nested too deeply"):
        BinaryReader(deep, 0, {}).read()


def test_hashable_turns_lists_and_dicts_into_keys() -> None:
    assert hashable([1, [2], {"b": 1, "a": [3]}]) == (1, (2,), (("a", (3,)), ("b", 1)))
