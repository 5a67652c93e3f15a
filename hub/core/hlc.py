"""Hybrid logical clock.

A version is ``(physical_ms << 16) | counter``: it sorts like wall time, stays unique and
monotonic when several changes land in one millisecond, and survives a clock that steps back.
The clock never reads time itself; the adapter passes ``wall_ms`` in.
"""

from __future__ import annotations

COUNTER_BITS = 16
COUNTER_MASK = (1 << COUNTER_BITS) - 1


def pack(ms: int, counter: int) -> int:
    return (ms << COUNTER_BITS) | counter


def physical_ms(version: int) -> int:
    return version >> COUNTER_BITS


class Hlc:
    """A hybrid logical clock owned by one hub process."""

    __slots__ = ("_last",)

    def __init__(self, last: int = 0) -> None:
        self._last = last

    @property
    def last(self) -> int:
        return self._last

    def now(self, wall_ms: int) -> int:
        """A new version greater than every version issued or observed so far."""
        candidate = pack(wall_ms, 0)
        self._last = candidate if candidate > self._last else self._last + 1
        return self._last

    def observe(self, version: int) -> None:
        """Fold in a version seen elsewhere (another hub, a client), so later ones exceed it."""
        if version > self._last:
            self._last = version

    def next_after(self, wall_ms: int, floor: int) -> int:
        """A new version greater than ``floor`` (the current version of a document)."""
        self.observe(floor)
        return self.now(wall_ms)
