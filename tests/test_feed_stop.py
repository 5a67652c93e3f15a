"""Feed.stop() ends the feed even when a cancellation is swallowed (found by the chaos suite: a
SIGTERMed hub whose Ignite was gone never exited, its feed reopening for ever)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from hub.authz import AccessPolicy
from hub.core.errors import StoreUnavailable
from hub.core.types import Change
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


async def test_a_change_the_settle_already_covered_is_not_sent_again() -> None:
    """An event that waited in the feed's queue while a settle sent its change (settling covers a
    version only after sending everything up to it) is dropped, not delivered a second time."""
    from hub.core.types import Change

    feed = Feed(MemoryStore(), "c", policy=AccessPolicy({}), metrics=HubMetrics())
    sent: list[list[Change]] = []

    async def deliver(changes: list[Change], subs: object, received: float, build: object = None) -> None:
        sent.append(list(changes))

    feed.fan._deliver = deliver  # type: ignore[method-assign]
    feed.subscribers.add(object())  # type: ignore[arg-type]  # someone to send to
    feed.covered = 100
    await feed._fan_out([Change("a", 90, {"x": 1}), Change("b", 100, None), Change("c", 101, {"x": 2})])
    assert sent == [[Change("c", 101, {"x": 2})]]
    await feed._fan_out([Change("a", 99, {"x": 3})])
    assert len(sent) == 1 and feed._seen == {"c": 101}


async def test_a_settle_reads_only_below_the_watermark_of_the_settle_before() -> None:
    """While changes flow, a settle settles up to the watermark the previous settle raised: a change
    whose event arrives within a tick is sent from its event, never fetched by the repair read as
    well; one whose event never comes is repaired one tick later. A feed nobody subscribes to reads
    nothing."""
    from hub.core.types import CollectionSpec, Mutation

    store = MemoryStore()
    await store.open()
    await store.ensure_collection(CollectionSpec("c"))
    feed = Feed(store, "c", policy=AccessPolicy({}), metrics=HubMetrics())
    sent: list[str] = []
    repaired: list[str] = []

    async def deliver(changes: list[Change], subs: object, received: float, build: object = None) -> None:
        sent.extend(c.id for c in changes)

    async def hand_out(*_: object) -> None:
        pass

    unseen = store.unseen

    async def counted(*a: Any, **kw: Any) -> Any:
        out, upto = await unseen(*a, **kw)
        repaired.extend(c.id for c in out)
        return out, upto

    feed.fan._deliver = deliver  # type: ignore[method-assign]
    feed.fan._hand_out = hand_out  # type: ignore[method-assign]
    store.unseen = counted  # type: ignore[method-assign]

    seqs = itertools.count(1)

    async def write(doc: str) -> Change:  # committed; no feed is open, so no event comes by itself
        [r] = await store.apply("w", [Mutation("w", next(seqs), "c", doc, "put", {}, 1, None)])
        return Change(doc, r.ver, {})

    async def settle() -> None:
        feed._last_settle = 0.0  # due now
        await feed._settle()

    await settle()  # nobody subscribed: nothing read
    lost = await write("lost")  # its event never comes
    await settle()
    await settle()
    assert repaired == [] and feed.covered > lost.ver  # a feed without subscribers reads nothing

    feed.subscribers.add(object())  # type: ignore[arg-type]
    late = await write("late")  # its event arrives after the next settle raised the watermark
    never = await write("never")
    await settle()
    assert feed.covered < late.ver and repaired == []  # settled up to the watermark before
    await feed._fan_out([late])
    await settle()
    assert repaired == ["never"]  # fetched once; "late" came by its event
    assert sent == ["late", "never"] and feed.covered > never.ver
