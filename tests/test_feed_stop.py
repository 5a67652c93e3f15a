"""Feed.stop() ends the feed even when a cancellation is swallowed (found by the chaos suite: a
SIGTERMed hub whose Ignite was gone never exited, its feed reopening for ever)."""

from __future__ import annotations

import asyncio

import pytest

from hub.authz import AccessPolicy
from hub.core.errors import StoreUnavailable
from hub.metrics import HubMetrics
from hub.server.feed import Feed
from hub.store.base import CollectionInfo
from hub.store.memory import MemoryStore

pytestmark = pytest.mark.asyncio


class UnreachableStore(MemoryStore):
    """Ignite gone: every call fails after a while, and a cancellation that arrives during one
    comes out as a store error (as pyignite's ``asyncio.wait_for`` connect drops it on 3.11)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.swallowed = 0

    async def info(self, coll: str) -> CollectionInfo:
        self.calls += 1
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            self.swallowed += 1
            raise StoreUnavailable("Ignite unreachable: ReconnectError('out of nodes')") from None
        raise StoreUnavailable("Ignite unreachable: ReconnectError('out of nodes')")


async def test_a_feed_stops_although_its_store_swallows_the_cancellation() -> None:
    store = UnreachableStore()
    feed = Feed(store, "c", policy=AccessPolicy({}), metrics=HubMetrics(), backoff=(0.0, 0.0))
    await feed.start(timeout=0.2)  # never opens: Ignite is gone
    assert store.calls > 0 and not feed.live
    async with asyncio.timeout(10):
        await feed.stop()
    calls = store.calls
    await asyncio.sleep(0.3)
    assert store.calls == calls  # nothing runs on after stop()
