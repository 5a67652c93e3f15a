"""Live feed of a collection: continuous query on the data cache, stamping, reconcile.

Every data event is matched against the meta table by content hash. A matching ``H`` means a hub stamped
it (in the same transaction as the data), so the change goes out with that ``VER``. Otherwise the write
came from outside (SQL, another application, a plain put) and is stamped here: in an OPTIMISTIC
SERIALIZABLE transaction the hub re-reads data and meta; if the data moved on, the event is stale (the
newer event for that key follows, per-key order is kept); if another hub stamped it meanwhile, its version
is used; else this hub writes the stamp. Hubs racing on one key conflict at commit, so exactly one stamp wins.

On open the CQ starts first, then :func:`reconcile` scans data and meta and stamps every key whose data hash
differs from ``H`` (writes made while no feed ran, a hub that died, a lost CQ); those changes are emitted
first. Live events that overlap the scan are stamped once and emitted again with the same version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pyignite.datatypes.transactions import (  # type: ignore[import-untyped,unused-ignore]
    TransactionConcurrency,
    TransactionIsolation,
)
from pyignite.exceptions import (  # type: ignore[import-untyped,unused-ignore]
    CacheError,
    ReconnectError,
    SocketError,
)

from hub.core.doc import doc_hash
from hub.core.errors import StoreUnavailable
from hub.store.base import Change, FeedLost, TimedChanges
from hub.store.ignite_binary import string_key
from hub.store.ignite_meta import MetaRow
from hub.store.ignite_read import BinaryDecodeError, FastPathUnavailable, get_all, scan_pages

if TYPE_CHECKING:
    from hub.store.ignite import Coll, IgniteStore

log = logging.getLogger(__name__)

#: CQ notifications carry up to this many events; a partial page is flushed after CQ_TIME_INTERVAL_MS.
#: (measured on 2.17: a local node still sends about one frame per event, so the buffer must absorb bursts.)
CQ_PAGE_SIZE = 128
CQ_TIME_INTERVAL_MS = 20
CQ_BUFFER_BATCHES = 65536  # notifications (a local node sends about one per event)
CQ_BUFFER_BYTES = 256 << 20  # and bytes: whichever fills first loses the feed (-> resync), never memory
#: Keys stamped per transaction.
STAMP_CHUNK = 500
#: CQ events gathered (from notifications already received) before one meta lookup / stamp round.
MAX_EVENTS_PER_ROUND = 2000
#: Changes per yielded list during reconcile.
RECONCILE_CHUNK = 1000


def _chunks(items: list[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


async def stamp(store: IgniteStore, c: Coll, expected: Mapping[str, int]) -> list[Change]:
    """Stamp ``expected`` (id -> hash of the data seen); return the changes to emit."""
    out: list[Change] = []
    for keys in _chunks(list(expected), STAMP_CHUNK):
        out.extend(await _stamp_chunk(store, c, keys, expected))
    return out


async def _stamp_chunk(
    store: IgniteStore, c: Coll, keys: list[str], expected: Mapping[str, int]
) -> list[Change]:
    from hub.store.ignite import TX_ATTEMPTS, TX_TIMEOUT_MS, is_tx_conflict, plain_doc

    delay = 0.005
    for _ in range(TX_ATTEMPTS):
        try:
            out: list[Change] = []
            if not c.transactional:  # ATOMIC caches cannot take part in a transaction
                data = await get_all(c.data, keys)
            async with store.client.tx_start(
                TransactionConcurrency.OPTIMISTIC, TransactionIsolation.SERIALIZABLE, TX_TIMEOUT_MS
            ) as tx:
                if c.transactional:
                    data = await get_all(c.data, keys)
                metas = await get_all(c.meta, keys)
                writes: dict[str, Any] = {}
                now = store.clock()
                for key in keys:
                    doc = plain_doc(data.get(key))
                    h = doc_hash(doc)
                    if h != expected[key]:
                        continue  # stale: the data changed again, its own event follows
                    meta = MetaRow.from_ignite(metas.get(key))
                    if meta is not None and meta.h == h:
                        out.append(Change(key, meta.ver, doc))  # stamped already (by a hub, maybe another)
                        continue
                    if meta is None and doc is None:
                        continue  # gone and never stamped: nobody holds a version of it
                    ver = store.hlc.next_after(now, meta.ver if meta else 0)
                    writes[key] = store.meta_value(MetaRow(ver, ver, "", h, doc is None))
                    out.append(Change(key, ver, doc))
                if writes:
                    await store.register_meta()
                    await c.meta.put_all({string_key(k): v for k, v in writes.items()})
                    await tx.commit()
                else:
                    await tx.rollback()
            return out
        except CacheError as e:
            if not is_tx_conflict(e):
                raise StoreUnavailable(f"stamping failed: {e}") from e
        await asyncio.sleep(delay * (0.5 + secrets.randbelow(1000) / 1000))
        delay = min(delay * 2, 0.2)
    raise StoreUnavailable(f"stamping {len(keys)} keys of {c.spec.name!r} kept conflicting")


async def process_events(store: IgniteStore, c: Coll, events: Iterable[Any]) -> list[Change]:
    """Turn a run of CQ events into stamped changes (the last event per key wins).

    Events of this hub's own commits are answered from ``store.recent`` (no Ignite read); the others
    are checked against the meta rows, read in one getAll.
    """
    from hub.ignite import EventType
    from hub.store.ignite import plain_doc

    removed = (EventType.REMOVED, EventType.EXPIRED)
    latest: dict[str, tuple[int, Any]] = {}
    repeated: set[str] = set()
    for ev in events:
        key = ev.key
        if not isinstance(key, str):
            log.warning("collection %s: ignoring a non-string key %r", c.spec.name, key)
            continue
        doc = None if ev.type in removed else plain_doc(ev.value)
        if latest.pop(key, None) is not None:
            repeated.add(key)
        latest[key] = (doc_hash(doc), doc)
    if not latest:
        return []
    recent, cache = store.recent, c.spec.cache_name
    claimed = {}
    for key, (h, _) in latest.items():
        entry = recent.claim(cache, key)  # every event consumes the key's entry
        if entry is not None and key not in repeated:
            claimed[key] = (entry, h)
    known = await recent.resolve(claimed) if claimed else {}
    unknown = [key for key in latest if key not in known]
    metas = await get_all(c.meta, [string_key(k) for k in unknown]) if unknown else {}
    out: list[Change] = []
    pending: dict[str, int] = {}
    for key, (h, doc) in latest.items():
        ver = known.get(key)
        if ver is not None:
            out.append(Change(key, ver, doc))
            continue
        meta = MetaRow.from_ignite(metas.get(key))
        if meta is not None and meta.h == h:
            out.append(Change(key, meta.ver, doc))
        elif meta is None and doc is None:
            continue
        else:
            pending[key] = h
    if pending:
        out.extend(await stamp(store, c, pending))
    return out


async def reconcile(store: IgniteStore, c: Coll) -> list[Change]:
    """Stamp every key whose data hash differs from its meta row (including rows whose data is gone)."""
    from hub.store.ignite import plain_doc

    hashes: dict[str, int] = {}
    try:
        async for rows in scan_pages(c.data, page_size=1000):
            for key, value in rows:
                if isinstance(key, str):
                    hashes[key] = doc_hash(plain_doc(value))
    except (BinaryDecodeError, FastPathUnavailable) as e:
        log.warning("collection %s: reconcile scans through pyignite (%s)", c.spec.name, e)
        hashes.clear()
        async with c.data.scan(page_size=1000) as cur:
            async for key, value in cur:
                if isinstance(key, str):
                    hashes[key] = doc_hash(plain_doc(value))
    pending: dict[str, int] = {}
    cur2 = await store.client.sql(f"SELECT ID, H FROM {c.table}", page_size=1000)
    async with cur2:
        async for key, h in cur2:
            data_h = hashes.pop(key, 0)
            if int(h or 0) != data_h:
                pending[key] = data_h
    pending.update(hashes)  # data without any meta row
    if not pending:
        return []
    log.info("collection %s: reconcile stamps %d keys", c.spec.name, len(pending))
    return await stamp(store, c, pending)


async def _iterate(store: IgniteStore, c: Coll, cq: Any) -> AsyncGenerator[list[Change], None]:
    from hub.ignite import ContinuousQueryError, SubscriptionLost

    try:
        found = await store._call(lambda: reconcile(store, c), timeout=600.0)
        found.sort(key=lambda ch: ch.ver)
        for i in range(0, len(found), RECONCILE_CHUNK):
            yield found[i : i + RECONCILE_CHUNK]
        while True:
            try:
                events = list(await cq.__anext__())
                received = time.monotonic()
                while cq.buffered and len(events) < MAX_EVENTS_PER_ROUND:
                    events.extend(await cq.__anext__())
            except StopAsyncIteration:
                return
            out = await store._call(lambda ev=events: process_events(store, c, ev))  # type: ignore[misc]
            if out:
                yield TimedChanges(out, received)
    except SubscriptionLost as e:
        raise FeedLost(f"continuous query on {c.spec.cache_name!r} lost: {e}") from e
    except (ContinuousQueryError, ReconnectError, SocketError, OSError) as e:
        # e.g. decoding an event needed binary metadata and the node serving that request died
        raise FeedLost(f"continuous query on {c.spec.cache_name!r} failed: {e!r}") from e
    except StoreUnavailable as e:
        raise FeedLost(f"feed of {c.spec.name!r} broke: {e}") from e


@contextlib.asynccontextmanager
async def open_feed(store: IgniteStore, c: Coll) -> AsyncIterator[AsyncIterator[list[Change]]]:
    """Start the CQ, then hand out an iterator that reconciles first and then follows the CQ."""
    from hub.ignite import ContinuousQueryError, continuous_query

    store.recent.forget(c.spec.cache_name)  # entries whose events a lost CQ never delivered
    cq = continuous_query(
        store.client,
        c.spec.cache_name,
        page_size=CQ_PAGE_SIZE,
        time_interval_ms=CQ_TIME_INTERVAL_MS,
        buffer_batches=CQ_BUFFER_BATCHES,
        buffer_bytes=CQ_BUFFER_BYTES,
    )
    try:
        await cq.__aenter__()
    except (ContinuousQueryError, ConnectionError, OSError) as e:
        raise StoreUnavailable(f"cannot start a continuous query on {c.spec.cache_name!r}: {e}") from e
    it = _iterate(store, c, cq)
    try:
        yield it
    finally:
        with contextlib.suppress(Exception):
            await it.aclose()
        await cq.aclose()
