"""The closed watermark of a collection: the version below which nothing can commit any more.

``closed/<coll>`` in ``synchub_sys`` holds a version ``W``. Every hub transaction that stamps a version
(client writes, stamps of external writes) reads ``W`` inside its OPTIMISTIC SERIALIZABLE transaction and
stamps above it. :func:`advance` raises ``W`` in a transaction of its own. Ignite validates every entry a
serializable transaction read when it commits, so a stamping transaction that read an older ``W`` fails
with a read/write conflict (and is retried above the new one) unless it committed first. Hence, once a
reader sees ``W``, every version ``<= W`` that will ever be committed already is: a cursor at ``W`` can
never be passed by a late commit, whatever the hubs' clocks say or however long a commit was held
(docs/sync-model.md §4).

Reading ``W`` also feeds each hub's HLC, so hub clocks that lag are pulled up to the fleet; how far ``W``
runs ahead of this hub's own clock is its clock skew, reported in the log and as a metric. ``W`` may be
seconds old when read (an idle fleet advances it every 10 s), so a hub also reads the Ignite servers'
clock (``CURRENT_TIMESTAMP()``) at start-up and every :data:`SERVER_CLOCK_EVERY_MS`: a reading as fresh
as one round trip. A hub restarted with a lagging clock judges client clocks against the fleet's time
from its first connection on, not against a watermark the fleet wrote while idle.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from pyignite.datatypes import LongObject  # type: ignore[import-untyped,unused-ignore]

from hub.core.hlc import physical_ms
from hub.store.base import CollectionInfo
from hub.store.ignite.read import get_all, sql
from hub.store.ignite.schema import closed_key, epoch_key, floor_key
from hub.store.ignite.tx import Context, retry_conflicts

log = logging.getLogger(__name__)

#: A watermark this far (ms) ahead of this hub's clock is worth a warning: some hub's clock is off.
SKEW_WARN_MS = 5_000
#: Skew readings are kept this long (ms), at most SKEW_SAMPLES of them.
SKEW_WINDOW_MS = 120_000
SKEW_SAMPLES = 256
#: The Ignite servers' clock is read this often (ms) when the hub settles.
SERVER_CLOCK_EVERY_MS = 10_000


async def info(ctx: Context, coll: str) -> CollectionInfo:
    """The collection's epoch, tombstone floor and watermark, in one request (every sync and page
    asks: three gets were a sixth of a hub's CPU under connection churn)."""
    keys = (epoch_key(coll), floor_key(coll), closed_key(coll))
    values = await get_all(ctx.sys, keys)
    epoch, floor, closed = (values.get(k) for k in keys)
    return CollectionInfo(str(epoch or ""), int(floor or 0), int(closed or 0))


async def observe(ctx: Context, colls: Iterable[str]) -> dict[str, int]:
    """Inside a stamping transaction: read the watermarks of ``colls`` (enlisting them, so that an
    advance before the commit makes it conflict) and move the HLC above them. Returns each
    collection's tombstone floor, read in the same request (the write rule needs it)."""
    names = list(colls)
    if not names:
        return {}
    values = await get_all(ctx.sys, [closed_key(n) for n in names] + [floor_key(n) for n in names])
    for name in names:
        value = values.get(closed_key(name))
        if value is not None:
            ctx.hlc.observe(int(value))
    return {name: int(values.get(floor_key(name)) or 0) for name in names}


async def advance(ctx: Context, coll: str) -> int:
    """Raise ``coll``'s watermark to this hub's HLC (above its current value); return it."""

    async def once() -> int:
        async with ctx.transaction() as tx:
            key = closed_key(coll)
            current = int(await ctx.sys.get(key) or 0)
            ctx.hlc.observe(current)
            now = ctx.clock()
            new = ctx.hlc.now(now)
            await ctx.sys.put(key, new, value_hint=LongObject)
            await tx.commit()
        _note_skew(ctx, physical_ms(current) - now)
        return new

    new = await ctx.call(
        lambda: retry_conflicts(
            once, refused="advancing the watermark failed", gave_up=f"watermark of {coll!r}"
        )
    )
    if ctx.clock() - ctx.server_clock_read >= SERVER_CLOCK_EVERY_MS:
        await server_clock(ctx)
    return new


async def server_clock(ctx: Context) -> None:
    """Read the clock of the Ignite server this hub talks to as a skew reading (a lower bound of the
    fleet's time, like a watermark, but fresh). A server whose clock lags the hub's reads as 0."""
    ctx.server_clock_read = ctx.clock()
    try:
        rows = await ctx.call(lambda: sql(ctx.client, "SELECT CURRENT_TIMESTAMP()"))
    except Exception as exc:  # a reading less: the watermarks still feed the estimate
        log.debug("reading the Ignite servers' clock failed: %r", exc)
        return
    stamp = rows[0][0] if rows and rows[0] else None
    if isinstance(stamp, datetime):  # aware (UTC) or naive local: .timestamp() is epoch time either way
        _note_skew(ctx, int(stamp.timestamp() * 1000) - ctx.clock())


async def sample(ctx: Context, coll: str) -> None:
    """Read the watermark without raising it: feeds the HLC and the skew estimate at start-up,
    before this hub has settled anything (a hub that just started with a lagging clock would
    otherwise judge client clocks against that clock)."""
    current = await read(ctx, coll)
    if current:
        ctx.hlc.observe(current)
        _note_skew(ctx, physical_ms(current) - ctx.clock())
    if ctx.clock() - ctx.server_clock_read >= SERVER_CLOCK_EVERY_MS:  # once for all collections
        await server_clock(ctx)


async def read(ctx: Context, coll: str) -> int:
    """The current watermark (0 before any advance)."""
    return int(await ctx.sys.get(closed_key(coll)) or 0)


def _note_skew(ctx: Context, ahead_ms: int) -> None:
    """Record how far the fleet's watermark runs ahead of this hub's clock (0 when it does not).

    One reading is a lower bound: the watermark was written a moment ago (up to a settle interval
    when the fleet is idle). Clock offsets change slowly, so the skew is the largest reading of the
    last :data:`SKEW_WINDOW_MS`."""
    now = ctx.clock()
    ctx.skew_seen = [(t, a) for t, a in ctx.skew_seen if now - t < SKEW_WINDOW_MS][-(SKEW_SAMPLES - 1) :]
    ctx.skew_seen.append((now, max(0, ahead_ms)))
    ahead_ms = max(a for _, a in ctx.skew_seen)
    warn = ahead_ms > SKEW_WARN_MS
    if warn and ctx.skew_ms <= SKEW_WARN_MS:
        log.warning(
            "clock skew: the fleet's time (versions stamped by other hubs, the Ignite servers' clock) runs "
            "%.1f s ahead of this hub's clock; check NTP on every hub and server (sync stays correct, but "
            "versions follow the fastest clock)",
            ahead_ms / 1000,
        )
    ctx.skew_ms = ahead_ms
