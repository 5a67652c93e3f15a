"""hub.core.cursor: snapshot, catch-up or resync."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.core.cursor import SyncPlan, overlap_versions, plan_sync
from hub.core.hlc import pack


def test_overlap_is_counted_in_milliseconds() -> None:
    assert overlap_versions(0) == 0
    assert overlap_versions(1) == 1 << 16
    assert overlap_versions(2_000) == pack(2_000, 0)


def test_nil_cursor_is_a_first_sync() -> None:
    assert plan_sync(None, "e1", pack(50, 0), 10) == SyncPlan("snapshot", 0, True, None)


def test_cursor_of_another_epoch_resyncs() -> None:
    assert plan_sync(("e0", pack(5_000, 0)), "e1", 0, 10) == SyncPlan("snapshot", 0, True, "epoch")


def test_catchup_starts_overlap_before_the_cursor() -> None:
    plan = plan_sync(("e1", pack(5_000, 3)), "e1", 0, 100)
    assert plan == SyncPlan("catchup", pack(4_900, 3), False, None)


def test_catchup_clamps_at_zero() -> None:
    assert plan_sync(("e1", pack(50, 0)), "e1", 0, 100) == SyncPlan("catchup", 0, False)


def test_cursor_behind_the_tombstone_floor_needs_a_snapshot() -> None:
    floor = pack(4_950, 0)
    plan = plan_sync(("e1", pack(5_000, 0)), "e1", floor, 100)  # after = 4_900 ms < floor
    assert plan == SyncPlan("snapshot", 0, True, "retention")


def test_catchup_starting_exactly_at_the_floor_is_complete() -> None:
    # Only tombstones with ver <= floor may be gone; catch-up reads ver > after == floor.
    floor = pack(4_900, 0)
    assert plan_sync(("e1", pack(5_000, 0)), "e1", floor, 100) == SyncPlan("catchup", floor, False)


@given(
    st.text(min_size=1, max_size=3),
    st.text(min_size=1, max_size=3),
    st.integers(0, 2**50),
    st.integers(0, 2**50),
    st.integers(0, 10_000),
)
def test_plan_invariants(cursor_epoch: str, epoch: str, ver: int, floor: int, overlap_ms: int) -> None:
    plan = plan_sync((cursor_epoch, ver), epoch, floor, overlap_ms)
    if plan.mode == "catchup":
        assert cursor_epoch == epoch
        assert floor <= plan.after <= ver
        assert not plan.reset
        assert plan.resync_reason is None
    else:
        assert plan.reset
        assert plan.after == 0
        assert plan.resync_reason in {"epoch", "retention"}
