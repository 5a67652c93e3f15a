"""Bounded per-connection outgoing queue: byte accounting and the overflow decision, without I/O.

Frames wait here until the connection's writer sends them. Three kinds:

* **live** ``chg`` frames of a collection: when one does not fit in the byte budget, every live
  frame of that collection still queued is dropped and :meth:`OutQueue.push_live` returns False;
  the caller then resyncs that collection (``resync {reason: "slow"}``) from :attr:`delivered`,
  the last cursor the writer actually sent for it. Other collections are not touched.
* **sync** frames (``page``): the sync runner waits for :meth:`has_room` before pushing, so a
  catch-up never outruns the reader.
* **control** frames (``welcome``, ``ack``, ``pong``, ``resync``, ``synced``, ``error``): always
  accepted while the *control* frames queued stay under twice the budget (a peer that floods
  requests without reading). Only control bytes count: a queued page may be larger than the budget
  (an empty queue takes any one frame, up to ``max_frame``), and the ``synced`` or ``ack`` behind it
  must not be refused for that — the connection would be closed on every reconnect, for ever.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from .cursor import Cursor

Kind = Literal["live", "sync", "control"]


@dataclass(frozen=True, slots=True)
class Entry:
    frame: bytes
    kind: Kind
    coll: str | None = None
    cursor: Cursor | None = None  # the cursor the client holds once this frame is delivered


#: What an empty queue holds: a deque costs about 760 bytes even when empty, and most of a hub's
#: queues are empty most of the time (docs/benchmarks.md, memory).
NO_ENTRIES: tuple[()] = ()


@dataclass(slots=True)
class OutQueue:
    budget: int
    entries: deque[Entry] | tuple[()] = NO_ENTRIES
    size: int = 0
    control_size: int = 0  # bytes of the control frames in ``entries``
    delivered: dict[str, Cursor] = field(default_factory=dict)
    overflows: int = 0

    def __len__(self) -> int:
        return len(self.entries)

    def has_room(self, nbytes: int) -> bool:
        """Whether a frame of ``nbytes`` fits now (an empty queue always takes one frame)."""
        return self.size == 0 or self.size + nbytes <= self.budget

    def push_live(self, frame: bytes, coll: str, cursor: Cursor) -> bool:
        """Queue a live frame; on overflow drop the collection's live frames and return False."""
        if not self.has_room(len(frame)):
            self.drop(coll, kinds=("live",))
            self.overflows += 1
            return False
        self._append(Entry(frame, "live", coll, cursor))
        return True

    def push_sync(self, frame: bytes, coll: str) -> None:
        """Queue a sync frame (the caller waited for :meth:`has_room`)."""
        self._append(Entry(frame, "sync", coll))

    def push_control(self, frame: bytes, coll: str | None = None, cursor: Cursor | None = None) -> bool:
        """Queue a control frame; False when the control frames queued would exceed 2 x budget."""
        if self.control_size and self.control_size + len(frame) > 2 * self.budget:
            return False
        self._append(Entry(frame, "control", coll, cursor))
        return True

    def pop(self) -> Entry | None:
        entries = self.entries
        if not isinstance(entries, deque) or not entries:
            return None
        entry = entries.popleft()
        self._account(entry, -1)
        if not entries:
            self.entries = NO_ENTRIES
        return entry

    def pop_many(self, max_bytes: int, max_count: int) -> list[Entry]:
        """The oldest frames, in order: at least one when any is queued, then more while their total
        stays within ``max_bytes`` and ``max_count`` (what one message may carry, docs/protocol.md)."""
        entries = self.entries
        out: list[Entry] = []
        if not isinstance(entries, deque):
            return out
        total = 0
        while entries and len(out) < max_count:
            n = len(entries[0].frame)
            if out and total + n > max_bytes:
                break
            entry = entries.popleft()
            self._account(entry, -1)
            out.append(entry)
            total += n
        if not entries:
            self.entries = NO_ENTRIES
        return out

    def sent(self, entry: Entry) -> None:
        """The writer delivered ``entry``: remember the cursor the client now holds."""
        if entry.coll is not None and entry.cursor is not None:
            self.delivered_up_to(entry.coll, entry.cursor)

    def delivered_up_to(self, coll: str, cursor: Cursor) -> None:
        """A frame carrying ``cursor`` reached the socket (queued or not): the client holds it."""
        held = self.delivered.get(coll)
        if held is None or held[0] != cursor[0] or held[1] < cursor[1]:
            self.delivered[coll] = cursor

    def drop(self, coll: str, kinds: tuple[Kind, ...] = ("live", "sync")) -> int:
        """Remove the queued frames of ``coll`` of the given kinds; return how many."""
        if not any(e.coll == coll and e.kind in kinds for e in self.entries):
            return 0
        keep: deque[Entry] = deque()
        dropped = 0
        for e in self.entries:
            if e.coll == coll and e.kind in kinds:
                self._account(e, -1)
                dropped += 1
            else:
                keep.append(e)
        self.entries = keep or NO_ENTRIES
        return dropped

    def forget(self, coll: str) -> None:
        """The client unsubscribed: forget the delivered cursor as well."""
        self.drop(coll, kinds=("live", "sync", "control"))
        self.delivered.pop(coll, None)

    def _append(self, entry: Entry) -> None:
        if not isinstance(self.entries, deque):
            self.entries = deque()
        self.entries.append(entry)
        self._account(entry, 1)

    def _account(self, entry: Entry, sign: int) -> None:
        self.size += sign * len(entry.frame)
        if entry.kind == "control":
            self.control_size += sign * len(entry.frame)
