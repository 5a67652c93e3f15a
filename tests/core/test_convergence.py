"""Convergence of clients and hubs over one store, checked on the pure model in ``model.py``.

A Hypothesis state machine drives clients (writes, deletes, batches sent to either hub, frames
duplicated, acks lost, live changes reordered across ids and dropped with the connection),
external writers and the hubs' feeds. After every step a copy of the world is brought to
quiescence (no faults, outboxes flushed, acks and changes delivered) and every client's
documents must equal the store's. The model itself asserts at every commit that per-id versions
only grow and that no ``(client, seq)`` changes the store twice; replays of acknowledged
batches must change nothing.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from hub.core.conflict import Doc, MergeContext, Policy
from hub.core.dedup import RETAINED_RESULTS

from .model import World, keep_equal_fields, same_doc

IDS = ["a", "b"]
# 1, 1.0 and True are equal in Python but not on the wire: the model must keep them apart.
VALUES: list[Any] = [1, 1.0, True, "1", [1], None]
DOCS = st.dictionaries(st.sampled_from(["x", "y"]), st.sampled_from(VALUES), min_size=1, max_size=2)
MAYBE_DOCS = st.none() | DOCS
INDEX = st.integers(0, 7)

MAX_SKEW_MS = 3
MAX_LAG_MS = 4
OVERLAP_MS = MAX_LAG_MS + MAX_SKEW_MS + 1  # covers reordering plus clock skew between hubs


class Convergence(RuleBasedStateMachine):
    policy = Policy.LWW

    def __init__(self) -> None:
        super().__init__()
        self.world: World | None = None

    @property
    def w(self) -> World:
        assert self.world is not None
        return self.world

    @initialize(
        hub_skews=st.lists(st.integers(0, MAX_SKEW_MS), min_size=1, max_size=2),
        client_skews=st.lists(st.integers(-50, 50), min_size=1, max_size=3),
        retained=st.sampled_from([1, 3, RETAINED_RESULTS]),
    )
    def start(self, hub_skews: list[int], client_skews: list[int], retained: int) -> None:
        self.world = World(
            self.policy,
            hub_skews=hub_skews,
            client_skews=client_skews,
            retained=retained,
            overlap_ms=OVERLAP_MS,
            max_lag_ms=MAX_LAG_MS,
        )

    def _client(self, i: int) -> int:
        return i % len(self.w.clients)

    def _hub(self, i: int) -> int:
        return i % len(self.w.hubs)

    @rule(c=INDEX, id_=st.sampled_from(IDS), doc=MAYBE_DOCS)
    def write(self, c: int, id_: str, doc: Doc | None) -> None:
        self.w.write(self._client(c), id_, doc)

    @rule(c=INDEX, h=INDEX, count=st.integers(1, 4), duplicate=st.booleans(), lose_ack=st.booleans())
    def send(self, c: int, h: int, count: int, duplicate: bool, lose_ack: bool) -> None:
        self.w.send(self._client(c), self._hub(h), count, duplicate=duplicate, lose_ack=lose_ack)

    @rule(c=INDEX, h=INDEX, skip=st.integers(1, 3), count=st.integers(1, 3))
    def send_ahead(self, c: int, h: int, skip: int, count: int) -> None:
        self.w.send_ahead(self._client(c), self._hub(h), skip, count)

    @rule(c=INDEX, pick=INDEX, n=st.integers(1, 3))
    def deliver(self, c: int, pick: int, n: int) -> None:
        for _ in range(n):
            self.w.deliver(self._client(c), pick)

    @rule(c=INDEX)
    def drop(self, c: int) -> None:
        self.w.drop(self._client(c))

    @rule(c=INDEX, h=INDEX)
    def reconnect(self, c: int, h: int) -> None:
        self.w.reconnect(self._client(c), self._hub(h))

    @rule(ms=st.integers(0, 3))
    def tick(self, ms: int) -> None:
        self.w.tick(ms)

    @rule(id_=st.sampled_from(IDS), doc=MAYBE_DOCS)
    def external_write(self, id_: str, doc: Doc | None) -> None:
        self.w.external_write(id_, doc)

    @rule(h=INDEX)
    def feed_stamp(self, h: int) -> None:
        self.w.feed_stamp(self._hub(h))

    @rule(retention_ms=st.integers(MAX_SKEW_MS + 1, 10))
    def purge(self, retention_ms: int) -> None:
        self.w.purge(retention_ms)

    @rule(pick=st.integers(0, 100), h=INDEX)
    def replay_acked(self, pick: int, h: int) -> None:
        self.w.replay_acked(pick, self._hub(h))

    @invariant()
    def converges_from_here(self) -> None:
        if self.world is None:
            return
        future = copy.deepcopy(self.world)
        future.quiesce()
        future.check_converged()
        # Quiescence is stable: replaying every acknowledged batch changes nothing.
        for i in range(len(future.acked)):
            future.replay_acked(i, 0)
        future.check_converged()


SETTINGS = settings(
    max_examples=300,
    stateful_step_count=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class LwwConvergence(Convergence):
    policy = Policy.LWW


class RejectConvergence(Convergence):
    policy = Policy.REJECT_IF_STALE


class MergeConvergence(Convergence):
    policy = Policy.MERGE


TestLww = LwwConvergence.TestCase
TestLww.settings = SETTINGS
TestRejectIfStale = RejectConvergence.TestCase
TestRejectIfStale.settings = SETTINGS
TestMerge = MergeConvergence.TestCase
TestMerge.settings = SETTINGS


# -- the model's own helpers ---------------------------------------------------------------------


def test_same_doc_tells_types_apart() -> None:
    assert same_doc({"x": 1}, {"x": 1})
    assert not same_doc({"x": 1}, {"x": 1.0})
    assert not same_doc({"x": 1}, {"x": True})
    assert same_doc(None, None)
    assert not same_doc(None, {})


def test_merge_hook_is_deterministic() -> None:
    ctx = MergeContext("c0", 1, 0, 0)
    assert keep_equal_fields({"x": 1.0, "y": 2}, {"x": 1}, ctx) == {"x": 1.0, "y": 2}
    assert keep_equal_fields({"x": 1}, {"x": 2}, ctx) == {"x": 2}
    assert keep_equal_fields(None, {"x": 2}, ctx) == {"x": 2}
    assert keep_equal_fields({"x": 1}, None, ctx) is None


def test_lost_ack_then_replay_on_the_other_hub() -> None:
    world = World(
        Policy.LWW,
        hub_skews=[0, 2],
        client_skews=[0, 0],
        retained=RETAINED_RESULTS,
        overlap_ms=OVERLAP_MS,
        max_lag_ms=MAX_LAG_MS,
    )
    world.write(0, "a", {"x": 1})
    world.send(0, 0, 1, duplicate=False, lose_ack=True)
    assert world.clients[0].outbox  # still pending
    world.reconnect(0, 1)
    world.send(0, 1, 1, duplicate=True, lose_ack=False)
    assert not world.clients[0].outbox
    assert world.ignite.effects == {("c0", 1): 1}
    world.quiesce()
    world.check_converged()
    assert world.clients[1].view() == {"a": {"x": 1}}


def test_external_write_is_stamped_and_reaches_everyone() -> None:
    world = World(
        Policy.REJECT_IF_STALE,
        hub_skews=[0],
        client_skews=[0],
        retained=RETAINED_RESULTS,
        overlap_ms=OVERLAP_MS,
        max_lag_ms=MAX_LAG_MS,
    )
    world.external_write("a", {"x": "ext"})
    world.write(0, "a", {"x": "mine"})
    world.send(0, 0, 1, duplicate=False, lose_ack=False)
    assert world.acked[-1][2][0]["s"] == "rejected"
    world.quiesce()
    world.check_converged()
    assert world.clients[0].view() == {"a": {"x": "ext"}}


def test_skew_beyond_the_overlap_can_lose_a_change() -> None:
    """The model is sharp enough to see the overlap assumption fail: with hub clocks further
    apart than the catch-up overlap, a change dropped in flight is never caught up."""
    world = World(
        Policy.LWW,
        hub_skews=[0, 100],
        client_skews=[0, 0],
        retained=RETAINED_RESULTS,
        overlap_ms=OVERLAP_MS,
        max_lag_ms=MAX_LAG_MS,
    )
    world.write(1, "fast", {"x": 1})
    world.send(1, 1, 1, duplicate=False, lose_ack=False)  # committed by the hub 100 ms ahead
    world.deliver(0, 0)  # client 0's cursor jumps 100 ms ahead
    world.write(1, "slow", {"x": 2})
    world.send(1, 0, 1, duplicate=False, lose_ack=False)  # committed by the other hub
    world.drop(0)  # ... and lost in flight
    world.reconnect(0, 0)
    world.clients[1].outbox.clear()
    world.quiesce()
    with pytest.raises(AssertionError):
        world.check_converged()
