"""Per-client dedup records: what makes replayed mutations no-ops.

One record per client id lives in Ignite and is read and written in the same transaction as
the data. It holds the highest applied ``seq`` and the results of the most recent mutations, so
a replay gets the original outcome back.

Nearly every result is a plain ``{"seq", "s": "ok", "ver"}``: those are kept as ``seq -> ver`` in
``oks`` (two integers, stored as two packed arrays by the Ignite store), the rest in ``other``. A
record holds up to :data:`RETAINED_RESULTS` results and is read and rewritten by every batch of its
client, so its cost per batch must stay that of copying integers, not of building thousands of dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

RETAINED_RESULTS = 4096


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
    # Both dicts are known to be in ascending seq order (then the oldest is a first key; evicting it
    # is O(1) instead of a sort per recorded mutation). Deleting keys keeps the order.
    _ordered: bool = field(default=False, init=False, repr=False, compare=False)

    @classmethod
    def in_order(cls, last_seq: int, oks: dict[int, int], other: dict[int, Result]) -> DedupRecord:
        """A record of parts whose keys the caller knows to be ascending (as :meth:`sort` leaves them)."""
        record = cls(last_seq, oks, other)
        record._ordered = True
        return record

    @classmethod
    def of(cls, last_seq: int, results: Mapping[int, Result]) -> DedupRecord:
        """A record holding ``results`` (any mix of plain and other results)."""
        oks: dict[int, int] = {}
        other: dict[int, Result] = {}
        for seq, res in sorted(results.items()):
            ver = plain_ok(seq, res)
            if ver is None:
                other[seq] = dict(res)
            else:
                oks[seq] = ver
        return cls.in_order(last_seq, oks, other)

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
        if seq > self.last_seq:
            return None
        ver = self.oks.get(seq)
        if ver is not None:
            return {"seq": seq, "s": "ok", "ver": ver, "dup": True}
        found = self.other.get(seq)
        if found is not None:
            return {**found, "dup": True}
        return {"seq": seq, "s": "dup", "dup": True}

    def record(self, seq: int, result: Result) -> None:
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
        return {"last": self.last_seq, "res": [[s, r] for s, r in self.results.items()]}

    @classmethod
    def from_plain(cls, plain: Mapping[str, Any] | None) -> DedupRecord:
        if not plain:
            return cls()
        pairs: Iterable[tuple[Any, Any]] = plain["res"]
        return cls.of(int(plain["last"]), {int(s): dict(r) for s, r in pairs})
