"""What every part of the Ignite store shares, and the one way to run an operation and a transaction.

:class:`Context` holds the thin client, the clock and HLC, the system caches and this hub's recent
commits. :meth:`Context.call` bounds one Ignite operation and turns connection trouble into
``StoreUnavailable``; :meth:`Context.transaction` starts the OPTIMISTIC SERIALIZABLE transaction every
hub write runs in; :func:`retry_conflicts` is the one retry loop for commit conflicts (two hubs
touching the same keys: one commits, the other tries again and then sees the winner's rows).

A transaction is never cut in the middle (:func:`whole`) and never continued on a re-opened socket
(:class:`_Pinned`): Ignite runs a request whose transaction it does not know outside any transaction,
so either would let part of a transaction commit alone.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from typing import Any, TypeVar

from pyignite.api.tx_api import get_tx_connection  # type: ignore[import-untyped,unused-ignore]
from pyignite.connection.aio_connection import AioConnection  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes.transactions import (  # type: ignore[import-untyped,unused-ignore]
    TransactionConcurrency,
    TransactionIsolation,
)
from pyignite.exceptions import (  # type: ignore[import-untyped,unused-ignore]
    CacheError,
    ReconnectError,
    SocketError,
    SQLError,
)
from pyignite.monitoring import ConnectionEventListener  # type: ignore[import-untyped,unused-ignore]

from hub.core.errors import StoreUnavailable
from hub.core.hlc import Hlc, physical_ms
from hub.ignite.deadline import bounded
from hub.store.ignite.breaker import Breaker
from hub.store.ignite.recent import RecentCommits

T = TypeVar("T")

#: Attempts of one apply/stamp transaction before giving up with StoreUnavailable.
TX_ATTEMPTS = 8
#: Server-side transaction timeout (ms): an abandoned transaction is rolled back by Ignite.
TX_TIMEOUT_MS = 10_000
#: Client-side bound on one store operation (s).
OP_TIMEOUT_S = 15.0

_CONNECTION_ERRORS = (
    ReconnectError,
    SocketError,
    OSError,
    ConnectionError,
    asyncio.TimeoutError,
    TimeoutError,
)


def unreachable(err: BaseException, client: Any) -> bool:
    """A call failed because no node could be reached: a connection error (not a timeout: a busy
    node is not a dead one), and the client holds no live connection (with one node alive, the next
    call goes there: pyignite reconnects only when all are gone)."""
    if isinstance(err, TimeoutError) or not isinstance(err, _CONNECTION_ERRORS):
        return False
    return not any(getattr(node, "alive", False) for node in getattr(client, "_nodes", ()))


_RETRYABLE_TX = ("optimistic", "serializ", "read/write conflict", "deadlock", "rolled back", "lock")


class NodeWatch(ConnectionEventListener):  # type: ignore[misc]
    """pyignite's handshake events (its public listener API): tells ``ctx`` of each node id it has
    not seen. Every connection re-opened after a restart of the whole cluster meets a new id, before
    any request on it: a write's transaction, whose reads come first, registers its types after."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.seen: set[str] = set()

    def on_handshake_success(self, event: Any) -> None:
        node = str(event.node_uuid or "")
        if node and node not in self.seen:
            self.seen.add(node)
            self.ctx.met_new_node()


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def is_tx_conflict(err: BaseException) -> bool:
    """Whether a CacheError is an optimistic/serializable commit conflict (worth retrying)."""
    text = str(err).lower()
    return isinstance(err, CacheError) and any(s in text for s in _RETRYABLE_TX)


def partition_lost(e: BaseException) -> bool:
    """Whether Ignite refused an operation because a partition it needs is LOST."""
    return "CacheInvalidStateException" in str(e)


class Context:
    """The client and the state the store's modules share (the facade owns it; no part needs the facade)."""

    def __init__(self, client: Any = None) -> None:
        self._client: Any = client
        self.hlc = Hlc()
        self.clock: Callable[[], int] = wall_ms
        # This hub's recent commits: the feed needs no meta read for its own writes (recent.py).
        self.recent = RecentCommits()
        self.sys: Any = None  # synchub_sys (AioCache): epochs and floors
        self.dedup: Any = None  # synchub_dedup (AioCache): client id -> dedup record
        self.meta_registered: Any = None  # the types_token SynchubMeta's schema was registered under
        self.types_gen = 0  # bumped when the client meets a node it never met (NodeWatch)
        self.skew_ms = 0  # how far other hubs' versions run ahead of this hub's clock (closed.py)
        self.skew_seen: list[tuple[int, int]] = []  # (wall ms, skew ms) samples of the last minutes
        self.server_clock_read = 0  # wall ms of the last reading of the Ignite servers' clock (closed.py)
        # collections whose last feed here ended without stamping all it received (feed.py, cover.py)
        self.feeds_lost: set[str] = set()
        # the coverage lease of each collection's open feed (cover.py): the hub holding it sweeps
        self.leases: dict[str, Any] = {}
        self.log_writes = False  # log every committed write batch ([hub] log_writes, write.py)
        self.breaker = Breaker()  # calls fail fast while no node can be reached (breaker.py)

    def fleet_ms(self) -> int:
        """The fleet's time as this hub knows it: its wall clock plus how far other hubs' clocks run
        ahead of it (the versions they stamp), never below a version it has seen. A hub whose clock
        lags judges client clocks and bounds client timestamps with this, not its own wall clock."""
        return max(self.clock() + self.skew_ms, physical_ms(self.hlc.last))

    @property
    def client(self) -> Any:
        if self._client is None:
            raise StoreUnavailable("the store is not open")
        return self._client

    @property
    def connected(self) -> Any:
        """The client, or None when the store is not open."""
        return self._client

    @property
    def types_token(self) -> tuple[Any, int]:
        """What a registration of a binary type holds for: this client, until it meets a new node."""
        return (self._client, self.types_gen)

    def met_new_node(self) -> None:
        """A node this client never met (started, or restarted with a new id): it may not hold the
        binary types registered so far. A whole cluster restarted in memory holds none, and a value
        written pre-serialised with a compact footer then waits for a schema that never comes (and
        no other client could read it): register every type again on next use, pyignite's too."""
        self.types_gen += 1
        if self._client is not None:
            self._client._registry.clear()

    def attach(self, client: Any) -> None:
        self._client = client

    def detach(self) -> Any:
        client, self._client = self._client, None
        return client

    async def call(self, fn: Callable[[], Awaitable[T]], timeout: float = OP_TIMEOUT_S) -> T:
        """Run one Ignite operation; connection trouble becomes StoreUnavailable (at once while
        no node can be reached: breaker.py)."""
        trial = self.breaker.admit()
        try:
            # not wait_for: on 3.11 it swallows a cancellation that arrives as fn() completes, and
            # the cancelled task (a feed being stopped) then runs on, e.g. waits forever for an event.
            # The bound does not count time this process's loop ran late (a busy hub, deadline.py).
            result = await bounded(fn, timeout)
        except _CONNECTION_ERRORS as e:
            if unreachable(e, self._client):
                self.breaker.unreachable()
            raise StoreUnavailable(f"Ignite unreachable: {e!r}") from e
        except (CacheError, SQLError) as e:
            self.breaker.reachable()
            if not partition_lost(e):
                raise
            # refused until an operator resets the partitions (READ_WRITE_SAFE; loss.py)
            raise StoreUnavailable(f"Ignite lost partitions: {e}") from e
        finally:
            self.breaker.done(trial)
        self.breaker.reachable()
        return result

    def transaction(self) -> Any:
        """``async with ctx.transaction() as tx:``: an OPTIMISTIC SERIALIZABLE transaction, pinned to
        the socket it began on (:class:`_Pinned`)."""
        return _Pinned(
            self.client.tx_start(
                TransactionConcurrency.OPTIMISTIC, TransactionIsolation.SERIALIZABLE, TX_TIMEOUT_MS
            )
        )


#: (connection, socket) of the transaction the running task is in: see :class:`_Pinned`.
_PINNED: ContextVar[tuple[Any, Any] | None] = ContextVar("synchub_tx_socket", default=None)


class _Pinned:
    """A pyignite transaction whose requests fail once its connection has a new socket.

    pyignite re-opens a lost connection in the background, on the same connection object, and Ignite
    numbers transactions per socket from 1. A request of the transaction sent on the new socket would
    run outside any transaction (the server runs a request whose transaction id it does not know as an
    ordinary one), or inside another task's transaction that got the same number: writes committed
    alone, whatever the rollback. ``test_a_transaction_whose_connection_was_reestablished_writes_nothing``.
    """

    __slots__ = ("_token", "_tx")

    def __init__(self, tx: Any) -> None:
        self._tx = tx
        self._token: Token[tuple[Any, Any] | None] | None = None

    async def __aenter__(self) -> Any:
        tx = await self._tx.__aenter__()
        conn = get_tx_connection()
        self._token = _PINNED.set((conn, conn._transport))
        return tx

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._tx.__aexit__(*exc)
        finally:
            if self._token is not None:
                _PINNED.reset(self._token)


def _pin_requests() -> None:
    """Make every request refuse to go out on a socket other than its transaction's (checked right
    before the write: nothing can reconnect in between)."""
    plain = AioConnection.request

    async def request(conn: Any, query_id: int, data: bytes | bytearray) -> bytearray:
        pinned = _PINNED.get()
        if pinned is not None and pinned[0] is conn and pinned[1] is not conn._transport:
            raise SocketError(
                "the connection was re-established during a transaction: the transaction is lost"
            )
        result: bytearray = await plain(conn, query_id, data)
        return result

    AioConnection.request = request


_pin_requests()


#: Transactions still running whose caller stopped waiting (:func:`whole`); :func:`settle` waits for them.
_running: set[asyncio.Task[Any]] = set()


def _finished(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if not task.cancelled():
        task.exception()  # read here: a caller that stopped waiting never reads it


async def whole(attempt: Callable[[], Awaitable[T]]) -> T:
    """Run ``attempt`` (one whole transaction) in a task of its own and wait for it. A caller that
    stops waiting (cancelled because its connection closed, or past its bound) leaves the transaction
    running to its own commit or rollback; it is never cut between two requests.

    Why: Ignite's thin-client server runs a request that carries a transaction id it does not know
    (any more) as an ordinary operation, outside any transaction (``ClientRequestHandler.handle``).
    Cutting a transaction sends its rollback while its last request may still be in flight; when the
    server serves the rollback first, that request commits on its own: a document written without
    its dedup record, and the client's replay applied a second time (chaos schedule 1/26,
    tests/integration/test_store_abandon.py)."""
    task = asyncio.ensure_future(attempt())
    _running.add(task)
    task.add_done_callback(_finished)
    return await asyncio.shield(task)


async def together(*requests: Awaitable[Any]) -> list[Any]:
    """Await requests of one transaction at once (their answers in order). Every one has its answer
    before this returns or raises its first error: a transaction must never end with one of its
    requests still in flight (:func:`whole`)."""
    answers = await asyncio.gather(*requests, return_exceptions=True)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers


async def settle(timeout: float) -> None:
    """Wait up to ``timeout`` s for the transactions left running by callers that stopped waiting
    (before the client closes: a connection closed under a transaction is the same cut)."""
    if _running:
        await asyncio.wait(list(_running), timeout=timeout)


class Contended(StoreUnavailable):
    """Every attempt of a transaction conflicted with other writers' commits: Ignite is healthy and
    busy with the same keys (a caller that can make its transaction smaller should, write.py)."""


async def retry_conflicts(
    attempt: Callable[[], Awaitable[T]], *, refused: str, gave_up: str, attempts: int = TX_ATTEMPTS
) -> T:
    """Run ``attempt`` (one whole transaction, :func:`whole`) until it commits without a conflict.

    Raises:
        StoreUnavailable: Ignite refused it for another reason (``refused: <error>``).
        Contended: it still conflicted after ``attempts`` attempts (``gave_up ... : <last error>``).
    """
    delay = 0.005
    last: BaseException | None = None
    for _ in range(attempts):
        try:
            return await whole(attempt)
        except CacheError as e:
            if not is_tx_conflict(e):
                raise StoreUnavailable(f"{refused}: {e}") from e
            last = e
        await asyncio.sleep(delay * (0.5 + secrets.randbelow(1000) / 1000))
        delay = min(delay * 2, 0.2)
    raise Contended(f"{gave_up} after {attempts} conflicting attempts: {last}")
