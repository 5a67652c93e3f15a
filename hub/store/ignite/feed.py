"""Live feed of a collection: the continuous query on the data cache, turned into stamped changes.

On open the CQ starts first; then the feed makes one pass over the collection's partitions with
:func:`hub.store.ignite.stamp.partition_differences`, stamping every key whose data hash differs
from ``H`` (writes made while no feed ran, a hub that died, a lost CQ). The pass is interleaved with
the live events, one partition between two rounds of events: live changes are not held back by the
size of the collection, the CQ buffer never fills because of it (a full scan before the first event
did, and the lost feed reopened into the same scan, a livelock), and its memory is one partition's.
A change found by both is stamped once and emitted twice with the same version. Each run of events
goes through :func:`hub.store.ignite.stamp.process_events`.

The pass is skipped when another hub's feed already covers the collection (:mod:`~.cover`): a hub
joining a running fleet does not read the whole collection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from pyignite.exceptions import (  # type: ignore[import-untyped,unused-ignore]
    ReconnectError,
    SocketError,
)

from hub.core.errors import ContinuousQueryError, FeedLost, StoreUnavailable, SubscriptionLost
from hub.core.types import Change
from hub.ignite import continuous_query
from hub.store.base import TimedChanges
from hub.store.ignite.cover import RENEW_S, Lease
from hub.store.ignite.cursors import CURSORS
from hub.store.ignite.schema import Coll
from hub.store.ignite.stamp import STAMP_CHUNK, partition_differences, process_events, stamp
from hub.store.ignite.tx import Context

log = logging.getLogger(__name__)

#: CQ notifications carry up to this many events; a partial page is flushed after CQ_TIME_INTERVAL_MS.
#: (measured on 2.17: a local node still sends about one frame per event, so the buffer must absorb bursts.)
CQ_PAGE_SIZE = 128
CQ_TIME_INTERVAL_MS = 20
CQ_BUFFER_BATCHES = 65536  # notifications (a local node sends about one per event)
CQ_BUFFER_BYTES = 256 << 20  # and bytes: whichever fills first loses the feed (-> resync), never memory
#: CQ events gathered (from notifications already received) before one meta lookup / stamp round.
MAX_EVENTS_PER_ROUND = 2000
#: While the opening pass waits for another hub's coverage to be confirmed, live events are looked
#: for this often (s); the CQ itself batches events for CQ_TIME_INTERVAL_MS.
CONFIRM_POLL_S = 0.02


async def _opening_pass(
    ctx: Context, c: Coll, lease: Lease, urgent: Callable[[], bool]
) -> AsyncGenerator[list[Change], None]:
    """Reconcile every partition once (the count is found by running past the last). Differences are
    stamped a chunk at a time, and whenever ``urgent()`` (live events wait): then it yields.

    Skipped when another hub's feed covers the collection (:mod:`~.cover`): while waiting for its
    confirmation this yields nothing every CONFIRM_POLL_S, so live events are served meanwhile."""
    name = c.spec.name
    if name in ctx.feeds_lost:
        log.info("collection %s: this hub's last feed was lost: full opening pass", name)
    elif await lease.begin():
        while (trusted := await lease.confirmed()) is None:
            await asyncio.sleep(CONFIRM_POLL_S)
            yield []
        if trusted:
            log.info("collection %s: another hub's feed covers it: no opening pass", name)
            lease.covering = True
            return
    p = 0
    pending: dict[str, int] = {}
    while p < c.partitions:
        found_here = await partition_differences(ctx, c, p)
        if found_here is not None:
            pending |= found_here
            p += 1
            if len(pending) < STAMP_CHUNK and not urgent() and p < c.partitions:
                continue
        found = await ctx.call(lambda todo=pending: stamp(ctx, c, todo)) if pending else []  # type: ignore[misc]
        pending = {}
        if found:
            log.info("collection %s: opening pass stamped %d keys", c.spec.name, len(found))
        yield sorted(found, key=lambda ch: ch.ver)
    ctx.feeds_lost.discard(name)
    lease.covering = True


async def _iterate(ctx: Context, c: Coll, cq: Any, lease: Lease) -> AsyncGenerator[list[Change], None]:
    opening: AsyncGenerator[list[Change], None] | None = _opening_pass(ctx, c, lease, lambda: cq.buffered > 0)
    try:
        while True:
            if opening is not None:
                try:
                    found = await opening.__anext__()
                except StopAsyncIteration:
                    opening = None
                else:
                    if found:
                        yield found
                if opening is not None and not cq.buffered:
                    continue  # nothing live waits: next partition
            try:
                events = list(await cq.__anext__())
                lease.busy = True
                received = time.monotonic()
                while cq.buffered and len(events) < MAX_EVENTS_PER_ROUND:
                    events.extend(await cq.__anext__())
            except StopAsyncIteration:
                return
            out = await ctx.call(lambda ev=events: process_events(ctx, c, ev))  # type: ignore[misc]
            lease.busy = False
            if out:
                yield TimedChanges(out, received)
    except SubscriptionLost as e:
        raise FeedLost(f"continuous query on {c.spec.cache_name!r} lost: {e}") from e
    except (ContinuousQueryError, ReconnectError, SocketError, OSError) as e:
        # e.g. decoding an event needed binary metadata and the node serving that request died
        raise FeedLost(f"continuous query on {c.spec.cache_name!r} failed: {e!r}") from e
    except StoreUnavailable as e:
        raise FeedLost(f"feed of {c.spec.name!r} broke: {e}") from e
    finally:
        if opening is not None:
            await opening.aclose()


@contextlib.asynccontextmanager
async def open_feed(ctx: Context, c: Coll) -> AsyncIterator[AsyncIterator[list[Change]]]:
    """Start the CQ, then hand out an iterator over its stamped events and the opening pass (module doc)."""
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
    held = contextlib.ExitStack()
    held.enter_context(CURSORS.holding("cq"))
    lease = Lease(ctx, c.spec.name)
    ctx.leases[c.spec.name] = lease
    it = _iterate(ctx, c, cq, lease)

    async def renew() -> None:
        while True:
            await asyncio.sleep(RENEW_S / 4)
            with contextlib.suppress(StoreUnavailable):  # the next round may do
                await lease.renew(healthy=cq.lost is None and not cq.buffered)

    renewing = asyncio.create_task(renew(), name=f"feed-lease:{c.spec.name}")
    clean = False
    try:
        yield it
        clean = True
    finally:
        renewing.cancel()
        with contextlib.suppress(BaseException):
            await renewing
        if not clean or cq.lost is not None:
            ctx.feeds_lost.add(c.spec.name)  # events it received may be unstamped: reconcile on reopen
        if ctx.leases.get(c.spec.name) is lease:
            del ctx.leases[c.spec.name]
        await lease.release()
        with contextlib.suppress(Exception):
            await it.aclose()
        try:
            await cq.aclose()
        finally:
            held.close()
