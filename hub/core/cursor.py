"""Resume cursors and the choice between snapshot, catch-up and RESYNC.

A cursor is ``(epoch, ver)``. Catch-up re-reads changes from ``ver - overlap`` because a change
stamped with a slightly older version can become visible after a client's cursor passed it
(commit and delivery lag, clock skew between hubs); clients drop the duplicates by version.
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
