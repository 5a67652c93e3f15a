from __future__ import annotations

import pytest

from hub.core.ratelimit import BucketMap, ConnectionCounter, SharedBudget, TokenBucket, duty_cycle


class TestTokenBucket:
    def test_starts_full_and_drains(self) -> None:
        bucket = TokenBucket(rate_per_s=10, burst=3)
        assert [bucket.take(1000) for _ in range(4)] == [True, True, True, False]

    def test_refills_at_rate_up_to_burst(self) -> None:
        bucket = TokenBucket(rate_per_s=10, burst=3)
        for _ in range(3):
            assert bucket.take(0)
        assert not bucket.take(99)
        assert bucket.take(100)  # one token per 100 ms
        assert not bucket.take(100)
        assert bucket.tokens(10_000) == 3  # capped at burst

    def test_take_n_is_all_or_nothing(self) -> None:
        bucket = TokenBucket(rate_per_s=1, burst=5)
        assert bucket.take(0, 4)
        assert not bucket.take(0, 2)
        assert bucket.tokens(0) == pytest.approx(1)
        assert not bucket.take(0, 6)

    def test_wait_ms(self) -> None:
        bucket = TokenBucket(rate_per_s=3, burst=2)
        assert bucket.wait_ms(0) == 0
        bucket.take(0, 2)
        wait = bucket.wait_ms(0)
        assert wait == 334  # ceil(1000 / 3)
        assert wait is not None and not bucket.take(wait - 1)
        assert bucket.take(wait)
        assert bucket.wait_ms(wait, 3) is None  # more than burst: never

    @pytest.mark.parametrize("rate", [0.7, 1, 3, 7, 13, 1000 / 3, 2500])
    def test_take_succeeds_exactly_when_wait_ms_promised(self, rate: float) -> None:
        bucket = TokenBucket(rate_per_s=rate, burst=4)
        now = 0
        for step in range(200):
            n = 1 + step % 4
            wait = bucket.wait_ms(now, n)
            assert wait is not None
            now += wait
            assert bucket.take(now, n), (rate, step, now)

    def test_clock_stepping_back_refills_nothing(self) -> None:
        bucket = TokenBucket(rate_per_s=10, burst=1)
        assert bucket.take(5_000)
        assert not bucket.take(1_000)
        assert not bucket.take(5_050)  # the step back did not move the reference point
        assert bucket.take(5_100)

    def test_full(self) -> None:
        bucket = TokenBucket(rate_per_s=10, burst=2)
        assert bucket.full(0)
        bucket.take(0)
        assert not bucket.full(50)
        assert bucket.full(100)

    @pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0), (1, 0.5)])
    def test_invalid(self, rate: float, burst: float) -> None:
        with pytest.raises(ValueError):
            TokenBucket(rate, burst)


class TestBucketMap:
    def test_separate_buckets_per_key(self) -> None:
        buckets = BucketMap(rate_per_s=1, burst=1)
        assert buckets.take("10.0.0.1", 0)
        assert not buckets.take("10.0.0.1", 0)
        assert buckets.take("10.0.0.2", 0)
        assert buckets.take("10.0.0.1", 1000)

    def test_sweep_drops_full_buckets(self) -> None:
        buckets = BucketMap(rate_per_s=1, burst=2)
        buckets.take("a", 0)
        buckets.take("b", 0)
        assert buckets.sweep(500) == 0
        assert buckets.sweep(1000) == 2
        assert len(buckets) == 0

    def test_bounded(self) -> None:
        buckets = BucketMap(rate_per_s=1, burst=1, max_keys=2)
        buckets.take("a", 0)
        buckets.take("b", 0)
        buckets.take("a", 0)  # a is now the most recently used
        assert buckets.take("c", 0)
        assert len(buckets) == 2
        assert not buckets.take("a", 0)  # a kept its debt; b was evicted
        assert buckets.take("b", 0)

    def test_bounded_prefers_full_buckets(self) -> None:
        buckets = BucketMap(rate_per_s=1, burst=1, max_keys=2)
        buckets.take("a", 0)
        buckets.take("b", 900)
        buckets.take("c", 1000)  # a is full again and is swept; b keeps its debt
        assert len(buckets) == 2
        assert not buckets.take("b", 1000)

    def test_invalid(self) -> None:
        with pytest.raises(ValueError):
            BucketMap(0, 1)
        with pytest.raises(ValueError):
            BucketMap(1, 1, max_keys=0)


class TestConnectionCounter:
    def test_limit_per_key(self) -> None:
        counter = ConnectionCounter(max_per_key=2)
        assert counter.acquire("alice") and counter.acquire("alice")
        assert not counter.acquire("alice")
        assert counter.acquire("bob")
        assert (counter.count("alice"), counter.total, counter.keys) == (2, 3, 2)
        counter.release("alice")
        assert counter.acquire("alice")

    def test_release_forgets_keys(self) -> None:
        counter = ConnectionCounter(max_per_key=1)
        counter.acquire("alice")
        counter.release("alice")
        assert counter.keys == 0 and counter.count("alice") == 0

    def test_unbalanced_release(self) -> None:
        counter = ConnectionCounter(max_per_key=1)
        with pytest.raises(ValueError):
            counter.release("alice")
        with pytest.raises(ValueError):
            ConnectionCounter(0)


class TestDutyCycle:
    """The feed's sweep pacing: a cap in units per tick, and about ``share`` of the time."""

    def test_cheap_units_go_at_the_full_rate(self) -> None:
        # 16 partitions of a small collection in 30 ms: 16 again, a tick later
        assert duty_cycle(0.030, 16, 16, 0.1) == (16, 1.0)

    def test_dearer_units_mean_fewer_per_call(self) -> None:
        # 16 ms a partition (about 100,000 documents): 6 per second keep under 10 %
        todo, pause = duty_cycle(0.256, 16, 16, 0.1)
        assert todo == 6 and pause == 1.0
        assert todo * 0.016 / (todo * 0.016 + pause) <= 0.1

    def test_a_unit_over_the_share_waits_in_proportion(self) -> None:
        # 160 ms a partition (about 1,000,000 documents): one a call, then 1.44 s of rest
        todo, pause = duty_cycle(0.160, 1, 16, 0.1)
        assert todo == 1 and pause == pytest.approx(1.44)
        assert 0.160 / (0.160 + pause) == pytest.approx(0.1)

    def test_one_slow_call_delays_the_job_a_bounded_time(self) -> None:
        # a stalled node held the call 30 s: the next pause is the longest allowed, not 4.5 minutes
        assert duty_cycle(30.0, 16, 16, 0.1) == (1, 10.0)
        # and one call at the normal cost brings the full rate back
        assert duty_cycle(0.002, 1, 16, 0.1) == (16, 1.0)

    @pytest.mark.parametrize(("took", "done"), [(0.0, 16), (0.5, 0)])
    def test_nothing_measured_goes_at_the_full_rate(self, took: float, done: int) -> None:
        assert duty_cycle(took, done, 16, 0.1) == (16, 1.0)

    def test_a_share_of_one_is_unpaced(self) -> None:
        assert duty_cycle(5.0, 1024, 1024, 1.0) == (1024, 1.0)


class TestSharedBudget:
    def test_the_share_is_split_between_the_users_running_now(self) -> None:
        b = SharedBudget(0.1)
        assert b.take("a") == pytest.approx(0.1)
        assert b.take("b") == pytest.approx(0.05)
        assert b.take("a") == pytest.approx(0.05)  # taking again does not count twice
        b.leave("b")
        assert b.take("a") == pytest.approx(0.1)
        b.leave("b")  # leaving twice is harmless
        assert len(b) == 1

    @pytest.mark.parametrize("share", [0, -0.1, 1.5])
    def test_a_share_outside_0_1_is_refused(self, share: float) -> None:
        with pytest.raises(ValueError, match="share"):
            SharedBudget(share)
