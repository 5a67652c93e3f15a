"""Resume cursors and the choice between snapshot, catch-up and RESYNC.

A cursor is ``(epoch, ver)``: the client holds every change with a version ``<= ver`` (or a newer
one of the same document). The hub never hands out a cursor above the collection's closed
watermark, below which nothing can commit any more (hub/store/ignite/closed.py), so catch-up reads
exactly ``VER > ver``. ``overlap`` (default 0) re-reads more, an optional margin; clients drop
duplicates by version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .hlc import COUNTER_BITS

Cursor = tuple[str, int]
Mode = Literal["snapshot", "catchup"]


@dataclass(frozen=True, slots=True)
class SyncPlan:
    mode: Mode
    after: int
    reset: bool
    resync_reason: str | None = None


def overlap_versions(overlap_ms: int) -> int:
    return overlap_ms << COUNTER_BITS


def plan_sync(cursor: Cursor | None, epoch: str, floor: int, overlap_ms: int) -> SyncPlan:
    """Decide how to bring a subscriber from ``cursor`` to the present.

    ``floor`` is the highest version whose tombstones may have been purged: a catch-up that would
    need to start at or below it cannot see every delete, so the client gets a full snapshot.
    """
    if cursor is None:
        return SyncPlan("snapshot", 0, True)
    cursor_epoch, ver = cursor
    if cursor_epoch != epoch:
        return SyncPlan("snapshot", 0, True, "epoch")
    after = max(0, ver - overlap_versions(overlap_ms))
    if after < floor:
        return SyncPlan("snapshot", 0, True, "retention")
    return SyncPlan("catchup", after, False)
