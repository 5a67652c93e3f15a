"""Documents: validation and the content hash that tells stamped data from unstamped data.

The hash covers a document's fields as Ignite stores them (after type coercion), so a hub that
reads a value back, decoded from a continuous-query event or a scan, gets the same hash as the
hub that wrote it. It is a 63-bit non-negative int so that it fits a SQL BIGINT.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from .errors import BadMessage

MAX_ID_BYTES = 512
ID_FIELD = "id"
DELETED_HASH = 0


def check_id(value: object) -> str:
    if isinstance(value, str) and value:
        try:
            if len(value.encode()) <= MAX_ID_BYTES:
                return value
        except UnicodeEncodeError:  # a lone surrogate: not valid UTF-8
            pass
    raise BadMessage(f"a document id must be a non-empty string of at most {MAX_ID_BYTES} bytes")


def _feed(h: Any, value: object) -> None:
    # Each value is tagged with its kind so that 1, 1.0, "1" and True hash differently.
    if value is None:
        h.update(b"N")
    elif isinstance(value, bool):
        h.update(b"T" if value else b"F")
    elif isinstance(value, int):
        h.update(b"i" + str(value).encode() + b";")
    elif isinstance(value, float):
        h.update(b"f" + struct.pack("<d", value))
    elif isinstance(value, str):
        raw = value.encode()
        h.update(b"s" + str(len(raw)).encode() + b":" + raw)
    elif isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        h.update(b"b" + str(len(raw)).encode() + b":" + raw)
    elif isinstance(value, Mapping):
        h.update(b"{")
        for k in sorted(value, key=str):
            _feed(h, str(k))
            _feed(h, value[k])
        h.update(b"}")
    elif isinstance(value, list | tuple):
        h.update(b"[")
        for item in value:
            _feed(h, item)
        h.update(b"]")
    elif isinstance(value, datetime):
        h.update(b"t" + value.isoformat().encode() + b";")
    elif isinstance(value, date):
        h.update(b"d" + value.isoformat().encode() + b";")
    elif isinstance(value, Decimal):
        h.update(b"D" + str(value.normalize()).encode() + b";")
    elif isinstance(value, UUID):
        h.update(b"u" + value.bytes)
    else:
        h.update(b"?" + repr(value).encode() + b";")


def doc_hash(fields: Mapping[str, Any] | None) -> int:
    """Hash of a stored value's fields; ``DELETED_HASH`` (0) for an absent document."""
    if fields is None:
        return DELETED_HASH
    h = hashlib.blake2b(digest_size=8)
    # _feed of the fields as a map, with its keys, strings and ints (most values) inlined: hashed in
    # one update, as every snapshot and catch-up page checks each document against its hash
    parts = [b"{"]
    for k in sorted(fields, key=str):
        if k == ID_FIELD:
            continue
        v = fields[k]
        raw = str(k).encode()
        parts.append(b"s%d:%b" % (len(raw), raw))
        if type(v) is str:
            raw = v.encode()
            parts.append(b"s%d:%b" % (len(raw), raw))
        elif type(v) is int:
            parts.append(b"i%d;" % v)
        else:
            h.update(b"".join(parts))
            parts.clear()
            _feed(h, v)
    parts.append(b"}")
    h.update(b"".join(parts))
    value = struct.unpack("<Q", h.digest())[0] & 0x7FFF_FFFF_FFFF_FFFF
    return value or 1
