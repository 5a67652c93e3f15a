"""This hub's recent commits, so that the feed can skip the meta-table read for its own writes.

When a continuous-query event carries data whose hash equals the ``H`` this hub just committed for that key
(in the same transaction as the data), the event's version is the one this hub stamped: no Ignite read is
needed. Everything else (other hubs' writes, external writes, anything uncertain) goes through the normal
meta read / stamping path of :mod:`hub.store.ignite.stamp`.

Rules that keep this exact (a change must never go out with a version *older* than the one Ignite holds
for that content):

* an entry is added *before* the commit (pending) and becomes usable only when the commit succeeded; a
  failed (or undecided) commit makes it unusable. An event that arrives while the entry is pending (the
  event of a commit often overtakes the commit's reply) waits, bounded, until the transaction settles;
  such an event belongs to this commit or to an earlier one, never to a later one;
* every event for a key consumes the key's entry, whether it matched or not: the entry answers at most one
  event, the first one after the commit. Per-key event order (Ignite keeps it) makes that event either
  this commit's own, or one of an *earlier* commit; an earlier commit with the same hash has the same
  content, and this commit's version describes that content (it is the newer stamp of it);
* a key with several events in one processing round goes through the read path;
* the map is bounded (oldest entries dropped first) and a collection's entries are dropped when its feed
  (re)opens. A dropped entry only costs a read.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field

#: Entries kept (a few MB at most); a client's burst of writes is consumed by the feed within seconds.
MAX_ENTRIES = 100_000
#: How long the feed waits for a pending transaction of this hub before using the read path instead.
SETTLE_WAIT_S = 2.0


@dataclass(slots=True)
class Pending:
    """One transaction's entries, settled together."""

    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    entries: list[tuple[tuple[str, str], Entry]] = field(default_factory=list)


@dataclass(slots=True)
class Entry:
    h: int
    ver: int
    batch: Pending
    committed: bool | None = None  # None while the transaction is undecided

    def matches(self, h: int) -> int | None:
        """The version for an event with data hash ``h``, if this (settled) entry answers it."""
        return self.ver if self.committed and self.h == h else None


class RecentCommits:
    """``(cache, key) -> (hash, version)`` of this hub's own recent commits (see module doc)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._map: OrderedDict[tuple[str, str], Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._map)

    def pending(self, items: list[tuple[str, str, int, int]]) -> Pending:
        """Record ``(cache, key, hash, ver)`` about to be committed; settle the result with :meth:`settle`."""
        batch = Pending()
        m = self._map
        for cache, key, h, ver in items:
            k = (cache, key)
            e = Entry(h, ver, batch)
            m.pop(k, None)
            m[k] = e
            batch.entries.append((k, e))
        while len(m) > self.max_entries:
            m.popitem(last=False)
        return batch

    def settle(self, batch: Pending, committed: bool) -> None:
        """The transaction of ``batch`` committed (its entries become usable) or not (they go)."""
        m = self._map
        for k, e in batch.entries:
            e.committed = committed
            if not committed and m.get(k) is e:
                del m[k]
        if not batch.done.done():
            batch.done.set_result(committed)

    def claim(self, cache: str, key: str) -> Entry | None:
        """Remove and return ``key``'s entry: every event consumes it, whatever it carries."""
        return self._map.pop((cache, key), None)

    async def resolve(self, claimed: dict[str, tuple[Entry, int]]) -> dict[str, int]:
        """Versions of the claimed entries (key -> (entry, event hash)) that answer their events,
        after waiting (at most SETTLE_WAIT_S) for those still pending."""
        waiting = {e.batch.done for e, _ in claimed.values() if e.committed is None}
        if waiting:
            await asyncio.wait(waiting, timeout=SETTLE_WAIT_S)
        out: dict[str, int] = {}
        for key, (e, h) in claimed.items():
            ver = e.matches(h)
            if ver is None:
                self.misses += 1
            else:
                self.hits += 1
                out[key] = ver
        return out

    def forget(self, cache: str) -> None:
        """Drop every entry of ``cache`` (its feed is (re)opening)."""
        for k in [k for k in self._map if k[0] == cache]:
            del self._map[k]
