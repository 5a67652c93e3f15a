"""The read path: key-value reads (getAll, scan) and SQL queries (:func:`sql_pages`, :func:`sql`) decoded
by the hub's own binary decoder instead of pyignite's, and the version-ordered pages of the meta table
(:func:`changes`, snapshot and catch-up). The requests go out through :mod:`hub.store.ignite.wire`.

pyignite decodes every binary object of a ``get_all``/``scan`` response field by field in pure Python, one
asyncio task per value and per field, which dominated snapshot, catch-up, the apply prefetch and stamping.
Here the request is sent over one of the client's pooled connections (or, inside a pyignite transaction,
over the transaction's connection with its tx id, exactly as pyignite's own ``get_all`` does) and the
response payload is decoded synchronously by :class:`hub.ignite.metadata.BinaryDecoder` (the decoder of
continuous-query events, sharing its cached binary metadata).

Values come back as the decoder produces them (:class:`~hub.ignite.binary_types.BinaryObject` dicts, lists,
aware UTC datetimes, ...); :func:`hub.store.ignite.values.plain` / ``fields_of`` turn both these and
pyignite's values into the same plain Python (tests compare the two decodings).

Partition awareness is not used (pyignite's ``get_all`` does not use it either): the request goes to a
random node, which routes it. A value the decoder cannot read (:class:`BinaryDecodeError`: a type it does
not know) makes the call fall back to pyignite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from pyignite.api.tx_api import get_tx_connection, get_tx_id  # type: ignore[import-untyped,unused-ignore]
from pyignite.exceptions import CacheError, SQLError  # type: ignore[import-untyped,unused-ignore]

from hub.core.doc import doc_hash
from hub.core.errors import BinaryDecodeError, FastPathUnavailable, RetentionPassed
from hub.core.types import Change
from hub.ignite.binary_types import hashable
from hub.ignite.decode import BinaryReader
from hub.ignite.metadata import BinaryDecoder
from hub.ignite.protocol import I32, I64, NULL, OpCode
from hub.ignite.sql import encode_query, read_first_page, read_page
from hub.store.ignite.cursors import CURSORS
from hub.store.ignite.schema import Coll, floor_key
from hub.store.ignite.tx import Context, retry_conflicts
from hub.store.ignite.values import plain_doc
from hub.store.ignite.wire import call, close_cursor, connection_for, fallback, open_cursor, serialised

__all__ = ["changes", "count", "get_all", "scan_pages", "sql", "sql_pages", "unseen"]


def _pairs(r: BinaryReader, n: int) -> list[tuple[Any, Any]]:
    out = []
    for _ in range(n):
        k = r.read()
        out.append((k, r.read()))
    return out


def _read_map(r: BinaryReader) -> dict[Any, Any]:
    n = r.i32()
    if n < 0:
        raise BinaryDecodeError(f"negative entry count {n}")
    return {hashable(k): v for k, v in _pairs(r, n)}


async def get_all(cache: Any, keys: Iterable[Any]) -> dict[Any, Any]:
    """``cache.get_all(keys)`` (keys: str or ``string_key`` tuples), values decoded by the hub's decoder."""
    keys = list(keys)
    if not keys:
        return {}
    try:
        payload = I32.pack(len(keys)) + b"".join(serialised(k) for k in keys)
        conn, header = await connection_for(cache)
    except FastPathUnavailable as e:
        fallback(f"getAll on {cache.name}", e)
        return dict(await cache.get_all(keys))
    body = await call(conn, OpCode.CACHE_GET_ALL, header + payload)
    try:
        result: dict[Any, Any] = await BinaryDecoder.for_client(cache.client).run(_read_map, body, 0)
        return result
    except BinaryDecodeError as e:
        fallback(f"getAll on {cache.name}", e)
        return dict(await cache.get_all(keys))


def _read_page(r: BinaryReader) -> tuple[list[tuple[Any, Any]], bool]:
    n = r.i32()
    if n < 0:
        raise BinaryDecodeError(f"negative row count {n}")
    rows = _pairs(r, n)
    return rows, r.u8() != 0


async def scan_pages(
    cache: Any, page_size: int = 1000, partition: int = -1
) -> AsyncIterator[list[tuple[Any, Any]]]:
    """A scan query of ``cache`` (outside transactions), page by page of ``(key, value)``: the whole
    cache, or one ``partition``.

    Raises:
        BinaryDecodeError: a value the hub's decoder cannot read;
        FastPathUnavailable: inside a transaction, or a cache with an expiry policy (use pyignite's scan).
    """
    if get_tx_connection() is not None:
        raise FastPathUnavailable("scan inside a transaction")
    conn, header = await connection_for(cache)
    decoder = BinaryDecoder.for_client(cache.client)
    # filter: null; page size; partition (-1: all); local: false
    query = header + NULL + I32.pack(page_size) + I32.pack(partition) + b"\x00"
    body = await open_cursor(conn, OpCode.QUERY_SCAN, query, "scan", CacheError)
    cursor: int = I64.unpack_from(body, 0)[0]
    more = True
    with CURSORS.holding("scan"):
        try:
            rows, more = await decoder.run(_read_page, body, 8)
            yield rows
            while more:
                body = await call(conn, OpCode.QUERY_SCAN_CURSOR_GET_PAGE, I64.pack(cursor))
                rows, more = await decoder.run(_read_page, body, 0)
                yield rows
        finally:
            if more:
                await close_cursor(conn, cursor, "scan")


# -- SQL reads of the meta table ------------------------------------------------------------------------


async def sql_pages(
    client: Any,
    query: str,
    args: Sequence[Any] = (),
    page_size: int = 1024,
    *,
    schema: str = "PUBLIC",
    enforce_join_order: bool = False,
) -> AsyncIterator[list[list[Any]]]:
    """An SQL fields query (outside transactions), page by page of rows (lists of column values),
    decoded by the hub's decoder (:mod:`hub.ignite.sql`); at most one page is held at a time. A
    consumer that stops early (``aclose``, or dropping the generator) closes the server's cursor.

    Values: VARCHAR str, BIGINT/INT/SMALLINT/TINYINT int, BOOLEAN bool, DOUBLE/REAL float, DECIMAL
    Decimal, UUID uuid.UUID, NULL None, as pyignite reads them; TIMESTAMP/DATE are aware UTC
    datetimes and binary objects :class:`~hub.ignite.binary_types.BinaryObject` (pyignite: a
    (datetime, nanos) tuple, a naive datetime, a generated class), which no store query selects.

    Raises:
        SQLError: Ignite refused the query (bad SQL, missing table: what pyignite raises);
        BinaryDecodeError: a value the hub's decoder cannot read;
        FastPathUnavailable: inside a transaction, or an argument type :func:`encode_query` does not
            encode (use pyignite's cursor).
    """
    if get_tx_connection() is not None or get_tx_id():
        raise FastPathUnavailable("SQL inside a transaction")
    payload = encode_query(query, args, page_size, schema=schema, enforce_join_order=enforce_join_order)
    conn = await client.random_node()
    body = await open_cursor(conn, OpCode.QUERY_SQL_FIELDS, payload, "sql", SQLError)
    decoder = BinaryDecoder.for_client(client)
    more = True
    with CURSORS.holding("sql"):
        cursor = I64.unpack_from(body, 0)[0]
        try:
            # bytes: slicing and decoding strings out of them is cheaper than out of a memoryview
            _, columns, rows, more = await decoder.run(read_first_page, bytes(body), 0)
            yield rows
            while more:
                body = await call(conn, OpCode.QUERY_SQL_FIELDS_CURSOR_GET_PAGE, I64.pack(cursor), SQLError)
                rows, more = await decoder.run(lambda r: read_page(r, columns), bytes(body), 0)
                yield rows
        finally:
            if more:
                await close_cursor(conn, cursor, "sql")


async def _sql_pyignite(
    client: Any, query: str, args: Sequence[Any], page_size: int, **opts: Any
) -> list[list[Any]]:
    cur = await client.sql(query, query_args=list(args), page_size=page_size, **opts)
    rows: list[list[Any]] = []
    with CURSORS.holding("sql"):
        async with cur:
            async for row in cur:
                rows.append(row)
    return rows


async def sql(
    client: Any,
    query: str,
    args: Sequence[Any] = (),
    page_size: int = 1024,
    *,
    enforce_join_order: bool = False,
) -> list[list[Any]]:
    """All rows of one SQL query (schema PUBLIC), through :func:`sql_pages`; through pyignite's cursor
    inside a transaction, for an argument type the hub does not encode, or a value of a SELECT it
    cannot decode (a statement that changes data is not run twice: its update count is a long).

    Raises:
        SQLError: as pyignite raises it (bad SQL, a missing table, ...).
    """
    rows: list[list[Any]] = []
    try:
        async for page in sql_pages(client, query, args, page_size, enforce_join_order=enforce_join_order):
            rows.extend(page)
        return rows
    except FastPathUnavailable as e:
        fallback("SQL", e)
    except BinaryDecodeError as e:
        if query.lstrip()[:6].upper() != "SELECT":
            raise
        fallback("SQL", e)
    opts = {"enforce_join_order": True} if enforce_join_order else {}
    return await _sql_pyignite(client, query, args, page_size, **opts)


#: Rows read past a page's ``limit``: when the page's last version continues into them, they hold
#: the rest of its group (no second query); only a longer group of equal versions needs one.
TIE_ROWS = 16


async def _rows_upto_group(
    ctx: Context, c: Coll, where: str, cursor: int, want: int
) -> tuple[list[list[Any]], bool]:
    """Meta rows ``VER > cursor`` (``where``: more conditions) in version order: ``want`` of them and
    the rest of the last one's group of equal versions, and whether more rows follow."""
    query = f"SELECT ID, VER, H, DEL FROM {c.table} WHERE VER > ?{where} ORDER BY VER LIMIT ?"
    rows = await sql(ctx.client, query, (cursor, want + TIE_ROWS), page_size=min(want + TIE_ROWS, 2048))
    if len(rows) <= want:
        return rows, False
    # Two hubs can stamp different documents with the same version: a page must never end inside
    # such a group, or resuming with VER > last would skip its other rows.
    last = int(rows[want - 1][1])
    page = rows[:want] + [r for r in rows[want:] if int(r[1]) == last]
    if len(page) == len(rows) == want + TIE_ROWS:  # the group may go on past what was read
        have = {str(r[0]) for r in page if int(r[1]) == last}
        tie = await sql(ctx.client, f"SELECT ID, VER, H, DEL FROM {c.table} WHERE VER = ?{where}", (last,))
        page += [r for r in tie if str(r[0]) not in have]
    return page, True


async def changes(ctx: Context, c: Coll, after: int, limit: int, include_deleted: bool) -> list[Change]:
    """``Store.changes``: meta rows with ``VER > after`` in version order, with their data.

    Raises:
        RetentionPassed: ``include_deleted`` and ``after`` is below the collection's tombstone floor.
    """
    out: list[Change] = []
    cursor = after
    where = "" if include_deleted else " AND DEL = FALSE"
    while len(out) < limit:
        rows, full = await _rows_upto_group(ctx, c, where, cursor, max(limit - len(out), 1))
        data = await data_for(ctx, c, ((str(k), int(h or 0), bool(d)) for k, _, h, d in rows))
        for key, ver, _h, deleted in rows:
            doc = None if deleted else data.get(str(key))
            # A live row whose data is gone is an external delete not stamped yet: the stamp (a higher
            # version) follows; a snapshot just leaves the document out.
            if doc is None and not include_deleted:
                continue
            out.append(Change(str(key), int(ver), doc))
        if not full:
            break
        cursor = int(rows[-1][1])
    if include_deleted:
        floor = int(await ctx.sys.get(floor_key(c.spec.name)) or 0)
        if after < floor:
            raise RetentionPassed(f"tombstones of {c.spec.name!r} up to version {floor} may have been purged")
    return out


async def data_for(ctx: Context, c: Coll, rows: Iterable[tuple[str, int, bool]]) -> dict[str, Any]:
    """The data of the live ``(id, H, deleted)`` meta rows as plain documents (``plain_doc``; None
    for data that is gone), each of its row's version or newer."""
    hashes = {key: h for key, h, deleted in rows if not deleted}
    if not hashes:
        return {}
    # made plain once: for the hash check and for whoever sends them
    data = {key: plain_doc(value) for key, value in (await get_all(c.data, list(hashes))).items()}
    torn = [key for key, h in hashes.items() if doc_hash(data.get(key)) != h]
    if torn:
        data.update((key, plain_doc(value)) for key, value in (await _reread(ctx, c, torn)).items())
    return data


async def _reread(ctx: Context, c: Coll, keys: list[str]) -> dict[str, Any]:
    """The data of ``keys`` read again, inside a transaction: from their primaries, at one serializable
    point. For rows whose data did not match their meta row's hash: a read torn across a commit
    (Ignite's commit is not atomic for readers outside it) or served by a backup that has not applied
    it yet (``PRIMARY_SYNC``). What the transaction reads is that version's content or newer; a page
    never pairs a version with older content (docs/sync-model.md §4). ATOMIC caches (read-only
    collections) take no part in transactions: their data is read again, once."""
    if not c.transactional:
        return dict(await get_all(c.data, keys))

    async def once() -> dict[str, Any]:
        async with ctx.transaction() as tx:
            data = await get_all(c.data, keys)
            await get_all(c.meta, keys)  # enlisted: a commit of either since makes this one conflict
            await tx.commit()
        return dict(data)

    return await retry_conflicts(
        once, refused="re-reading torn rows failed", gave_up=f"re-reading {c.spec.name!r}"
    )


async def unseen(
    ctx: Context, c: Coll, after: int, upto: int, seen: Mapping[str, int], limit: int
) -> tuple[list[Change], int]:
    """``Store.unseen``: changes with ``after < VER <= upto`` whose version is not in ``seen``, and the
    version they cover (``upto``, or less when ``limit`` rows were read)."""
    rows = await sql(
        ctx.client,
        f"SELECT ID, VER, H, DEL FROM {c.table} WHERE VER > ? AND VER <= ? ORDER BY VER LIMIT ?",
        (after, upto, limit),
        page_size=min(limit, 1024),
    )
    reached = upto
    if len(rows) >= limit:
        reached = int(rows[-1][1])  # never end inside a group of equal versions (see changes)
        have = {str(r[0]) for r in rows if int(r[1]) == reached}
        tie = await sql(ctx.client, f"SELECT ID, VER, H, DEL FROM {c.table} WHERE VER = ?", (reached,))
        rows = list(rows) + [r for r in tie if str(r[0]) not in have]
    missing = [
        (str(key), int(ver), int(h or 0), bool(deleted))
        for key, ver, h, deleted in rows
        if seen.get(str(key), -1) < int(ver)
    ]
    data = await data_for(ctx, c, ((key, h, deleted) for key, _, h, deleted in missing))
    out = [Change(key, ver, None if deleted else data.get(key)) for key, ver, _, deleted in missing]
    return out, reached


async def count(ctx: Context, c: Coll) -> int:
    """Number of live documents (by their meta rows)."""
    rows = await sql(ctx.client, f"SELECT COUNT(*) FROM {c.table} WHERE DEL = FALSE")
    return int(rows[0][0]) if rows else 0
