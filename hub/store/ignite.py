"""The real store: documents in Apache Ignite 2.x caches, sync metadata in an SQL table beside them.

Per collection (data cache ``D``, binary value type ``T``):

* ``D``: key = document id, value = binary object of type ``T`` holding the document's fields.
* ``synchub_meta_<D>`` (SQL table, see :mod:`hub.store.ignite_meta`): per key ``VER`` (the stamped version),
  ``LWW``/``BY`` (the last-writer-wins clock and client of the stored document), ``H`` (``doc_hash`` of the
  data it stamps; 0 = deleted) and ``DEL``. Data whose hash differs from ``H`` is *unstamped*: written by
  someone other than a hub (or by a hub that died between the two writes, which one transaction prevents).
* ``synchub_sys``: ``epoch/<coll>`` and ``floor/<coll>``; ``synchub_dedup``: client id -> dedup record.

Hub writes change data, meta and the dedup record in one OPTIMISTIC SERIALIZABLE transaction. External
writes are stamped by whichever hub's feed sees them first (:mod:`hub.store.ignite_feed`); the transaction
makes exactly one stamp win. Versions of a key only grow: a new one is always ``> VER`` of the row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pyignite import AioClient  # type: ignore[import-untyped,unused-ignore]
from pyignite.connection.ssl import create_ssl_context  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes import (  # type: ignore[import-untyped,unused-ignore]
    ByteArrayObject,
    ExpiryPolicy,
    LongObject,
    String,
)
from pyignite.datatypes.cache_config import CacheAtomicityMode, WriteSynchronizationMode  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes.prop_codes import (  # type: ignore[import-untyped,unused-ignore]
    PROP_BACKUPS_NUMBER,
    PROP_CACHE_ATOMICITY_MODE,
    PROP_EXPIRY_POLICY,
    PROP_NAME,
    PROP_QUERY_ENTITIES,
    PROP_WRITE_SYNCHRONIZATION_MODE,
)
from pyignite.datatypes.transactions import (  # type: ignore[import-untyped,unused-ignore]
    TransactionConcurrency,
    TransactionIsolation,
)
from pyignite.exceptions import (  # type: ignore[import-untyped,unused-ignore]
    AuthenticationError,
    CacheError,
    ReconnectError,
    SocketError,
)

from hub.core.apply import replay_result
from hub.core.conflict import Incoming, Stored, decide
from hub.core.dedup import DedupRecord
from hub.core.doc import doc_hash
from hub.core.errors import ErrorCode, HubUsageError, StoreUnavailable
from hub.core.hlc import COUNTER_BITS, Hlc
from hub.store.base import (
    Change,
    CollectionInfo,
    CollectionSpec,
    Mutation,
    MutationResult,
    RetentionPassed,
    WriteCheck,
)
from hub.store.ignite_binary import (
    InvalidDocument,
    RawBinary,
    ValueType,
    fields_of,
    query_entity_fields,
    string_key,
)
from hub.store.ignite_meta import (
    DEDUP_CACHE,
    SYS_CACHE,
    MetaRow,
    SynchubMeta,
    encode_meta,
    epoch_key,
    floor_key,
    meta_cache_config,
    meta_cache_name,
    meta_table_name,
)
from hub.store.ignite_read import get_all as fast_get_all
from hub.store.ignite_recent import RecentCommits

log = logging.getLogger(__name__)

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
_RETRYABLE_TX = ("optimistic", "serializ", "read/write conflict", "deadlock", "rolled back", "lock")


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def is_tx_conflict(err: BaseException) -> bool:
    """Whether a CacheError is an optimistic/serializable commit conflict (worth retrying)."""
    text = str(err).lower()
    return isinstance(err, CacheError) and any(s in text for s in _RETRYABLE_TX)


def _encode(obj: Any) -> bytes:
    try:
        from hub import codec  # type: ignore[attr-defined,unused-ignore]

        return bytes(codec.encode(obj))
    except ImportError:  # hub.codec not written yet
        import msgpack

        return bytes(msgpack.packb(obj, use_bin_type=True, datetime=True))


def _decode(raw: bytes) -> Any:
    try:
        from hub import codec  # type: ignore[attr-defined,unused-ignore]

        return codec.decode(raw)
    except ImportError:
        import msgpack

        return msgpack.unpackb(raw, raw=False, timestamp=3, strict_map_key=False)


def load_record(raw: bytes | None) -> DedupRecord:
    """A client's dedup record as stored by :func:`dump_record` (or by earlier hubs: ``to_plain``)."""
    plain = _decode(bytes(raw)) if raw is not None else None
    if not plain or not plain.get("ok"):
        return DedupRecord.from_plain(plain)
    results: dict[int, dict[str, Any]] = {}
    it = iter(plain["ok"])
    for seq, ver in zip(it, it, strict=True):
        results[int(seq)] = {"seq": int(seq), "s": "ok", "ver": int(ver)}
    rest = plain.get("res") or ()
    for seq, res in rest:
        results[int(seq)] = dict(res)
    if rest:
        results = dict(sorted(results.items()))
    return DedupRecord(int(plain["last"]), results)


def dump_record(record: DedupRecord) -> bytes:
    """Serialise a dedup record compactly: the plain ``{seq, s: "ok", ver}`` results (nearly all of
    them) as a flat ``[seq, ver, ...]`` list under ``ok``, any other result as in ``to_plain``."""
    ok: list[int] = []
    rest: list[list[Any]] = []
    for seq, res in sorted(record.results.items()):
        ver = res.get("ver")
        if len(res) == 3 and res.get("s") == "ok" and res.get("seq") == seq and type(ver) is int:
            ok += (seq, ver)
        else:
            rest.append([seq, res])
    return _encode({"last": record.last_seq, "ok": ok, "res": rest})


class IgniteConnectError(Exception):
    """Ignite answered but refused the connection: ``reason`` is ``authentication`` or ``tls``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


async def probe(addresses: Sequence[tuple[str, int]], options: Mapping[str, Any], timeout: float) -> None:
    """Connect once and list the caches (``synchub serve`` checks Ignite before serving).

    Raises:
        IgniteConnectError: bad credentials, or a TLS mismatch / certificate not trusted.
        Exception: otherwise whatever the connection attempt raised, or TimeoutError.
    """
    client = AioClient(**options)
    try:
        try:
            await asyncio.wait_for(client.connect(list(addresses)), timeout)
            await asyncio.wait_for(client.get_cache_names(), timeout)
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
    from hub.ignite.protocol import encode_handshake

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


def plain_doc(value: Any) -> dict[str, Any] | None:
    """A data-cache value (pyignite object, CQ-decoded object or None) as a plain field dict."""
    if value is None:
        return None
    try:
        return fields_of(value)
    except TypeError:
        from hub.store.ignite_binary import plain

        return {"value": plain(value)}  # not a binary object: someone stored a bare value


@dataclass(slots=True)
class Coll:
    """What the store keeps per ensured collection."""

    spec: CollectionSpec
    vtype: ValueType
    data: Any  # AioCache
    meta: Any  # AioCache
    table: str
    transactional: bool


@dataclass(slots=True)
class _Slot:
    """A key's state as seen (and changed) by the running transaction."""

    doc: dict[str, Any] | None
    meta: MetaRow | None
    dirty: bool = False
    obj: Any = None  # binary object to put when dirty and doc is not None

    @property
    def stamped(self) -> bool:
        if self.meta is None:
            return self.doc is None
        return self.meta.h == doc_hash(self.doc)


@dataclass(slots=True)
class _Tx:
    slots: dict[tuple[str, str], _Slot] = field(default_factory=dict)
    changed: bool = False


class IgniteStore:
    """:class:`hub.store.base.Store` on Apache Ignite 2.x (pyignite ``AioClient``, partition aware)."""

    def __init__(
        self,
        addresses: Sequence[tuple[str, int]],
        *,
        client: Any = None,
        client_options: Mapping[str, Any] | None = None,
        dedup_ttl_ms: int = 0,
        system_backups: int = 0,
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
        self.hlc = Hlc()
        self._client: Any = client
        self._own_client = client is None
        self._colls: dict[str, Coll] = {}
        self._sys: Any = None
        self._dedup: Any = None
        # This hub's recent commits: the feed needs no meta read for its own writes (ignite_recent).
        self.recent = RecentCommits()
        self._meta_registered: Any = None  # the client SynchubMeta's schema was registered with
        self.clock: Callable[[], int] = wall_ms

    # -- lifecycle ------------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            raise StoreUnavailable("the store is not open")
        return self._client

    async def open(self) -> None:
        if self._client is None:
            self._client = AioClient(partition_aware=True, **self.client_options)
            await self._call(lambda: self._client.connect(self.addresses))
        backups = self.system_backups
        self._sys = await self._call(lambda: self._tx_cache(SYS_CACHE, backups))
        self._dedup = await self._call(lambda: self._tx_cache(DEDUP_CACHE, backups, self.dedup_ttl_ms))

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._own_client:
            with contextlib.suppress(Exception):
                await client.close()

    async def _call(self, fn: Callable[[], Awaitable[T]], timeout: float = OP_TIMEOUT_S) -> T:
        """Run one Ignite operation; connection trouble becomes StoreUnavailable."""
        try:
            return await asyncio.wait_for(fn(), timeout)
        except _CONNECTION_ERRORS as e:
            raise StoreUnavailable(f"Ignite unreachable: {e!r}") from e

    async def _tx_cache(self, name: str, backups: int, ttl_ms: int = 0) -> Any:
        settings: dict[Any, Any] = {
            PROP_NAME: name,
            PROP_CACHE_ATOMICITY_MODE: CacheAtomicityMode.TRANSACTIONAL,
            PROP_BACKUPS_NUMBER: backups,
            # An acknowledged write must survive its primary node's death: wait for the backups.
            PROP_WRITE_SYNCHRONIZATION_MODE: WriteSynchronizationMode.FULL_SYNC,
        }
        if ttl_ms > 0:
            settings[PROP_EXPIRY_POLICY] = ExpiryPolicy(create=ttl_ms, update=ttl_ms)
        return await self.client.get_or_create_cache(settings)

    async def ping(self, timeout: float = 2.0) -> bool:
        if self._client is None:
            return False
        try:
            await asyncio.wait_for(self._client.get_cache_names(), timeout)
            return True
        except Exception:
            return False

    # -- collections ------------------------------------------------------------------------------------
    async def ensure_collection(self, spec: CollectionSpec) -> CollectionInfo:
        return await self._call(lambda: self._ensure(spec), timeout=60.0)

    async def _ensure(self, spec: CollectionSpec) -> CollectionInfo:
        client = self.client
        names = set(await client.get_cache_names())
        if self._sys is None or spec.backups > 0 or SYS_CACHE not in names or DEDUP_CACHE not in names:
            self._sys = await self._tx_cache(SYS_CACHE, spec.backups)
            self._dedup = await self._tx_cache(DEDUP_CACHE, spec.backups, self.dedup_ttl_ms)
        if spec.cache_name in names:
            data = await client.get_cache(spec.cache_name)
            settings = await data.settings()
            atomic = settings.get(PROP_CACHE_ATOMICITY_MODE) == CacheAtomicityMode.ATOMIC
        else:
            if spec.writable and spec.atomicity != "TRANSACTIONAL":
                raise HubUsageError(
                    f"collection {spec.name!r} is writable but configured ATOMIC: writable collections "
                    "need a TRANSACTIONAL cache"
                )
            atomic = spec.atomicity == "ATOMIC"
            settings = {}
            data = await client.get_or_create_cache(
                {
                    PROP_NAME: spec.cache_name,
                    PROP_CACHE_ATOMICITY_MODE: CacheAtomicityMode.ATOMIC
                    if atomic
                    else CacheAtomicityMode.TRANSACTIONAL,
                    PROP_BACKUPS_NUMBER: spec.backups,
                    PROP_WRITE_SYNCHRONIZATION_MODE: WriteSynchronizationMode.FULL_SYNC,
                }
            )
        if atomic and spec.writable:
            raise HubUsageError(
                f"collection {spec.name!r} is writable but its cache {spec.cache_name!r} is ATOMIC: the hub "
                "writes data, metadata and dedup records in one transaction; make the cache TRANSACTIONAL "
                '(e.g. WITH "atomicity=transactional") or configure the collection read-only'
            )
        meta_name = meta_cache_name(spec.cache_name)
        created = meta_name not in names
        # Read before the DDL: a hub that (re)creates the meta table replaces exactly this value, so
        # two hubs starting together agree on one new epoch (compare-and-set below).
        old_epoch = await self._sys.get(epoch_key(spec.name))
        meta = await client.get_or_create_cache(meta_cache_config(spec.cache_name, spec.backups))
        vtype = ValueType(
            spec.type_name, query_entity_fields(settings.get(PROP_QUERY_ENTITIES), spec.type_name)
        )
        await vtype.refresh(client)
        self._colls[spec.name] = Coll(spec, vtype, data, meta, meta_table_name(spec.cache_name), not atomic)
        if created and old_epoch is not None:
            await self._sys.replace_if_equals(
                epoch_key(spec.name), old_epoch, secrets.token_hex(8), sample_hint=String, value_hint=String
            )
        else:
            await self._sys.put_if_absent(epoch_key(spec.name), secrets.token_hex(8), value_hint=String)
        return await self._info(spec.name)

    def coll(self, name: str) -> Coll:
        c = self._colls.get(name)
        if c is None:
            raise HubUsageError(f"unknown collection {name!r} (call ensure_collection first)")
        return c

    async def info(self, coll: str) -> CollectionInfo:
        self.coll(coll)
        return await self._call(lambda: self._info(coll))

    async def _info(self, coll: str) -> CollectionInfo:
        epoch = await self._sys.get(epoch_key(coll))
        floor = await self._sys.get(floor_key(coll))
        return CollectionInfo(str(epoch or ""), int(floor or 0))

    # -- apply ------------------------------------------------------------------------------------
    async def apply(
        self, client: str, batch: Sequence[Mutation], *, check: WriteCheck | None = None
    ) -> list[MutationResult]:
        delay = 0.005
        last: BaseException | None = None
        for _ in range(TX_ATTEMPTS):
            try:
                return await self._call(lambda: self._apply_once(client, batch, check))
            except CacheError as e:
                if not is_tx_conflict(e):
                    raise StoreUnavailable(f"Ignite refused the batch: {e}") from e
                last = e
            await asyncio.sleep(delay * (0.5 + secrets.randbelow(1000) / 1000))
            delay = min(delay * 2, 0.2)
        raise StoreUnavailable(f"batch not applied after {TX_ATTEMPTS} conflicting attempts: {last}")

    async def _apply_once(
        self, client_id: str, batch: Sequence[Mutation], check: WriteCheck | None = None
    ) -> list[MutationResult]:
        async with self.client.tx_start(
            TransactionConcurrency.OPTIMISTIC, TransactionIsolation.SERIALIZABLE, TX_TIMEOUT_MS
        ) as tx:
            raw = await self._dedup.get(client_id)
            record = load_record(raw)
            state = _Tx()
            await self._prefetch(state, record, batch)
            results = [await self._apply_one(state, record, client_id, m, check) for m in batch]
            if state.changed:
                written = await self._flush(state)
                await self._dedup.put(client_id, dump_record(record), value_hint=ByteArrayObject)
                pending = self.recent.pending(written)  # before the commit: see ignite_recent
                committed = False
                try:
                    await tx.commit()
                    committed = True
                finally:
                    self.recent.settle(pending, committed)
            else:
                await tx.rollback()
        return results

    async def _prefetch(self, state: _Tx, record: DedupRecord, batch: Sequence[Mutation]) -> None:
        wanted: dict[str, dict[str, None]] = {}
        for m in batch:
            if m.coll in self._colls:
                wanted.setdefault(m.coll, {})[m.id] = None
        for name, id_set in wanted.items():
            ids = list(id_set)
            c = self._colls[name]
            keys = [string_key(i) for i in ids]  # pre-serialised: pyignite's String writer is slow
            data = await fast_get_all(c.data, keys)
            metas = await fast_get_all(c.meta, keys)
            for i in ids:
                state.slots[(name, i)] = _Slot(plain_doc(data.get(i)), MetaRow.from_ignite(metas.get(i)))

    async def _slot(self, state: _Tx, coll: str, key: str) -> _Slot:
        slot = state.slots.get((coll, key))
        if slot is None:
            c = self._colls[coll]
            slot = _Slot(plain_doc(await c.data.get(key)), MetaRow.from_ignite(await c.meta.get(key)))
            state.slots[(coll, key)] = slot
        return slot

    async def _apply_one(
        self, state: _Tx, record: DedupRecord, client_id: str, m: Mutation, check: WriteCheck | None = None
    ) -> MutationResult:
        replay = record.replay_of(m.seq)
        if replay is not None:
            return await self._replayed(state, m, replay)
        state.changed = True
        if m.coll in self._colls:
            result = await self._decide(state, client_id, m, check)
        else:
            result = MutationResult(
                m.seq, "error", code=ErrorCode.UNKNOWN_COLLECTION, msg=f"unknown collection {m.coll!r}"
            )
        record.record(m.seq, result.to_wire())
        return result

    async def _replayed(self, state: _Tx, m: Mutation, replay: dict[str, Any]) -> MutationResult:
        if m.coll in self._colls and replay["s"] != "error":
            slot = await self._slot(state, m.coll, m.id)
            replay = replay_result(replay, slot.meta.ver if slot.meta else 0, slot.doc)
        return MutationResult(
            int(replay["seq"]),
            str(replay["s"]),
            int(replay.get("ver", 0)),
            replay.get("doc"),
            dup=True,
            code=replay.get("code"),
            msg=replay.get("msg"),
        )

    async def _decide(
        self, state: _Tx, client_id: str, m: Mutation, check: WriteCheck | None = None
    ) -> MutationResult:
        c = self._colls[m.coll]
        if not c.spec.writable:
            return MutationResult(
                m.seq, "error", code=ErrorCode.FORBIDDEN, msg=f"collection {m.coll!r} is read-only"
            )
        if m.op == "put" and m.doc is None:
            return MutationResult(
                m.seq, "error", code=ErrorCode.INVALID_MUTATION, msg="put without a document"
            )
        slot = await self._slot(state, m.coll, m.id)
        if check is not None and not check(m.coll, m.id, slot.doc, m.doc if m.op == "put" else None):
            # Row-level write permission, decided on the stored document inside the transaction.
            return MutationResult(m.seq, "error", code=ErrorCode.FORBIDDEN, msg="forbidden")
        meta = slot.meta
        stored = Stored(
            slot.doc,
            meta.ver if meta else 0,
            meta.lww if meta else 0,
            meta.by if meta else "",
            slot.stamped,
        )
        incoming_doc = {k: v for k, v in m.doc.items() if k != "id"} if m.doc is not None else None
        decision = decide(
            c.spec.policy, stored, Incoming(client_id, m.op, incoming_doc, m.ts, m.base), c.spec.merge
        )
        now = self.clock()
        if decision.write:
            obj = None
            doc: dict[str, Any] | None = None
            if decision.doc is not None:
                if c.vtype.unknown(decision.doc):
                    await c.vtype.refresh(self.client)
                try:
                    obj, doc = c.vtype.encode_raw(decision.doc, self.client.compact_footer)
                except InvalidDocument as e:
                    return MutationResult(m.seq, "error", code=ErrorCode.INVALID_MUTATION, msg=str(e))
            ver = self.hlc.next_after(now, stored.ver)
            h = doc_hash(doc)
            slot.doc, slot.obj, slot.dirty = doc, obj, True
            slot.meta = MetaRow(ver, decision.lww, decision.by, h, doc is None)
            return MutationResult(m.seq, decision.status, ver, doc, changed=[Change(m.id, ver, doc)])
        if not stored.stamped:
            ver = self.hlc.next_after(now, stored.ver)
            slot.meta = MetaRow(ver, ver, "", doc_hash(slot.doc), slot.doc is None)
            slot.dirty = True
            slot.obj = None
            return MutationResult(
                m.seq, decision.status, ver, slot.doc, changed=[Change(m.id, ver, slot.doc)]
            )
        return MutationResult(m.seq, decision.status, stored.ver, slot.doc)

    async def register_meta(self) -> None:
        """Make sure the ``SynchubMeta`` schema is registered before meta rows are written pre-serialised."""
        client = self.client
        if self._meta_registered is not client:
            await client.register_binary_type(SynchubMeta)
            self._meta_registered = client

    def meta_value(self, row: MetaRow) -> tuple[bytes, Any]:
        """A meta row as a pyignite value (pre-serialised; :meth:`register_meta` first)."""
        return encode_meta(row, self.client.compact_footer), RawBinary

    async def _flush(self, state: _Tx) -> list[tuple[str, str, int, int]]:
        """Write the dirty slots; returns ``(cache, key, H, VER)`` of the documents put."""
        by_coll: dict[str, list[tuple[str, _Slot]]] = {}
        for (coll, key), slot in state.slots.items():
            if slot.dirty:
                by_coll.setdefault(coll, []).append((key, slot))
        written: list[tuple[str, str, int, int]] = []
        if by_coll:
            await self.register_meta()
        for coll, items in by_coll.items():
            c = self._colls[coll]
            puts = {k: s.obj for k, s in items if s.obj is not None}
            removes = [k for k, s in items if s.doc is None]
            if puts:
                await c.vtype.register(self.client)
                await c.data.put_all({string_key(k): v for k, v in puts.items()})
            if removes:
                await c.data.remove_keys([string_key(k) for k in removes])
            metas = {k: s.meta for k, s in items if s.meta is not None}
            await c.meta.put_all({string_key(k): self.meta_value(row) for k, row in metas.items()})
            # Only data puts: each fires exactly one CQ event of its own (a remove of an absent key or a
            # stamp of unchanged data may fire none, and an unconsumed entry could outlive its use).
            cache = c.spec.cache_name
            written.extend((cache, k, metas[k].h, metas[k].ver) for k in puts if k in metas)
        return written

    # -- reads ------------------------------------------------------------------------------------
    async def _sql(self, query: str, args: Sequence[Any] = (), page_size: int = 1024) -> list[list[Any]]:
        cur = await self.client.sql(query, query_args=list(args), page_size=page_size)
        rows: list[list[Any]] = []
        async with cur:
            async for row in cur:
                rows.append(row)
        return rows

    async def changes(self, coll: str, after: int, limit: int, *, include_deleted: bool) -> list[Change]:
        c = self.coll(coll)
        return await self._call(lambda: self._changes(c, after, limit, include_deleted))

    async def _changes(self, c: Coll, after: int, limit: int, include_deleted: bool) -> list[Change]:
        out: list[Change] = []
        cursor = after
        where = "" if include_deleted else " AND DEL = FALSE"
        while len(out) < limit:
            want = limit - len(out)
            rows = await self._sql(
                f"SELECT ID, VER, DEL FROM {c.table} WHERE VER > ?{where} ORDER BY VER LIMIT ?",
                (cursor, want),
                page_size=min(max(want, 1), 1024),
            )
            full = len(rows) >= want
            if full and rows:
                # Two hubs can stamp different documents with the same version: a page must never
                # end inside such a group, or resuming with VER > last would skip its other rows.
                last = int(rows[-1][1])
                have = {str(r[0]) for r in rows if int(r[1]) == last}
                tie = await self._sql(f"SELECT ID, VER, DEL FROM {c.table} WHERE VER = ?{where}", (last,))
                rows = list(rows) + [r for r in tie if str(r[0]) not in have]
            live = [str(r[0]) for r in rows if not r[2]]
            data = await fast_get_all(c.data, live) if live else {}
            for key, ver, deleted in rows:
                doc = None if deleted else plain_doc(data.get(key))
                # A live row whose data is gone is an external delete not stamped yet: the stamp (a higher
                # version) follows; a snapshot just leaves the document out.
                if doc is None and not include_deleted:
                    continue
                out.append(Change(str(key), int(ver), doc))
            if not full:
                break
            cursor = int(rows[-1][1])
        if include_deleted:
            floor = int(await self._sys.get(floor_key(c.spec.name)) or 0)
            if after < floor:
                raise RetentionPassed(
                    f"tombstones of {c.spec.name!r} up to version {floor} may have been purged"
                )
        return out

    async def count(self, coll: str) -> int:
        c = self.coll(coll)
        rows = await self._call(lambda: self._sql(f"SELECT COUNT(*) FROM {c.table} WHERE DEL = FALSE"))
        return int(rows[0][0]) if rows else 0

    async def gc(self, coll: str, retention_ms: int, now_ms: int | None = None) -> int:
        """Purge tombstones older than ``retention_ms``; returns the new floor.

        The floor moves first (compare-and-set, only upwards), then the rows go: a reader that checks the
        floor after its query either sees the old floor (and its query ran before any row was deleted, or
        the rows it missed are all <= the new floor, which it will see next time) or the new one.
        """
        c = self.coll(coll)
        now = self.clock() if now_ms is None else now_ms
        floor = ((now - retention_ms) << COUNTER_BITS) - 1
        if floor <= 0:
            return 0

        async def run() -> int:
            key = floor_key(c.spec.name)
            while True:
                cur = await self._sys.get(key)
                if cur is None:
                    if await self._sys.put_if_absent(key, floor, value_hint=LongObject):
                        break
                    continue
                if int(cur) >= floor:
                    break
                if await self._sys.replace_if_equals(
                    key, int(cur), floor, sample_hint=LongObject, value_hint=LongObject
                ):
                    break
            await self._sql(f"DELETE FROM {c.table} WHERE DEL = TRUE AND VER <= ?", (floor,))
            return int(await self._sys.get(key) or 0)

        return await self._call(run, timeout=120.0)

    # -- feed ------------------------------------------------------------------------------------
    def feed(self, coll: str) -> contextlib.AbstractAsyncContextManager[AsyncIterator[list[Change]]]:
        from hub.store.ignite_feed import open_feed

        return open_feed(self, self.coll(coll))

    async def stamp(self, c: Coll, expected: Mapping[str, int]) -> list[Change]:
        """Stamp keys whose data hash (``expected[id]``) is not in the meta table; see ignite_feed."""
        from hub.store.ignite_feed import stamp

        return await stamp(self, c, expected)
