"""hub.core.hlc: the hybrid logical clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.core.hlc import COUNTER_BITS, COUNTER_MASK, Hlc, pack, physical_ms

WALL = st.integers(min_value=0, max_value=2**40)


def test_pack_layout() -> None:
    assert COUNTER_BITS == 16
    assert COUNTER_MASK == 0xFFFF
    assert pack(1, 0) == 1 << 16
    assert pack(1_700_000_000_000, 7) == (1_700_000_000_000 << 16) | 7
    assert physical_ms(pack(1_700_000_000_000, 7)) == 1_700_000_000_000
    assert physical_ms(pack(5, COUNTER_MASK)) == 5


def test_starts_at_zero_or_given_value() -> None:
    assert Hlc().last == 0
    assert Hlc(pack(3, 4)).last == pack(3, 4)


def test_now_follows_the_wall_clock() -> None:
    hlc = Hlc()
    assert hlc.now(1000) == pack(1000, 0)
    assert hlc.now(1001) == pack(1001, 0)
    assert hlc.last == pack(1001, 0)


def test_same_millisecond_bumps_the_counter() -> None:
    hlc = Hlc()
    assert [hlc.now(1000) for _ in range(3)] == [pack(1000, 0), pack(1000, 1), pack(1000, 2)]


def test_clock_going_backwards_stays_monotonic() -> None:
    hlc = Hlc()
    a = hlc.now(5000)
    b = hlc.now(4000)  # the wall clock stepped back a second
    c = hlc.now(4500)
    assert a < b < c
    assert physical_ms(c) == 5000
    assert hlc.now(6000) == pack(6000, 0)  # the wall clock catches up and leads again


def test_counter_overflow_carries_into_the_milliseconds() -> None:
    hlc = Hlc(pack(7, COUNTER_MASK))
    v = hlc.now(7)
    assert v == pack(8, 0)
    assert v > pack(7, COUNTER_MASK)


def test_observe_only_moves_forward() -> None:
    hlc = Hlc()
    hlc.now(100)
    hlc.observe(pack(50, 3))
    assert hlc.last == pack(100, 0)
    hlc.observe(pack(200, 3))
    assert hlc.last == pack(200, 3)
    assert hlc.now(150) == pack(200, 4)


def test_next_after_exceeds_a_floor_from_a_faster_clock() -> None:
    hlc = Hlc()
    floor = pack(9_000, 12)  # a document stamped by a hub whose clock runs ahead
    v = hlc.next_after(1_000, floor)
    assert v > floor
    assert v == floor + 1
    assert hlc.now(1_000) > v


def test_next_after_with_a_low_floor_uses_the_wall_clock() -> None:
    hlc = Hlc()
    assert hlc.next_after(1_000, pack(3, 0)) == pack(1_000, 0)


Op = tuple[str, int, int]
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("now"), WALL, st.just(0)),
        st.tuples(st.just("observe"), st.just(0), st.integers(0, 2**56)),
        st.tuples(st.just("next_after"), WALL, st.integers(0, 2**56)),
    ),
    max_size=50,
)


@given(st.integers(0, 2**56), OPS)
def test_issued_versions_strictly_increase(start: int, ops: list[Op]) -> None:
    hlc = Hlc(start)
    prev = start
    for kind, wall, floor in ops:
        if kind == "observe":
            hlc.observe(floor)
            assert hlc.last == max(prev, floor)
            prev = hlc.last
            continue
        v = hlc.now(wall) if kind == "now" else hlc.next_after(wall, floor)
        assert v > prev
        assert v == hlc.last
        assert physical_ms(v) >= wall
        if kind == "next_after":
            assert v > floor
        prev = v


def test_client_clock_corrections() -> None:
    from hub.core.hlc import CLIENT_TS_LEEWAY_MS, bound_ts, client_offset_ms, pack, rebase_ts

    hour = 3_600_000
    assert client_offset_ms(None, 10 * hour) == 0
    assert client_offset_ms(10 * hour + 1_500, 10 * hour) == 0  # within the trusted 2 s
    assert client_offset_ms(12 * hour, 10 * hour) == -2 * hour  # ahead: corrected
    assert client_offset_ms(9 * hour, 10 * hour) == 0  # behind: its HLC already follows the hub
    assert rebase_ts(pack(12 * hour, 3), -2 * hour) == pack(10 * hour, 3)
    assert rebase_ts(pack(1, 0), -2 * hour) == 0
    assert bound_ts(pack(12 * hour, 0), 10 * hour) == pack(10 * hour + CLIENT_TS_LEEWAY_MS, 0xFFFF)
    assert bound_ts(pack(9 * hour, 0), 10 * hour) == pack(9 * hour, 0)
