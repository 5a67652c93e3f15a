"""hub.ignite.deadline: store timeouts that do not count the time a busy loop ran late."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from hub.core.errors import StoreUnavailable
from hub.ignite.deadline import MAX_STRETCH, bounded
from hub.looplag import NOISE_S, TICK_S, LoopLag, loop_lag, ontime_ms
from hub.store.ignite.tx import Context


async def _hog(seconds: float, chunk: float = 0.1) -> None:
    """Starve the loop: block it in ``chunk`` pieces (a fan-out that keeps the loop busy)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(chunk)
        await asyncio.sleep(0)


async def _answer_after(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "answer"


async def test_an_operation_on_a_starved_loop_is_not_timed_out_for_our_own_lateness() -> None:
    loop_lag()  # the monitor runs before the operation starts, as it does in a hub
    await asyncio.sleep(0.1)
    hog = asyncio.create_task(_hog(1.5))
    started = time.monotonic()
    # The answer is ready 0.3 s in, but the loop only turns every 0.1 s while it is hogged: with a
    # plain 0.25 s timeout this timed out; the loop's lateness is added back.
    result = await Context().call(lambda: _answer_after(0.3), timeout=0.25)
    assert result == "answer" and time.monotonic() - started >= 0.3
    await hog


async def test_a_store_that_does_not_answer_on_an_on_time_loop_times_out() -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="Ignite unreachable"):
        await Context().call(lambda: _answer_after(5), timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 1.5


async def test_a_loop_stuck_for_ever_still_times_out_within_the_stretch() -> None:
    loop_lag()
    hog = asyncio.create_task(_hog(3.0, chunk=0.2))
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await bounded(lambda: _answer_after(60), 0.2)
    assert time.monotonic() - started <= MAX_STRETCH * 0.2 + 1.0
    hog.cancel()


class _Clock:
    """The two loop methods LoopLag uses, on a clock the test moves (a real loop on a loaded machine
    is descheduled by the OS, and that is real lateness: no fixed bound on it can hold)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.due: list[tuple[float, Any]] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, fn: Any) -> Any:
        self.due.append((when, fn))
        return None

    def fire_next(self, late: float) -> None:
        """Run the next tick ``late`` seconds after it was due."""
        when, fn = self.due.pop(0)
        self.now = when + late
        fn()


def test_the_lag_monitor_counts_lateness_not_idle_time() -> None:
    clock = _Clock()
    lag = LoopLag(clock)  # type: ignore[arg-type]
    for _ in range(6):  # an idle loop: every tick on time, or within the noise
        clock.fire_next(late=NOISE_S / 2)
    assert lag.total == 0.0
    clock.fire_next(late=0.25)  # the loop was blocked: that tick fired 0.25 s late
    assert lag.total == pytest.approx(0.25)
    clock.fire_next(late=0.0)  # the next one is due TICK_S after the late tick, not before
    assert lag.total == pytest.approx(0.25) and clock.due[0][0] == pytest.approx(clock.now + TICK_S)


def test_late_now_follows_recent_ticks_and_an_overdue_one() -> None:
    clock = _Clock()
    lag = LoopLag(clock)  # type: ignore[arg-type]
    assert lag.late_now() == 0.0
    for _ in range(10):  # a starved loop: every tick half a second late
        clock.fire_next(late=0.5)
    assert 0.4 < lag.late_now() <= 0.5
    for _ in range(30):  # on time again: within a couple of seconds it counts as on time
        clock.fire_next(late=0.0)
    assert lag.late_now() < 0.01
    clock.now = clock.due[0][0] + 2.0  # stuck in one long burst: the tick due is 2 s overdue
    assert lag.late_now() == pytest.approx(2.0)


async def test_the_on_time_clock_stands_still_while_the_loop_is_starved() -> None:
    loop_lag()
    await asyncio.sleep(0.1)
    t0, m0 = ontime_ms(), time.monotonic()
    await _hog(0.6)  # the loop turns every 0.1 s: most of this is lateness
    await asyncio.sleep(0.1)
    t1, m1 = ontime_ms(), time.monotonic()
    assert t1 >= t0  # never goes back
    assert t1 - t0 < (m1 - m0) * 1000 - 250  # the starved part is not counted
    # and it goes on once the loop is on time again (a machine busy with other processes makes its
    # timers late too, which counts as lateness: wait for the condition, bounded, rather than a fixed time)
    deadline = time.monotonic() + 10
    while ontime_ms() - t1 < 250 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert ontime_ms() - t1 >= 250
