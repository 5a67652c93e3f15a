"""One client connection of the ``/sync`` endpoint: its parts, its tasks and its life.

Per connection there is one long-lived task, the reader (the endpoint's own task: frame → codec →
:class:`~hub.core.session.Session` → effects). The writer (``writer.py``, the only task that sends)
and the mutation worker (``mutations.py``) run a task only while they have work, and the ticker
(``driver.py``: pings, the idle and ``hello`` timeouts, token expiry) is a timer: tasks and their
waits were most of an idle connection's memory (docs/benchmarks.md, memory). The session's
effects are carried out by ``driver.py``; syncs run one task per subscription (``subscription.py``);
``authflow.py`` decides authentication and refresh. The message and mutation token buckets apply
here (docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.websockets import WebSocket

from hub import codec
from hub.auth.identity import Authenticator, Identity
from hub.authz import AccessPolicy
from hub.config import HubSettings
from hub.core.cursor import Cursor
from hub.core.errors import BadFrame, ClientProtocolError, CloseCode, FrameTooLarge, HubError
from hub.core.ratelimit import TokenBucket
from hub.core.room_messages import RoomMessage
from hub.core.session import Session, SessionConfig
from hub.core.subsets import QuerySpec
from hub.core.types import CollectionSpec
from hub.metrics import HubMetrics
from hub.server.authflow import AuthFlow
from hub.server.connections import Connections
from hub.server.driver import SessionDriver, now_ms
from hub.server.feed import Feed
from hub.server.flag import Flag
from hub.server.hub import Hub
from hub.server.mutations import MutationWorker
from hub.server.presence import Presence
from hub.server.subscriptions import Subscriptions
from hub.server.syncreads import SyncReads, SyncSlots
from hub.server.writer import Writer
from hub.store.base import Store

# The endpoint's logger name, kept when this code left ws.py: log lines and their filters stay as they were.
log = logging.getLogger("hub.server.ws")

CLOSE_TIMEOUT_S = 2.0
#: A rate limit makes the reader wait at most this long; beyond it the connection closes (4529).
MAX_THROTTLE_MS = 1000


class Connection:
    """One client connection (a :class:`~hub.server.connections.Peer` and a subscription
    :class:`~hub.server.subscription.Port`).

    Args:
        ws: The accepted WebSocket; ``conn_id`` is bound into its log records.
        settings: The ``[hub]`` settings (limits, queue sizes, timeouts); ``session`` configures
            the protocol session.
        store, feeds, specs, policy, metrics, authenticator: The hub's parts it works with.
        registry: The hub's open connections (per-subject cap, drain).
        now_s: The wall clock token expiry is judged by.
    """

    # Slots: ten thousand idle connections kept ten thousand 1.6 KiB attribute dicts.
    __slots__ = (
        "_tasks",
        "address",
        "auth",
        "draining",
        "driver",
        "finished",
        "frames_in",
        "hello_timeout_ms",
        "hold_bytes",
        "id",
        "limits",
        "listening",
        "max_frame",
        "metrics",
        "msg_bucket",
        "mut_bucket",
        "mutations",
        "overlap_ms",
        "policy",
        "presence",
        "queries",
        "queue",
        "registry",
        "rooms",
        "session",
        "started",
        "store",
        "subs",
        "sync_reads",
        "writer",
        "ws",
    )

    def __init__(
        self,
        ws: WebSocket,
        *,
        conn_id: str,
        settings: HubSettings,
        session: SessionConfig,
        store: Store,
        feeds: Mapping[str, Feed],
        specs: Mapping[str, CollectionSpec],
        policy: AccessPolicy,
        metrics: HubMetrics,
        authenticator: Authenticator,
        registry: Connections,
        now_s: Callable[[], float],
        sync_slots: SyncSlots | None = None,
        presence: Presence | None = None,
        queries: Mapping[str, QuerySpec] | None = None,
    ) -> None:
        cfg = settings
        self.ws = ws
        self.id = conn_id
        self.store = store
        self.sync_reads = SyncReads(store, sync_slots or SyncSlots())
        self.policy = policy
        self.metrics = metrics
        self.registry = registry
        self.address = ws.client.host if ws.client is not None else "?"
        self.auth = AuthFlow(
            authenticator,
            policy,
            metrics,
            now_s=now_s,
            claim=self._claim,  # bound methods, not closures: smaller, and per connection
            address=self.address,
        )
        self.mutations = MutationWorker(store, policy, metrics, specs, self._identity, self)
        self.msg_bucket = TokenBucket(cfg.msg_rate, cfg.msg_burst)
        self.mut_bucket = TokenBucket(cfg.mut_rate, cfg.mut_burst or 2 * cfg.max_batch)
        self.hello_timeout_ms = cfg.hello_timeout_ms
        self.listening = True  # False while the reader waits to hand a frame on (backpressure)
        self.draining = False
        self.frames_in = 0
        self.started = time.monotonic()
        self.overlap_ms = cfg.catchup_overlap_ms
        self.max_frame = cfg.max_frame
        self.hold_bytes = cfg.queue_bytes
        self.limits = codec.Limits.for_frame(cfg.max_frame)
        self.session = Session(session, now_ms())
        self.writer = Writer(ws, cfg.queue_bytes, metrics)
        self.queue = self.writer.queue
        self.subs = Subscriptions(self, feeds, self.queue)
        self.driver = SessionDriver(self)
        self.finished = Flag()
        self._tasks: list[asyncio.Task[None]] = []
        self.presence = presence
        self.queries: Mapping[str, QuerySpec] = queries or {}
        self.rooms = presence.for_connection() if presence is not None else None

    @classmethod
    def for_hub(cls, hub: Hub, ws: WebSocket, conn_id: str) -> Connection:
        """A connection wired to ``hub``'s store, feeds, policy, authenticator and registry."""
        return cls(
            ws,
            conn_id=conn_id,
            settings=hub.config.hub,
            session=hub.session_config(),
            store=hub.store,
            feeds=hub.feeds,
            specs=hub.specs,
            policy=hub.policy,
            metrics=hub.metrics,
            authenticator=hub.authenticator,
            registry=hub.connections,
            now_s=hub.now_s,
            sync_slots=hub.sync_slots,
            presence=hub.presence,
            queries=hub.queries,
        )

    @property
    def identity(self) -> Identity | None:
        """The identity of the token in force (None before authentication)."""
        return self.auth.identity

    def _identity(self) -> Identity | None:
        return self.auth.identity

    def _claim(self, key: str) -> bool:
        return self.registry.claim(self, key)

    @property
    def client_id(self) -> str:
        return self.session.client

    # ----------------------------------------------------------------- Port (subscription.py)

    @property
    def close_code(self) -> int | None:
        """The code the connection closes (or closed) with; None while open."""
        return self.writer.close_code

    def send_control(
        self, msg: dict[str, Any], coll: str | None = None, cursor: Cursor | None = None
    ) -> None:
        if self.close_code is not None:
            return
        if not self.writer.push_control(codec.encode(msg), coll, cursor):
            # the peer floods requests without reading the answers
            self._rate_limited("outgoing_queue")

    async def send_sync(self, coll: str, frame: bytes) -> None:
        await self.writer.push_sync(coll, frame)

    def send_live_now(self, coll: str, frame: bytes, cursor: Cursor) -> bool:
        return self.writer.send_live_now(coll, frame, cursor)

    def push_live(
        self, coll: str, frame: bytes, cursor: Cursor, received: float = 0.0, events: int = 0
    ) -> bool:
        if self.close_code is not None:
            return True
        return self.writer.push_live(coll, frame, cursor, received, events)

    def delivered(self, coll: str) -> Cursor | None:
        return self.queue.delivered.get(coll)

    async def room_op(self, msg: RoomMessage) -> None:
        """A room request (hub/server/presence.py)."""
        if self.presence is not None and self.rooms is not None:
            await self.presence.handle(self, self.rooms, msg)

    async def rooms_recheck(self) -> None:
        """After a token refresh: leave the rooms the new claims no longer allow."""
        if self.presence is not None and self.rooms is not None:
            await self.presence.recheck(self, self.rooms)

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, HubError):
            self.request_close(exc.close_code, exc.message or type(exc).__name__)
        else:
            log.exception("internal error on a connection", exc_info=exc)
            self.request_close(CloseCode.INTERNAL_ERROR, "internal error")

    # ----------------------------------------------------------------- lifecycle

    def request_close(self, code: int, reason: str) -> None:
        if self.writer.close(code, reason):
            self.session.closed()

    def begin_drain(self) -> None:
        """Graceful shutdown: read nothing more, finish the mutation batches already read, send
        their acks, then close with 4500 (``going_away``: retry elsewhere)."""
        if self.draining or self.close_code is not None:
            return
        self.draining = True
        self._tasks.append(asyncio.create_task(self._drain(), name="ws-drain"))

    async def _drain(self) -> None:
        while self.close_code is None and not self.mutations.idle():
            await asyncio.sleep(0.01)
        while self.close_code is None and len(self.queue):
            await asyncio.sleep(0.01)  # let the writer deliver the last acks
        self.request_close(CloseCode.GOING_AWAY, "hub shutting down, retry elsewhere")

    async def run(self) -> None:
        self.registry.add(self)
        self.metrics.connections.inc()
        log.info(
            "connection accepted",
            extra={
                "address": self.address,
                "origin": self.ws.headers.get("origin"),
                "user_agent": self.ws.headers.get("user-agent", "")[:200],
            },
        )
        self.driver.start_ticker()
        try:
            await self._reader()
        except Exception as exc:  # never let one connection take the server down
            self.fail(exc)
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        self.subs.stop_all()
        if self.presence is not None and self.rooms is not None:
            self.presence.disconnected(self, self.rooms)
        if self.close_code is None:
            self.request_close(CloseCode.NORMAL, "")
        writer = self.writer.sending()  # the close frame on its way
        if writer is not None:
            self._tasks.append(writer)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(writer), CLOSE_TIMEOUT_S)
        self.driver.stop_ticker()
        worker = self.mutations.stop()
        if worker is not None:
            self._tasks.append(worker)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        self.registry.remove(self)
        self.metrics.connections.dec()
        log.info(
            "connection closed",
            extra={
                "code": self.close_code,
                "reason": self.writer.close_reason,
                "duration_s": round(time.monotonic() - self.started, 3),
                "frames_in": self.frames_in,
                "frames_out": self.writer.frames_out,
            },
        )
        self.finished.set()

    # ----------------------------------------------------------------- reader

    async def _reader(self) -> None:
        # One message at a time through _on_message, whose locals (the frame, its decoded form) go
        # when it returns: an idle connection does not hold on to the last message it sent.
        while self.close_code is None:
            if not await self._on_message(await self.ws.receive()):
                return

    async def _on_message(self, message: Mapping[str, Any]) -> bool:
        """Hand one received message on; False when the reader must stop."""
        if message["type"] == "websocket.disconnect":
            self.writer.disconnected = True
            self.request_close(int(message.get("code") or CloseCode.NORMAL), "")
            return False
        if self.draining:
            return True  # shutting down: what arrives now is replayed on another hub
        data = message.get("bytes")
        self.frames_in += 1
        self.metrics.frames_in.inc()
        self.metrics.bytes_in.inc(len(data) if data is not None else len(message.get("text") or ""))
        if not await self.throttle(self.msg_bucket, 1, "messages"):
            return False
        if data is None:
            await self.driver.apply(self.session.fail(BadFrame("text frames are not allowed")))
            return True
        if len(data) > self.max_frame:
            await self.driver.apply(self.session.fail(FrameTooLarge(len(data), self.max_frame)))
            return True
        try:
            obj = codec.decode(data, self.limits)
        except ClientProtocolError as exc:
            await self.driver.apply(self.session.fail(exc))
            return True
        # Applying may wait for room in the batch queue (a client ahead of the store): the
        # reader reads nothing meanwhile, so the client's silence is not counted.
        self.listening = False
        try:
            await self.driver.apply(self.session.receive_frame(obj, now_ms()))
        finally:
            self.listening = True
        return True

    # ----------------------------------------------------------------- limits

    async def throttle(self, bucket: TokenBucket, n: int, kind: str) -> bool:
        """Take ``n`` tokens, waiting (not reading: TCP backpressure) up to MAX_THROTTLE_MS;
        False after closing with 4529 when the wait would be longer."""
        wait = bucket.wait_ms(now_ms(), n)
        if wait is None or wait > MAX_THROTTLE_MS:
            self._rate_limited(kind)
            return False
        if wait > 0:
            await asyncio.sleep(wait / 1000)
        bucket.take(now_ms(), n)
        return True

    def _rate_limited(self, kind: str) -> None:
        if self.close_code is not None:
            return
        self.metrics.rate_limited.labels(kind).inc()
        log.warning("rate limit tripped", extra={"kind": kind, "address": self.address})
        self.request_close(CloseCode.RATE_LIMITED, f"rate limited ({kind})")
