"""How one feed's changes reach its subscribers: each frame encoded once, the same bytes to all.

Whole-collection subscribers share one ``chg`` per chunk; under a row filter subscribers are grouped
by what they may see (the filter runs once per distinct identity) and each group's frames are
encoded once; query subscriptions get one ``qchg`` per distinct filter a change concerns (enter,
stay: the document; leave: a removal; hub/core/subsets.py). Handing out yields to the event loop
every FANOUT_YIELD_EVERY subscribers, so one big collection does not stall the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from hub import codec
from hub.core import messages as m
from hub.core import query_messages as qm
from hub.core.cursor import Cursor
from hub.core.limits import DEFAULT_DOC_LIMITS
from hub.core.query import Filter
from hub.core.subsets import live
from hub.core.types import Change
from hub.server.audience import Audience
from hub.server.pages import encode_chunks

if TYPE_CHECKING:
    from hub.authz import AccessPolicy
    from hub.metrics import HubMetrics
    from hub.server.subscription import Subscription

FANOUT_YIELD_EVERY = 50  # subscribers served between two yields: the loop turns every few ms under load


class FanOut:
    """The subscribers of one collection and the frames they are handed. ``cursor`` is what every
    frame carries (the feed's ``(epoch, covered)``, set by the feed)."""

    def __init__(
        self,
        coll: str,
        policy: AccessPolicy,
        max_frame: int,
        max_changes: int,
        metrics: HubMetrics | None = None,
    ) -> None:
        self.coll = coll
        self.metrics = metrics
        self.policy = policy
        self.max_frame = max_frame
        self.max_changes = max_changes
        # what a client can hold; checked once per change of a broadcast, in _build
        self.doc_limits = DEFAULT_DOC_LIMITS.for_frame(max_frame)
        self.audience = Audience()
        self.subscribers = self.audience.whole  # whole-collection subscriptions
        self.by_filter = self.audience.by_filter  # query subscriptions by distinct filter
        self.cursor: Cursor = ("", 0)
        # Filters whose subscribers got changes since their last cursor frame: only they get the
        # settle's empty ``qchg`` (a filter with nothing new keeps its older, still safe cursor; one
        # frame per filter per settle would cost 10,000 frames/s at 1,000 filters of 10 each).
        self.q_dirty: dict[Filter, int] = {}  # filter -> the highest version sent to it

    def __bool__(self) -> bool:
        """Whether anyone subscribes."""
        return bool(self.subscribers or self.by_filter)

    async def changes(self, changes: list[Change], received: float) -> None:
        """Hand ``changes`` (new, in version order) to whoever may read them, in chunks."""
        filtered = self.policy.has_row_filter(self.coll)
        for start in range(0, len(changes), self.max_changes):
            chunk = changes[start : start + self.max_changes]
            if self.by_filter:
                await self._queries(chunk, received, filtered)
            if not self.subscribers:
                continue
            if filtered:
                await self._filtered(chunk, received)
                continue
            # Fast path: one encoded frame for every subscriber.
            await self._deliver(chunk, list(self.subscribers), received)

    async def cursor_frames(self, closed: int) -> None:
        """Empty frames that move every subscriber's cursor to ``closed`` (a settle's end)."""
        epoch = self.cursor[0]
        frame = codec.encode(m.chg(self.coll, [], (epoch, closed)))
        await self._hand_out(frame, list(self.subscribers), 0.0, 0)
        dirty = list(self.q_dirty)
        # a filter stays dirty until a cursor frame covers what it was sent
        self.q_dirty = {f: v for f, v in self.q_dirty.items() if v > closed}
        for f in dirty:
            if not (subs := self.by_filter.get(f)):
                continue
            frame = codec.encode(qm.qchg(self.coll, self.audience.q[f], [], (epoch, closed)))
            await self._hand_out(frame, list(subs), 0.0, 0)

    def _build(self, cs: Sequence[Change]) -> dict[str, Any]:
        return m.chg(self.coll, cs, self.cursor, self.doc_limits)

    def _build_q(self, q: str, cs: Sequence[Change]) -> dict[str, Any]:
        return qm.qchg(self.coll, q, cs, self.cursor, self.doc_limits)

    async def _queries(self, chunk: list[Change], received: float, filtered: bool) -> None:
        """Query subscriptions: per distinct filter the change concerns, one ``qchg`` encoded once
        for its subscribers."""
        for f, cs in live(self.audience.index, chunk).items():
            subs = self.by_filter.get(f)
            if not subs:
                continue
            build = partial(self._build_q, self.audience.q[f])
            top = max(c.ver for c in cs)
            if self.q_dirty.get(f, -1) < top:
                self.q_dirty[f] = top
            if not filtered:
                await self._deliver(cs, list(subs), received, build)
                continue
            pairs = [(sub, sub.identity) for sub in list(subs) if sub.identity is not None]
            for group, visible in self.policy.fanout(self.coll, cs, pairs):
                await self._deliver(visible, group, received, build)

    async def _filtered(self, chunk: list[Change], received: float) -> None:
        """Row-filtered collection: group subscribers by what they may see (the filter runs once
        per distinct identity, ``AccessPolicy.fanout``) and encode each group's frames once."""
        subs = [(sub, sub.identity) for sub in list(self.subscribers) if sub.identity is not None]
        for group, visible in self.policy.fanout(self.coll, chunk, subs):
            await self._deliver(visible, group, received)

    async def _deliver(
        self,
        changes: Sequence[Change],
        subs: Sequence[Subscription],
        received: float,
        build: Callable[[Sequence[Change]], dict[str, Any]] | None = None,
    ) -> None:
        """Encode ``changes`` once (split to fit ``max_frame``) and hand the same bytes to ``subs``."""
        for frame, part in encode_chunks(build or self._build, changes, self.max_frame):
            await self._hand_out(frame, subs, received, len(part))

    async def _hand_out(
        self, frame: bytes, subs: Sequence[Subscription], received: float, events: int
    ) -> None:
        """The same bytes to every subscriber in ``subs`` still subscribed, yielding now and then.
        Frames written at once (``on_frame``) are counted here, once per run of subscribers; the
        queued ones by their writer."""
        cursor = self.cursor
        holds = self.audience.holds
        sent = 0
        for i, sub in enumerate(subs):
            if i and i % FANOUT_YIELD_EVERY == 0:
                self._count(sent, len(frame), received, events)
                sent = 0
                await asyncio.sleep(0)
            if holds(sub) and sub.on_frame(frame, cursor, received, events):
                sent += 1
        self._count(sent, len(frame), received, events)

    def _count(self, frames: int, size: int, received: float, events: int) -> None:
        """The metrics of ``frames`` copies of one frame written at once (writer.py counts its own)."""
        if not frames or self.metrics is None:
            return
        mx = self.metrics
        mx.frames_out.inc(frames)
        mx.bytes_out.inc(frames * size)
        if events:
            mx.events_out.inc(frames * events)
        if received:
            mx.push_lag_seconds.observe(time.monotonic() - received, frames)
