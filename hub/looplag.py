"""How late this process's event loop runs: the time a busy hub must not blame on others.

Under a heavy fan-out the loop turns slowly; a timer due at ``t`` fires at ``t + d``. Timeouts that
judge others (an Ignite request, a client's silence) must not count ``d``: Ignite answered, the
client's pong arrived, this process was just busy reading them. :class:`LoopLag` sums ``d`` over a
50 ms timer; :func:`ontime_ms` is a monotonic clock that stands still while the loop runs late.
"""

from __future__ import annotations

import asyncio
import time

#: How often the loop's lateness is sampled (s).
TICK_S = 0.05
#: Lateness under this (s) is scheduling noise, not starvation.
NOISE_S = 0.002
#: Weight of the newest tick in :attr:`LoopLag.recent` (about a second of ticks counts).
RECENT_WEIGHT = 0.2


class LoopLag:
    """Seconds one event loop ran late, summed: a timer due at ``t`` that fires at ``t + d`` adds ``d``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.total = 0.0
        #: How late the ticks came lately (s, a moving average): how starved the loop is now.
        self.recent = 0.0
        self._due = loop.time() + TICK_S
        self._handle = loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        now = self.loop.time()
        late = now - self._due
        if late > NOISE_S:
            self.total += late
        self.recent += (max(late, 0.0) - self.recent) * RECENT_WEIGHT
        self._due = now + TICK_S
        self._handle = self.loop.call_at(self._due, self._tick)

    def late_now(self) -> float:
        """How late the loop runs now (s): the recent average, or the lateness of a tick overdue
        already if that is more (a loop busy with one long burst has not ticked for a while)."""
        return max(self.recent, self.loop.time() - self._due)

    def close(self) -> None:
        self._handle.cancel()


_lags: dict[asyncio.AbstractEventLoop, LoopLag] = {}


def loop_lag() -> LoopLag:
    """The running loop's lag monitor (started on first use, one per loop)."""
    loop = asyncio.get_running_loop()
    lag = _lags.get(loop)
    if lag is None or lag.loop.is_closed():
        for old in [k for k in _lags if k.is_closed()]:
            del _lags[old]
        lag = _lags[loop] = LoopLag(loop)
    return lag


_ontime_last = 0


def ontime_ms() -> int:
    """Monotonic milliseconds less the time this process's loop ran late (never goes back: after a
    stall is counted, it stands still until real time has made up for it)."""
    global _ontime_last
    try:
        late = loop_lag().total
    except RuntimeError:  # no running loop
        late = 0.0
    now = int((time.monotonic() - late) * 1000)
    if now > _ontime_last:
        _ontime_last = now
    return _ontime_last
