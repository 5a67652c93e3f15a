"""What a connection does with its protocol :class:`~hub.core.session.Session`: carry out the effects the
session returns (send, subscribe, unsubscribe, apply a batch, authenticate, refresh, close) and tick it
(pings, the idle and ``hello`` timeouts, token expiry).

:class:`SessionDriver` knows its connection only through the small :class:`Host` protocol, as the
subscriptions (``subscription.py``) and the mutation worker (``mutations.py``) do; the connection
(``connection.py``) feeds it what the reader decoded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from hub.auth.identity import Identity
from hub.authz import AccessPolicy
from hub.core import messages as m
from hub.core.errors import CloseCode, ErrorCode
from hub.core.query import FilterError
from hub.core.ratelimit import TokenBucket
from hub.core.room_messages import RoomMessage
from hub.core.session import (
    ApplyBatch,
    Authenticate,
    Close,
    Effect,
    Reauthenticate,
    RoomOp,
    Send,
    Session,
    State,
    Subscribe,
    Unsubscribe,
)
from hub.core.subsets import QuerySpec, resolve
from hub.looplag import ontime_ms
from hub.metrics import HubMetrics
from hub.server.authflow import AuthFlow, Refused
from hub.server.mutations import MutationWorker
from hub.server.subscription import Query
from hub.server.subscriptions import Subscriptions
from hub.server.writer import Writer

# The endpoint's logger name, kept when this code left ws.py: log lines and their filters stay as they were.
log = logging.getLogger("hub.server.ws")


def now_ms() -> int:
    """The session's clock (the session, rate limits and timeouts read it): monotonic milliseconds
    that stand still while this process's event loop runs late, so that a busy hub, reading a
    client's pong late, does not call the client silent (4508; hub/looplag.py)."""
    return ontime_ms()


class Host(Protocol):
    """What the driver needs from its connection (:class:`~hub.server.connection.Connection`)."""

    session: Session
    subs: Subscriptions
    mutations: MutationWorker
    writer: Writer
    auth: AuthFlow
    policy: AccessPolicy
    metrics: HubMetrics
    mut_bucket: TokenBucket
    hello_timeout_ms: int
    queries: Mapping[str, QuerySpec]  # collections serving query subscriptions
    listening: bool  # False while the reader holds back (backpressure): silence is not counted

    @property
    def identity(self) -> Identity | None: ...

    @property
    def close_code(self) -> int | None: ...

    def send_control(self, msg: dict[str, Any]) -> None: ...

    def request_close(self, code: int, reason: str) -> None: ...

    async def throttle(self, bucket: TokenBucket, n: int, kind: str) -> bool: ...

    async def room_op(self, msg: RoomMessage) -> None: ...

    async def rooms_recheck(self) -> None: ...


class SessionDriver:
    """Carries out one connection's session effects and runs its ticker (a timer, not a task)."""

    __slots__ = ("_opened", "_timer", "host")

    def __init__(self, host: Host) -> None:
        self.host = host
        self._timer: asyncio.TimerHandle | None = None
        self._opened = 0

    def _carry(self, eff: Effect) -> bool:
        """Carry out ``eff`` when that needs no waiting (all a tick returns); False otherwise."""
        h = self.host
        if isinstance(eff, Send):
            h.send_control(eff.msg)
        elif isinstance(eff, Close):
            if eff.error is not None:
                log.error("session bug, closing %s", eff.code, exc_info=eff.error)
            h.request_close(eff.code, eff.reason)
        else:
            return False
        return True

    async def apply(self, effects: list[Effect]) -> None:
        h = self.host
        for eff in effects:
            if self._carry(eff):
                continue
            if isinstance(eff, Subscribe):
                self._subscribe(eff)
            elif isinstance(eff, Unsubscribe):
                h.subs.stop(eff.coll, eff.sub_id)
            elif isinstance(eff, ApplyBatch):
                if not await h.throttle(h.mut_bucket, len(eff.slots), "mutations"):
                    return
                await h.mutations.put(eff)
            elif isinstance(eff, Authenticate):
                h.mutations.client_clock(eff.client_now)
                h.writer.batching = h.session.batching
                await self.apply(await self._authenticate(eff.token))
            elif isinstance(eff, RoomOp):
                await h.room_op(eff.msg)
            elif isinstance(eff, Reauthenticate):
                await self._refresh(eff.token)

    # ----------------------------------------------------------------- authentication

    async def _authenticate(self, token: str | None) -> list[Effect]:
        h = self.host
        outcome = await h.auth.authenticate(token)
        if isinstance(outcome, Refused):
            return h.session.auth_failed(outcome.code, outcome.reason)
        return h.session.authenticated(now_ms(), None if outcome.anonymous else outcome.subject)

    async def _refresh(self, token: str) -> None:
        """``auth {token}``: docs/security.md §2 (in-band refresh)."""
        h = self.host
        outcome = await h.auth.refresh(token, h.subs.names())
        if outcome.close is not None:
            h.request_close(*outcome.close)
            return
        for coll in outcome.ended:
            if h.subs.end(coll, ErrorCode.FORBIDDEN, "forbidden"):
                h.session.subscription_ended(coll)
                log.info("subscription ended by token refresh", extra={"coll": coll})
        for coll in outcome.resync:
            h.subs.restart(coll, "auth")
        self._rebind()
        await h.rooms_recheck()  # rooms follow the claims too; `authed` comes last
        if outcome.reply is not None:
            h.send_control(outcome.reply)

    # ----------------------------------------------------------------- subscriptions

    def _subscribe(self, eff: Subscribe) -> None:
        h = self.host
        identity = h.identity
        if identity is not None and not h.policy.can_read(identity, eff.coll):
            log.info("subscription refused", extra={"coll": eff.coll})
            if not eff.query:
                h.session.subscription_ended(eff.coll)
            h.send_control(m.error(ErrorCode.FORBIDDEN, "forbidden", eff.sub_id))
            return
        query = None
        if eff.query:
            try:
                query = self._bind(eff.coll, eff.filter, eff.name, eff.params)
            except FilterError as exc:
                h.send_control(m.error(ErrorCode.INVALID_QUERY, str(exc)[:200], eff.sub_id))
                return
        h.subs.start(eff.coll, eff.sub_id, eff.cursor, query)

    def _bind(self, coll: str, raw: Any, name: str | None, params: Mapping[str, Any] | None) -> Query:
        """A query subscription's subset, with the claims of the token in force."""
        identity = self.host.identity
        claims = identity.claims if identity is not None else {}
        f = resolve(self.host.queries.get(coll), raw, name, params, claims)
        return Query(f, name, params)

    def _rebind(self) -> None:
        """After an ``auth`` refresh: a named subscription bound to claims that now bind another
        subset (or none) ends (``unsub {code: 4403, query: true}``); the client subscribes again."""
        h = self.host
        for sub in h.subs.queries():
            q = sub.query
            if q is None or q.name is None:
                continue
            try:
                same = self._bind(sub.coll, None, q.name, q.params) == q
            except FilterError:
                same = False
            if not same:
                h.subs.end_one(sub, ErrorCode.FORBIDDEN, "the token's claims bind another subset")

    # ----------------------------------------------------------------- ticker

    def start_ticker(self) -> None:
        """Tick the session from now on: pings, the idle and ``hello`` timeouts, token expiry.

        A timer callback rather than a task per connection: a task and its coroutine cost about
        1 KiB each on an idle connection (docs/benchmarks.md, memory). Until the session is ready
        it wakes every 250 ms at most; then it sleeps until the session has something to do (the
        next ping or the idle deadline) or the token expires, and at most ``ping_ms / 4`` (a token
        refreshed to an earlier expiry, a reader held back). One wake-up per connection every
        250 ms was most of the CPU of a hub holding thousands of idle connections (the connection
        soak, docs/reliability.md).
        """
        self._opened = now_ms()
        self._schedule()

    def stop_ticker(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        h = self.host
        if h.close_code is not None:
            return
        cap_ms = max(h.session.cfg.ping_ms / 4, 10.0)
        if h.session.state is State.READY:
            wait_ms = min(cap_ms, max(h.session.next_tick_ms() - now_ms(), 1))
            left = h.auth.seconds_left()
            if left is not None:
                wait_ms = min(wait_ms, max(left * 1000, 1))
        else:
            wait_ms = min(cap_ms, 250.0)
        self._timer = asyncio.get_running_loop().call_later(wait_ms / 1000, self._tick)

    def _tick(self) -> None:
        self._timer = None
        h = self.host
        if h.close_code is not None:
            return
        now = now_ms()
        state = h.session.state
        # Only a client that has not said hello is late. Once it has, the wait is the hub's (its
        # authenticator is bounded on its own, e.g. the hook's timeout_s): 4003 is final for the
        # client, and a busy hub used to send it to clients that did nothing wrong (soak run 5).
        if state is State.CONNECTED and now - self._opened > h.hello_timeout_ms:
            h.request_close(CloseCode.UNEXPECTED_MESSAGE, "no hello")
            return
        if h.auth.expired():
            log.info("token expired on a live connection")
            h.request_close(CloseCode.TOKEN_EXPIRED, "expired")
            return
        for eff in h.session.tick(now, listening=h.listening):
            if isinstance(eff, Close) and eff.code == CloseCode.IDLE_TIMEOUT:
                h.metrics.rate_limited.labels("idle").inc()
            if not self._carry(eff):  # Session.tick returns only Send and Close
                log.error("a tick returned %s, closing", type(eff).__name__)
                h.request_close(CloseCode.INTERNAL_ERROR, "internal error")
        self._schedule()
