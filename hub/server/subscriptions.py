"""The subscriptions of one connection (``sub`` / ``unsub``), each registered with its feed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from hub.core import messages as m
from hub.core.cursor import Cursor
from hub.core.outqueue import OutQueue
from hub.server.subscription import Port, Query, Subscription, stream_key


class Fanout(Protocol):
    """A collection's live feed, as a subscription registers with it (``hub/server/feed.py``)."""

    def add(self, sub: Subscription) -> None: ...

    def remove(self, sub: Subscription) -> None: ...


class Subscriptions:
    """The subscriptions of one connection, each registered with its collection's feed: at most one
    whole-collection subscription per collection, and any number of query subscriptions (one per
    ``sub`` id), each with its own cursor and out-queue stream (:func:`stream_key`).

    Args:
        port: The connection.
        feeds: The live feed of every collection.
        queue: The connection's out-queue (a restarted sync drops what was queued for it).
    """

    __slots__ = ("by_key", "feeds", "port", "queue")

    def __init__(self, port: Port, feeds: Mapping[str, Fanout], queue: OutQueue) -> None:
        self.port = port
        self.feeds = feeds
        self.queue = queue
        self.by_key: dict[str, Subscription] = {}

    def names(self) -> list[str]:
        return list(dict.fromkeys(sub.coll for sub in self.by_key.values()))

    def of(self, coll: str) -> list[Subscription]:
        return [sub for sub in self.by_key.values() if sub.coll == coll]

    def start(self, coll: str, sub_id: int, cursor: Cursor | None, query: Query | None = None) -> None:
        """``sub``: register (once) and (re)start the sync from ``cursor``."""
        key = stream_key(coll, sub_id, query is not None)
        sub = self.by_key.get(key)
        if sub is not None and sub.query != query:  # the same id for another subset: a new one
            self._drop(sub)
            sub = None
        if sub is None:
            sub = self.by_key[key] = Subscription(self.port, coll, sub_id, cursor, query)
            self.feeds[coll].add(sub)
        sub.sub_id = sub_id
        self.queue.drop(key)
        sub.start(cursor)

    def _drop(self, sub: Subscription) -> None:
        self.by_key.pop(sub.key, None)
        sub.stop()
        feed = self.feeds.get(sub.coll)
        if feed is not None:
            feed.remove(sub)
        self.queue.forget(sub.key)

    def stop(self, coll: str, sub_id: int | None = None) -> None:
        """``unsub`` (or an ended subscription): stop the sync and leave the feed; ``sub_id`` names
        one subscription of ``coll``, None every one."""
        for sub in self.of(coll):
            if sub_id is None or sub.sub_id == sub_id:
                self._drop(sub)
        if sub_id is None:
            self.queue.forget(coll)

    def end(self, coll: str, code: int, reason: str) -> bool:
        """The hub ends ``coll``'s subscriptions: tell the client with ``unsub``, then stop."""
        subs = self.of(coll)
        for sub in subs:
            self.port.send_control(m.unsub(coll, sub.sub_id, code, reason))
            self._drop(sub)
        return bool(subs)

    def end_one(self, sub: Subscription, code: int, reason: str) -> None:
        """End one query subscription (its named filter no longer binds to the token's claims)."""
        msg = m.unsub(sub.coll, sub.sub_id, code, reason)
        msg["query"] = True
        self.port.send_control(msg)
        self._drop(sub)

    def restart(self, coll: str, reason: str) -> None:
        """Re-send ``coll`` as a snapshot, announced with ``resync {reason}`` (``qresync``)."""
        for sub in self.of(coll):
            self.queue.drop(sub.key)
            self.port.send_control(sub._resync_msg(reason, "snapshot"), sub.key)
            sub.start(None, reason, announced=True)

    def queries(self) -> list[Subscription]:
        return [sub for sub in self.by_key.values() if sub.query is not None]

    def stop_all(self) -> None:
        """The connection is closing."""
        for sub in self.by_key.values():
            sub.stop()
            feed = self.feeds.get(sub.coll)
            if feed is not None:
                feed.remove(sub)
        self.by_key.clear()
