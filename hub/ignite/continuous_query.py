"""Ignite continuous queries over the thin-client protocol (OP 2006 / 2007 / 0) for pyignite's AioClient.

Usage::

    async with continuous_query(client, "people") as events:
        async for batch in events:          # list[CQEvent], one server notification
            for ev in batch:
                ev.type, ev.key, ev.old, ev.value

Design (see docs/ignite.md, "Continuous queries"):

* All CQs of one ``AioClient`` share one dedicated :class:`~hub.ignite.connection.CQConnection` (opened on
  first use to the first node that answers, closed when the last CQ leaves; see
  :func:`hub.ignite.connection.acquire`). It is never put in the client's pool, so partition awareness and
  pyignite's silent reconnect never touch it.
* The socket callback only appends the raw notification frame to the CQ's bounded deque (``buffer_batches``
  frames). Overflow drops the buffer, stops the server CQ and ends the iterator with
  ``SubscriptionLost("overflow")``: memory stays bounded and Ignite never sees backpressure.
* Frames are decoded by whoever iterates (one consumer per CQ, in arrival order). Binary type metadata is
  fetched over the client's pooled connections, never the CQ connection.
* Connection loss, a failed liveness probe (OP 1050 every ``probe_interval`` s, answered within
  ``probe_timeout`` s) or a server error notification end the iterator with ``SubscriptionLost``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import struct
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from hub.core.errors import (
    BinaryDecodeError,
    CacheNotFound,
    ContinuousQueryError,
    CQConnectError,
    SubscriptionLost,
)

from .connection import Channel, CQConnection, FrameSink, acquire, release
from .decode import BinaryReader
from .metadata import BinaryDecoder
from .protocol import I64, NOTIFICATION_PAYLOAD, OpCode, Status, notification_error, notification_op

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_TIME_INTERVAL_MS",
    "CQEvent",
    "ContinuousQuery",
    "EventType",
    "continuous_query",
]

log = logging.getLogger(__name__)

#: Server-side batching: one event per notification, flushed immediately (see docs/benchmarks.md).
DEFAULT_PAGE_SIZE = 1
DEFAULT_TIME_INTERVAL_MS = 0


class EventType(enum.IntEnum):
    CREATED = 0
    UPDATED = 1
    REMOVED = 2
    EXPIRED = 3


@dataclass(frozen=True, slots=True)
class CQEvent:
    """One cache entry event. ``value`` is None for REMOVED/EXPIRED; ``old`` may be None."""

    type: EventType
    key: Any
    old: Any
    value: Any


def _decode_batch(r: BinaryReader) -> list[CQEvent]:
    count = r.i32()
    if count < 0:
        raise BinaryDecodeError(f"negative event count {count}")
    out: list[CQEvent] = []
    for _ in range(count):
        key = r.read()
        old = r.read()
        new = r.read()
        out.append(CQEvent(EventType(r.u8()), key, old, new))
    return out


# ------------------------------------------------------------------------------------------------------------
# The continuous query
# ------------------------------------------------------------------------------------------------------------
class ContinuousQuery(FrameSink):
    """Async context manager and async iterator of event batches. Create with :func:`continuous_query`."""

    def __init__(
        self,
        client: Any,
        cache_name: str,
        *,
        include_expired: bool = False,
        buffer_batches: int = 1024,
        buffer_bytes: int = 64 << 20,
        page_size: int = DEFAULT_PAGE_SIZE,
        time_interval_ms: int = DEFAULT_TIME_INTERVAL_MS,
        connect_timeout: float = 5.0,
        request_timeout: float = 10.0,
        probe_interval: float = 3.0,
        probe_timeout: float = 5.0,
    ) -> None:
        if buffer_batches < 1 or buffer_bytes < 1:
            raise ValueError("buffer_batches and buffer_bytes must be >= 1")
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        if time_interval_ms < 0:
            raise ValueError("time_interval_ms must be >= 0")
        self.client = client
        self.cache_name = cache_name
        self.include_expired = include_expired
        self.buffer_batches = buffer_batches
        self.buffer_bytes = buffer_bytes
        self._buffered_bytes = 0
        self.page_size = page_size
        self.time_interval_ms = time_interval_ms
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.probe_interval = probe_interval
        self.probe_timeout = probe_timeout
        self.cq_id: int | None = None
        self._channel: Channel | None = None
        self._frames: deque[bytearray] = deque()
        self._failure: SubscriptionLost | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._decoder = BinaryDecoder.for_client(client)
        self._closed = False
        self._close_task: asyncio.Task[None] | None = None

    # -- introspection ------------------------------------------------------------------------------------
    @property
    def connection(self) -> CQConnection | None:
        """The dedicated connection carrying this CQ (shared with the client's other CQs)."""
        return self._channel.conn if self._channel else None

    @property
    def buffered(self) -> int:
        """Raw notifications received and not yet consumed."""
        return len(self._frames)

    @property
    def lost(self) -> SubscriptionLost | None:
        """The failure that ends (or will end, after the buffered batches) the iteration, if any."""
        return self._failure

    # -- socket-side (synchronous, from the protocol callback) ---------------------------------------------
    def on_frame(self, frame: bytearray) -> None:
        if self._failure is not None:
            return
        # Bounded by count and by bytes (a notification holds up to page_size events of any size).
        if len(self._frames) >= self.buffer_batches or self._buffered_bytes + len(frame) > self.buffer_bytes:
            self._frames.clear()
            self._buffered_bytes = 0
            self._fail(
                SubscriptionLost(
                    "overflow",
                    f"more than {self.buffer_batches} notifications or {self.buffer_bytes} bytes buffered",
                )
            )
            self._stop_server_cq_soon()
            return
        self._frames.append(frame)
        self._buffered_bytes += len(frame)
        self._wake()

    def on_lost(self, reason: str, error: BaseException | None) -> None:
        self._fail(SubscriptionLost(reason, repr(error) if error else ""))

    def _fail(self, exc: SubscriptionLost) -> None:
        if self._failure is None:
            self._failure = exc
            if self._channel is not None and self.cq_id is not None and exc.reason == "overflow":
                self._channel.conn.unregister(self.cq_id)
        self._wake()

    def _wake(self) -> None:
        w = self._wakeup
        if w is not None and not w.done():
            w.set_result(None)

    def _stop_server_cq_soon(self) -> None:
        if self._close_task is None and self.cq_id is not None and self._channel is not None:
            self._close_task = asyncio.get_running_loop().create_task(self._close_server_cq(self._channel))

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def __aenter__(self) -> ContinuousQuery:
        ch = await acquire(self.client, self.connect_timeout, self.probe_interval, self.probe_timeout)
        self._channel = ch
        try:
            await self._start(ch.conn)
        except BaseException:
            self._channel = None
            await release(self.client, ch)
            raise
        return self

    async def _start(self, conn: CQConnection) -> None:
        from pyignite.utils import cache_id

        payload = struct.pack(
            "<ibiq?B",
            cache_id(self.cache_name),
            0,  # cache flags: not transactional, no expiry policy (the server keeps values binary anyway)
            self.page_size,
            self.time_interval_ms,
            self.include_expired,
            0x65,  # remote filter: NULL, so no filterPlatform byte follows
        )
        try:
            resp = await conn.call(OpCode.QUERY_CONTINUOUS, payload, self.request_timeout)
        except TimeoutError:
            conn.abort("timeout")
            raise ContinuousQueryError(
                f"no answer to OP_QUERY_CONTINUOUS within {self.request_timeout}s from {conn}"
            ) from None
        except (OSError, ConnectionError) as e:
            raise CQConnectError(f"CQ connection to {conn} failed while starting the query: {e}") from e
        if resp.status != 0:
            if resp.status == Status.CACHE_DOES_NOT_EXIST:
                raise CacheNotFound(f"cache {self.cache_name!r} does not exist: {resp.message}", resp.status)
            raise ContinuousQueryError(
                f"OP_QUERY_CONTINUOUS on cache {self.cache_name!r} failed: {resp.message}", resp.status
            )
        self.cq_id = I64.unpack_from(resp.payload, 0)[0]
        if conn.lost is not None:
            reason, err = conn.lost
            self.on_lost(reason, err)
            return
        conn.register(self.cq_id, self)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the server CQ (OP 0) if the connection is alive and release the dedicated connection."""
        if self._closed:
            return
        self._closed = True
        ch, self._channel = self._channel, None
        if self._failure is None:
            self._failure = SubscriptionLost("closed", "the continuous query was closed")
        self._wake()
        self._frames.clear()
        self._buffered_bytes = 0
        if ch is None:
            return
        try:
            if self._close_task is not None:
                await asyncio.shield(self._close_task)
            else:
                await self._close_server_cq(ch)
        finally:
            await release(self.client, ch)

    async def _close_server_cq(self, ch: Channel) -> None:
        if self.cq_id is None:
            return
        conn = ch.conn
        conn.unregister(self.cq_id)
        if not conn.usable:
            return
        try:
            resp = await conn.call(OpCode.RESOURCE_CLOSE, I64.pack(self.cq_id), self.request_timeout)
            if resp.status not in (Status.SUCCESS, Status.RESOURCE_DOES_NOT_EXIST):
                log.warning("closing CQ %d on %s: status %d %s", self.cq_id, conn, resp.status, resp.message)
        except TimeoutError:
            conn.abort("timeout")
        except Exception as e:
            log.debug("closing CQ %d on %s failed: %r", self.cq_id, conn, e)

    # -- iteration -----------------------------------------------------------------------------------------
    def __aiter__(self) -> AsyncIterator[list[CQEvent]]:
        return self

    async def __anext__(self) -> list[CQEvent]:
        while True:
            if self._frames:
                frame = self._frames.popleft()
                self._buffered_bytes -= len(frame)
                batch = await self._decode(frame)
                if batch is not None:
                    return batch
                continue
            if self._failure is not None:
                if self._failure.reason == "closed" and self._closed:
                    raise StopAsyncIteration
                raise self._failure
            if self._channel is None:
                raise RuntimeError("iterate inside 'async with continuous_query(...)'")
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                await self._wakeup
            finally:
                self._wakeup = None

    async def _decode(self, frame: bytearray) -> list[CQEvent] | None:
        op = notification_op(frame)
        err = notification_error(frame)
        if err is not None:
            status, message = err
            lost = SubscriptionLost("server", message, status)
            self._frames.clear()
            self._buffered_bytes = 0
            self._fail(lost)
            self._stop_server_cq_soon()
            raise lost
        if op != OpCode.QUERY_CONTINUOUS_EVENT_NOTIFICATION:
            log.warning("unexpected notification op code %d for CQ %s", op, self.cq_id)
            return None
        try:
            result: list[CQEvent] = await self._decoder.run(_decode_batch, frame, NOTIFICATION_PAYLOAD)
            return result
        except (BinaryDecodeError, ValueError) as e:
            raise self._lose("decode", str(e)) from e
        except (TimeoutError, OSError) as e:
            # Decoding may fetch binary type metadata over a pooled connection; if that node died
            # the stream is as good as lost: report it the one documented way.
            raise self._lose("metadata", f"{type(e).__name__}: {e}") from e
        except Exception as e:
            if not type(e).__module__.startswith("pyignite"):
                raise
            raise self._lose("metadata", f"{type(e).__name__}: {e}") from e

    def _lose(self, reason: str, detail: str) -> SubscriptionLost:
        lost = SubscriptionLost(reason, detail)
        self._frames.clear()
        self._buffered_bytes = 0
        self._fail(lost)
        self._stop_server_cq_soon()
        return lost


def continuous_query(client: Any, cache_name: str, **options: Any) -> ContinuousQuery:
    """Continuous query on ``cache_name`` for a connected pyignite ``AioClient``; use with ``async with``.

    ``options`` are :class:`ContinuousQuery`'s keyword arguments (``include_expired``,
    ``buffer_batches``, ``buffer_bytes``, ``page_size``, ``time_interval_ms``, timeouts). Iterating yields
    ``list[CQEvent]`` batches (one per server notification) and raises :class:`SubscriptionLost` when
    the stream breaks. ``__aenter__`` raises :class:`CacheNotFound`, :class:`CQConnectError` or
    :class:`ContinuousQueryError`.
    """
    return ContinuousQuery(client, cache_name, **options)
