"""The real store: documents in Apache Ignite 2.x caches, sync metadata in an SQL table beside them.

Per collection (data cache ``D``, binary value type ``T``):

* ``D``: key = document id, value = binary object of type ``T`` holding the document's fields.
* ``synchub_meta_<D>`` (SQL table, see :mod:`hub.store.ignite.schema`): per key ``VER`` (the stamped version),
  ``LWW``/``BY`` (the last-writer-wins clock and client of the stored document), ``H`` (``doc_hash`` of the
  data it stamps; 0 = deleted) and ``DEL``. Data whose hash differs from ``H`` is *unstamped*: written by
  someone other than a hub (or by a hub that died between the two writes, which one transaction prevents).
* ``synchub_sys``: ``epoch/<coll>`` and ``floor/<coll>``; ``synchub_dedup``: client id -> dedup record.

Hub writes change data, meta and the dedup record in one OPTIMISTIC SERIALIZABLE transaction. External
writes are stamped by whichever hub's feed sees them first (:mod:`hub.store.ignite.stamp`); the transaction
makes exactly one stamp win. Versions of a key only grow: a new one is always ``> VER`` of the row.

This module is the facade: :class:`IgniteStore` owns the client and the :class:`~hub.store.ignite.tx.Context`
that the parts share, and delegates: ``schema`` (caches, meta table, epochs), ``write`` (apply), ``read``
(getAll/scan, changes), ``stamp`` (stamping, reconcile), ``feed`` (continuous query), ``gc`` (tombstones),
``recent`` (this hub's own commits), ``values`` (documents <-> binary objects), ``encode`` (binary
objects written without pyignite), ``tx`` (calls, transactions, the retry loop). None of them imports
this module. ``probe`` checks Ignite before ``synchub serve`` starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from pyignite import AioClient  # type: ignore[import-untyped,unused-ignore]
from pyignite.connection.ssl import create_ssl_context  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes import String  # type: ignore[import-untyped,unused-ignore]
from pyignite.exceptions import (  # type: ignore[import-untyped,unused-ignore]
    AuthenticationError,
    CacheError,
)

from hub.core.errors import HubUsageError, IgniteConnectError, StoreUnavailable
from hub.core.query import Filter
from hub.core.types import Change, CollectionSpec, Mutation, MutationResult, WriteCheck
from hub.ignite.protocol import encode_handshake
from hub.ignite.readiness import StartupGate, client_tls
from hub.store.base import CollectionInfo, SubsetPage
from hub.store.ignite import closed, loss, moves, read, schema, subset, tx, write
from hub.store.ignite.cursors import CURSORS
from hub.store.ignite.feed import open_feed
from hub.store.ignite.gc import gc as purge_tombstones
from hub.store.ignite.presence import IgniteBackplane
from hub.store.ignite.recent import RecentCommits
from hub.store.ignite.schema import DEDUP_CACHE, SYS_CACHE, Coll
from hub.store.ignite.stamp import partition_differences
from hub.store.ignite.stamp import stamp as stamp_keys
from hub.store.ignite.tx import Context, NodeWatch

log = logging.getLogger(__name__)


def _mark_key(coll: str, client: str) -> str:
    return f"reader\x1f{coll}\x1f{client}"


NODE_START_WAIT_S = 60.0  # how long opening the store or a collection waits for nodes still starting
#: How long closing waits for transactions whose callers stopped waiting (tx.whole).
CLOSE_SETTLE_S = 5.0


async def probe(addresses: Sequence[tuple[str, int]], options: Mapping[str, Any], timeout: float) -> None:
    """Connect once and list the caches (``synchub serve`` checks Ignite before serving).

    Raises:
        IgniteConnectError: bad credentials, or a TLS mismatch / certificate not trusted.
        Exception: otherwise whatever the connection attempt raised, or TimeoutError.
    """
    client = AioClient(**options)
    try:
        try:
            async with asyncio.timeout(timeout):
                await client.connect(list(addresses))
            async with asyncio.timeout(timeout):
                await client.get_cache_names()
        except AuthenticationError as e:
            raise IgniteConnectError(
                "authentication",
                f"Ignite authentication failed: {e} (check [ignite] username and password / password_env)",
            ) from e
        except Exception as e:
            # pyignite reports every failed node as "Can not connect.": find out why.
            found = await asyncio.to_thread(_diagnose, list(addresses), dict(options), min(timeout, 5.0))
            if found is None:
                raise
            raise IgniteConnectError(*found) from e
    finally:
        with contextlib.suppress(Exception):
            await client.close()


def _diagnose(
    addresses: list[tuple[str, int]], options: dict[str, Any], timeout: float
) -> tuple[str, str] | None:
    """Why no node accepted a connection, when it is TLS: (reason, message), else None."""
    tls = create_ssl_context(options) if options.get("use_ssl") else None
    for host, port in addresses:
        try:
            raw = socket.create_connection((host, port), timeout=timeout)
        except OSError:
            continue  # really unreachable
        with raw:
            if tls is None:
                if not _answers_plain_handshake(raw, timeout):
                    return (
                        "tls",
                        f"{host}:{port} accepts TCP but drops the plain thin-client handshake: its client "
                        "connector probably requires TLS (set [ignite] use_ssl = true and ssl_ca_certfile)",
                    )
                continue
            try:
                raw.settimeout(timeout)
                tls.wrap_socket(raw).close()
            except ssl.SSLCertVerificationError as e:
                return (
                    "tls",
                    f"TLS to {host}:{port}: the node's certificate is not trusted ({e.verify_message}); "
                    "check [ignite] ssl_ca_certfile",
                )
            except (ssl.SSLError, OSError) as e:
                return (
                    "tls",
                    f"TLS handshake with {host}:{port} failed ({e}): is TLS enabled on the node's client "
                    "connector? (else set [ignite] use_ssl = false)",
                )
    return None


def _answers_plain_handshake(sock: socket.socket, timeout: float) -> bool:
    """True when a plain thin-client handshake gets any well-formed reply (success or refusal)."""
    try:
        sock.settimeout(timeout)
        sock.sendall(encode_handshake())
        head = sock.recv(4)
    except OSError:
        return False
    if len(head) < 4:
        return False
    (size,) = struct.unpack("<i", head)
    return bool(0 < size < 1 << 20)


class IgniteStore:
    """:class:`hub.store.base.Store` on Apache Ignite 2.x (pyignite ``AioClient``, partition aware)."""

    def __init__(
        self,
        addresses: Sequence[tuple[str, int]],
        *,
        client: Any = None,
        client_options: Mapping[str, Any] | None = None,
        dedup_ttl_ms: int = 0,
        system_backups: int = 1,
        log_writes: bool = False,
    ) -> None:
        self.addresses = list(addresses)
        # Backups of synchub_sys / synchub_dedup when this hub creates them: they must survive a
        # node loss as well as the collections do (an existing cache keeps its own setting).
        self.system_backups = system_backups
        # Dedup records of a client expire this long after its last mutation (Ignite expiry
        # policy of the dedup cache when the hub creates it; 0 = never).
        self.dedup_ttl_ms = dedup_ttl_ms
        # pyignite AioClient options: username/password (Ignite authentication), use_ssl and
        # ssl_keyfile/ssl_certfile/ssl_ca_certfile (TLS to the thin-client port).
        self.client_options = dict(client_options or {})
        self.ctx = Context(client)
        self.ctx.log_writes = log_writes
        self._own_client = client is None
        self._colls: dict[str, Coll] = {}
        self._warming: set[asyncio.Task[None]] = set()  # subset.warm reads, one per collection opened
        user, password = self.client_options.get("username"), self.client_options.get("password")
        creds = (str(user), str(password)) if user is not None and password is not None else None
        tls = client_tls() if self.client_options.get("use_ssl") else None
        # one wait for starting nodes at a time, shared by every caller (readiness.py)
        self._gate = StartupGate(self.addresses, NODE_START_WAIT_S, tls=tls, credentials=creds)

    # -- lifecycle ------------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        return self.ctx.client

    @property
    def clock(self) -> Callable[[], int]:
        """Wall clock (ms) the HLC stamps from; tests set it."""
        return self.ctx.clock

    @clock.setter
    def clock(self, clock: Callable[[], int]) -> None:
        self.ctx.clock = clock

    @property
    def recent(self) -> RecentCommits:
        return self.ctx.recent

    async def open(self) -> None:
        ctx = self.ctx
        if ctx.connected is None:
            client = AioClient(partition_aware=True, event_listeners=[NodeWatch(ctx)], **self.client_options)
            ctx.attach(client)
            await ctx.call(lambda: client.connect(self.addresses))
        await self._await_nodes_started()
        backups = self.system_backups
        ctx.sys = await ctx.call(lambda: schema.system_cache(ctx.client, SYS_CACHE, backups))
        ctx.dedup = await ctx.call(
            lambda: schema.system_cache(ctx.client, DEDUP_CACHE, backups, self.dedup_ttl_ms)
        )

    async def close(self) -> None:
        for task in list(self._warming):
            task.cancel()
        self._gate.close()
        await tx.settle(CLOSE_SETTLE_S)  # no transaction cut by the closing client (tx.whole)
        client = self.ctx.detach()
        if client is not None and self._own_client:
            with contextlib.suppress(Exception):
                await client.close()

    async def ping(self, timeout: float = 2.0) -> bool:
        client = self.ctx.connected
        if client is None:
            return False
        try:
            async with asyncio.timeout(timeout):
                await client.get_cache_names()
            return True
        except Exception:
            return False

    async def _await_nodes_started(self) -> None:
        """Create no cache while a node is in its start-up window.

        A node's client connector answers (even requests, at topology version -1) before the node
        has joined and finished its first exchange; a cache created through it then can crash the
        node ("Failed to execute affinity operation on cache groups"). That happened to a hub
        reconnecting to a restarted node: hubs come back as soon as the port answers."""
        if starting := await self._gate.wait():
            raise StoreUnavailable(
                f"Ignite node(s) {starting} still starting after {NODE_START_WAIT_S:g}s: no cache is created"
            )

    # -- collections ------------------------------------------------------------------------------------
    async def ensure_collection(self, spec: CollectionSpec) -> CollectionInfo:
        await self._await_nodes_started()

        async def run() -> CollectionInfo:
            await schema.ensure(self.ctx, spec, self.dedup_ttl_ms, self._colls)
            c = self._colls[spec.name]
            if c.fields is not None:
                c.moves = await moves.open_moves(self.ctx.client, spec, spec.backups, schema.LOSS_POLICY)
            await closed.sample(self.ctx, spec.name)
            return await closed.info(self.ctx, spec.name)

        info = await self.ctx.call(run, timeout=60.0)
        if self._colls[spec.name].fields is not None:
            task = asyncio.create_task(self._warm(self._colls[spec.name]), name=f"warm-{spec.name}")
            self._warming.add(task)
            task.add_done_callback(self._warming.discard)
        return info

    async def _warm(self, c: Coll) -> None:
        try:
            n = await self.ctx.call(lambda: subset.warm(self.ctx, c), timeout=60.0)
            log.debug("subset query warmed", extra={"coll": c.spec.name, "docs": n})
        except Exception as e:  # only a warm-up: the first subscriber pays it instead
            log.info("subset warm-up of %r failed: %s", c.spec.name, e)

    def coll(self, name: str) -> Coll:
        c = self._colls.get(name)
        if c is None:
            raise HubUsageError(f"unknown collection {name!r} (call ensure_collection first)")
        return c

    async def info(self, coll: str) -> CollectionInfo:
        self.coll(coll)
        return await self.ctx.call(lambda: closed.info(self.ctx, coll))

    # -- writes and reads ---------------------------------------------------------------------------------
    async def apply(
        self,
        client: str,
        batch: Sequence[Mutation],
        *,
        check: WriteCheck | None = None,
        owner: str | None = None,
    ) -> list[MutationResult]:
        return await write.apply(self.ctx, self._colls, client, batch, check, owner)

    async def changes(self, coll: str, after: int, limit: int, *, include_deleted: bool) -> list[Change]:
        c = self.coll(coll)
        return await self.ctx.call(lambda: read.changes(self.ctx, c, after, limit, include_deleted))

    async def subset(self, coll: str, where: Filter, after: int, limit: int) -> SubsetPage:
        c = self.coll(coll)
        return await self.ctx.call(lambda: subset.page(self.ctx, c, where, after, limit))

    async def leavers(self, coll: str, where: Filter, after: int) -> list[Change] | None:
        c = self.coll(coll)
        key = schema.floor_key(coll)
        return await self.ctx.call(lambda: moves.leavers(self.ctx, c, where, after, key))

    async def advance(self, coll: str) -> int:
        self.coll(coll)
        return await closed.advance(self.ctx, coll)

    def hub_time_ms(self) -> int:
        return self.ctx.fleet_ms()

    @property
    def clock_skew_ms(self) -> int:
        """How far other hubs' versions run ahead of this hub's clock (0 when they do not)."""
        return self.ctx.skew_ms

    @property
    def open_cursors(self) -> Mapping[str, int]:
        """Ignite cursors (SQL, scan) and continuous queries open in this process, by kind
        (:mod:`~.cursors`; read by ``/metrics``)."""
        return CURSORS.open

    async def unseen(
        self, coll: str, after: int, upto: int, seen: Mapping[str, int], limit: int = 5000
    ) -> tuple[list[Change], int]:
        c = self.coll(coll)
        return await self.ctx.call(lambda: read.unseen(self.ctx, c, after, upto, seen, limit))

    def sweeps(self, coll: str) -> bool:
        """Whether this hub's feed of ``coll`` holds its coverage lease (cover.py): it alone sweeps."""
        lease = self.ctx.leases.get(coll)
        return lease is not None and lease.held is not None

    async def sweep(self, coll: str, partitions: int) -> list[Change]:
        """Reconcile the next ``partitions`` partitions of ``coll`` (round robin), stamping what changed
        without a continuous-query event; return those changes (:func:`~.stamp.partition_differences`)."""
        c = self.coll(coll)
        out: list[Change] = []
        for _ in range(min(partitions, c.partitions)):
            p = c.sweep_next
            try:
                found = await partition_differences(self.ctx, c, p)
            except CacheError as e:
                raise StoreUnavailable(f"sweeping {coll!r} failed: {e}") from e
            if found is None:
                c.sweep_next = 0  # past the last partition: wrap around
                continue
            if found:
                log.info("collection %s: partition %d: stamping %d keys", coll, p, len(found))
                out += await self.ctx.call(lambda todo=found: stamp_keys(self.ctx, c, todo))  # type: ignore[misc]
            c.sweep_next = (p + 1) % c.partitions
        return out

    async def check_loss(self, coll: str) -> bool:
        """Watch ``coll``'s caches for lost partitions; True when this call gave it a new epoch
        because a loss ended (:mod:`~.loss`)."""
        c = self.coll(coll)
        return await self.ctx.call(lambda: loss.check(self.ctx, c))

    async def reader_mark(self, coll: str, client: str) -> str | None:
        # Beside the client's dedup records: they expire together (dedup_ttl_ms after last use).
        value = await self.ctx.call(lambda: self.ctx.dedup.get(_mark_key(coll, client)))
        return value if isinstance(value, str) else None

    async def set_reader_mark(self, coll: str, client: str, mark: str) -> None:
        await self.ctx.call(lambda: self.ctx.dedup.put(_mark_key(coll, client), mark, value_hint=String))

    async def count(self, coll: str) -> int:
        c = self.coll(coll)
        return await self.ctx.call(lambda: read.count(self.ctx, c))

    async def served(self, coll: str) -> bool:
        # Every hub that opens a collection records its epoch (schema.ensure) and nothing removes it.
        ctx = self.ctx
        return await ctx.call(lambda: ctx.sys.get(schema.epoch_key(coll))) is not None

    async def gc(self, coll: str, retention_ms: int, now_ms: int | None = None) -> int:
        """Purge tombstones older than ``retention_ms``; returns the new floor (:mod:`~.gc`)."""
        now = self.ctx.clock() if now_ms is None else now_ms
        return await purge_tombstones(self.ctx, self.coll(coll), retention_ms, now)

    # -- feed ------------------------------------------------------------------------------------
    def presence_backplane(self, ttl_ms: int, backups: int) -> IgniteBackplane:
        """Rooms' members and broadcasts between hubs (hub/store/ignite/presence.py); after open()."""
        ready, breaker = self._await_nodes_started, self.ctx.breaker
        return IgniteBackplane(self.client, ttl_ms=ttl_ms, backups=backups, ready=ready, breaker=breaker)

    def feed(self, coll: str) -> contextlib.AbstractAsyncContextManager[AsyncIterator[list[Change]]]:
        return open_feed(self.ctx, self.coll(coll))

    async def stamp(self, c: Coll, expected: Mapping[str, int]) -> list[Change]:
        """Stamp keys whose data hash (``expected[id]``) is not in the meta table (:mod:`~.stamp`)."""
        return await stamp_keys(self.ctx, c, expected)
