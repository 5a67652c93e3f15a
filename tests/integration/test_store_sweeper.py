"""One feed of the fleet sweeps a collection: the one holding its coverage lease (real Ignite).

Every hub worker used to sweep every collection: at 1,000,000 documents two workers of one hub spent
about 0.2 CPU-s per second between them comparing the same partitions (bench/catchup.py found the
hub never idle). The sweep's stamps are meta rows every hub's settle reads, so one sweeper is enough;
when it goes, another feed takes the lease and sweeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from hub.core.types import CollectionSpec
from hub.store.ignite import IgniteStore
from hub.store.ignite.cover import RENEW_S, cover_key, parse_holder


@pytest.fixture
async def stores(ignite_addresses: list[tuple[str, int]]) -> AsyncIterator[list[IgniteStore]]:
    made = [IgniteStore(ignite_addresses) for _ in range(2)]
    for s in made:
        await s.open()
    yield made
    for s in made:
        await s.close()


async def drain(store: IgniteStore, coll: str, stop: asyncio.Event) -> None:
    """Run ``store``'s feed of ``coll`` (its opening pass and events) until ``stop``."""
    async with store.feed(coll) as feed:

        async def pump() -> None:
            async for _ in feed:
                pass

        task = asyncio.create_task(pump())
        await stop.wait()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


async def until(cond: object, timeout: float) -> float:
    t0 = time.monotonic()
    while not cond():  # type: ignore[operator]
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not within {timeout:g}s")
        await asyncio.sleep(0.1)
    return time.monotonic() - t0


@pytest.mark.timeout(120)
async def test_one_feed_sweeps_and_another_takes_over_when_it_closes(
    stores: list[IgniteStore], cache_name: str
) -> None:
    a, b = stores
    for s in stores:
        await s.ensure_collection(CollectionSpec(cache_name))
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    run_a = asyncio.create_task(drain(a, cache_name, stop_a))
    run_b: asyncio.Task[None] | None = None
    try:
        await until(lambda: a.sweeps(cache_name), 30)
        run_b = asyncio.create_task(drain(b, cache_name, stop_b))
        # b confirms a's lease and covers too, without taking it: still one sweeper, for many renewals
        await asyncio.sleep(4 * RENEW_S)
        assert a.sweeps(cache_name) and not b.sweeps(cache_name)
        holder = parse_holder(await a.ctx.sys.get(cover_key(cache_name)))
        assert holder is not None
        stop_a.set()  # a's feed closes and releases the lease
        await run_a
        assert not a.sweeps(cache_name)
        # released, not left to expire: the lease no longer names a's feed (it is gone, or b's already)
        after = parse_holder(await b.ctx.sys.get(cover_key(cache_name)))
        assert after is None or after[0] != holder[0]
        # b takes it at a renewal (the bound only stops a hung test: the lease is free already)
        await until(lambda: b.sweeps(cache_name), 60)
        stop_b.set()
        await run_b
        assert not b.sweeps(cache_name)
    finally:  # a failure above must not leave feeds running into the next test
        stop_a.set()
        stop_b.set()
        await asyncio.gather(run_a, *([run_b] if run_b else []), return_exceptions=True)
