"""hub.store.ignite.read: getAll / scan decoded by the hub's decoder read the same values as pyignite."""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from pyignite import GenericObjectMeta
from pyignite.datatypes import (
    BinaryObject,
    BoolObject,
    ByteArrayObject,
    ByteObject,
    CharObject,
    CollectionObject,
    DateObject,
    DecimalObject,
    DoubleObject,
    FloatObject,
    IntArrayObject,
    IntObject,
    LongObject,
    MapObject,
    ShortObject,
    String,
    StringArrayObject,
    TimeObject,
    TimestampObject,
    UUIDObject,
)
from pyignite.datatypes.transactions import TransactionConcurrency, TransactionIsolation

from hub.core.doc import doc_hash
from hub.core.types import Change, CollectionSpec, Mutation
from hub.store.ignite import IgniteStore, read
from hub.store.ignite.encode import string_key
from hub.store.ignite.read import get_all, scan_pages
from hub.store.ignite.schema import MetaRow
from hub.store.ignite.values import ValueType, plain_doc
from hub.store.ignite.wire import put_all


@pytest.fixture
async def store(ignite_addresses: list[tuple[str, int]]) -> AsyncIterator[IgniteStore]:
    s = IgniteStore(ignite_addresses)
    await s.open()
    yield s
    await s.close()


async def sql(client: Any, query: str, args: list[Any] | None = None) -> None:
    cur = await client.sql(query, query_args=args or [])
    async with cur:
        async for _ in cur:
            pass


async def assert_same_reads(cache: Any, keys: list[str]) -> dict[str, Any]:
    """Both decodings of getAll and scan agree (plain values and doc_hash); returns the plain docs."""
    slow = await cache.get_all(keys)
    fast = await get_all(cache, keys)
    fast_raw_keys = await get_all(cache, [string_key(k) for k in keys])
    assert set(slow) == set(fast) == set(fast_raw_keys) <= set(keys)  # absent keys are left out
    docs: dict[str, Any] = {}
    for k in fast:
        a, b, c = plain_doc(slow[k]), plain_doc(fast[k]), plain_doc(fast_raw_keys[k])
        assert a == b == c, k
        assert doc_hash(a) == doc_hash(b), k
        docs[k] = b
    scanned: dict[Any, Any] = {}
    async for rows in scan_pages(cache, page_size=2):  # several pages
        scanned.update(rows)
    slow_scan: dict[Any, Any] = {}
    async with cache.scan(page_size=2) as cur:
        async for k, v in cur:
            slow_scan[k] = v
    assert set(scanned) == set(slow_scan)
    for k in scanned:
        assert plain_doc(scanned[k]) == plain_doc(slow_scan[k]), k
    return docs


async def test_table_backed_sql_rows(store: IgniteStore, cache_name: str) -> None:
    table = cache_name.upper()
    # (no DATE column: SQL stores java.sql.Date with the optimized marshaller, which neither pyignite nor
    # the hub's decoder reads)
    await sql(
        store.client,
        f"CREATE TABLE {table} (ID VARCHAR PRIMARY KEY, S VARCHAR, I INT, L BIGINT, SM SMALLINT, "
        "TI TINYINT, B BOOLEAN, D DOUBLE, R REAL, DEC DECIMAL(20, 4), TS TIMESTAMP, TM TIME, U UUID, "
        f'BIN BINARY) WITH "cache_name={cache_name},value_type={cache_name}_v,atomicity=transactional"',
    )
    ins = f"INSERT INTO {table} (ID, S, I, L, SM, TI, B, D, R, DEC, TS, TM, U, BIN) VALUES " + (
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, TIMESTAMP '2024-05-06 07:08:09.123456789', ?, ?, ?)"
    )
    await sql(
        store.client,
        ins,
        [
            "full",
            "ünïcødé ✓",
            -7,
            1 << 40,
            -300,
            12,
            True,
            2.5,
            1.25,
            Decimal("-12345.6789"),
            dt.timedelta(hours=13, minutes=14, seconds=15),
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
            b"\x00\x01\xff",
        ],
    )
    await sql(store.client, f"INSERT INTO {table} (ID, S) VALUES ('nulls', NULL)")
    await sql(store.client, f"INSERT INTO {table} (ID, DEC, I) VALUES ('dec', 0.5, 0)")
    await store.ensure_collection(CollectionSpec(cache_name, value_type=f"{cache_name}_v", writable=False))
    docs = await assert_same_reads(store.coll(cache_name).data, ["full", "nulls", "dec"])
    full = docs["full"]
    assert full["S"] == "ünïcødé ✓" and full["DEC"] == Decimal("-12345.6789")
    assert full["U"] == uuid.UUID("12345678-1234-5678-1234-567812345678") and full["BIN"] == b"\x00\x01\xff"
    assert isinstance(full["TS"], dt.datetime) and full["TS"].tzinfo is not None
    assert docs["nulls"] == {"S": None}  # SQL leaves out the other (null) columns
    stamped = await store.stamp(store.coll(cache_name), {k: doc_hash(d) for k, d in docs.items()})
    assert {ch.id: ch.doc for ch in stamped} == docs  # what the feed does for external writes
    changes = await store.changes(cache_name, 0, 10, include_deleted=False)
    assert {ch.id: ch.doc for ch in changes} == docs


Inner = GenericObjectMeta(
    "ReadInner",
    (),
    {},
    type_name="ReadInner",
    schema=OrderedDict([("id", String), ("n", IntObject)]),
)
Wide = GenericObjectMeta(
    "ReadWide",
    (),
    {},
    type_name="ReadWide",
    schema=OrderedDict(
        [
            ("c", CharObject),
            ("f", FloatObject),
            ("sh", ShortObject),
            ("by", ByteObject),
            ("d", DoubleObject),
            ("b", BoolObject),
            ("dt", DateObject),
            ("ts", TimestampObject),
            ("tm", TimeObject),
            ("dec", DecimalObject),
            ("u", UUIDObject),
            ("ia", IntArrayObject),
            ("sa", StringArrayObject),
            ("raw", ByteArrayObject),
            ("col", CollectionObject),
            ("map", MapObject),
            ("inner", BinaryObject),
            ("none", LongObject),
        ]
    ),
)


async def test_values_written_by_pyignite(store: IgniteStore, cache_name: str) -> None:
    await store.ensure_collection(CollectionSpec(cache_name, value_type="ReadWide"))
    c = store.coll(cache_name)
    wide = Wide(
        c="é",
        f=0.1,
        sh=-2,
        by=-128,
        d=1e300,
        b=False,
        dt=dt.datetime(1999, 12, 31, 23, 59, 59),
        ts=(dt.datetime(2020, 1, 2, 3, 4, 5, 678000), 901234),
        tm=dt.timedelta(hours=1, milliseconds=5),
        dec=Decimal("3.14159265358979323846"),
        u=uuid.uuid4(),
        ia=[1, -2, 3],
        sa=["x", "", "ÿ"],
        raw=b"\x01\x02",
        col=(CollectionObject.ARR_LIST, [1, "two", None, 2.5, [True]]),
        map=(MapObject.HASH_MAP, {"k": 1, "nested": {"a": [1, 2]}, "n": None}),
        inner=Inner(id="inner-id", n=5),
        none=None,
    )
    await c.data.put("w", wide)
    docs = await assert_same_reads(c.data, ["w"])
    w = docs["w"]
    assert w["inner"] == {"id": "inner-id", "n": 5} and w["none"] is None
    assert w["tm"] == dt.time(1, 0, 0, 5000) and w["c"] == "é"
    assert w["ts"] == dt.datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)


async def test_documents_written_by_the_hub(store: IgniteStore, cache_name: str) -> None:
    await store.ensure_collection(CollectionSpec(cache_name))
    docs = {
        "a": {"i": 1, "title": "t", "tags": ["a", 1, None, [2.5, {"x": True}]], "m": {"k": {"n": [True]}}},
        "b": {
            "t": dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC),
            "u": uuid.UUID(int=12345),
            "dec": Decimal("1.25"),
            "raw": b"\x00\xff",
            "none": None,
        },
        "c": {"big": "x" * 70000, "n": -(1 << 63)},
    }
    cl = f"c-{cache_name}"
    res = await store.apply(
        cl, [Mutation(cl, i + 1, cache_name, k, "put", d, 10 + i, 0) for i, (k, d) in enumerate(docs.items())]
    )
    assert all(r.s == "ok" for r in res)
    read = await assert_same_reads(store.coll(cache_name).data, [*docs, "missing"])
    assert "missing" not in read
    for r in res:
        assert r.changed and read[r.changed[0].id] == r.doc
    metas_slow = await store.coll(cache_name).meta.get_all(list(docs))
    metas_fast = await get_all(store.coll(cache_name).meta, list(docs))
    for k in docs:
        assert MetaRow.from_ignite(metas_slow[k]) == MetaRow.from_ignite(metas_fast[k])
        assert MetaRow.from_ignite(metas_fast[k]).h == doc_hash(read[k])  # type: ignore[union-attr]
    changes = await store.changes(cache_name, 0, 2, include_deleted=True)  # paging
    changes += await store.changes(cache_name, changes[-1].ver, 10, include_deleted=True)
    assert {ch.id: ch.doc for ch in changes} == {k: read[k] for k in docs}


async def test_get_all_inside_a_transaction_reads_its_writes(store: IgniteStore, cache_name: str) -> None:
    await store.ensure_collection(CollectionSpec(cache_name))
    c = store.coll(cache_name)
    vt = ValueType(f"{cache_name}_x")
    await c.data.put("k", vt.encode({"v": "old"})[0])
    async with store.client.tx_start(
        TransactionConcurrency.PESSIMISTIC, TransactionIsolation.REPEATABLE_READ, 10_000
    ) as tx:
        await c.data.put("k", vt.encode({"v": "in tx"})[0])
        inside = await get_all(c.data, ["k"])
        assert plain_doc(inside["k"]) == {"v": "in tx"}

        async def outside() -> Any:
            return await get_all(c.data, ["k"])

        # a task outside the transaction reads past the uncommitted write
        task = asyncio.get_running_loop().create_task(outside(), context=contextvars.Context())
        assert plain_doc((await task)["k"]) == {"v": "old"}
        await tx.rollback()
    assert plain_doc((await get_all(c.data, ["k"]))["k"]) == {"v": "old"}


async def test_put_all_sends_serialised_entries_within_the_transaction(
    store: IgniteStore, cache_name: str
) -> None:
    await store.ensure_collection(CollectionSpec(cache_name))
    c = store.coll(cache_name)
    vt = ValueType(f"{cache_name}_x")
    raw = {string_key(k): vt.encode_raw({"v": k, "n": i})[0] for i, k in enumerate(["a", "b", "é" * 40])}
    await vt.register(store.client, store.ctx.types_token)
    for commit in (False, True):
        async with store.client.tx_start(
            TransactionConcurrency.PESSIMISTIC, TransactionIsolation.REPEATABLE_READ, 10_000
        ) as tx:
            await put_all(c.data, raw)
            assert len(await get_all(c.data, ["a", "b"])) == 2  # the transaction reads its writes
            await (tx.commit() if commit else tx.rollback())
        found = await c.data.get_all(["a", "b", "é" * 40])  # pyignite's reader: the same bytes
        assert {k: plain_doc(v) for k, v in found.items()} == (
            {"a": {"v": "a", "n": 0}, "b": {"v": "b", "n": 1}, "é" * 40: {"v": "é" * 40, "n": 2}}
            if commit
            else {}
        )
    # a value pyignite must serialise itself goes through pyignite's putAll
    await put_all(c.data, {"p": vt.encode({"v": "plain"})[0]})
    assert plain_doc(await c.data.get("p")) == {"v": "plain"}


@pytest.mark.parametrize("include_deleted", [False, True], ids=["snapshot", "catchup"])
async def test_a_page_never_pairs_a_version_with_older_content(
    ignite_addresses: list[tuple[str, int]],
    cache_name: str,
    monkeypatch: pytest.MonkeyPatch,
    include_deleted: bool,
) -> None:
    """A data read that returns the content from before the commit whose meta row the page read (a
    read torn across the commit, or a backup that has not applied it yet): the page must not carry
    the new version with the old content, or the client keeps the old content for good (the live
    event of that version is ignored as already held)."""
    store = IgniteStore(ignite_addresses)
    await store.open()
    try:
        await store.ensure_collection(CollectionSpec(cache_name))
        cl = f"c-{cache_name}"
        [r1] = await store.apply(cl, [Mutation(cl, 1, cache_name, "x", "put", {"n": 1}, 5, None)])
        [r2] = await store.apply(cl, [Mutation(cl, 2, cache_name, "x", "put", {"n": 2}, 6, r1.ver)])
        real_get_all = read.get_all
        stale = {"left": 1}

        async def torn_get_all(cache: Any, keys: Any) -> Any:
            out = await real_get_all(cache, keys)
            if stale["left"] and cache is store.coll(cache_name).data and "x" in out:
                stale["left"] -= 1
                out = dict(out)
                out["x"] = old_value  # what a lagging backup would still hold
            return out

        # content from before version 2, as stored (a document of the same type holding n=1)
        await store.apply(cl, [Mutation(cl, 3, cache_name, "y", "put", {"n": 1}, 7, None)])
        old_value = dict(await real_get_all(store.coll(cache_name).data, ["y"]))["y"]
        monkeypatch.setattr(read, "get_all", torn_get_all)
        changes = await store.changes(cache_name, 0, 10, include_deleted=include_deleted)
        monkeypatch.setattr(read, "get_all", real_get_all)
        assert stale["left"] == 0, "the fault was not injected"
        x = [ch for ch in changes if ch.id == "x"]
        assert x == [Change("x", r2.ver, {"n": 2})], x
    finally:
        await store.close()
