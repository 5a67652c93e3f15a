"""Stamping: giving changes from any writer a version, and reconciling data with the meta table.

Every data event is matched against the meta table by content hash. A matching ``H`` means a hub stamped
it (in the same transaction as the data), so the change goes out with that ``VER``. Otherwise the write
came from outside (SQL, another application, a plain put) and is stamped here: in an OPTIMISTIC
SERIALIZABLE transaction the hub re-reads data and meta; if the data moved on, the event is stale (the
newer event for that key follows, per-key order is kept); if another hub stamped it meanwhile, its version
is used; else this hub writes the stamp. Hubs racing on one key conflict at commit, so exactly one stamp wins.

:func:`differences` compares one partition of data and meta and stamps every key whose data hash
differs from ``H`` (writes made while no feed ran, a hub that died, a lost continuous query, writers
that raise no event); the feed runs it over every partition when it opens, the sweep round robin, both
through :func:`partition_differences`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from pyignite.exceptions import CacheError  # type: ignore[import-untyped,unused-ignore]

from hub.core.doc import doc_hash
from hub.core.errors import BinaryDecodeError, FastPathUnavailable, StoreUnavailable
from hub.core.types import Change
from hub.ignite import EventType
from hub.store.ignite.closed import observe as observe_closed
from hub.store.ignite.cursors import CURSORS
from hub.store.ignite.encode import string_key
from hub.store.ignite.loss import lost_partitions
from hub.store.ignite.moves import move
from hub.store.ignite.moves import record as record_moves
from hub.store.ignite.read import get_all, scan_pages
from hub.store.ignite.schema import Coll, MetaRow, meta_value, register_meta
from hub.store.ignite.tx import Context, partition_lost, retry_conflicts
from hub.store.ignite.values import plain_doc
from hub.store.ignite.wire import put_all

log = logging.getLogger(__name__)

#: Keys stamped per transaction.
STAMP_CHUNK = 500

_REMOVED = (EventType.REMOVED, EventType.EXPIRED)
_CREATED = EventType.CREATED
_ABSENT = MetaRow(0, 0, "", 0, True)


def _chunks(items: list[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


async def stamp(
    ctx: Context, c: Coll, expected: Mapping[str, int], before: Mapping[str, Any] | None = None
) -> list[Change]:
    """Stamp ``expected`` (id -> hash of the data seen); return the changes to emit. ``before``: the
    data a key had before its event, when the event said (its move, moves.py)."""
    out: list[Change] = []
    for keys in _chunks(list(expected), STAMP_CHUNK):
        out.extend(
            await retry_conflicts(
                lambda keys=keys: _stamp_chunk(ctx, c, keys, expected, before or {}),  # type: ignore[misc]
                refused="stamping failed",
                gave_up=f"stamping {len(keys)} keys of {c.spec.name!r} failed",
            )
        )
    return out


async def _stamp_chunk(
    ctx: Context, c: Coll, keys: list[str], expected: Mapping[str, int], before: Mapping[str, Any]
) -> list[Change]:
    """One stamping transaction over ``keys`` (see the module doc)."""
    out: list[Change] = []
    if not c.transactional:  # ATOMIC caches cannot take part in a transaction
        data = await get_all(c.data, keys)
    async with ctx.transaction() as tx:
        if c.transactional:
            data = await get_all(c.data, keys)
        metas = await get_all(c.meta, keys)
        await observe_closed(ctx, [c.spec.name])  # stamp above the watermark (closed.py)
        writes: dict[str, Any] = {}
        moved: list[tuple[str, int, Any]] = []
        fp = c.moves.fp if c.moves is not None else 0
        now = ctx.clock()
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
            ver = ctx.hlc.next_after(now, meta.ver if meta else 0)
            writes[key] = meta_value(ctx, MetaRow(ver, ver, "", h, doc is None, fp))
            out.append(Change(key, ver, doc))
            if c.moves is not None:
                mv = move(c.moves, before.get(key), meta, key in before, doc)
                if mv is not None:
                    moved.append((key, ver, mv))
        if writes:
            if moved:
                await record_moves(ctx, c.moves, moved)
            await register_meta(ctx)
            await put_all(c.meta, {string_key(k): v for k, v in writes.items()})
            await tx.commit()
        else:
            await tx.rollback()
    return out


async def process_events(ctx: Context, c: Coll, events: Iterable[Any]) -> list[Change]:
    """Turn a run of CQ events into stamped changes (the last event per key wins).

    Events of this hub's own commits are answered from ``ctx.recent`` (no Ignite read); the others
    are checked against the meta rows, read in one getAll.
    """
    latest: dict[str, tuple[int, Any]] = {}
    repeated: set[str] = set()
    before: dict[str, Any] = {}  # the document before the key's event (query subscriptions)
    first: dict[str, Any] = {}  # ... before its first event here (a stamp's move, moves.py)
    for ev in events:
        key = ev.key
        if not isinstance(key, str):
            log.warning("collection %s: ignoring a non-string key %r", c.spec.name, key)
            continue
        doc = None if ev.type in _REMOVED else plain_doc(ev.value)
        if latest.pop(key, None) is not None:
            repeated.add(key)
        latest[key] = (doc_hash(doc), doc)
        if ev.old is not None:
            before[key] = plain_doc(ev.old)
        elif ev.type == _CREATED:
            before[key] = None
        if key in before and key not in first and key not in repeated:
            first[key] = before[key]
    out = await _stamped(ctx, c, latest, repeated, first)
    # What a subscriber of a subset may hold is the key's value before its first event here; with
    # several events (or no old value) that is not known, and query fan-out is conservative. So it
    # is after a stale event that was skipped (its key's next change must not be judged from the
    # skipped value, which no subscriber received).
    emitted = {ch.id for ch in out}
    unsure = c.unsure
    result = []
    for ch in out:
        if ch.id in before and ch.id not in repeated and ch.id not in unsure:
            ch = replace(ch, old=before[ch.id], prior=True)
        unsure.discard(ch.id)
        result.append(ch)
    unsure.update(k for k, (_, doc) in latest.items() if k not in emitted and doc is not None)
    if len(unsure) > 100_000:  # stale events are followed by their key's next one: never this many
        unsure.clear()
    return result


async def _stamped(
    ctx: Context,
    c: Coll,
    latest: dict[str, tuple[int, Any]],
    repeated: set[str],
    before: Mapping[str, Any] | None = None,
) -> list[Change]:
    if not latest:
        return []
    recent, cache = ctx.recent, c.spec.cache_name
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
        out.extend(await stamp(ctx, c, pending, before))
    return out


async def _hashes(cache: Any, name: str, partition: int) -> dict[str, int]:
    """``id -> hash`` of every entry of one partition of ``cache``."""
    out: dict[str, int] = {}
    try:
        async for rows in scan_pages(cache, 1000, partition):
            for key, value in rows:
                if isinstance(key, str):
                    out[key] = doc_hash(plain_doc(value))
    except (BinaryDecodeError, FastPathUnavailable) as e:
        log.debug("collection %s: partition %d scanned through pyignite (%s)", name, partition, e)
        out.clear()
        with CURSORS.holding("scan"):
            async with cache.scan(page_size=1000, partitions=partition) as cur:
                async for key, value in cur:
                    if isinstance(key, str):
                        out[key] = doc_hash(plain_doc(value))
    return out


async def _meta_rows(cache: Any, partition: int) -> dict[str, MetaRow]:
    out: dict[str, MetaRow] = {}
    async for rows in scan_pages(cache, 1000, partition):
        for key, value in rows:
            row = MetaRow.from_ignite(value)
            if isinstance(key, str) and row is not None:
                out[key] = row
    return out


def past_last_partition(e: Exception) -> bool:
    """Whether a scan failed because the partition number is beyond the cache's last one (and not,
    e.g., because the partition is LOST: loss.py)."""
    return "Invalid partition number" in str(e)


async def differences(ctx: Context, c: Coll, partition: int) -> dict[str, int]:
    """The keys of one partition whose data hash differs from their meta row's ``H`` (id -> data hash,
    0 for data that is gone): what changed there without being stamped (writes made while no feed
    ran, the data streamer, ``clear()``, eviction), in work bounded by the partition's size.

    The data partition is scanned, then the meta cache's partition of the same number: hub-created
    caches share their partitioning, so it holds the meta rows of the data partition's keys, and
    only data keys it lacks are looked up (all of them when the caches are partitioned
    differently: correct, just slower). Its live rows whose data was not seen are looked up in the
    data; over a full cycle every difference is found either way. A row read before a concurrent
    commit only makes a key look changed: :func:`stamp` re-reads it in a transaction.
    """
    hashes = await _hashes(c.data, c.spec.name, partition)
    try:
        rows = await _meta_rows(c.meta, partition)
    except CacheError as e:
        if not past_last_partition(e):
            raise
        rows = {}  # the meta cache has fewer partitions than the data cache
    missing = [k for k in hashes if k not in rows]
    if missing:
        found = await get_all(c.meta, [string_key(k) for k in missing])
        rows |= {k: MetaRow.from_ignite(found.get(k)) or _ABSENT for k in missing}
    pending = {k: h for k, h in hashes.items() if rows[k].h != h}
    orphans = {k: row.h for k, row in rows.items() if k not in hashes and row.h != 0}
    # live meta rows whose data was not in this data partition
    if orphans:
        data = await get_all(c.data, [string_key(k) for k in orphans])
        for key, h in orphans.items():
            found_h = doc_hash(plain_doc(data.get(key)))
            if found_h != h:
                pending[key] = found_h  # 0: the data is gone, a delete nobody stamped
    return pending


async def partition_differences(ctx: Context, c: Coll, partition: int) -> dict[str, int] | None:
    """:func:`differences` of one partition, as the sweep and the feed's opening pass read it: ``{}``
    for a LOST partition (recorded in ``c.lost``; loss.py ends the loss with a new epoch), None past
    the cache's last partition (``c.partitions`` is then set: Ignite's default until a scan says
    otherwise)."""
    if partition in c.lost:
        return {}
    try:
        return await ctx.call(lambda: differences(ctx, c, partition))
    except (CacheError, StoreUnavailable) as e:
        if partition > 0 and past_last_partition(e):
            c.partitions = partition
            return None
        if not partition_lost(e):
            raise
        await ctx.call(lambda: lost_partitions(ctx, c))
        c.lost.add(partition)
        return {}
