"""msgpack encoding of wire frames: the only module of the hub that imports msgpack.

Decoding is defensive: every length the peer announces is capped *before* anything is allocated
(msgpack checks a container or string header against the ``max_*_len`` limits as soon as it reads
the header), unknown extension types are refused, map keys must be strings, and the nesting depth
is checked right after decoding (msgpack-python has no depth limit of its own; its C stack stops
at 1024 levels, so the check walks at most that deep).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgpack

from hub.core.errors import BadFrame

TIMESTAMP_EXT = -1


@dataclass(frozen=True, slots=True)
class Limits:
    """Decoder limits; every one is enforced before allocation."""

    max_str_len: int = 1 << 20
    max_bin_len: int = 1 << 20
    max_array_len: int = 100_000
    max_map_len: int = 100_000
    max_depth: int = 32

    @classmethod
    def for_frame(cls, max_frame: int) -> Limits:
        """Limits for frames of at most ``max_frame`` bytes (no string can exceed the frame)."""
        return cls(max_str_len=max_frame, max_bin_len=max_frame)


DEFAULT_LIMITS = Limits()


def _default(obj: object) -> Any:
    if isinstance(obj, dt.datetime):
        aware = obj if obj.tzinfo is not None else obj.replace(tzinfo=dt.UTC)
        return msgpack.Timestamp.from_datetime(aware)
    if isinstance(obj, dt.date):
        return obj.isoformat()
    if isinstance(obj, Decimal | UUID):
        return str(obj)
    if isinstance(obj, tuple | frozenset | set):
        return list(obj)
    if isinstance(obj, bytearray | memoryview):
        return bytes(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} as msgpack")


def encode(obj: Any) -> bytes:
    """Encode one frame (a map) to msgpack bytes.

    Raises:
        TypeError: ``obj`` holds a value with no msgpack form.
    """
    return msgpack.packb(obj, default=_default, use_bin_type=True, datetime=False)


def encode_with(head: dict[str, Any], key: str, raw: bytes) -> bytes:
    """``encode({**head, key: value})`` (``key`` last) where ``raw`` is ``encode(value)``, already
    made: a value encoded once goes into the frames of many clients by copying its bytes."""
    if key in head or len(head) >= 15:  # a fixmap of up to 15 entries is all the callers need
        raise ValueError("encode_with: key present or too many entries")
    body = encode(head)
    return bytes((0x80 | (len(head) + 1),)) + body[1:] + encode(key) + raw


def frames(encoded: Sequence[bytes]) -> bytes:
    """One message holding several encoded frames: a msgpack array of them, built by copying their
    bytes (each frame is encoded once per broadcast, whoever receives it in whichever batch)."""
    n = len(encoded)
    if n < 16:
        head = bytes((0x90 | n,))
    elif n < 1 << 16:
        head = b"\xdc" + n.to_bytes(2, "big")
    else:
        head = b"\xdd" + n.to_bytes(4, "big")
    return head + b"".join(encoded)


def _ext_hook(code: int, data: bytes) -> Any:
    # The timestamp extension (-1) is decoded by msgpack itself (``timestamp=3``).
    raise BadFrame(f"unsupported msgpack extension type {code}")


def check_depth(obj: Any, max_depth: int) -> None:
    """Raise BadFrame if ``obj`` nests containers deeper than ``max_depth``.

    Iterative and early-exiting: the cost is bounded by the number of containers decoded.
    """
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            raise BadFrame(f"nesting deeper than {max_depth}")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values() if isinstance(v, dict | list))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, dict | list))


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Decode one msgpack frame.

    Raises:
        BadFrame: undecodable, truncated, trailing bytes, a limit exceeded, a non-string map key,
            an unknown extension type, or nesting deeper than ``limits.max_depth``.
    """
    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            ext_hook=_ext_hook,
            timestamp=3,
            max_str_len=limits.max_str_len,
            max_bin_len=limits.max_bin_len,
            max_array_len=limits.max_array_len,
            max_map_len=limits.max_map_len,
            max_ext_len=64,
        )
    except BadFrame:
        raise
    except Exception as exc:  # msgpack raises ValueError, ExtraData, FormatError, StackError, TypeError
        raise BadFrame(f"undecodable msgpack: {type(exc).__name__}: {exc}") from exc
    check_depth(obj, limits.max_depth)
    return obj
