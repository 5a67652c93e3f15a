"""hub.store.ignite.read.sql / sql_pages: SQL fields queries sent and decoded by the hub itself read the
same rows as pyignite's cursor, page through the server cursor, raise what pyignite raises and never
leave a cursor open."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from pyignite.exceptions import SQLError

from hub.core.errors import BinaryDecodeError
from hub.core.types import CollectionSpec, Mutation
from hub.store.ignite import IgniteStore, read, wire
from hub.store.ignite.cursors import CURSORS
from hub.store.ignite.read import sql, sql_pages
from tests.integration.conftest import wait_for


@pytest.fixture
async def store(ignite_addresses: list[tuple[str, int]]) -> AsyncIterator[IgniteStore]:
    s = IgniteStore(ignite_addresses)
    await s.open()
    yield s
    await s.close()


async def slow(client: Any, query: str, args: list[Any] | None = None, page_size: int = 1024) -> list[Any]:
    """pyignite's cursor: the reference."""
    return await read._sql_pyignite(client, query, args or [], page_size)


def typed(rows: list[list[Any]]) -> list[list[tuple[type, Any]]]:
    """Rows with each value's type: 1 == True == 1.0 in Python, not on the wire."""
    return [[(type(v), v) for v in row] for row in rows]


async def same(client: Any, query: str, args: list[Any] | None = None, page_size: int = 1024) -> list[Any]:
    """The hub's pages (no fallback to pyignite there) and ``sql`` read what pyignite reads."""
    fast = [row async for page in sql_pages(client, query, args or [], page_size) for row in page]
    assert typed(fast) == typed(await slow(client, query, args, page_size)), query
    assert typed(await sql(client, query, args or [], page_size)) == typed(fast)
    return fast


@pytest.fixture
async def table(store: IgniteStore, cache_name: str) -> str:
    """A table with every column type the store's queries read (and a few more), 7 rows, some NULL."""
    name = cache_name.upper()
    await sql(
        store.client,
        f"CREATE TABLE {name} (ID VARCHAR PRIMARY KEY, S VARCHAR, L BIGINT, I INT, B BOOLEAN, D DOUBLE, "
        f'SM SMALLINT, TI TINYINT, R REAL, DEC DECIMAL(20, 4), U UUID) WITH "cache_name={cache_name}"',
    )
    ins = (
        f"INSERT INTO {name} (ID, S, L, I, B, D, SM, TI, R, DEC, U) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    for k in range(6):
        args = [f"r{k}", f"ünï ✓ {k}" * k, (1 << 40) * k - 3, -k, k % 2 == 0, k / 3, k - 300, k, k * 1.25]
        args += [Decimal(f"{k}.5"), uuid.UUID(int=k)]
        assert await sql(store.client, ins, args) == [[1]]  # DML: the update count, as pyignite reads it
    await sql(store.client, f"INSERT INTO {name} (ID) VALUES ('nulls')")
    return name


async def test_every_column_type_and_arg_type_reads_as_pyignite(store: IgniteStore, table: str) -> None:
    c = store.client
    rows = await same(c, f"SELECT ID, S, L, I, B, D, SM, TI, R, DEC, U FROM {table} ORDER BY ID")
    assert len(rows) == 7 and rows[-1][:6] == ["r5", "ünï ✓ 5" * 5, (1 << 40) * 5 - 3, -5, False, 5 / 3]
    assert rows[-1][9:] == [Decimal("5.5000"), uuid.UUID(int=5)]
    assert rows[0] == ["nulls"] + [None] * 10 and rows[1][1] == ""
    # arguments of each type the store sends: str, int (long), float (double), bool, None (NULL)
    q = f"SELECT ID FROM {table} WHERE S <> ? AND L > ? AND D < ? AND B = ? AND COALESCE(I, ?) IS NULL"
    assert await same(c, q, ["x", 0, 1.5, True, None]) == []
    q = f"SELECT ID, L FROM {table} WHERE S <> ? AND L > ? AND D < ? AND B = ? ORDER BY ID"
    assert await same(c, q, ["x", 0, 1.5, True]) == [["r2", (1 << 41) - 3], ["r4", (1 << 42) - 3]]
    # aggregates and system views, as gc, moves and loss read them
    assert await same(c, f"SELECT COUNT(*), MAX(L), MIN(S) FROM {table} WHERE I < ?", [-100]) == [
        [0, None, None]
    ]
    assert (await same(c, "SELECT CACHE_GROUP_ID FROM SYS.CACHES WHERE CACHE_NAME = ?", ["synchub_sys"]))[0]
    cols = await same(c, "SELECT COLUMN_NAME FROM SYS.TABLE_COLUMNS WHERE TABLE_NAME = ?", [table])
    assert {"ID", "S", "DEC"} <= {r[0] for r in cols}


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 1024])
async def test_pages(store: IgniteStore, table: str, page_size: int) -> None:
    query = f"SELECT ID, L FROM {table} ORDER BY ID"
    pages = [page async for page in sql_pages(store.client, query, page_size=page_size)]
    # the server sends a full last page with ``more`` set and an empty one after it when 7 % page == 0
    assert [len(p) for p in pages if p] == [min(page_size, 7 - i) for i in range(0, 7, page_size)]
    assert [row for page in pages for row in page] == await same(store.client, query, page_size=page_size)
    assert CURSORS.open["sql"] == 0


async def test_empty_result(store: IgniteStore, table: str) -> None:
    query = f"SELECT ID, S FROM {table} WHERE ID = ?"
    assert [page async for page in sql_pages(store.client, query, ["absent"])] == [[]]
    assert await same(store.client, query, ["absent"]) == []


@pytest.mark.parametrize(
    "query", ["SELEKT 1", "SELECT NOPE FROM SYS.CACHES", "SELECT * FROM PUBLIC.NO_SUCH_TABLE_X"]
)
async def test_errors_raise_what_pyignite_raises(store: IgniteStore, query: str) -> None:
    with pytest.raises(SQLError) as theirs:
        await slow(store.client, query)
    with pytest.raises(SQLError) as ours:
        await sql(store.client, query)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)
    assert CURSORS.open["sql"] == 0


async def test_a_consumer_stopping_early_closes_the_cursor(aio_client: Any, cache_name: str) -> None:
    """The server allows 128 open cursors per connection (one connection: a one-node cluster): 200
    queries each left after their first page fail with TOO_MANY_CURSORS unless each cursor is closed."""
    name = cache_name.upper()
    await sql(aio_client, f'CREATE TABLE {name} (ID INT PRIMARY KEY, V INT) WITH "cache_name={cache_name}"')
    await sql(aio_client, f"INSERT INTO {name} (ID, V) VALUES (1, 1), (2, 2), (3, 3)")
    before = CURSORS.opened["sql"]
    for _ in range(200):
        pages = sql_pages(aio_client, f"SELECT ID FROM {name} ORDER BY ID", page_size=1)
        async for page in pages:
            assert page == [[1]]
            assert CURSORS.open["sql"] == 1
            break
        await pages.aclose()
        assert CURSORS.open["sql"] == 0
    assert CURSORS.opened["sql"] == before + 200
    assert await sql(aio_client, f"SELECT V FROM {name} ORDER BY ID", page_size=1) == [[1], [2], [3]]


async def test_what_the_hub_does_not_encode_goes_through_pyignite(store: IgniteStore, table: str) -> None:
    query = f"SELECT ID FROM {table} WHERE U = ?"
    with pytest.raises(Exception, match="query argument of type UUID"):
        await anext(sql_pages(store.client, query, [uuid.UUID(int=3)]))
    assert await sql(store.client, query, [uuid.UUID(int=3)]) == [["r3"]]


async def test_meta_table_reads(store: IgniteStore, cache_name: str) -> None:
    """The queries of changes / unseen / count on a collection the hub wrote: same rows both ways."""
    await store.ensure_collection(CollectionSpec(cache_name))
    cl = f"c-{cache_name}"
    muts = [Mutation(cl, i + 1, cache_name, f"k{i}", "put", {"n": i}, 10 + i, 0) for i in range(5)]
    muts.append(Mutation(cl, 6, cache_name, "k0", "delete", None, 20, None))
    assert all(r.s == "ok" for r in await store.apply(cl, muts))
    t = store.coll(cache_name).table
    rows = await same(
        store.client, f"SELECT ID, VER, H, DEL FROM {t} WHERE VER > ? ORDER BY VER LIMIT ?", [0, 3]
    )
    assert [type(v) for v in rows[0]] == [str, int, int, bool] and len(rows) == 3
    assert await same(store.client, f"SELECT COUNT(*) FROM {t} WHERE DEL = FALSE") == [[4]]
    assert await store.count(cache_name) == 4


async def test_a_value_the_hub_cannot_decode(
    store: IgniteStore, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SELECT is read again by pyignite; a statement that changed data is not run twice."""

    def undecodable(r: Any) -> Any:
        raise BinaryDecodeError("a type the hub does not know")

    monkeypatch.setattr(read, "read_first_page", undecodable)
    assert await sql(store.client, f"SELECT ID FROM {table} WHERE ID = ?", ["r1"]) == [["r1"]]
    with pytest.raises(BinaryDecodeError):
        await sql(store.client, f"DELETE FROM {table} WHERE ID = ?", ["r1"])
    monkeypatch.undo()
    assert await sql(store.client, f"SELECT COUNT(*) FROM {table}") == [[6]]  # deleted once
    assert CURSORS.open["sql"] == 0


async def test_a_query_cancelled_before_its_first_page_closes_its_cursor(
    aio_client: Any, cache_name: str
) -> None:
    """A timeout (``asyncio.timeout`` in ``Context.call``) cancelling the reader while the query's first
    response is on its way: the cursor that response opens is closed once it arrives. 200 of them on
    one connection (128 cursors at most) would fail with TOO_MANY_CURSORS otherwise."""
    name = cache_name.upper()
    await sql(aio_client, f'CREATE TABLE {name} (ID INT PRIMARY KEY, V INT) WITH "cache_name={cache_name}"')
    await sql(aio_client, f"INSERT INTO {name} (ID, V) VALUES (1, 1), (2, 2), (3, 3)")
    cancelled_early = 0
    for _ in range(200):
        pages = sql_pages(aio_client, f"SELECT ID FROM {name} ORDER BY ID", page_size=1)
        task = asyncio.ensure_future(anext(pages))
        await asyncio.sleep(0)  # the request is sent; its reply is not read yet
        task.cancel()
        try:
            assert await task == [[1]]  # the reply came first: an early stop as above
        except asyncio.CancelledError:
            cancelled_early += 1
        await pages.aclose()
    assert cancelled_early > 100, cancelled_early
    await wait_for(lambda: not wire._closing)  # the late closes
    assert await sql(aio_client, f"SELECT V FROM {name} ORDER BY ID", page_size=1) == [[1], [2], [3]]
    assert CURSORS.open["sql"] == 0
