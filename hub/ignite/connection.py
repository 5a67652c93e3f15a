"""A pyignite ``AioConnection`` dedicated to continuous queries, kept out of the client's pool.

pyignite routes every incoming frame by the id at bytes 4..12 and ignores the flags, so a CQ notification
(flag 0x04, bytes 4..12 = CQ id) could complete an unrelated request. :class:`CQConnection` classifies each
frame synchronously in ``process_message``: notifications go to the sink registered for their CQ id (or to a
small per-id buffer until that CQ registers: the server may send events in the same TCP read as the 2006
response); everything else goes to the parent, which resolves the pending request future.

The connection never reconnects silently: losing the socket fails every registered CQ (their owners raise
``SubscriptionLost``) and the connection is dead for good. A liveness probe (OP 1050) runs periodically with
a timeout so a half-open socket is detected in bounded time.

All continuous queries of one client share one such connection: :func:`acquire` opens it on first use (to
the first node that answers) and counts its users, :func:`release` closes it when the last one leaves.

This module is the hub's one adapter to pyignite's connection internals: it is the only place that touches
private members of pyignite (``AioConnection._pending_reqs``, ``_closed``, ``_transport``, the
``_get_query_id`` counter, ``AioClient._nodes`` and ``_connection_args``). pyignite 0.6 has no public way to
send a raw request frame, to route notification frames, or to open a connection outside the client's pool;
each private member used is named where it is used and why. Pin pyignite (``pyproject.toml``) when touching
this module: these members are not part of its API.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Any

from pyignite.connection import AioConnection  # type: ignore[import-untyped,unused-ignore]
from pyignite.queries.query import _get_query_id  # type: ignore[import-untyped,unused-ignore]

from hub.core.errors import CQConnectError
from hub.ignite.deadline import bounded

from .protocol import (
    FLAG_NOTIFICATION,
    OpCode,
    Response,
    encode_request,
    parse_response,
    response_flags,
    response_id,
)

__all__ = [
    "CQConnection",
    "Channel",
    "FrameSink",
    "acquire",
    "client_addresses",
    "release",
    "request",
    "shared_connection",
]

log = logging.getLogger(__name__)

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


async def request(conn: Any, op: OpCode, payload: bytes) -> bytearray:
    """Send one request over a pooled pyignite connection (or a transaction's) and return the response frame.

    The request id comes from pyignite's own query-id counter (private ``_get_query_id``): on a pooled
    connection pyignite's requests share the id space, so ids must never collide with them.
    ``AioConnection.request`` leaves the future in the private ``_pending_reqs`` when it is cancelled or
    times out; it is removed here so a late reply finds nothing to complete.
    """
    req_id = _get_query_id()
    try:
        data: bytearray = await conn.request(req_id, encode_request(op, req_id, payload))
    finally:
        conn._pending_reqs.pop(req_id, None)
    return data


def client_addresses(client: Any) -> list[tuple[str, int]]:
    """The client's node addresses, live ones first (pyignite keeps its nodes in the private ``_nodes``)."""
    nodes = list(getattr(client, "_nodes", []) or [])
    alive = [(n.host, n.port) for n in nodes if getattr(n, "alive", False)]
    rest = [(n.host, n.port) for n in nodes if (n.host, n.port) not in alive]
    return alive + rest


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

    @classmethod
    def for_client(cls, client: Any, host: str, port: int) -> CQConnection:
        """A connection to ``host:port`` with the client's TLS and credential options (its private
        ``_connection_args``: pyignite passes them to the connections it creates itself)."""
        return cls(client, host, port, **getattr(client, "_connection_args", {}))

    async def discard(self, timeout: float) -> None:
        """Close a connection whose handshake failed. ``_closed`` first: pyignite must not reconnect it."""
        self._closed = True
        try:
            await asyncio.wait_for(self.close(), timeout)
        except Exception:  # pragma: no cover - best effort
            pass

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
        if not response_flags(data) & FLAG_NOTIFICATION:
            super().process_message(data)
            return
        cq_id = response_id(data)
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

    async def call(self, op_code: OpCode, payload: bytes, timeout: float) -> Response:
        """Send one request on this connection and return its parsed response (bounded by ``timeout``)."""
        if not self.usable:
            raise ConnectionError(f"CQ connection to {self} is closed")
        req_id = self._req_id()
        frame = encode_request(op_code, req_id, payload)
        try:
            # not wait_for: it can swallow a cancellation (tx.py); and not counting the time this
            # process's loop ran late: a busy hub must not declare a healthy node dead (deadline.py)
            data = await bounded(lambda: self.request(req_id, frame), timeout)
        finally:
            self._pending_reqs.pop(req_id, None)  # see request(): a timed-out future stays there
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
                    await self.call(OpCode.CACHE_GET_NAMES, b"", timeout)
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


# ------------------------------------------------------------------------------------------------------------
# One dedicated connection per client, shared by its CQs
# ------------------------------------------------------------------------------------------------------------
class Channel:
    """The dedicated connection of one client, reference-counted by the CQs using it."""

    def __init__(self, conn: CQConnection) -> None:
        self.conn = conn
        self.users = 0


_channels: weakref.WeakKeyDictionary[Any, Channel] = weakref.WeakKeyDictionary()
_channel_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


async def _open(
    client: Any, connect_timeout: float, probe_interval: float, probe_timeout: float
) -> CQConnection:
    if getattr(client, "protocol_context", None) is None:
        raise CQConnectError("the pyignite client is not connected")
    if not client.protocol_context.is_status_flags_supported():
        raise CQConnectError("continuous queries need thin-client protocol >= 1.4")
    addresses = client_addresses(client)
    if not addresses:
        raise CQConnectError("the pyignite client has no node addresses")
    errors: list[str] = []
    for host, port in addresses:
        conn = CQConnection.for_client(client, host, port)
        try:
            await asyncio.wait_for(conn.connect(), connect_timeout)
            if not conn.alive:
                raise ConnectionError("connection closed during the handshake")
        except Exception as e:  # refused, reset, half handshake, timeout, handshake error
            errors.append(f"{host}:{port}: {type(e).__name__}: {e}")
            await conn.discard(2.0)
            continue
        conn.start_probe(probe_interval, probe_timeout)
        return conn
    raise CQConnectError("could not open a continuous-query connection: " + "; ".join(errors))


async def acquire(
    client: Any, connect_timeout: float, probe_interval: float, probe_timeout: float
) -> Channel:
    """The client's dedicated CQ connection (opened on first use, or again after it died), with one more
    user; pair with :func:`release`.

    Raises:
        CQConnectError: the client is not connected or too old, or no node accepted the connection.
    """
    lock = _channel_locks.get(client)
    if lock is None:
        lock = _channel_locks[client] = asyncio.Lock()
    async with lock:
        ch = _channels.get(client)
        if ch is None or not ch.conn.usable:
            conn = await _open(client, connect_timeout, probe_interval, probe_timeout)
            ch = Channel(conn)
            _channels[client] = ch

            client_ref = weakref.ref(client)

            def _drop(dead: CQConnection) -> None:
                c = client_ref()
                if c is not None and (cur := _channels.get(c)) is not None and cur.conn is dead:
                    del _channels[c]

            conn.add_dead_callback(_drop)
        ch.users += 1
        return ch


def shared_connection(client: Any) -> CQConnection | None:
    """The dedicated connection ``client``'s continuous queries share now, if any."""
    ch = _channels.get(client)
    return ch.conn if ch is not None else None


async def release(client: Any, ch: Channel) -> None:
    """One user less; the last one closes the connection."""
    ch.users -= 1
    if ch.users <= 0:
        if _channels.get(client) is ch:
            del _channels[client]
        await ch.conn.shutdown()
