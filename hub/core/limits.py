"""Document limits, one set for the hub and every client (docs/protocol.md "Document limits").

The JavaScript client mirrors the defaults (``client-js/src/core/limits.js``) and follows the
values of the hub it is connected to, which ``welcome`` carries (``doc_limits``).

- **Inbound.** A ``put`` whose document breaks a limit is refused as that one mutation (4413),
  never by closing the connection: the client drops it from its outbox and tells the app.
- **Outbound.** A stored document beyond the limits (any writer may store one: SQL, Java,
  pyignite) is sent as a placeholder ``{"$oversize": {reason, limit, size}}`` the client can
  hold, never as the document a client would refuse (and reconnect to receive again, forever).

``size`` is the document's msgpack size as the hub encodes it (:func:`doc_size`): computed here,
without msgpack, so that the core stays free of I/O libraries; a test checks it against the codec.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

#: The field that marks a placeholder; no client may write it (it would replace the real document).
OVERSIZE = "$oversize"
#: Room in a frame around one document (frame map, change list, mutation fields, id up to 512 B).
FRAME_SLACK = 4096


@dataclass(frozen=True, slots=True)
class DocLimits:
    """The limits a document must keep to travel between hub and clients."""

    bytes: int = 256 * 1024  # msgpack size of the whole document
    entries: int = 10_000  # items of any one map or list
    depth: int = 16  # nesting of maps and lists; the document itself is level 1

    def for_frame(self, max_frame: int) -> DocLimits:
        """These limits, with ``bytes`` lowered so that one document always fits a frame."""
        return DocLimits(min(self.bytes, max(max_frame - FRAME_SLACK, 1)), self.entries, self.depth)

    def to_wire(self) -> dict[str, int]:
        return {"bytes": self.bytes, "entries": self.entries, "depth": self.depth}


DEFAULT_DOC_LIMITS = DocLimits()


@dataclass(frozen=True, slots=True)
class Oversize:
    """The first limit a document breaks: ``reason`` names it, ``size`` is the document's value."""

    reason: str  # "bytes" | "entries" | "depth"
    limit: int
    size: int

    def placeholder(self) -> dict[str, Any]:
        """What is sent instead of the document."""
        return {OVERSIZE: {"reason": self.reason, "limit": self.limit, "size": self.size}}


def _head(n: int, fix: int, *widths: int) -> int:
    """Header bytes of a msgpack str/bin/array/map of ``n`` items (``fix``: the fix-form bound)."""
    if n < fix:
        return 1
    for w in widths[:-1]:
        if n < 1 << (8 * w):
            return 1 + w
    return 1 + widths[-1]  # msgpack has no longer form (the codec refuses more than 2**32 - 1)


def _int_size(v: int) -> int:
    if -32 <= v < 128:
        return 1
    for w in (1, 2, 4):
        if (0 <= v < 1 << (8 * w)) or (-(1 << (8 * w - 1)) <= v < 0):
            return 1 + w
    return 9


def _scalar_size(v: object) -> int:
    if v is None or isinstance(v, bool):
        return 1
    if isinstance(v, int):
        return _int_size(v)
    if isinstance(v, float):
        return 9
    if isinstance(v, str | Decimal | UUID | dt.date) and not isinstance(v, dt.datetime):
        n = len((v.isoformat() if isinstance(v, dt.date) else str(v)).encode())
        return _head(n, 32, 1, 2, 4) + n
    if isinstance(v, bytes | bytearray | memoryview):
        n = len(v)
        return _head(n, 0, 1, 2, 4) + n
    if isinstance(v, dt.datetime):
        aware = v if v.tzinfo is not None else v.replace(tzinfo=dt.UTC)
        seconds = int(aware.timestamp() // 1)
        if v.microsecond == 0 and 0 <= seconds < 1 << 32:
            return 6  # timestamp 32
        return 10 if 0 <= seconds < 1 << 34 else 15  # timestamp 64 / 96
    return 9  # anything else (time of day...) is rare; the codec refuses what it cannot encode


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _flat_bound(doc: Mapping[str, Any], entries: int) -> int | None:
    """An upper bound of the msgpack size of a document of scalars and lists of scalars (most
    documents), or None for any other. Cheap: types and lengths only (a code point is at most 4
    bytes of UTF-8, a scalar at most 9 bytes, a header 5)."""
    if len(doc) > entries:
        return None
    total = 5
    for k, v in doc.items():
        t = type(v)
        if t is list:
            if len(v) > entries:
                return None
            for item in v:
                if type(item) not in _SCALARS:
                    return None
                total += 5 + 4 * len(item) if type(item) is str else 9
            total += 5
        elif t not in _SCALARS:
            return None
        else:
            total += 5 + 4 * len(v) if t is str else 9
        if type(k) is not str:
            return None
        total += 5 + 4 * len(k)
    return total


def check(doc: Mapping[str, Any], limits: DocLimits = DEFAULT_DOC_LIMITS) -> Oversize | None:
    """The first limit ``doc`` breaks (entries and depth before bytes), or None.

    Most documents pass on a cheap bound (:func:`_flat_bound`: this runs once per change sent);
    the others take one iterative walk over every value: no recursion, whatever the nesting.
    """
    bound = _flat_bound(doc, limits.entries) if limits.depth >= 2 else None
    if bound is not None and bound <= limits.bytes:
        return None
    size = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Mapping):
            items: Any = value.values()
            size += _head(len(value), 16, 2, 4)
            size += sum(_scalar_size(k) for k in value)
        elif isinstance(value, list | tuple | set | frozenset):
            items = value
            size += _head(len(value), 16, 2, 4)
        else:
            size += _scalar_size(value)
            continue
        if len(value) > limits.entries:
            return Oversize("entries", limits.entries, len(value))
        if depth > limits.depth:
            return Oversize("depth", limits.depth, depth)
        stack.extend((v, depth + 1) for v in items)
    if size > limits.bytes:
        return Oversize("bytes", limits.bytes, size)
    return None


def doc_size(doc: Mapping[str, Any]) -> int:
    """The msgpack size of ``doc`` as the hub encodes it (no limit applied)."""
    over = check(doc, DocLimits(0, 1 << 62, 1 << 62))  # every document breaks bytes=0: the size
    return over.size if over is not None else 0


def fit(doc: Mapping[str, Any] | None, limits: DocLimits = DEFAULT_DOC_LIMITS) -> Mapping[str, Any] | None:
    """``doc``, or its placeholder when it breaks a limit (for changes and results the hub sends)."""
    if doc is None:
        return None
    over = check(doc, limits)
    return doc if over is None else over.placeholder()
