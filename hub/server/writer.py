"""The sending side of one connection: the bounded out-queue and the one task that writes it.

Everything a connection sends goes through :class:`Writer`: control messages and acks
(:meth:`~Writer.push_control`), sync pages (:meth:`~Writer.push_sync`, which waits for room) and
live frames (:meth:`~Writer.push_live`, refused when the queue is full so the subscription falls
back to a catch-up). A live frame with nothing queued before it is written at once instead
(:meth:`~Writer.send_live_now`): a broadcast's common case, one write per subscriber and no
bookkeeping per frame. Queued frames are written straight to the socket once per turn of the event
loop (:class:`~hub.server.flush.Flusher`, :meth:`~hub.server.wsprotocol.LeanSansIOProtocol.send_message`)
while the socket takes them; when it does not (the peer reads slowly and the transport is paused)
or the connection closes, a writer task takes over. That task is the only one that awaits the
socket, so a slow client only ever blocks its own writer; it runs while there is something to
send. Once :meth:`~Writer.close` is called it sends the close frame and stops.

A client that takes batches (``hello.features``) gets every frame queued when its writer runs in
one WebSocket message (a msgpack array of the frames, their bytes copied as they are). Frames queue
up exactly when the hub is busy, so under load the cost per event falls (one send, one wake-up per
message, not per frame) while a quiet hub still sends each frame at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol

from starlette.websockets import WebSocket

from hub import codec
from hub.core.cursor import Cursor
from hub.core.outqueue import Entry, OutQueue
from hub.metrics import HubMetrics
from hub.server.flag import Flag
from hub.server.flush import FLUSHER
from hub.server.wsprotocol import DIRECT

#: What one batched message carries at most (the client's own frame limit is 16 MiB).
BATCH_BYTES = 256 << 10
BATCH_FRAMES = 256


class DirectSocket(Protocol):
    """The connection's socket, written without the ASGI send path (hub/server/wsprotocol.py)."""

    def can_send(self) -> bool: ...

    def send_message(self, data: bytes) -> None: ...


class Writer:
    """The out-queue and writer task of one connection.

    Args:
        ws: The accepted WebSocket.
        queue_bytes: The out-queue's byte budget.
        metrics: Frame, byte, queue-depth and push-lag metrics.
    """

    __slots__ = (
        "_due",
        "_ended",
        "_lag",
        "_task",
        "batching",
        "close_code",
        "close_reason",
        "disconnected",
        "frames_out",
        "metrics",
        "queue",
        "room",
        "socket",
        "ws",
    )

    def __init__(self, ws: WebSocket, queue_bytes: int, metrics: HubMetrics) -> None:
        self.ws = ws
        self.metrics = metrics
        self.queue = OutQueue(queue_bytes)
        # A Flag, not an asyncio.Event: one per connection, and mostly idle (hub/server/flag.py).
        self.room = Flag()
        self.frames_out = 0
        self.close_code: int | None = None
        self.close_reason = ""
        #: The peer closed first: no close frame to send.
        self.disconnected = False
        #: The client takes several frames in one message (set once its hello is accepted).
        self.batching = False
        # push-lag bookkeeping by frame object (frames are shared between connections)
        self._lag: dict[int, tuple[float, int]] = {}
        # The writer task runs only while there is something to send: an idle connection keeps
        # no task, coroutine or waiter for it (docs/benchmarks.md, memory).
        self._task: asyncio.Task[None] | None = None
        self._ended = False  # the close frame went out, or the socket failed: nothing more to send
        self._due = False  # a flush is asked for (hub/server/flush.py)
        self.socket: DirectSocket | None = (ws.scope.get("extensions") or {}).get(DIRECT)

    def close(self, code: int, reason: str) -> bool:
        """Send a close frame with ``code`` after what is queued; False if already closing."""
        first = self.close_code is None
        if first:
            self.close_code = int(code)
            self.close_reason = reason[:120]
        self.room.set()
        self._start_task()
        return first

    def push_control(self, frame: bytes, coll: str | None, cursor: Cursor | None) -> bool:
        """Queue a control frame; False when the queue is over budget (the peer does not read)."""
        ok = self.queue.push_control(frame, coll, cursor)
        self._queued()
        return ok

    async def push_sync(self, coll: str, frame: bytes) -> None:
        """Queue a sync page, waiting until the queue has room for it."""
        while not self.queue.has_room(len(frame)) and self.close_code is None:
            self.room.clear()
            await self.room.wait()
        self.queue.push_sync(frame, coll)
        self._queued()

    def send_live_now(self, coll: str, frame: bytes, cursor: Cursor) -> bool:
        """Write a live frame to the socket at once when nothing waits before it (nothing queued,
        no flush due, no writer task) and the socket takes it; False: queue it instead.

        A broadcast's common case: the frame skips the queue, the flush and their bookkeeping (one
        write per subscriber, in order, since nothing else is pending). The caller counts the
        frames, bytes and events of a broadcast once (hub/server/fanout.py)."""
        if self.queue.entries or self._task is not None or self._due or self._ended:
            return False
        sock = self.socket
        if sock is None or self.close_code is not None or not sock.can_send():
            return False
        try:
            sock.send_message(frame)
        except Exception:  # the peer is gone; the reader sees the disconnect
            self._ended = True
            return True
        self.frames_out += 1
        self.queue.delivered_up_to(coll, cursor)
        return True

    def push_live(self, coll: str, frame: bytes, cursor: Cursor, received: float, events: int) -> bool:
        """Queue a live frame; False when it does not fit (the subscription must catch up)."""
        ok = self.queue.push_live(frame, coll, cursor)
        if ok and (received or events):
            self._lag[id(frame)] = (received, events)
            if len(self._lag) > 2 * len(self.queue) + 64:
                alive = {id(e.frame) for e in self.queue.entries}
                self._lag = {k: v for k, v in self._lag.items() if k in alive}
        self._queued()
        return ok

    def _queued(self) -> None:
        depth = len(self.queue)
        self.metrics.queue_depth.observe(depth)
        self.metrics.queue_depth_max.set_max(depth)
        self._start()

    def _start(self) -> None:
        """Have the queued frames sent: by the next flush, or by the writer task when the socket
        cannot be written directly, unless the task runs already (frames go in order)."""
        if self._task is not None or self._ended or self._due:
            return
        if self.socket is not None and self.close_code is None:
            self._due = True
            FLUSHER.want(self)
        else:
            self._start_task()

    def _start_task(self) -> None:
        """Start the writer task unless one runs (there is only ever one)."""
        if self._task is None and not self._ended:
            self._task = asyncio.create_task(self._run(), name="ws-writer")

    def flush(self) -> None:
        """Write what is queued to the socket now, as far as it takes it; the writer task sends the
        rest (the flusher's turn: module doc)."""
        self._due = False
        if self._task is not None or self._ended:
            return
        sock = self.socket
        q = self.queue
        if sock is not None and self.close_code is None:
            try:
                while q.entries and sock.can_send():
                    entries, data = self._next_message()
                    sock.send_message(data)
                    self._sent(entries, data)
            except Exception:  # the peer is gone; the reader sees the disconnect
                self._ended = True
                return
            finally:
                self.room.set()
        if q.entries or self.close_code is not None:
            self._start_task()

    def sending(self) -> asyncio.Task[None] | None:
        """The writer task while one runs (after :meth:`close`: until the close frame is out)."""
        return self._task

    async def _run(self) -> None:
        """Send what is queued, then end (the next frame queued starts another run); after
        :meth:`close`, the close frame."""
        try:
            code = await self._send_queued()
            if code is None:
                return
            self._ended = True
            if not self.disconnected:
                with contextlib.suppress(Exception):
                    await self.ws.close(code, self.close_reason)
        finally:
            self._task = None

    async def _send_queued(self) -> int | None:
        """Send queued frames until the queue is empty (None) or :meth:`close` was called (its
        code)."""
        q = self.queue
        try:
            while self.close_code is None:
                if not q.entries:
                    self.room.set()
                    return None
                entries, data = self._next_message()
                await self.ws.send_bytes(data)
                self._sent(entries, data)
                self.room.set()
        except Exception:  # the peer is gone; the reader sees the disconnect
            self._ended = True
            return None
        return self.close_code

    def _next_message(self) -> tuple[list[Entry], bytes]:
        """The next message: the oldest frame, or as many as one batch carries for a client that
        takes batches (the queue is not empty)."""
        entries = self.queue.pop_many(BATCH_BYTES, BATCH_FRAMES if self.batching else 1)
        if len(entries) == 1:
            return entries, entries[0].frame
        self.metrics.batched_frames.inc(len(entries))
        return entries, codec.frames([e.frame for e in entries])

    def _sent(self, entries: list[Entry], data: bytes) -> None:
        """Account for a message sent: the cursors the client now holds, metrics, push lag."""
        q, metrics = self.queue, self.metrics
        self.frames_out += len(entries)
        metrics.frames_out.inc(len(entries))
        metrics.bytes_out.inc(len(data))
        events, now = 0, 0.0
        for entry in entries:
            q.sent(entry)
            lag = self._lag.pop(id(entry.frame), None) if entry.kind == "live" else None
            if lag is not None:
                events += lag[1]
                if lag[0]:
                    now = now or time.monotonic()
                    metrics.push_lag_seconds.observe(now - lag[0])
        if events:
            metrics.events_out.inc(events)
