"""Per-client dedup records: what makes replayed mutations no-ops.

One record per client id lives in Ignite and is read and written in the same transaction as
the data. It holds the highest applied ``seq``, the results of the most recent mutations, so
a replay gets the original outcome back, and the seqs below the highest that no mutation has
taken yet (``gaps``): a client's mutations may reach the hubs out of order (a write held back and
sent on a later connection while later ones went ahead), and a seq in a gap is new, never a
replay. Without them a late seq below the highest was answered ``dup``: a write lost.

Nearly every result is a plain ``{"seq", "s": "ok", "ver"}``: those are kept as ``seq -> ver`` in
``oks`` (two integers, stored as two packed arrays by the Ignite store), the rest in ``other``. A
record holds up to :data:`RETAINED_RESULTS` results and is read and rewritten by every batch of its
client, so its cost per batch must stay that of copying integers, not of building thousands of dicts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

RETAINED_RESULTS = 4096
#: Separate runs of missing seqs kept per record; beyond, the oldest are forgotten (their seqs then
#: count as applied long ago). A client that sends in order never opens one; each out-of-order
#: arrival opens at most one, closed when the held-back seqs arrive.
MAX_GAPS = 256


def record_key(owner: str | None, client: str) -> str:
    """Where a client's record lives: per authenticated subject, so that another user who learns a
    client id (they are not secret) cannot poison its record, e.g. with a forged huge ``seq`` that
    would make the owner's later writes answer ``dup``. ``owner`` None (no identity): the client id."""
    return client if owner is None else f"{owner}\x1f{client}"


Result = dict[str, Any]


def plain_ok(seq: int, result: Mapping[str, Any]) -> int | None:
    """The version of a plain ``ok`` result of ``seq`` (kept compactly), None for any other result."""
    ver = result.get("ver")
    if len(result) == 3 and result.get("s") == "ok" and result.get("seq") == seq and type(ver) is int:
        return ver
    return None


@dataclass(slots=True)
class DedupRecord:
    last_seq: int = 0
    oks: dict[int, int] = field(default_factory=dict)  # seq -> ver of plain "ok" results
    other: dict[int, Result] = field(default_factory=dict)  # every other result
    # seqs below ``last_seq`` not applied yet: ascending, disjoint inclusive [lo, hi] runs
    gaps: list[list[int]] = field(default_factory=list)
    # Both dicts are known to be in ascending seq order (then the oldest is a first key; evicting it
    # is O(1) instead of a sort per recorded mutation). Deleting keys keeps the order.
    _ordered: bool = field(default=False, init=False, repr=False, compare=False)

    @classmethod
    def in_order(
        cls,
        last_seq: int,
        oks: dict[int, int],
        other: dict[int, Result],
        gaps: Iterable[Iterable[int]] = (),
    ) -> DedupRecord:
        """A record of parts whose keys the caller knows to be ascending (as :meth:`sort` leaves them)."""
        record = cls(last_seq, oks, other, _gaps(gaps, last_seq))
        record._ordered = True
        return record

    @classmethod
    def of(
        cls, last_seq: int, results: Mapping[int, Result], gaps: Iterable[Iterable[int]] = ()
    ) -> DedupRecord:
        """A record holding ``results`` (any mix of plain and other results)."""
        oks: dict[int, int] = {}
        other: dict[int, Result] = {}
        for seq, res in sorted(results.items()):
            ver = plain_ok(seq, res)
            if ver is None:
                other[seq] = dict(res)
            else:
                oks[seq] = ver
        return cls.in_order(last_seq, oks, other, gaps)

    @property
    def results(self) -> dict[int, Result]:
        """Every retained result by seq, in seq order (a new dict: for reading, not updating)."""
        merged: dict[int, Result] = {s: {"seq": s, "s": "ok", "ver": v} for s, v in self.oks.items()}
        merged.update(self.other)
        return dict(sorted(merged.items()))

    def __len__(self) -> int:
        return len(self.oks) + len(self.other)

    def replay_of(self, seq: int) -> Result | None:
        """The stored result if ``seq`` was applied already, a bare ``dup`` marker if it was
        applied so long ago that its result was evicted, ``None`` if it is new."""
        if seq > self.last_seq or self.missing(seq):
            return None
        ver = self.oks.get(seq)
        if ver is not None:
            return {"seq": seq, "s": "ok", "ver": ver, "dup": True}
        found = self.other.get(seq)
        if found is not None:
            return {**found, "dup": True}
        return {"seq": seq, "s": "dup", "dup": True}

    def missing(self, seq: int) -> bool:
        """Whether ``seq``, below the highest applied, has not been applied (it is in a gap)."""
        gaps = self.gaps
        i = bisect_right(gaps, seq, key=_lo) - 1
        return i >= 0 and seq <= gaps[i][1]

    def record(self, seq: int, result: Result) -> None:
        if seq > self.last_seq + 1:
            self.gaps.append([self.last_seq + 1, seq - 1])
            if len(self.gaps) > MAX_GAPS:
                del self.gaps[0]
        elif seq <= self.last_seq:
            self._fill(seq)
        self.last_seq = max(self.last_seq, seq)
        ver = plain_ok(seq, result)
        into: dict[int, Any] = self.other if ver is None else self.oks
        if into:
            if self._ordered and seq not in into and seq < next(reversed(into)):
                self._ordered = False  # an older seq recorded late: not appended in order
        # A seq lives in one of the two dicts only.
        (self.oks if ver is None else self.other).pop(seq, None)
        into[seq] = result if ver is None else ver
        excess = len(self.oks) + len(self.other) - RETAINED_RESULTS
        if excess > 0:
            self.forget_oldest(excess)

    def _fill(self, seq: int) -> None:
        """``seq`` of a gap is applied now: take it out of its run."""
        gaps = self.gaps
        i = bisect_right(gaps, seq, key=_lo) - 1
        if i < 0 or seq > gaps[i][1]:
            return
        lo, hi = gaps[i]
        runs = [r for r in ([lo, seq - 1], [seq + 1, hi]) if r[0] <= r[1]]
        gaps[i : i + 1] = runs

    def sort(self) -> None:
        """Put both parts in ascending seq order (a no-op when they are known to be)."""
        if not self._ordered:
            self.oks = dict(sorted(self.oks.items()))
            self.other = dict(sorted(self.other.items()))
            self._ordered = True

    def forget_oldest(self, count: int) -> None:
        """Evict the ``count`` oldest results (their replays answer a bare ``dup``)."""
        self.sort()
        oks, other = self.oks, self.other
        for _ in range(min(count, len(oks) + len(other))):
            if not other or (oks and next(iter(oks)) < next(iter(other))):
                del oks[next(iter(oks))]
            else:
                del other[next(iter(other))]

    def to_plain(self) -> dict[str, Any]:
        plain: dict[str, Any] = {"last": self.last_seq, "res": [[s, r] for s, r in self.results.items()]}
        if self.gaps:
            plain["gaps"] = [list(g) for g in self.gaps]
        return plain

    @classmethod
    def from_plain(cls, plain: Mapping[str, Any] | None) -> DedupRecord:
        if not plain:
            return cls()
        pairs: Iterable[tuple[Any, Any]] = plain["res"]
        return cls.of(int(plain["last"]), {int(s): dict(r) for s, r in pairs}, plain.get("gaps") or ())


def _lo(run: list[int]) -> int:
    return run[0]


def _gaps(runs: Iterable[Iterable[int]], last_seq: int) -> list[list[int]]:
    """Stored runs, checked: ascending, disjoint, below ``last_seq``, at most MAX_GAPS (a record is
    data from the store: whatever it holds must not make a replay new or a new seq a replay twice)."""
    out: list[list[int]] = []
    for run in runs:
        pair = list(run)
        if len(pair) != 2 or not all(type(x) is int for x in pair):
            continue
        lo, hi = pair
        if 0 < lo <= hi <= last_seq and (not out or lo > out[-1][1]):
            out.append([lo, hi])
    return out[-MAX_GAPS:]
