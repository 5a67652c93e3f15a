"""The feed's sweep is paced to about ``sweep_share`` of the time: partitions that take long (a large
collection) mean fewer per call and longer pauses, not a hub spending cores on it (found with the
catch-up benchmark at 1,000,000 documents: two workers sweeping flat out at 16 partitions a second)."""

from __future__ import annotations

import asyncio
import time

import pytest

from hub.authz import AccessPolicy
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
