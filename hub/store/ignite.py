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
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pyignite import AioClient  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes import ByteArrayObject, LongObject, String  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes.cache_config import CacheAtomicityMode  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes.prop_codes import (  # type: ignore[import-untyped,unused-ignore]
    PROP_BACKUPS_NUMBER,
    PROP_CACHE_ATOMICITY_MODE,
    PROP_NAME,
    PROP_QUERY_ENTITIES,
)
from pyignite.datatypes.transactions import (  # type: ignore[import-untyped,unused-ignore]
    TransactionConcurrency,
    TransactionIsolation,
)
from pyignite.exceptions import (  # type: ignore[import-untyped,unused-ignore]
    CacheError,
    ReconnectError,
    SocketError,
)

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
)
from hub.store.ignite_binary import InvalidDocument, ValueType, fields_of, query_entity_fields
from hub.store.ignite_meta import (
    DEDUP_CACHE,
    SYS_CACHE,
    MetaRow,
    create_index_sql,
    create_table_sql,
    epoch_key,
    floor_key,
    meta_cache_name,
    meta_table_name,
)

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

    def __init__(self, addresses: Sequence[tuple[str, int]], *, client: Any = None) -> None:
        self.addresses = list(addresses)
        self.hlc = Hlc()
        self._client: Any = client
        self._own_client = client is None
        self._colls: dict[str, Coll] = {}
        self._sys: Any = None
        self._dedup: Any = None
        self.clock: Callable[[], int] = wall_ms

    # -- lifecycle ------------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            raise StoreUnavailable("the store is not open")
        return self._client

    async def open(self) -> None:
        if self._client is None:
            self._client = AioClient(partition_aware=True)
            await self._call(lambda: self._client.connect(self.addresses))
        self._sys = await self._call(lambda: self._tx_cache(SYS_CACHE, 0))
        self._dedup = await self._call(lambda: self._tx_cache(DEDUP_CACHE, 0))

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

    async def _tx_cache(self, name: str, backups: int) -> Any:
        return await self.client.get_or_create_cache(
            {
                PROP_NAME: name,
                PROP_CACHE_ATOMICITY_MODE: CacheAtomicityMode.TRANSACTIONAL,
                PROP_BACKUPS_NUMBER: backups,
            }
        )

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
        if self._sys is None or spec.backups > 0:
            self._sys = await self._tx_cache(SYS_CACHE, spec.backups)
            self._dedup = await self._tx_cache(DEDUP_CACHE, spec.backups)
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
        for sql in (create_table_sql(spec.cache_name, spec.backups), create_index_sql(spec.cache_name)):
            cur = await client.sql(sql)
            async with cur:
                async for _ in cur:
                    pass
        meta = await client.get_cache(meta_name)
        vtype = ValueType(
            spec.type_name, query_entity_fields(settings.get(PROP_QUERY_ENTITIES), spec.type_name)
        )
        await vtype.refresh(client)
        self._colls[spec.name] = Coll(spec, vtype, data, meta, meta_table_name(spec.cache_name), not atomic)
        if created:
            await self._sys.put(epoch_key(spec.name), secrets.token_hex(8), value_hint=String)
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
    async def apply(self, client: str, batch: Sequence[Mutation]) -> list[MutationResult]:
        delay = 0.005
        last: BaseException | None = None
        for _ in range(TX_ATTEMPTS):
            try:
                return await self._call(lambda: self._apply_once(client, batch))
            except CacheError as e:
                if not is_tx_conflict(e):
                    raise StoreUnavailable(f"Ignite refused the batch: {e}") from e
                last = e
            await asyncio.sleep(delay * (0.5 + secrets.randbelow(1000) / 1000))
            delay = min(delay * 2, 0.2)
        raise StoreUnavailable(f"batch not applied after {TX_ATTEMPTS} conflicting attempts: {last}")

    async def _apply_once(self, client_id: str, batch: Sequence[Mutation]) -> list[MutationResult]:
        async with self.client.tx_start(
            TransactionConcurrency.OPTIMISTIC, TransactionIsolation.SERIALIZABLE, TX_TIMEOUT_MS
        ) as tx:
            raw = await self._dedup.get(client_id)
            record = DedupRecord.from_plain(_decode(bytes(raw)) if raw is not None else None)
            state = _Tx()
            await self._prefetch(state, record, batch)
            results = [await self._apply_one(state, record, client_id, m) for m in batch]
            if state.changed:
                await self._flush(state)
                await self._dedup.put(client_id, _encode(record.to_plain()), value_hint=ByteArrayObject)
                await tx.commit()
            else:
                await tx.rollback()
        return results

    async def _prefetch(self, state: _Tx, record: DedupRecord, batch: Sequence[Mutation]) -> None:
        wanted: dict[str, list[str]] = {}
        for m in batch:
            if m.coll in self._colls and (m.seq > record.last_seq or m.seq not in record.results):
                wanted.setdefault(m.coll, [])
                if m.id not in wanted[m.coll]:
                    wanted[m.coll].append(m.id)
        for name, ids in wanted.items():
            c = self._colls[name]
            data = await c.data.get_all(ids)
            metas = await c.meta.get_all(ids)
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
        self, state: _Tx, record: DedupRecord, client_id: str, m: Mutation
    ) -> MutationResult:
        replay = record.replay_of(m.seq)
        if replay is not None:
            return await self._replayed(state, m, replay)
        state.changed = True
        if m.coll in self._colls:
            result = await self._decide(state, client_id, m)
        else:
            result = MutationResult(
                m.seq, "error", code=ErrorCode.UNKNOWN_COLLECTION, msg=f"unknown collection {m.coll!r}"
            )
        record.record(m.seq, result.to_wire())
        return result

    async def _replayed(self, state: _Tx, m: Mutation, replay: Mapping[str, Any]) -> MutationResult:
        res = MutationResult(
            int(replay["seq"]),
            str(replay["s"]),
            int(replay.get("ver", 0)),
            replay.get("doc"),
            dup=True,
            code=replay.get("code"),
            msg=replay.get("msg"),
        )
        if res.s == "dup" and m.coll in self._colls:  # result evicted: report the current state
            slot = await self._slot(state, m.coll, m.id)
            res.ver = slot.meta.ver if slot.meta else 0
            res.doc = slot.doc
        return res

    async def _decide(self, state: _Tx, client_id: str, m: Mutation) -> MutationResult:
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
                    obj, doc = c.vtype.encode(decision.doc)
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

    async def _flush(self, state: _Tx) -> None:
        by_coll: dict[str, list[tuple[str, _Slot]]] = {}
        for (coll, key), slot in state.slots.items():
            if slot.dirty:
                by_coll.setdefault(coll, []).append((key, slot))
        for coll, items in by_coll.items():
            c = self._colls[coll]
            puts = {k: s.obj for k, s in items if s.obj is not None}
            removes = [k for k, s in items if s.doc is None]
            if puts:
                await c.data.put_all(puts)
            if removes:
                await c.data.remove_keys(removes)
            await c.meta.put_all({k: s.meta.to_ignite() for k, s in items if s.meta is not None})

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
            live = [str(r[0]) for r in rows if not r[2]]
            data = await c.data.get_all(live) if live else {}
            for key, ver, deleted in rows:
                doc = None if deleted else plain_doc(data.get(key))
                # A live row whose data is gone is an external delete not stamped yet: the stamp (a higher
                # version) follows; a snapshot just leaves the document out.
                if doc is None and not include_deleted:
                    continue
                out.append(Change(str(key), int(ver), doc))
            if len(rows) < want:
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
