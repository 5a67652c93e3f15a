"""Partition loss: data gone without a trace (no event, no tombstone) becomes a new epoch.

When every owner of a partition leaves the cluster, its entries are gone. Hub-created caches use
``READ_WRITE_SAFE``: Ignite marks the partition LOST and refuses to read or write it until an
operator resets it (``control.sh --cache reset_lost_partitions``); from then on it is empty. The
documents that were there, their meta rows and tombstones with them, vanish, and clients holding
them would keep them forever: a catch-up has nothing to tell them.

So hubs watch for LOST partitions of a collection's caches (``SYS.PARTITION_STATES``). The first
hub to see some records ``lost/<coll>`` in ``synchub_sys``; once none is LOST any more (the reset),
the first hub to see that replaces the collection's epoch and removes the mark, in one transaction
(exactly one hub rotates per loss). Every cursor of the old epoch is then void: live subscribers
are resynced with a snapshot (``reason: "partition_loss"``), returning clients get one as well. No
sync can complete while a partition is LOST (its reads fail), so nothing read before the reset
survives it.

Limits: a loss and reset that no hub sees (all hubs down meanwhile, or reset within one check
interval) go unnoticed; caches whose policy is ``IGNORE`` never show LOST partitions.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from pyignite.datatypes import String  # type: ignore[import-untyped,unused-ignore]

from hub.store.ignite.read import sql
from hub.store.ignite.schema import Coll, epoch_key, meta_cache_name
from hub.store.ignite.tx import Context, retry_conflicts

log = logging.getLogger(__name__)


def lost_key(coll: str) -> str:
    return f"lost/{coll}"


async def _groups(ctx: Context, c: Coll) -> list[int]:
    """Cache group ids of the collection's data and meta caches (a cache without a group is its own)."""
    if not c.groups:
        names = [c.spec.cache_name, meta_cache_name(c.spec.cache_name)]
        query = "SELECT CACHE_GROUP_ID FROM SYS.CACHES WHERE CACHE_NAME IN (?, ?)"
        rows = await sql(ctx.client, query, names)
        c.groups = sorted({int(r[0]) for r in rows})
    return c.groups


async def lost_partitions(ctx: Context, c: Coll) -> set[int]:
    """The partition numbers LOST in the collection's caches; also kept in ``c.lost`` for the scans
    of the sweep and the opening pass, which skip them (a scan of a LOST partition fails, and Ignite
    keeps its cursor open: 128 of them exhaust the connection's cursors)."""
    groups = await _groups(ctx, c)
    if not groups:
        return set()
    marks = ", ".join("?" * len(groups))
    rows = await sql(
        ctx.client,
        "SELECT DISTINCT PARTITION_ID FROM SYS.PARTITION_STATES "
        f"WHERE STATE = 'LOST' AND CACHE_GROUP_ID IN ({marks})",
        groups,
    )
    c.lost = {int(r[0]) for r in rows}
    return c.lost


async def check(ctx: Context, c: Coll) -> bool:
    """Record a loss, or end one with a new epoch; True when this call replaced the epoch."""
    name = c.spec.name
    lost = await lost_partitions(ctx, c)
    mark = await ctx.sys.get(lost_key(name))
    if lost and mark is None:
        if await ctx.sys.put_if_absent(lost_key(name), "lost", value_hint=String):
            log.error(
                "collection %s: %d partitions LOST (every owner left the cluster); reads and writes of "
                "them fail until an operator resets them, then every client of it resyncs",
                name,
                len(lost),
            )
        return False
    if lost or mark is None:
        return False

    async def rotate() -> bool:
        async with ctx.transaction() as tx:
            if await ctx.sys.get(lost_key(name)) is None:
                await tx.rollback()
                return False  # another hub rotated it
            epoch: Any = secrets.token_hex(8)
            await ctx.sys.put(epoch_key(name), epoch, value_hint=String)
            await ctx.sys.remove_key(lost_key(name))
            await tx.commit()
        log.warning("collection %s: lost partitions were reset; new epoch %s, clients resync", name, epoch)
        return True

    return await retry_conflicts(
        rotate, refused="ending a partition loss failed", gave_up=f"epoch of {name!r}"
    )
