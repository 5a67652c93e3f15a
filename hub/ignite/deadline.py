"""Timeouts of Ignite operations that a busy hub does not mistake for a dead store.

A store operation is bounded (``OP_TIMEOUT_S``) so that a hung Ignite node turns into
``StoreUnavailable`` (4503, a feed reopened) instead of a stuck connection. But the bound is counted on
this process's event loop: under a heavy fan-out the loop turns slowly (every round trip of a
transaction waits for a turn), and a healthy Ignite would be declared unreachable because *we* were
busy. So the time the loop ran late does not count: :class:`hub.looplag.LoopLag` sums how late a
50 ms timer fires, and :func:`bounded` pushes its deadline back by the lateness summed since the
operation began, up to ``MAX_STRETCH`` times the timeout. An Ignite that does not answer while the
loop turns on time still times out after ``timeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from hub.looplag import NOISE_S, loop_lag

T = TypeVar("T")

#: A deadline moves back by at most this many times the timeout (a loop stuck for ever still fails).
MAX_STRETCH = 8.0


async def bounded(fn: Callable[[], Awaitable[T]], timeout: float) -> T:
    """``await fn()``, cancelled with ``TimeoutError`` once ``timeout`` seconds of on-time loop have
    passed (time the loop ran late is added back, up to ``MAX_STRETCH`` x ``timeout``)."""
    loop = asyncio.get_running_loop()
    lag = loop_lag()
    start, lag0 = loop.time(), lag.total
    last = loop.time() + MAX_STRETCH * timeout
    async with asyncio.timeout_at(start + timeout) as cm:
        late = 0.0  # how late the checks ran: starvation the monitor has not sampled yet
        check: asyncio.TimerHandle | None = None

        def stretch(due: float) -> None:
            # Runs just before the deadline: push it back by the lateness seen since the start.
            nonlocal check, late
            now = loop.time()
            late += max(0.0, now - due - NOISE_S)
            when = min(start + timeout + (lag.total - lag0) + late, last)
            if when > now + NOISE_S:
                cm.reschedule(when)
                check = loop.call_at(when - NOISE_S, stretch, when - NOISE_S)

        due = start + timeout - NOISE_S
        check = loop.call_at(due, stretch, due)
        try:
            return await fn()
        finally:
            if check is not None:
                check.cancel()
