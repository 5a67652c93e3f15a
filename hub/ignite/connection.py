"""A pyignite ``AioConnection`` dedicated to continuous queries, kept out of the client's pool.

pyignite routes every incoming frame by the id at bytes 4..12 and ignores the flags, so a CQ notification
(flag 0x04, bytes 4..12 = CQ id) could complete an unrelated request. :class:`CQConnection` classifies each
frame synchronously in ``process_message``: notifications go to the sink registered for their CQ id (or to a
small per-id buffer until that CQ registers: the server may send events in the same TCP read as the 2006
response); everything else goes to the parent, which resolves the pending request future.

The connection never reconnects silently: losing the socket fails every registered CQ (their owners raise
``SubscriptionLost``) and the connection is dead for good. A liveness probe (OP 1050) runs periodically with
a timeout so a half-open socket is detected in bounded time.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable
from typing import Any

from pyignite.connection import AioConnection  # type: ignore[import-untyped,unused-ignore]

__all__ = ["CQConnection", "FrameSink", "Response", "parse_response"]

log = logging.getLogger(__name__)

FLAG_ERROR = 0x01
FLAG_TOPOLOGY = 0x02
FLAG_NOTIFICATION = 0x04

OP_RESOURCE_CLOSE = 0
OP_CACHE_GET_NAMES = 1050
OP_QUERY_CONTINUOUS = 2006
OP_QUERY_CONTINUOUS_EVENT_NOTIFICATION = 2007

_REQ_HDR = struct.Struct("<ihq")
_RESP_HDR = struct.Struct("<iqh")
_NOTIF_HDR = struct.Struct("<iqhh")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")

#: Notifications kept per not-yet-registered CQ id before they are discarded (the start-up window is short).
MAX_ORPHAN_FRAMES = 4096
#: CQ ids remembered after close, so that late notifications are dropped instead of buffered.
MAX_CLOSED_IDS = 4096


class FrameSink:
    """Receiver of one CQ's frames; called synchronously from the socket callback (must not block)."""

    def on_frame(self, frame: bytearray) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def on_lost(self, reason: str, error: BaseException | None) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class Response:
    """A parsed ordinary response frame."""

    __slots__ = ("message", "payload", "status")

    def __init__(self, status: int, message: str, payload: memoryview) -> None:
        self.status = status
        self.message = message
        self.payload = payload


def _read_string(buf: bytearray | bytes, pos: int) -> tuple[str, int]:
    code = buf[pos]
    if code == 101:
        return "", pos + 1
    n = _I32.unpack_from(buf, pos + 1)[0]
    return bytes(buf[pos + 5 : pos + 5 + n]).decode("utf-8", "replace"), pos + 5 + n


def parse_response(frame: bytearray | bytes) -> Response:
    """Parse a protocol >= 1.4 response frame: header, optional topology version, optional error."""
    _len, _req_id, flags = _RESP_HDR.unpack_from(frame, 0)
    pos = 14
    if flags & FLAG_TOPOLOGY:
        pos += 12
    status, message = 0, ""
    if flags & FLAG_ERROR:
        status = _I32.unpack_from(frame, pos)[0]
        message, pos = _read_string(frame, pos + 4)
    return Response(status, message, memoryview(frame)[pos:])


def notification_error(frame: bytearray | bytes) -> tuple[int, str] | None:
    """Status and message of an error notification (flags 0x05), else None."""
    flags = _RESP_HDR.unpack_from(frame, 0)[2]
    if not flags & FLAG_ERROR:
        return None
    status = _I32.unpack_from(frame, 16)[0]
    message, _ = _read_string(frame, 20)
    return status, message


class CQConnection(AioConnection):  # type: ignore[misc]
    """Dedicated CQ connection. Not thread-safe; lives on one event loop."""

    def __init__(self, client: Any, host: str, port: int, **kwargs: Any) -> None:
        super().__init__(client, host, port, **kwargs)
        self._sinks: dict[int, FrameSink] = {}
        self._orphans: dict[int, list[bytearray]] = {}
        self._orphan_count = 0
        self._closed_ids: dict[int, None] = {}
        self._lost: tuple[str, BaseException | None] | None = None
        self._next_req_id = 0
        self._on_dead: list[Callable[[CQConnection], None]] = []
        self._probe_task: asyncio.Task[None] | None = None

    # -- state -------------------------------------------------------------------------------------------
    @property
    def lost(self) -> tuple[str, BaseException | None] | None:
        """(reason, error) once the connection is dead, else None."""
        return self._lost

    @property
    def usable(self) -> bool:
        return self._lost is None and bool(self.alive)

    def add_dead_callback(self, cb: Callable[[CQConnection], None]) -> None:
        self._on_dead.append(cb)

    @property
    def sink_count(self) -> int:
        return len(self._sinks)

    # -- routing (synchronous, called from BaseProtocol.data_received) ------------------------------------
    def process_message(self, data: bytearray) -> None:
        flags = _RESP_HDR.unpack_from(data, 0)[2]
        if not flags & FLAG_NOTIFICATION:
            super().process_message(data)
            return
        cq_id = _I64.unpack_from(data, 4)[0]
        sink = self._sinks.get(cq_id)
        if sink is not None:
            sink.on_frame(data)
            return
        if cq_id in self._closed_ids:
            return
        if self._orphan_count >= MAX_ORPHAN_FRAMES:
            log.warning("CQ connection %s: dropping notification for unknown CQ id %d", self, cq_id)
            return
        self._orphans.setdefault(cq_id, []).append(data)
        self._orphan_count += 1

    def register(self, cq_id: int, sink: FrameSink) -> None:
        """Route ``cq_id``'s notifications to ``sink``, first replaying any that arrived before."""
        self._sinks[cq_id] = sink
        for frame in self._orphans.pop(cq_id, ()):
            self._orphan_count -= 1
            if self._sinks.get(cq_id) is not sink:
                break  # the sink unregistered itself (overflow)
            sink.on_frame(frame)

    def unregister(self, cq_id: int) -> None:
        self._sinks.pop(cq_id, None)
        dropped = self._orphans.pop(cq_id, None)
        if dropped:
            self._orphan_count -= len(dropped)
        self._closed_ids[cq_id] = None
        if len(self._closed_ids) > MAX_CLOSED_IDS:
            del self._closed_ids[next(iter(self._closed_ids))]

    # -- loss ----------------------------------------------------------------------------------------------
    def process_connection_lost(self, err: Any, reconnect: bool = False) -> None:
        # Never let pyignite reconnect silently: a new socket would not carry our CQs.
        self._closed = True
        super().process_connection_lost(err, False)
        self._mark_dead("connection", err if isinstance(err, BaseException) else None)

    def _mark_dead(self, reason: str, err: BaseException | None) -> None:
        if self._lost is not None:
            return
        self._lost = (reason, err)
        self.failed = True
        sinks = list(self._sinks.values())
        self._sinks.clear()
        self._orphans.clear()
        self._orphan_count = 0
        for sink in sinks:
            try:
                sink.on_lost(reason, err)
            except Exception:  # pragma: no cover - defensive
                log.exception("CQ sink failed on connection loss")
        for cb in self._on_dead:
            try:
                cb(self)
            except Exception:  # pragma: no cover - defensive
                log.exception("CQ connection dead-callback failed")
        if self._probe_task is not None and self._probe_task is not asyncio.current_task():
            self._probe_task.cancel()

    def abort(self, reason: str, err: BaseException | None = None) -> None:
        """Declare the connection dead now (e.g. failed liveness probe) and drop the socket."""
        self._mark_dead(reason, err)
        self._closed = True
        transport = self._transport
        if transport is not None:
            transport.abort()

    # -- requests --------------------------------------------------------------------------------------------
    def _req_id(self) -> int:
        # Ids only need to be unique on this connection; notifications are never matched against them.
        self._next_req_id += 1
        return self._next_req_id

    async def call(self, op_code: int, payload: bytes, timeout: float) -> Response:
        """Send one request on this connection and return its parsed response (bounded by ``timeout``)."""
        if not self.usable:
            raise ConnectionError(f"CQ connection to {self} is closed")
        req_id = self._req_id()
        frame = _REQ_HDR.pack(10 + len(payload), op_code, req_id) + payload
        try:
            data = await asyncio.wait_for(self.request(req_id, frame), timeout)
        finally:
            self._pending_reqs.pop(req_id, None)
        return parse_response(data)

    def start_probe(self, interval: float, timeout: float) -> None:
        if self._probe_task is None and interval > 0:
            self._probe_task = asyncio.get_running_loop().create_task(
                self._probe(interval, timeout), name=f"cq-probe-{self}"
            )

    async def _probe(self, interval: float, timeout: float) -> None:
        try:
            while self._lost is None:
                await asyncio.sleep(interval)
                if self._lost is not None:
                    return
                try:
                    await self.call(OP_CACHE_GET_NAMES, b"", timeout)
                except TimeoutError as e:
                    self.abort("timeout", e)
                except (OSError, ConnectionError) as e:
                    self.abort("connection", e)
                except Exception as e:
                    if self._lost is None and not self.alive:
                        self.abort("connection", e)
                    elif self._lost is None:
                        log.warning("CQ liveness probe on %s failed: %r", self, e)
                        self.abort("connection", e)
        except asyncio.CancelledError:
            pass

    async def shutdown(self) -> None:
        """Close the socket (no reconnect); registered sinks are told the connection closed."""
        if self._probe_task is not None and self._probe_task is not asyncio.current_task():
            self._probe_task.cancel()
        self._mark_dead("closed", None)
        await self.close()
