"""The per-connection protocol state machine, without I/O.

The transport feeds decoded frames to :meth:`Session.receive_frame` (or parsed messages to
:meth:`Session.receive`) and clock ticks to :meth:`Session.tick`, and carries out the effects they
return. The session never raises out of these methods: every failure becomes a :class:`Close`.

All connection-state logic is the :data:`TRANSITIONS` table: state → message type → next state.
A message type missing from a state's row is out of order (4003). Per-subscription states
(CATCHING_UP / LIVE) belong to the sync runner, which the transport drives on ``Subscribe``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import messages as m
from . import room_messages as rm
from .cursor import Cursor
from .errors import BadMessage, ClientProtocolError, CloseCode, ErrorCode, UnexpectedMessage
from .limits import DEFAULT_DOC_LIMITS, DocLimits, check
from .mutation import vet

PROTOCOL_VERSIONS: tuple[int, ...] = (1,)


class State(enum.Enum):
    CONNECTED = "connected"
    AUTHENTICATING = "authenticating"
    READY = "ready"
    CLOSED = "closed"


TRANSITIONS: dict[State, dict[type[Any], State]] = {
    State.CONNECTED: {m.Hello: State.AUTHENTICATING},
    State.AUTHENTICATING: {},  # left by authenticated() / auth_failed(), not by a message
    State.READY: {
        m.Auth: State.READY,
        m.Sub: State.READY,
        m.Unsub: State.READY,
        m.Mut: State.READY,
        m.Ping: State.READY,
        m.Pong: State.READY,
        rm.Join: State.READY,
        rm.PresenceUpdate: State.READY,
        rm.Leave: State.READY,
        rm.Broadcast: State.READY,
    },
    State.CLOSED: {},
}


# --------------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class Send:
    """Send a hub message (a plain map)."""

    msg: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Start (or restart) syncing ``coll`` for request ``sub_id`` from ``cursor``; with a filter or
    a name, a query subscription (the adapter binds it: claims are its to know)."""

    coll: str
    sub_id: int
    cursor: Cursor | None
    filter: Any = None
    name: str | None = None
    params: Mapping[str, Any] | None = None

    @property
    def query(self) -> bool:
        return self.filter is not None or self.name is not None


@dataclass(frozen=True, slots=True)
class Authenticate:
    """Check ``token``, then call :meth:`Session.authenticated` or :meth:`Session.auth_failed`."""

    token: str | None
    client_now: int | None = None  # from hello: the client's clock, to correct its timestamps


@dataclass(frozen=True, slots=True)
class Reauthenticate:
    """An in-band ``auth`` refresh: verify ``token`` and swap the connection's identity
    (docs/security.md §2); the transport answers ``authed`` or ``error {4010}``."""

    token: str


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    coll: str
    sub_id: int | None = None  # a query subscription; None: every subscription of ``coll``


@dataclass(frozen=True, slots=True)
class ApplyBatch:
    """Apply the ``MutationIn`` slots in order; dict slots are results decided without the store.

    The ack lists one result per slot, in slot order.
    """

    client: str
    slots: tuple[m.MutationIn | dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class RoomOp:
    """A room request (join, pupdate, leave, bcast) for the hub's presence service; its answers
    are the service's (access, limits and the backplane are not the session's to judge)."""

    msg: rm.RoomMessage


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str
    error: BaseException | None = None  # a bug caught in receive(): the adapter logs its traceback


Effect = Send | Authenticate | Reauthenticate | Subscribe | Unsubscribe | ApplyBatch | RoomOp | Close


@dataclass(frozen=True, slots=True)
class SessionConfig:
    hub_id: str
    collections: Mapping[str, bool]  # name -> writable
    ping_ms: int = 15_000
    max_batch: int = 500
    max_frame: int = 1 << 20
    versions: tuple[int, ...] = PROTOCOL_VERSIONS
    doc_limits: DocLimits = DEFAULT_DOC_LIMITS
    features: tuple[str, ...] = ()  # optional parts of v1 served (welcome ``features``)
    room_limits: dict[str, int] | None = None  # welcome ``room_limits`` when rooms are served

    @property
    def limits(self) -> DocLimits:
        """The document limits in force: one document always fits a frame."""
        return self.doc_limits.for_frame(self.max_frame)


@dataclass(slots=True)
class Session:
    cfg: SessionConfig
    now_ms: int
    state: State = State.CONNECTED
    client: str = ""
    version: int = 0
    batching: bool = False  # the client takes several frames in one message (hello.features)
    subscriptions: set[str] = field(default_factory=set)
    last_heard_ms: int = 0
    last_ping_ms: int = 0
    pings_sent: int = 0

    def __post_init__(self) -> None:
        self.last_heard_ms = self.now_ms
        self.last_ping_ms = self.now_ms

    # ----------------------------------------------------------------- input

    def receive_frame(self, obj: object, now_ms: int) -> list[Effect]:
        """Handle one decoded frame (validated here)."""
        if self.state is State.CLOSED:
            return []
        self.last_heard_ms = now_ms
        try:
            msg = m.parse(obj)
        except ClientProtocolError as exc:
            return self.fail(exc)
        return self.receive(msg, now_ms)

    def receive(self, msg: m.ClientMessage, now_ms: int) -> list[Effect]:
        """Handle one parsed client message."""
        if self.state is State.CLOSED:
            return []
        self.last_heard_ms = now_ms
        nxt = TRANSITIONS[self.state].get(type(msg))
        if nxt is None:
            return self.fail(
                UnexpectedMessage(f"{type(msg).__name__.lower()} not allowed in {self.state.value}")
            )
        try:
            effects = self._handle(msg)
        except ClientProtocolError as exc:
            return self.fail(exc)
        except Exception as exc:  # a bug: never escape receive(); the adapter logs it
            effects = self._close(CloseCode.INTERNAL_ERROR, f"internal error: {type(exc).__name__}")
            return [Close(e.code, e.reason, exc) if isinstance(e, Close) else e for e in effects]
        if not any(isinstance(e, Close) for e in effects):
            self.state = nxt
        return effects

    def fail(self, exc: ClientProtocolError) -> list[Effect]:
        """Close for a protocol error found outside the session (decoder, frame size, text frame)."""
        return self._close(exc.close_code, exc.message)

    def tick(self, now_ms: int, *, listening: bool = True) -> list[Effect]:
        """Liveness: ping every ``ping_ms``; close a peer silent for 2 x ``ping_ms``.

        ``listening`` False: the adapter is not reading the peer's frames (its reader waits for
        room in the batch queue: backpressure on a client ahead of the store). The peer cannot be
        heard then, so its silence counts from when the hub listens again.
        """
        if self.state is State.CLOSED:
            return []
        if not listening:
            self.last_heard_ms = max(self.last_heard_ms, now_ms)
        if now_ms - self.last_heard_ms > 2 * self.cfg.ping_ms:
            return self._close(CloseCode.IDLE_TIMEOUT, "ping timeout")
        if self.state is State.READY and now_ms - self.last_ping_ms >= self.cfg.ping_ms:
            self.last_ping_ms = now_ms
            self.pings_sent += 1
            return [Send(m.ping(self.pings_sent))]
        return []

    def next_tick_ms(self) -> int:
        """When :meth:`tick` next has something to do if nothing else happens: the next ping or the
        idle deadline (a frame heard meanwhile only moves the deadline later)."""
        idle = self.last_heard_ms + 2 * self.cfg.ping_ms + 1
        if self.state is State.READY:
            return min(idle, self.last_ping_ms + self.cfg.ping_ms)
        return idle

    def authenticated(self, now_ms: int, user: str | None = None) -> list[Effect]:
        """The token of the ``hello`` was accepted; ``user`` is its subject (None: anonymous)."""
        if self.state is not State.AUTHENTICATING:
            return []
        self.state = State.READY
        self.last_heard_ms = self.last_ping_ms = now_ms
        cfg = self.cfg
        welcome = m.welcome(
            self.version,
            cfg.hub_id,
            cfg.ping_ms,
            cfg.max_batch,
            cfg.max_frame,
            user,
            cfg.limits,
            cfg.features,
        )
        if cfg.room_limits is not None:
            welcome["room_limits"] = dict(cfg.room_limits)
        return [Send(welcome)]

    def auth_failed(self, code: int, reason: str) -> list[Effect]:
        """The token of the ``hello`` was refused (``code`` 4010, 4511, ...)."""
        if self.state is State.CLOSED:
            return []
        return self._close(code, reason)

    def subscription_ended(self, coll: str) -> None:
        """The hub ended ``coll``'s subscription on its own (reading refused, or a refreshed token
        may no longer read it): a later ``unsub`` for it is answered with nothing."""
        self.subscriptions.discard(coll)

    def closed(self) -> None:
        """The transport is gone."""
        self.state = State.CLOSED

    # ----------------------------------------------------------------- handlers

    def _close(self, code: int, reason: str) -> list[Effect]:
        self.state = State.CLOSED
        return [Close(int(code), reason[:120])]

    def _handle(self, msg: m.ClientMessage) -> list[Effect]:
        if isinstance(msg, m.Hello):
            return self._hello(msg)
        if isinstance(msg, m.Sub):
            if msg.coll not in self.cfg.collections:
                err = m.error(ErrorCode.UNKNOWN_COLLECTION, f"unknown collection {msg.coll!r}", msg.id)
                return [Send(err)]
            self.subscriptions.add(msg.coll)
            return [Subscribe(msg.coll, msg.id, msg.cursor, msg.filter, msg.name, msg.params)]
        if isinstance(msg, m.Unsub):
            if msg.coll not in self.subscriptions:
                return []
            if msg.id is None:
                self.subscriptions.discard(msg.coll)
            return [Unsubscribe(msg.coll, msg.id)]
        if isinstance(msg, m.Mut):
            return self._mut(msg)
        if isinstance(msg, m.Ping):
            return [Send(m.pong(msg.n))]
        if isinstance(msg, m.Auth):
            return [Reauthenticate(msg.token)]
        if isinstance(msg, rm.Join | rm.PresenceUpdate | rm.Leave | rm.Broadcast):
            if rm.FEATURE not in self.cfg.features:
                # parsed, but this hub runs without rooms: as a hub that predates them would
                return self._close(CloseCode.UNKNOWN_TYPE, "unknown message type: rooms are not served")
            return [RoomOp(msg)]
        return []  # Pong: liveness only

    def _hello(self, msg: m.Hello) -> list[Effect]:
        common = set(msg.v) & set(self.cfg.versions)
        if not common:
            return self._close(CloseCode.UNSUPPORTED_VERSION, f"no common protocol version in {list(msg.v)}")
        self.client = msg.client
        self.version = max(common)
        self.batching = m.BATCH_FEATURE in msg.features
        return [Authenticate(msg.token, msg.now)]

    def _mut(self, msg: m.Mut) -> list[Effect]:
        if len(msg.batch) > self.cfg.max_batch:
            raise BadMessage(f"a batch holds at most {self.cfg.max_batch} mutations")
        slots: list[m.MutationIn | dict[str, Any]] = []
        limits = self.cfg.limits
        for mut in msg.batch:
            if isinstance(mut, m.InvalidMutation):
                slots.append(m.error_result(mut.seq, ErrorCode.INVALID_MUTATION, mut.msg))
                continue
            # The write rule's own vetting, early: a batch of refusals needs no store transaction.
            refusal = vet(mut.coll, self.cfg.collections.get(mut.coll), mut.op, mut.doc)
            over = check(mut.doc, limits) if refusal is None and mut.doc is not None else None
            if refusal is not None and refusal.code == ErrorCode.UNKNOWN_COLLECTION:
                # Only the hub's adapter can tell whether another hub serves it (a rolling
                # deploy: retry later) or none does (final); it answers (server/mutations.py).
                slots.append(mut)
            elif refusal is not None:
                slots.append(m.error_result(mut.seq, refusal.code, refusal.msg))
            elif over is not None:
                why = f"document {over.reason} {over.size} over the limit of {over.limit}"
                slots.append(m.error_result(mut.seq, ErrorCode.DOC_TOO_LARGE, why))
            else:
                slots.append(mut)
        if all(isinstance(s, dict) for s in slots):
            return [Send(m.ack([s for s in slots if isinstance(s, dict)]))]
        return [ApplyBatch(self.client, tuple(slots))]
