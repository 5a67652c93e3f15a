"""Who listens to a collection's feed: whole-collection subscriptions, and query subscriptions
grouped by distinct filter, with the index that finds the filters a change concerns (so the cost
of a change follows the filters it matches, not the number of subscribers)."""

from __future__ import annotations

from hub.core.query import Filter, FilterIndex
from hub.server.subscription import Subscription


class Audience:
    def __init__(self) -> None:
        self.whole: set[Subscription] = set()
        self.by_filter: dict[Filter, set[Subscription]] = {}
        self.q: dict[Filter, str] = {}  # each filter's stream name (``qchg {q}``)
        self.index = FilterIndex()

    def add(self, sub: Subscription) -> None:
        if sub.query is None:
            self.whole.add(sub)
            return
        f = sub.query.filter
        subs = self.by_filter.setdefault(f, set())
        if sub not in subs:
            subs.add(sub)
            self.index.add(f)
            self.q.setdefault(f, sub.query.q)

    def remove(self, sub: Subscription) -> None:
        if sub.query is None:
            self.whole.discard(sub)
            return
        f = sub.query.filter
        subs = self.by_filter.get(f)
        if subs is not None and sub in subs:
            subs.discard(sub)
            self.index.remove(f)
            if not subs:
                del self.by_filter[f]
                self.q.pop(f, None)

    def all(self) -> list[Subscription]:
        return [*self.whole, *(sub for subs in self.by_filter.values() for sub in subs)]

    def holds(self, sub: Subscription) -> bool:
        """Still subscribed (a fan-out in progress skips those that left meanwhile)."""
        if sub.query is None:
            return sub in self.whole
        return sub in self.by_filter.get(sub.query.filter, ())
