"""Per-client dedup records: what makes replayed mutations no-ops.

One record per client id lives in Ignite and is read and written in the same transaction as
the data. It holds the highest applied ``seq`` and the results of the most recent mutations, so
a replay gets the original outcome back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RETAINED_RESULTS = 4096


def record_key(owner: str | None, client: str) -> str:
    """Where a client's record lives: per authenticated subject, so that another user who learns a
    client id (they are not secret) cannot poison its record, e.g. with a forged huge ``seq`` that
    would make the owner's later writes answer ``dup``. ``owner`` None (no identity): the client id."""
    return client if owner is None else f"{owner}\x1f{client}"


Result = dict[str, Any]


@dataclass(slots=True)
class DedupRecord:
    last_seq: int = 0
    results: dict[int, Result] = field(default_factory=dict)
    # ``results`` is known to be in ascending seq order (then the oldest is its first key; evicting
    # it is O(1) instead of a sort per recorded mutation). Deleting keys keeps the order.
    _ordered: bool = field(default=False, init=False, repr=False, compare=False)

    def replay_of(self, seq: int) -> Result | None:
        """The stored result if ``seq`` was applied already, a bare ``dup`` marker if it was
        applied so long ago that its result was evicted, ``None`` if it is new."""
        if seq > self.last_seq:
            return None
        found = self.results.get(seq)
        if found is not None:
            return {**found, "dup": True}
        return {"seq": seq, "s": "dup", "dup": True}

    def record(self, seq: int, result: Result) -> None:
        self.last_seq = max(self.last_seq, seq)
        results = self.results
        if self._ordered and results and seq not in results and seq < next(reversed(results)):
            self._ordered = False  # an older seq recorded late: not appended in order
        results[seq] = result
        excess = len(results) - RETAINED_RESULTS
        if excess > 0:
            if not self._ordered:
                ordered = sorted(results.items())
                results.clear()
                results.update(ordered)
                self._ordered = True
            for _ in range(excess):
                del results[next(iter(results))]

    def to_plain(self) -> dict[str, Any]:
        return {"last": self.last_seq, "res": [[s, r] for s, r in sorted(self.results.items())]}

    @classmethod
    def from_plain(cls, plain: Mapping[str, Any] | None) -> DedupRecord:
        if not plain:
            return cls()
        return cls(int(plain["last"]), {int(s): dict(r) for s, r in plain["res"]})
