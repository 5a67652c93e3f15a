"""The feed's sweep is paced to about ``sweep_share`` of the time: partitions that take long (a large
collection) mean fewer per call and longer pauses, not a hub spending cores on it (found with the
catch-up benchmark at 1,000,000 documents: two workers sweeping flat out at 16 partitions a second)."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from hub.authz import AccessPolicy
from hub.core.ratelimit import SharedBudget
from hub.core.types import Change, CollectionSpec
from hub.metrics import HubMetrics
from hub.server.feed import Feed
from hub.store.memory import MemoryStore

pytestmark = pytest.mark.asyncio


class SlowSweep(MemoryStore):
    """Each partition takes ``per`` seconds to reconcile; every call is recorded."""

    def __init__(self, per: float) -> None:
        super().__init__()
        self.per = per
        self.calls: list[tuple[float, int, float]] = []  # (start, partitions, seconds)

    async def sweep(self, coll: str, partitions: int) -> list[Change]:
        t0 = time.monotonic()
        await asyncio.sleep(self.per * partitions)
        self.calls.append((t0, partitions, time.monotonic() - t0))
        return await super().sweep(coll, partitions)


async def _swept(store: SlowSweep, seconds: float, **kw: float) -> list[tuple[float, int, float]]:
    await store.open()
    await store.ensure_collection(CollectionSpec("c"))
    feed = Feed(store, "c", policy=AccessPolicy({}), metrics=HubMetrics(), sweep_partitions=16, **kw)  # type: ignore[arg-type]
    await feed.start(timeout=5)
    await asyncio.sleep(seconds)
    await feed.stop()
    return store.calls


async def test_dear_partitions_are_swept_one_at_a_time_within_the_share() -> None:
    calls = await _swept(SlowSweep(per=0.08), 6.0)  # the default share, 0.1
    assert calls[0][1] == 16  # nothing known yet: the full rate
    later = calls[1:]
    assert len(later) >= 2 and all(n == 1 for _, n, _ in later)
    # from the end of the first call to the start of the last, the sweep worked about 10 % of the time
    span = later[-1][0] - (calls[0][0] + calls[0][2])
    busy = sum(s for _, _, s in later[:-1])
    assert busy / span <= 0.12


async def test_cheap_partitions_keep_the_full_rate() -> None:
    calls = await _swept(SlowSweep(per=0.001), 3.5)
    assert len(calls) >= 2 and all(n == 16 for _, n, _ in calls)


async def test_a_share_of_one_sweeps_unpaced() -> None:
    calls = await _swept(SlowSweep(per=0.08), 6.0, sweep_share=1.0)
    assert len(calls) >= 2 and all(n == 16 for _, n, _ in calls)


class Recording(SlowSweep):
    """Also records which collection each call swept."""

    def __init__(self, per: float) -> None:
        super().__init__(per)
        self.starts: list[tuple[str, float]] = []

    async def sweep(self, coll: str, partitions: int) -> list[Change]:
        self.starts.append((coll, time.monotonic()))
        return await super().sweep(coll, partitions)


class NotMine(SlowSweep):
    """A store whose collection another hub process sweeps until ``mine`` is set."""

    def __init__(self, per: float) -> None:
        super().__init__(per)
        self.mine = False

    def sweeps(self, coll: str) -> bool:
        return self.mine


async def test_a_collection_another_hub_sweeps_is_not_swept_here_until_its_turn() -> None:
    store = NotMine(per=0.001)
    await store.open()
    await store.ensure_collection(CollectionSpec("c"))
    feed = Feed(store, "c", policy=AccessPolicy({}), metrics=HubMetrics(), sweep_partitions=16)  # type: ignore[arg-type]
    await feed.start(timeout=5)
    await asyncio.sleep(2.5)
    assert store.calls == []
    store.mine = True  # the other hub went away: this one took the lease
    await asyncio.sleep(2.5)
    await feed.stop()
    assert len(store.calls) >= 1


async def test_the_collections_of_one_process_share_its_sweep_budget() -> None:
    """Two large collections swept by one process cost it the share once, not twice."""
    store = Recording(per=0.08)
    await store.open()
    budget = SharedBudget(0.1)
    feeds = []
    for name in ("a", "b"):
        await store.ensure_collection(CollectionSpec(name))
        feed = Feed(
            store,
            name,
            policy=AccessPolicy({}),
            metrics=HubMetrics(),
            sweep_partitions=16,
            sweep_share=budget,
        )  # type: ignore[arg-type]
        await feed.start(timeout=5)
        feeds.append(feed)
    await asyncio.sleep(9.0)
    assert len(budget) == 2
    for feed in feeds:
        await feed.stop()
    assert len(budget) == 0  # a stopped feed leaves the budget
    # Once both sweep, each partition (0.08 s) is followed by a pause for a 5 % share: 1.52 s, so
    # calls of one collection start about 1.6 s apart (at its own 10 % they would be 1.08 s apart).
    for name in ("a", "b"):
        starts = [t for coll, t in store.starts if coll == name][1:]
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert len(gaps) >= 2 and min(gaps) >= 1.4, (name, gaps)
