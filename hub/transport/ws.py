"""The ``/sync`` WebSocket endpoint: a thin adapter around :class:`hub.core.session.Session`.

Per connection there are four tasks: the reader (this endpoint's own task: frame → codec →
session → effects), one **writer** draining the bounded :class:`~hub.core.outqueue.OutQueue`
(the only task that sends, so a slow socket only ever blocks its own writer), one **mutation
worker** applying ``mut`` batches in order from a bounded queue, and a **ticker** for pings, the
idle and ``hello`` timeouts and the token expiry. Syncs run as one task per subscription
(``hub/sync.py``).

Security wiring (docs/security.md): the ``Origin`` is decided before the upgrade is accepted;
the ``hello`` token becomes the connection's :class:`~hub.auth.Identity` (``auth`` refreshes it
in band); ``sub``, every mutation and every frame of documents go through the hub's
:class:`~hub.authz.AccessPolicy`; message and mutation token buckets and the per-subject
connection cap apply here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from hub import codec
from hub.auth import Identity
from hub.authz import origin_allowed
from hub.core import messages as m
from hub.core.cursor import Cursor
from hub.core.errors import (
    BadFrame,
    ClientProtocolError,
    CloseCode,
    ErrorCode,
    FrameTooLarge,
    HubError,
    StoreUnavailable,
    Unauthorized,
)
from hub.core.outqueue import OutQueue
from hub.core.ratelimit import TokenBucket
from hub.core.session import (
    ApplyBatch,
    Authenticate,
    Close,
    Effect,
    Reauthenticate,
    Send,
    Session,
    SessionConfig,
    State,
    Subscribe,
    Unsubscribe,
)
from hub.core.types import Doc, Mutation, MutationResult
from hub.logs import bind
from hub.runtime import Hub
from hub.store.base import Store
from hub.sync import Subscription

if TYPE_CHECKING:
    from hub.authz import AccessPolicy
    from hub.metrics import HubMetrics

log = logging.getLogger(__name__)

MUT_QUEUE_BATCHES = 4
CLOSE_TIMEOUT_S = 2.0
#: A rate limit makes the reader wait at most this long; beyond it the connection closes (4529).
MAX_THROTTLE_MS = 1000
CONFLICT_STATUSES = frozenset({"conflict", "rejected", "merged"})


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class Connection:
    def __init__(self, hub: Hub, ws: WebSocket, conn_id: str | None = None) -> None:
        cfg = hub.config.hub
        self.hub = hub
        self.ws = ws
        self.id = conn_id or uuid.uuid4().hex[:12]
        self.store: Store = hub.store
        self.policy: AccessPolicy | None = hub.policy
        self.metrics: HubMetrics | None = hub.metrics
        self.identity: Identity | None = None
        self.address = ws.client.host if ws.client is not None else "?"
        self.msg_bucket = TokenBucket(cfg.msg_rate, cfg.msg_burst)
        self.mut_bucket = TokenBucket(cfg.mut_rate, cfg.mut_burst or 2 * cfg.max_batch)
        self.hello_timeout_ms = cfg.hello_timeout_ms
        self.counted: str | None = None  # the ConnectionCounter key this connection holds
        self.draining = False
        self.frames_in = 0
        self.frames_out = 0
        self.started = time.monotonic()
        self._mut_busy = False
        self._lag: dict[int, tuple[float, int]] = {}
        self.overlap_ms = cfg.catchup_overlap_ms
        self.max_frame = cfg.max_frame
        self.hold_bytes = cfg.queue_bytes
        self.limits = codec.Limits.for_frame(cfg.max_frame)
        scfg = SessionConfig(hub.id, hub.writable, cfg.ping_ms, cfg.max_batch, cfg.max_frame)
        self.session = Session(scfg, _now_ms())
        self.queue = OutQueue(cfg.queue_bytes)
        self.subs: dict[str, Subscription] = {}
        self.muts: asyncio.Queue[ApplyBatch] = asyncio.Queue(MUT_QUEUE_BATCHES)
        self.wake = asyncio.Event()
        self.room = asyncio.Event()
        self.finished = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self._disconnected = False
        self._tasks: list[asyncio.Task[None]] = []

    # ----------------------------------------------------------------- Port (hub/sync.py)

    def send_control(
        self, msg: dict[str, Any], coll: str | None = None, cursor: Cursor | None = None
    ) -> None:
        if self.close_code is not None:
            return
        if not self.queue.push_control(codec.encode(msg), coll, cursor):
            # the peer floods requests without reading the answers
            self._rate_limited("outgoing_queue")
        self._depth()
        self.wake.set()

    async def send_sync(self, coll: str, frame: bytes) -> None:
        while not self.queue.has_room(len(frame)) and self.close_code is None:
            self.room.clear()
            await self.room.wait()
        self.queue.push_sync(frame, coll)
        self._depth()
        self.wake.set()

    def push_live(
        self, coll: str, frame: bytes, cursor: Cursor, received: float = 0.0, events: int = 0
    ) -> bool:
        if self.close_code is not None:
            return True
        ok = self.queue.push_live(frame, coll, cursor)
        if ok and (received or events):
            # push-lag bookkeeping, by frame object (frames are shared between connections)
            self._lag[id(frame)] = (received, events)
            if len(self._lag) > 2 * len(self.queue) + 64:
                alive = {id(e.frame) for e in self.queue.entries}
                self._lag = {k: v for k, v in self._lag.items() if k in alive}
        self._depth()
        self.wake.set()
        return ok

    def _depth(self) -> None:
        if self.metrics is not None:
            depth = len(self.queue)
            self.metrics.queue_depth.observe(depth)
            self.metrics.queue_depth_max.set_max(depth)

    def delivered(self, coll: str) -> Cursor | None:
        return self.queue.delivered.get(coll)

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, HubError):
            self.request_close(exc.close_code, exc.message or type(exc).__name__)
        else:
            log.exception("internal error on a connection", exc_info=exc)
            self.request_close(CloseCode.INTERNAL_ERROR, "internal error")

    # ----------------------------------------------------------------- lifecycle

    def request_close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code = int(code)
            self.close_reason = reason[:120]
            self.session.closed()
        self.wake.set()
        self.room.set()

    def begin_drain(self) -> None:
        """Graceful shutdown: read nothing more, finish the mutation batches already read, send
        their acks, then close with 4500 (``going_away``: retry elsewhere)."""
        if self.draining or self.close_code is not None:
            return
        self.draining = True
        self._tasks.append(asyncio.create_task(self._drain(), name="ws-drain"))

    async def _drain(self) -> None:
        while self.close_code is None and (self._mut_busy or not self.muts.empty()):
            await asyncio.sleep(0.01)
        while self.close_code is None and len(self.queue):
            await asyncio.sleep(0.01)  # let the writer deliver the last acks
        self.request_close(CloseCode.GOING_AWAY, "hub shutting down, retry elsewhere")

    async def run(self) -> None:
        self.hub.connections.add(self)
        self.hub.stats["connections"] += 1
        if self.metrics is not None:
            self.metrics.connections.inc()
        log.info(
            "connection accepted",
            extra={
                "address": self.address,
                "origin": self.ws.headers.get("origin"),
                "user_agent": self.ws.headers.get("user-agent", "")[:200],
            },
        )
        self._tasks = [
            asyncio.create_task(self._writer(), name="ws-writer"),
            asyncio.create_task(self._mutations(), name="ws-mutations"),
            asyncio.create_task(self._ticker(), name="ws-ticker"),
        ]
        try:
            await self._reader()
        except Exception as exc:  # never let one connection take the server down
            self.fail(exc)
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        for sub in self.subs.values():
            sub.stop()
            feed = self.hub.feeds.get(sub.coll)
            if feed is not None:
                feed.remove(sub)
        self.subs.clear()
        writer = self._tasks[0]
        if self.close_code is None:
            self.request_close(CloseCode.NORMAL, "")
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(writer), CLOSE_TIMEOUT_S)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        self.hub.connections.discard(self)
        if self.counted is not None and self.hub.per_subject is not None:
            self.hub.per_subject.release(self.counted)
            self.counted = None
        if self.metrics is not None:
            self.metrics.connections.dec()
        log.info(
            "connection closed",
            extra={
                "code": self.close_code,
                "reason": self.close_reason,
                "duration_s": round(time.monotonic() - self.started, 3),
                "frames_in": self.frames_in,
                "frames_out": self.frames_out,
            },
        )
        self.finished.set()

    # ----------------------------------------------------------------- reader

    async def _reader(self) -> None:
        while self.close_code is None:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                self._disconnected = True
                self.request_close(int(message.get("code") or CloseCode.NORMAL), "")
                return
            if self.draining:
                continue  # shutting down: what arrives now is replayed on another hub
            data = message.get("bytes")
            self.frames_in += 1
            if self.metrics is not None:
                self.metrics.frames_in.inc()
                self.metrics.bytes_in.inc(len(data) if data is not None else len(message.get("text") or ""))
            if not await self._throttle(self.msg_bucket, 1, "messages"):
                return
            if data is None:
                await self._apply(self.session.fail(BadFrame("text frames are not allowed")))
                continue
            if len(data) > self.max_frame:
                await self._apply(self.session.fail(FrameTooLarge(len(data), self.max_frame)))
                continue
            try:
                obj = codec.decode(data, self.limits)
            except ClientProtocolError as exc:
                await self._apply(self.session.fail(exc))
                continue
            await self._apply(self.session.receive_frame(obj, _now_ms()))

    async def _apply(self, effects: list[Effect]) -> None:
        for eff in effects:
            if isinstance(eff, Send):
                self.send_control(eff.msg)
            elif isinstance(eff, Subscribe):
                self._subscribe(eff)
            elif isinstance(eff, Unsubscribe):
                self._unsubscribe(eff.coll)
            elif isinstance(eff, ApplyBatch):
                if not await self._throttle(self.mut_bucket, len(eff.slots), "mutations"):
                    return
                await self.muts.put(self._authorize_batch(eff))
            elif isinstance(eff, Authenticate):
                await self._apply(await self._authenticate(eff.token))
            elif isinstance(eff, Reauthenticate):
                await self._refresh(eff.token)
            elif isinstance(eff, Close):
                if eff.error is not None:
                    log.error("session bug, closing %s", eff.code, exc_info=eff.error)
                if 4000 <= eff.code < 4100:
                    self.hub.stats["protocol_errors"] += 1
                self.request_close(eff.code, eff.reason)

    # ----------------------------------------------------------------- limits

    async def _throttle(self, bucket: TokenBucket, n: int, kind: str) -> bool:
        """Take ``n`` tokens, waiting (not reading: TCP backpressure) up to MAX_THROTTLE_MS;
        False after closing with 4529 when the wait would be longer."""
        wait = bucket.wait_ms(_now_ms(), n)
        if wait is None or wait > MAX_THROTTLE_MS:
            self._rate_limited(kind)
            return False
        if wait > 0:
            await asyncio.sleep(wait / 1000)
        bucket.take(_now_ms(), n)
        return True

    def _rate_limited(self, kind: str) -> None:
        if self.close_code is not None:
            return
        if self.metrics is not None:
            self.metrics.rate_limited.labels(kind).inc()
        log.warning("rate limit tripped", extra={"kind": kind, "address": self.address})
        self.request_close(CloseCode.RATE_LIMITED, f"rate limited ({kind})")

    # ----------------------------------------------------------------- authentication

    def _auth_failure(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.auth_failures.labels(reason).inc()

    async def _authenticate(self, token: str | None) -> list[Effect]:
        try:
            identity = await self.hub.authenticator.authenticate(token, now_s=self.hub.now_s())
        except Unauthorized as exc:
            self._auth_failure(exc.reason)
            log.warning("authentication failed", extra={"reason": exc.reason, "detail": exc.detail})
            return self.session.auth_failed(exc.close_code, exc.reason)
        except HubError as exc:
            self._auth_failure("error")
            log.warning("authenticator error", extra={"error": exc.message})
            return self.session.auth_failed(exc.close_code, "authentication unavailable")
        except Exception:
            self._auth_failure("error")
            log.exception("authenticator failed")
            return self.session.auth_failed(CloseCode.INTERNAL_ERROR, "internal error")
        counter = self.hub.per_subject
        if counter is not None:
            key = f"addr:{self.address}" if identity.anonymous else f"sub:{identity.subject}"
            if not counter.acquire(key):
                if self.metrics is not None:
                    self.metrics.rate_limited.labels("connections").inc()
                log.warning("too many connections", extra={"subject": identity.subject})
                return self.session.auth_failed(CloseCode.TOO_MANY_CONNECTIONS, "too many connections")
            self.counted = key
        self.identity = identity
        bind(user=identity.subject)
        log.info("authenticated", extra={"subject": identity.subject, "anonymous": identity.anonymous})
        return self.session.authenticated(_now_ms())

    async def _refresh(self, token: str) -> None:
        """``auth {token}``: docs/security.md §2 (in-band refresh)."""
        old = self.identity
        assert old is not None
        try:
            new = await self.hub.authenticator.authenticate(token, now_s=self.hub.now_s())
        except Unauthorized as exc:
            self._auth_failure(exc.reason)
            log.warning("token refresh refused", extra={"reason": exc.reason, "detail": exc.detail})
            self.send_control(m.error(ErrorCode.UNAUTHORIZED, exc.reason))
            return
        except Exception as exc:
            self._auth_failure("error")
            log.warning("token refresh failed", extra={"error": repr(exc)[:200]})
            self.send_control(m.error(ErrorCode.UNAUTHORIZED, "unavailable"))
            return
        if new.subject != old.subject or new.anonymous != old.anonymous:
            self._auth_failure("subject_changed")
            log.warning("token refresh names another subject; closing")
            self.request_close(CloseCode.UNAUTHORIZED, "subject_changed")
            return
        self.identity = new
        if self.policy is not None:
            result = self.policy.recheck(old, new, list(self.subs))
            for coll in result.ended:
                sub = self.subs.get(coll)
                if sub is None:
                    continue
                self.send_control(m.unsub(coll, sub.sub_id, ErrorCode.FORBIDDEN, "forbidden"))
                self._unsubscribe(coll)
                self.session.subscriptions.discard(coll)
                log.info("subscription ended by token refresh", extra={"coll": coll})
            for coll in result.resync:
                sub = self.subs.get(coll)
                if sub is None:
                    continue
                self.queue.drop(coll)
                self.send_control(m.resync(coll, "auth", "snapshot"), coll)
                sub.start(None, "auth", announced=True)
        exp = None if new.expires_at is None else int(new.expires_at)
        log.info("token refreshed", extra={"exp": exp})
        self.send_control(m.authed(exp))

    # ----------------------------------------------------------------- authorisation

    def _authorize_batch(self, eff: ApplyBatch) -> ApplyBatch:
        """Collection-level write permission per mutation (the row-level check runs inside the
        store transaction)."""
        policy, identity = self.policy, self.identity
        if policy is None or identity is None:
            return eff
        slots: list[m.MutationIn | dict[str, Any]] = []
        for s in eff.slots:
            if isinstance(s, m.MutationIn) and not policy.can_write(identity, s.coll):
                log.info("write refused", extra={"coll": s.coll, "seq": s.seq})
                slots.append(m.error_result(s.seq, ErrorCode.FORBIDDEN, "forbidden"))
            else:
                slots.append(s)
        return ApplyBatch(eff.client, tuple(slots))

    def _subscribe(self, eff: Subscribe) -> None:
        if self.policy is not None and self.identity is not None:
            if not self.policy.can_read(self.identity, eff.coll):
                log.info("subscription refused", extra={"coll": eff.coll})
                self.session.subscriptions.discard(eff.coll)
                self.send_control(m.error(ErrorCode.FORBIDDEN, "forbidden", eff.sub_id))
                return
        sub = self.subs.get(eff.coll)
        if sub is None:
            sub = self.subs[eff.coll] = Subscription(self, eff.coll, eff.sub_id, eff.cursor)
            self.hub.feeds[eff.coll].add(sub)
        sub.sub_id = eff.sub_id
        self.queue.drop(eff.coll)
        sub.start(eff.cursor)

    def _unsubscribe(self, coll: str) -> None:
        sub = self.subs.pop(coll, None)
        if sub is not None:
            sub.stop()
            self.hub.feeds[coll].remove(sub)
        self.queue.forget(coll)

    # ----------------------------------------------------------------- writer, mutations, ticker

    async def _writer(self) -> None:
        q = self.queue
        try:
            while self.close_code is None:
                entry = q.pop()
                if entry is None:
                    self.room.set()
                    self.wake.clear()
                    await self.wake.wait()
                    continue
                await self.ws.send_bytes(entry.frame)
                q.sent(entry)
                self.frames_out += 1
                if self.metrics is not None:
                    self.metrics.frames_out.inc()
                    self.metrics.bytes_out.inc(len(entry.frame))
                    lag = self._lag.pop(id(entry.frame), None) if entry.kind == "live" else None
                    if lag is not None:
                        self.metrics.events_out.inc(lag[1])
                        if lag[0]:
                            self.metrics.push_lag_seconds.observe(time.monotonic() - lag[0])
                self.room.set()
        except Exception:  # the peer is gone; the reader sees the disconnect
            return
        if not self._disconnected:
            with contextlib.suppress(Exception):
                await self.ws.close(self.close_code, self.close_reason)

    async def _mutations(self) -> None:
        try:
            while True:
                eff = await self.muts.get()
                self._mut_busy = True
                try:
                    results = await self._apply_batch(eff)
                except StoreUnavailable as exc:
                    self.request_close(CloseCode.STORE_UNAVAILABLE, exc.message or "store unavailable")
                    if self.metrics is not None:
                        self.metrics.store_errors.inc()
                    return
                except Exception as exc:
                    self.fail(exc)
                    return
                finally:
                    self._mut_busy = False
                self.send_control(m.ack(results))
        finally:
            # The connection is closing: unblock a reader waiting on the full queue (its batches
            # were never acknowledged; the client replays them elsewhere).
            while not self.muts.empty():
                self.muts.get_nowait()

    async def _apply_batch(self, eff: ApplyBatch) -> list[dict[str, Any]]:
        muts = [
            Mutation(eff.client, s.seq, s.coll, s.id, s.op, s.doc, s.ts, s.base)
            for s in eff.slots
            if isinstance(s, m.MutationIn)
        ]
        policy, identity = self.policy, self.identity
        check = None
        if policy is not None and identity is not None:
            bound_policy, bound_identity = policy, identity

            def check(coll: str, doc_id: str, old: Doc | None, new: Doc | None) -> bool:
                return bound_policy.check_write(bound_identity, coll, doc_id, old, new)

        applied = iter(await self.store.apply(eff.client, muts, check=check) if muts else [])
        by_seq = {mu.seq: mu for mu in muts}
        results: list[dict[str, Any]] = []
        for s in eff.slots:
            if isinstance(s, dict):
                results.append(s)
                self._count_result(s.get("s", "error"), False, None)
                continue
            res: MutationResult = next(applied)
            mu = by_seq.get(res.seq, None)
            if res.s not in ("ok", "error") and res.doc is not None and policy and identity and mu:
                # a conflict answer never shows a document the client may not read
                res.doc = policy.readable_doc(identity, mu.coll, mu.id, res.doc)
            if res.s == "error" and res.code == ErrorCode.FORBIDDEN:
                log.info("write refused by row rule", extra={"coll": s.coll, "seq": s.seq})
            self._count_result(res.s, res.dup, s.coll)
            results.append(res.to_wire())
        return results

    def _count_result(self, status: str, dup: bool, coll: str | None) -> None:
        metrics = self.metrics
        if metrics is None:
            return
        metrics.mutations.labels(str(status)).inc()
        if dup:
            metrics.dedup_hits.inc()
        elif status in CONFLICT_STATUSES and coll is not None:
            spec = self.hub.specs.get(coll)
            policy = spec.policy.value if spec is not None else "?"
            metrics.conflicts.labels(policy, str(status)).inc()

    async def _ticker(self) -> None:
        interval = min(max(self.session.cfg.ping_ms / 4000, 0.01), 0.25)
        opened = _now_ms()
        while self.close_code is None:
            await asyncio.sleep(interval)
            now = _now_ms()
            state = self.session.state
            if state in (State.CONNECTED, State.AUTHENTICATING) and now - opened > self.hello_timeout_ms:
                self.request_close(CloseCode.UNEXPECTED_MESSAGE, "no hello")
                return
            identity = self.identity
            if identity is not None and identity.expires_at is not None:
                if self.hub.now_s() >= identity.expires_at:
                    log.info("token expired on a live connection")
                    self.request_close(CloseCode.TOKEN_EXPIRED, "expired")
                    return
            effects = self.session.tick(now)
            for eff in effects:
                if isinstance(eff, Close) and eff.code == CloseCode.IDLE_TIMEOUT and self.metrics is not None:
                    self.metrics.rate_limited.labels("idle").inc()
            await self._apply(effects)


async def sync_endpoint(ws: WebSocket) -> None:
    """Starlette ``WebSocketRoute`` handler for ``/sync``.

    Every refusal here is decided before the upgrade is accepted; the socket is then accepted
    only to deliver a close code the browser can see, and nothing is read from it."""
    hub: Hub = ws.app.state.hub
    cfg = hub.config.hub
    conn_id = uuid.uuid4().hex[:12]
    bind(conn=conn_id)
    origin = ws.headers.get("origin")
    address = ws.client.host if ws.client is not None else "?"
    refusal: tuple[int, str] | None = None
    if not origin_allowed(origin, cfg.origins, host=ws.headers.get("host"), dev=hub.dev_mode):
        log.warning("refused WebSocket from origin %r", origin, extra={"address": address})
        if hub.metrics is not None:
            hub.metrics.auth_failures.labels("origin").inc()
        refusal = (CloseCode.ORIGIN_NOT_ALLOWED, "origin not allowed")
    elif hub.draining:
        refusal = (CloseCode.GOING_AWAY, "hub shutting down, retry elsewhere")
    elif hub.connect_rate is not None and not hub.connect_rate.take(address, _now_ms()):
        hub.metrics.rate_limited.labels("connect_rate").inc()
        log.warning("connection rate limit tripped", extra={"address": address})
        refusal = (CloseCode.RATE_LIMITED, "rate limited (connect_rate)")
    await ws.accept()
    if refusal is not None:
        await ws.close(refusal[0], refusal[1])
        return
    await Connection(hub, ws, conn_id).run()
