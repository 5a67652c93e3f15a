"""hub.codec: msgpack frames with explicit limits."""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub import codec
from hub.core.errors import BadFrame
from hub.core.limits import doc_size


def test_round_trip_types() -> None:
    now = dt.datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)
    u = uuid.uuid4()
    obj = {
        "s": "x",
        "i": -5,
        "f": 1.5,
        "b": True,
        "n": None,
        "bin": b"\x00\x01",
        "l": [1, [2]],
        "m": {"k": 1},
    }
    assert codec.decode(codec.encode(obj)) == obj
    out = codec.decode(
        codec.encode({"t": now, "naive": now.replace(tzinfo=None), "d": Decimal("1.10"), "u": u})
    )
    assert out == {"t": now, "naive": now, "d": "1.10", "u": str(u)}
    assert codec.decode(codec.encode({"date": dt.date(2024, 1, 2), "tuple": (1, 2)})) == {
        "date": "2024-01-02",
        "tuple": [1, 2],
    }
    with pytest.raises(TypeError):
        codec.encode({"x": object()})


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        b"\x82\xa1t",  # truncated
        b"\x80\x80",  # trailing data
        b"\x91" * 1000 + b"\xc0",  # 1000-deep nesting
        b"\x91" * 5000 + b"\xc0",  # deeper than msgpack's own stack
        b"\xdf\x80\x00\x00\x00",  # map header claiming 2^31 entries
        b"\xdd\x80\x00\x00\x00",  # array header claiming 2^31 items
        b"\xdb\xff\xff\xff\xff",  # str header claiming 2^32 bytes
        b"\xc6\xff\xff\xff\xff",  # bin header claiming 2^32 bytes
        b"\x81\x01\x02",  # non-string key
        b"\xd4\x05\x00",  # unknown ext type
    ],
)
def test_rejected_quickly_without_allocation(data: bytes) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(BadFrame):
        codec.decode(data)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0  # walking a 4-billion-entry header would take minutes, not a second
    assert peak < 1 << 20


def test_limits() -> None:
    limits = codec.Limits(max_str_len=4, max_array_len=2, max_map_len=2, max_depth=3)
    assert codec.decode(codec.encode({"a": [[1]]}), limits) == {"a": [[1]]}
    for bad in ({"a": "x" * 5}, {"a": [1, 2, 3]}, {"a": 1, "b": 2, "c": 3}, {"a": [[[1]]]}):
        with pytest.raises(BadFrame):
            codec.decode(codec.encode(bad), limits)
    assert codec.Limits.for_frame(100).max_bin_len == 100


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@given(json_like)
def test_round_trip_property(value: object) -> None:
    assert codec.decode(codec.encode({"v": value})) == {"v": value}


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    try:
        codec.decode(data)
    except BadFrame:
        pass


def test_doc_size_is_the_size_the_codec_writes() -> None:

    values: list[object] = [
        None,
        True,
        0,
        127,
        128,
        -32,
        -33,
        -128,
        -129,
        255,
        256,
        65535,
        65536,
        -32768,
        -32769,
        2**32 - 1,
        2**32,
        -(2**31),
        -(2**31) - 1,
        2**63 - 1,
        -(2**63),
        1.5,
        "",
        "x" * 31,
        "x" * 32,
        "é" * 200,
        "x" * 70_000,
        b"",
        b"x" * 300,
        b"x" * 70_000,
        [],
        list(range(16)),
        list(range(70_000)),
        {str(i): i for i in range(16)},
        {str(i): i for i in range(17)},
        dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2020, 1, 1, 0, 0, 0, 5, tzinfo=dt.UTC),
        dt.datetime(1960, 1, 1, tzinfo=dt.UTC),
        dt.date(2020, 1, 2),
        Decimal("3.14"),
        uuid.UUID(int=7),
        (1, 2),
        bytearray(b"ab"),
    ]
    for v in values:
        doc = {"v": v, "n": {"inner": [v, {"k": v}]}}
        assert doc_size(doc) == len(codec.encode(doc)), repr(v)[:60]


@pytest.mark.parametrize("n", [1, 2, 15, 16, 300])
def test_frames_joins_encoded_frames_into_one_msgpack_array(n: int) -> None:
    frames = [{"t": "chg", "coll": "c", "changes": [[f"d{i}", i, {"pad": "x" * i}]]} for i in range(n)]
    joined = codec.frames([codec.encode(f) for f in frames])
    assert codec.decode(joined) == frames
