"""Rate and connection limits. Pure: the caller passes ``now_ms`` in.

- :class:`TokenBucket`: per-connection message and mutation rates.
- :class:`BucketMap`: one bucket per key (e.g. new connections per client address), bounded.
- :class:`ConnectionCounter`: open connections per subject.
- :func:`duty_cycle`: how fast a background job (the feed's sweep) may go.
- :class:`SharedBudget`: one such share split between the jobs running now.
"""

from __future__ import annotations

from collections import OrderedDict

_EPSILON = 1e-9  # float refill rounding must not make a take fail at the time wait_ms promised


class TokenBucket:
    """A token bucket holding at most ``burst`` tokens, refilled at ``rate_per_s``.

    It starts full. A clock that steps back refills nothing (and does not go back).
    """

    __slots__ = ("_last_ms", "_tokens", "burst", "rate_per_s")

    def __init__(self, rate_per_s: float, burst: float) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate_per_s > 0 and burst >= 1")
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self._tokens = float(burst)
        self._last_ms: int | None = None

    def _refill(self, now_ms: int) -> None:
        if self._last_ms is None:
            self._last_ms = now_ms
            return
        elapsed = now_ms - self._last_ms
        if elapsed > 0:
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate_per_s / 1000.0)
            self._last_ms = now_ms

    def tokens(self, now_ms: int) -> float:
        """Tokens available at ``now_ms``."""
        self._refill(now_ms)
        return self._tokens

    def take(self, now_ms: int, n: int = 1) -> bool:
        """Take ``n`` tokens if available; False (and nothing taken) otherwise."""
        self._refill(now_ms)
        if n <= self._tokens + _EPSILON:
            self._tokens = max(0.0, self._tokens - n)
            return True
        return False

    def wait_ms(self, now_ms: int, n: int = 1) -> int | None:
        """Milliseconds until :meth:`take` of ``n`` would succeed (0 = now); None if never
        (``n`` > ``burst``)."""
        if n > self.burst:
            return None
        self._refill(now_ms)
        missing = n - self._tokens
        if missing <= _EPSILON:
            return 0
        return int(-(-missing * 1000.0 // self.rate_per_s))

    def full(self, now_ms: int) -> bool:
        """Whether the bucket is full (forgetting it would change nothing)."""
        return self.tokens(now_ms) >= self.burst


class BucketMap:
    """Token buckets by key, at most ``max_keys`` of them.

    When full, buckets that have refilled completely are dropped; if none has, the least
    recently used one is (so a flood of distinct keys cannot grow memory without bound, at the
    price of forgetting the oldest key's debt).
    """

    __slots__ = ("_buckets", "burst", "max_keys", "rate_per_s")

    def __init__(self, rate_per_s: float, burst: float, *, max_keys: int = 10_000) -> None:
        TokenBucket(rate_per_s, burst)  # validates
        if max_keys < 1:
            raise ValueError("max_keys must be >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now_ms: int, n: int = 1) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self.sweep(now_ms)
                while len(self._buckets) >= self.max_keys:
                    self._buckets.popitem(last=False)
            bucket = self._buckets[key] = TokenBucket(self.rate_per_s, self.burst)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now_ms, n)

    def sweep(self, now_ms: int) -> int:
        """Drop the buckets that are full again; returns how many were dropped."""
        idle = [key for key, bucket in self._buckets.items() if bucket.full(now_ms)]
        for key in idle:
            del self._buckets[key]
        return len(idle)


class ConnectionCounter:
    """Open connections per key (the subject; for anonymous clients, their address).

    ``acquire`` before accepting work on a connection, ``release`` exactly once when it ends.
    """

    __slots__ = ("_counts", "max_per_key")

    def __init__(self, max_per_key: int) -> None:
        if max_per_key < 1:
            raise ValueError("max_per_key must be >= 1")
        self.max_per_key = max_per_key
        self._counts: dict[str, int] = {}

    def acquire(self, key: str) -> bool:
        """Count one more connection for ``key``; False (nothing counted) if at the limit."""
        count = self._counts.get(key, 0)
        if count >= self.max_per_key:
            return False
        self._counts[key] = count + 1
        return True

    def release(self, key: str) -> None:
        count = self._counts.get(key, 0)
        if count <= 0:
            raise ValueError(f"release of {key!r} without a matching acquire")
        if count == 1:
            del self._counts[key]
        else:
            self._counts[key] = count - 1

    def count(self, key: str) -> int:
        return self._counts.get(key, 0)

    @property
    def total(self) -> int:
        return sum(self._counts.values())

    @property
    def keys(self) -> int:
        return len(self._counts)


def duty_cycle(
    took_s: float, done: int, most: int, share: float, tick_s: float = 1.0, longest_s: float = 10.0
) -> tuple[int, float]:
    """Pace a background job done in units (the feed's sweep: partitions): ``done`` units just took
    ``took_s``; return how many to do next and the pause before, so that it does at most ``most``
    units per ``tick_s`` and spends about ``share`` of the time (wall time: the store's share counts
    too). Units that take long (a partition of a large collection) mean fewer per call, down to one,
    then longer pauses; a pause never exceeds ``longest_s``, so one slow call (a stalled node) delays
    the job by that at most, and the share is kept only while a unit takes under
    ``longest_s * share / (1 - share)``.
    """
    if share >= 1.0 or done <= 0 or took_s <= 0.0:
        return most, tick_s
    per = took_s / done
    todo = max(1, min(most, int(share * tick_s / per)))
    return todo, min(longest_s, max(tick_s, todo * per * (1.0 - share) / share))


class SharedBudget:
    """A share of the time (for :func:`duty_cycle`) split evenly between the jobs that use it now:
    the sweeps of one hub process, so that sweeping several large collections costs that process
    the share once, not once per collection."""

    __slots__ = ("_users", "share")

    def __init__(self, share: float) -> None:
        if not 0 < share <= 1:
            raise ValueError("a budget's share must be > 0 and <= 1")
        self.share = share
        self._users: set[object] = set()

    def take(self, user: object) -> float:
        """``user`` runs now: its part of the share."""
        self._users.add(user)
        return self.share / len(self._users)

    def leave(self, user: object) -> None:
        """``user`` stopped (or is not running now): the others' parts grow."""
        self._users.discard(user)

    def __len__(self) -> int:
        return len(self._users)
