"""hub/store/ignite/breaker.py: fail fast while no node can be reached, one trial at a time."""

from __future__ import annotations

import pytest

from hub.core.errors import StoreUnavailable
from hub.store.ignite.breaker import FIRST_S, MOST_S, Breaker


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def breaker() -> tuple[Breaker, Clock]:
    clock = Clock()
    return Breaker(clock=clock, jitter=lambda: 1.0), clock  # no jitter: the full delay


def test_closed_it_lets_every_call_through() -> None:
    b, _ = breaker()
    assert [b.admit() for _ in range(5)] == [False] * 5
    assert not b.open and b.refused == 0


def test_after_an_unreachable_cluster_calls_fail_fast_until_the_backoff_then_one_trial_goes() -> None:
    b, clock = breaker()
    b.unreachable()
    assert b.open
    with pytest.raises(StoreUnavailable, match="Ignite unreachable"):
        b.admit()
    clock.t += FIRST_S
    assert b.admit() is True  # the trial
    with pytest.raises(StoreUnavailable):  # the others wait for its outcome
        b.admit()
    assert b.refused == 2
    b.reachable()
    b.done(True)
    assert not b.open and b.admit() is False


def test_the_backoff_doubles_up_to_its_bound() -> None:
    b, clock = breaker()
    delays = []
    for _ in range(8):
        b.unreachable()
        delays.append(b.delay)
        clock.t = b.until
        assert b.admit() is True
    assert delays[:4] == [FIRST_S, FIRST_S * 2, FIRST_S * 4, FIRST_S * 8]
    assert max(delays) == MOST_S == delays[-1]


def test_a_trial_that_tells_nothing_lets_the_next_call_try() -> None:
    """A timed-out or cancelled trial neither opens nor closes: the next call is the trial."""
    b, clock = breaker()
    b.unreachable()
    clock.t = b.until
    assert b.admit() is True
    b.done(True)
    assert b.open and b.admit() is True


def test_jitter_spreads_the_hubs_attempts_within_half_the_delay() -> None:
    clock = Clock()
    early = Breaker(clock=clock, jitter=lambda: 0.0)
    early.unreachable()
    assert early.until == pytest.approx(clock.t + FIRST_S / 2)
