"""The store reads of a query subscription's sync (docs/sync-model.md, subsets).

A snapshot or a catch-up with moves reads the subset's documents changed since the cursor and
merges in, in version order, the removals of those that left the subset (or were deleted in it)
since then. A catch-up from a store that cannot tell what left reads every change since the cursor
and turns each one that does not match now into a removal.
"""

from __future__ import annotations

from hub.core.query import Filter
from hub.core.subsets import classify
from hub.core.types import Change
from hub.server.syncreads import SyncReads


async def read_subset(
    reads: SyncReads,
    coll: str,
    where: Filter,
    gone: list[list[Change] | None],
    after: int,
    include_deleted: bool,
    size: int,
) -> tuple[list[Change], int, bool]:
    """One read from ``after``: its changes, the version it reached, whether it was full.

    ``gone`` holds the sync's removals once read (with its first page; ``[None]``: the store cannot
    tell); reads of one sync share it, so they run one at a time."""
    if include_deleted and not gone:
        gone.append(await reads.leavers(coll, where, after))
    removed = gone[0] if include_deleted else []
    if removed is not None:
        sub = await reads.subset(coll, where, after, size)
        last = sub.last
        out = [c for c in removed if c.ver > after and (not sub.full or c.ver <= last)]
        if out:
            last = max(last, out[-1].ver)
            out = sorted(sub.changes + out, key=lambda c: c.ver)
        return out or sub.changes, last, sub.full
    batch = await reads.changes(coll, after, size, include_deleted=include_deleted)
    last = batch[-1].ver if batch else after
    return classify(where, batch), last, len(batch) >= size
