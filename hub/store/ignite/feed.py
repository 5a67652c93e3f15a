"""Live feed of a collection: the continuous query on the data cache, turned into stamped changes.

On open the CQ starts first, then :func:`hub.store.ignite.stamp.reconcile` scans data and meta and stamps
every key whose data hash differs from ``H`` (writes made while no feed ran, a hub that died, a lost CQ);
those changes are emitted first. Live events that overlap the scan are stamped once and emitted again with
the same version. Each run of events then goes through :func:`hub.store.ignite.stamp.process_events`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from pyignite.exceptions import (  # type: ignore[import-untyped,unused-ignore]
    ReconnectError,
    SocketError,
)

from hub.core.errors import ContinuousQueryError, FeedLost, StoreUnavailable, SubscriptionLost
from hub.core.types import Change
from hub.ignite import continuous_query
from hub.store.base import TimedChanges
from hub.store.ignite.schema import Coll
from hub.store.ignite.stamp import process_events, reconcile
from hub.store.ignite.tx import Context

#: CQ notifications carry up to this many events; a partial page is flushed after CQ_TIME_INTERVAL_MS.
#: (measured on 2.17: a local node still sends about one frame per event, so the buffer must absorb bursts.)
CQ_PAGE_SIZE = 128
CQ_TIME_INTERVAL_MS = 20
CQ_BUFFER_BATCHES = 65536  # notifications (a local node sends about one per event)
CQ_BUFFER_BYTES = 256 << 20  # and bytes: whichever fills first loses the feed (-> resync), never memory
#: CQ events gathered (from notifications already received) before one meta lookup / stamp round.
MAX_EVENTS_PER_ROUND = 2000
#: Changes per yielded list during reconcile.
RECONCILE_CHUNK = 1000


async def _iterate(ctx: Context, c: Coll, cq: Any) -> AsyncGenerator[list[Change], None]:
    try:
        found = await ctx.call(lambda: reconcile(ctx, c), timeout=600.0)
        found.sort(key=lambda ch: ch.ver)
        for i in range(0, len(found), RECONCILE_CHUNK):
            yield found[i : i + RECONCILE_CHUNK]
        while True:
            try:
                events = list(await cq.__anext__())
                received = time.monotonic()
                while cq.buffered and len(events) < MAX_EVENTS_PER_ROUND:
                    events.extend(await cq.__anext__())
            except StopAsyncIteration:
                return
            out = await ctx.call(lambda ev=events: process_events(ctx, c, ev))  # type: ignore[misc]
            if out:
                yield TimedChanges(out, received)
    except SubscriptionLost as e:
        raise FeedLost(f"continuous query on {c.spec.cache_name!r} lost: {e}") from e
    except (ContinuousQueryError, ReconnectError, SocketError, OSError) as e:
        # e.g. decoding an event needed binary metadata and the node serving that request died
        raise FeedLost(f"continuous query on {c.spec.cache_name!r} failed: {e!r}") from e
    except StoreUnavailable as e:
        raise FeedLost(f"feed of {c.spec.name!r} broke: {e}") from e


@contextlib.asynccontextmanager
async def open_feed(ctx: Context, c: Coll) -> AsyncIterator[AsyncIterator[list[Change]]]:
    """Start the CQ, then hand out an iterator that reconciles first and then follows the CQ."""
    ctx.recent.forget(c.spec.cache_name)  # entries whose events a lost CQ never delivered
    cq = continuous_query(
        ctx.client,
        c.spec.cache_name,
        page_size=CQ_PAGE_SIZE,
        time_interval_ms=CQ_TIME_INTERVAL_MS,
        buffer_batches=CQ_BUFFER_BATCHES,
        buffer_bytes=CQ_BUFFER_BYTES,
        include_expired=True,  # an entry that expires is a delete subscribers must hear about
    )
    try:
        await cq.__aenter__()
    except (ContinuousQueryError, ConnectionError, OSError) as e:
        raise StoreUnavailable(f"cannot start a continuous query on {c.spec.cache_name!r}: {e}") from e
    it = _iterate(ctx, c, cq)
    try:
        yield it
    finally:
        with contextlib.suppress(Exception):
            await it.aclose()
        await cq.aclose()
