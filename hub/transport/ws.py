"""The ``/sync`` WebSocket endpoint: a thin adapter around :class:`hub.core.session.Session`.

Per connection there are four tasks: the reader (this endpoint's own task: frame → codec →
session → effects), one **writer** draining the bounded :class:`~hub.core.outqueue.OutQueue`
(the only task that sends, so a slow socket only ever blocks its own writer), one **mutation
worker** applying ``mut`` batches in order from a bounded queue, and a **ticker** for pings and
the idle timeout. Syncs run as one task per subscription (``hub/sync.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from starlette.websockets import WebSocket

from hub import codec
from hub.authz import origin_allowed
from hub.core import messages as m
from hub.core.cursor import Cursor
from hub.core.errors import (
    BadFrame,
    ClientProtocolError,
    CloseCode,
    FrameTooLarge,
    HubError,
    StoreUnavailable,
    Unauthorized,
)
from hub.core.outqueue import OutQueue
from hub.core.session import (
    ApplyBatch,
    Authenticate,
    Close,
    Effect,
    Send,
    Session,
    SessionConfig,
    Subscribe,
    Unsubscribe,
)
from hub.runtime import Hub
from hub.store.base import Mutation, Store
from hub.sync import Subscription

log = logging.getLogger(__name__)

MUT_QUEUE_BATCHES = 4
CLOSE_TIMEOUT_S = 2.0


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class Connection:
    def __init__(self, hub: Hub, ws: WebSocket) -> None:
        cfg = hub.config.hub
        self.hub = hub
        self.ws = ws
        self.store: Store = hub.store
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
            self.request_close(CloseCode.RATE_LIMITED, "outgoing queue full")
        self.wake.set()

    async def send_sync(self, coll: str, frame: bytes) -> None:
        while not self.queue.has_room(len(frame)) and self.close_code is None:
            self.room.clear()
            await self.room.wait()
        self.queue.push_sync(frame, coll)
        self.wake.set()

    def push_live(self, coll: str, frame: bytes, cursor: Cursor) -> bool:
        if self.close_code is not None:
            return True
        ok = self.queue.push_live(frame, coll, cursor)
        self.wake.set()
        return ok

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

    async def run(self) -> None:
        self.hub.connections.add(self)
        self.hub.stats["connections"] += 1
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
        self.finished.set()

    # ----------------------------------------------------------------- reader

    async def _reader(self) -> None:
        while self.close_code is None:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                self._disconnected = True
                self.request_close(int(message.get("code") or CloseCode.NORMAL), "")
                return
            data = message.get("bytes")
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
                await self.muts.put(eff)
            elif isinstance(eff, Authenticate):
                await self._apply(await self._authenticate(eff.token))
            elif isinstance(eff, Close):
                if 4000 <= eff.code < 4100:
                    self.hub.stats["protocol_errors"] += 1
                self.request_close(eff.code, eff.reason)

    async def _authenticate(self, token: str | None) -> list[Effect]:
        try:
            await self.hub.check_token(token)
        except Unauthorized as exc:
            return self.session.auth_failed(exc.close_code, exc.reason)
        except HubError as exc:
            return self.session.auth_failed(exc.close_code, exc.message)
        except Exception:
            log.exception("authenticator failed")
            return self.session.auth_failed(CloseCode.INTERNAL_ERROR, "internal error")
        return self.session.authenticated(_now_ms())

    def _subscribe(self, eff: Subscribe) -> None:
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
                self.room.set()
        except Exception:  # the peer is gone; the reader sees the disconnect
            return
        if not self._disconnected:
            with contextlib.suppress(Exception):
                await self.ws.close(self.close_code, self.close_reason)

    async def _mutations(self) -> None:
        while True:
            eff = await self.muts.get()
            muts = [
                Mutation(eff.client, s.seq, s.coll, s.id, s.op, s.doc, s.ts, s.base)
                for s in eff.slots
                if isinstance(s, m.MutationIn)
            ]
            try:
                applied = iter(await self.store.apply(eff.client, muts))
            except StoreUnavailable as exc:
                self.request_close(CloseCode.STORE_UNAVAILABLE, exc.message or "store unavailable")
                return
            except Exception as exc:
                self.fail(exc)
                return
            results = [s if isinstance(s, dict) else next(applied).to_wire() for s in eff.slots]
            self.send_control(m.ack(results))

    async def _ticker(self) -> None:
        interval = max(self.session.cfg.ping_ms / 4000, 0.01)
        while self.close_code is None:
            await asyncio.sleep(interval)
            await self._apply(self.session.tick(_now_ms()))


async def sync_endpoint(ws: WebSocket) -> None:
    """Starlette ``WebSocketRoute`` handler for ``/sync``."""
    hub: Hub = ws.app.state.hub
    cfg = hub.config.hub
    await ws.accept()
    origin = ws.headers.get("origin")
    if not origin_allowed(origin, cfg.origins, host=ws.headers.get("host"), dev=cfg.dev_auth):
        log.warning("refused WebSocket from origin %r", origin)
        await ws.close(CloseCode.ORIGIN_NOT_ALLOWED, "origin not allowed")
        return
    await Connection(hub, ws).run()
