"""Tombstone purge: raise a collection's floor, then delete the tombstones at or below it."""

from __future__ import annotations

from pyignite.datatypes import LongObject  # type: ignore[import-untyped,unused-ignore]

from hub.core.hlc import COUNTER_BITS
from hub.store.ignite.moves import purge as purge_moves
from hub.store.ignite.read import sql
from hub.store.ignite.schema import Coll, floor_key
from hub.store.ignite.tx import Context


async def gc(ctx: Context, c: Coll, retention_ms: int, now_ms: int) -> int:
    """Purge tombstones older than ``retention_ms``; returns the floor.

    The floor is the highest version of a tombstone actually purged, not the age limit: a collection
    with no deletes keeps its floor, so cursors of any age still catch up instead of re-reading
    everything. The floor moves first (compare-and-set, only upwards), then the rows go: a reader
    that checks the floor after its query either sees the old floor (and its query ran before any
    row was deleted, or the rows it missed are all <= the new floor, which it will see next time) or
    the new one.
    """
    limit = ((now_ms - retention_ms) << COUNTER_BITS) - 1
    if limit <= 0:
        return int(await ctx.sys.get(floor_key(c.spec.name)) or 0)

    async def run() -> int:
        rows = await sql(
            ctx.client, f"SELECT MAX(VER) FROM {c.table} WHERE DEL = TRUE AND VER <= ?", (limit,)
        )
        oldest = int(rows[0][0]) if rows and rows[0][0] is not None else 0
        if oldest > 0:
            await _raise_floor(ctx, floor_key(c.spec.name), oldest)
            await sql(ctx.client, f"DELETE FROM {c.table} WHERE DEL = TRUE AND VER <= ?", (oldest,))
        await purge_moves(ctx, c, limit, _raise_floor)  # same retention (moves.py)
        return int(await ctx.sys.get(floor_key(c.spec.name)) or 0)

    return await ctx.call(run, timeout=120.0)


async def _raise_floor(ctx: Context, key: str, floor: int) -> None:
    """Set ``key`` to ``floor`` unless it already holds as much (compare-and-set against other hubs)."""
    while True:
        cur = await ctx.sys.get(key)
        if cur is None:
            if await ctx.sys.put_if_absent(key, floor, value_hint=LongObject):
                return
            continue
        if int(cur) >= floor:
            return
        if await ctx.sys.replace_if_equals(
            key, int(cur), floor, sample_hint=LongObject, value_hint=LongObject
        ):
            return
