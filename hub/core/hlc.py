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


#: Client clocks within this distance of the hub's are taken as they are (network delay and NTP error).
CLIENT_CLOCK_TRUST_MS = 2_000
#: How far past the hub's time a client timestamp may reach (last-writer-wins never trusts more).
CLIENT_TS_LEEWAY_MS = 1_000


def client_offset_ms(client_now_ms: int | None, hub_ms: int) -> int:
    """The correction for a client's clock, estimated once per connection from the ``now`` it sent
    in ``hello``: negative when the client's clock runs ahead by more than
    :data:`CLIENT_CLOCK_TRUST_MS`, else 0. Fixed per connection, so a client's own edits keep their
    order. A clock that lags is not corrected: a client's timestamps come from its HLC, which has
    observed the hub's versions and is then ahead of its wall clock, so adding the lag would push
    them into the future; a lagging clock can only make edits look older, never beat later ones."""
    if client_now_ms is None:
        return 0
    offset = hub_ms - client_now_ms
    return offset if offset < -CLIENT_CLOCK_TRUST_MS else 0


def rebase_ts(ts: int, offset_ms: int) -> int:
    """A client timestamp moved onto hub time by its connection's :func:`client_offset_ms`."""
    return max(0, ts + (offset_ms << COUNTER_BITS))


def bound_ts(ts: int, hub_ms: int) -> int:
    """A client timestamp never later than the hub's time plus :data:`CLIENT_TS_LEEWAY_MS`: a device
    whose clock runs ahead cannot beat later edits, nor hold a document for the length of its error."""
    return min(ts, pack(hub_ms + CLIENT_TS_LEEWAY_MS, COUNTER_MASK))
