"""Moves (hub/store/ignite/moves.py) against a real Ignite node: which versions record one, what a
subset's catch-up removes from them, stamps of external writes whose previous values are not
known, and the moves' retention (an older cursor falls back to today's catch-up)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hub.core.doc import doc_hash
from hub.core.query import parse_filter
from hub.core.types import CollectionSpec, Mutation
from hub.store.ignite import IgniteStore
from hub.store.ignite.moves import mfloor_key
from tests.integration.test_store_ignite import NOW, sql

FIELDS = (("team", "string"), ("n", "long"))


@pytest.fixture
async def store(ignite_addresses: list[tuple[str, int]]) -> AsyncIterator[IgniteStore]:
    s = IgniteStore(ignite_addresses)
    await s.open()
    yield s
    await s.close()


class Writer:
    def __init__(self, store: IgniteStore, coll: str) -> None:
        self.store, self.coll, self.seq = store, coll, 0

    async def __call__(self, key: str, doc: dict[str, Any] | None) -> int:
        self.seq += 1
        kind = "put" if doc is not None else "del"
        m = Mutation("w", self.seq, self.coll, key, kind, doc, self.seq, None)
        [r] = await self.store.apply("w", [m])
        assert r.s == "ok", r
        return int(r.ver)


async def _moves(store: IgniteStore, coll: str) -> list[tuple[str, bool, Any]]:
    m = store.coll(coll).moves
    rows = await sql(store.client, f"SELECT DOC, UNK, P_TEAM FROM {m.table} ORDER BY VER")
    return [(str(d), bool(u), t) for d, u, t in rows]


async def test_moves_are_recorded_for_declared_changes_and_deletes(
    store: IgniteStore, cache_name: str
) -> None:
    await store.ensure_collection(CollectionSpec(cache_name, fields=FIELDS))
    put = Writer(store, cache_name)
    store.clock = lambda: NOW
    for key, team in (("a", "x"), ("b", "x"), ("c", "y"), ("e", "x"), ("f", "x"), ("g", "x")):
        await put(key, {"team": team, "n": 1, "body": "v1"})
    await put("f", {"team": "y", "n": 1})  # an old move, before the cursor
    store.clock = lambda: NOW + 10_000
    cursor = await put("zz", {"team": "y"})
    await put("a", {"team": "z", "n": 1, "body": "v1"})  # x -> z -> y: two moves
    await put("a", {"team": "y", "n": 1, "body": "v1"})
    await put("b", {"team": "x", "n": 1, "body": "v2"})  # no declared change: no move
    await put("c", {"team": "y", "n": 1, "body": "v2"})
    await put("c", {"team": "y", "n": 2, "body": "v2"})  # n changed: a move (from n=1)
    await put("e", None)  # deleted inside
    await put("d", {"team": "x"})  # new: nothing to move from
    # an external write stamped without its previous value: not known
    c = store.coll(cache_name)
    obj, _ = c.vtype.encode({"team": "q"})
    await c.data.put("g", obj)
    await store.stamp(c, {"g": doc_hash({"team": "q"})})

    assert await _moves(store, cache_name) == [
        ("f", False, "x"),
        ("a", False, "x"),
        ("a", False, "z"),
        ("c", False, "y"),
        ("e", False, "x"),
        ("g", True, None),
    ]
    x = parse_filter([["team", "==", "x"]])
    gone = await store.leavers(cache_name, x, cursor)
    # g: its previous values are not known, it counts as having matched every filter
    assert gone is not None and [(ch.id, ch.doc) for ch in gone] == [("a", None), ("e", None), ("g", None)]
    assert [ch.ver for ch in gone] == sorted(ch.ver for ch in gone)
    # g matches q now; a held z at one of its versions above the cursor; c stays in y
    assert await store.leavers(cache_name, parse_filter({"team": "q"}), cursor) == []
    z = await store.leavers(cache_name, parse_filter({"team": "z"}), cursor)
    assert [ch.id for ch in z or []] == ["a", "g"]
    y = await store.leavers(cache_name, parse_filter({"team": "y"}), cursor)
    assert [ch.id for ch in y or []] == ["g"]

    # retention: the old move (f, before the cursor) is purged; its cursor still works, an older
    # one falls back (None: every change that does not match is removed)
    await store.gc(cache_name, retention_ms=5_000, now_ms=NOW + 10_000)
    assert int(await store.ctx.sys.get(mfloor_key(cache_name)) or 0) > 0
    assert [row[0] for row in await _moves(store, cache_name)] == ["a", "a", "c", "e", "g"]
    assert await store.leavers(cache_name, x, 0) is None
    again = await store.leavers(cache_name, x, cursor)
    assert [ch.id for ch in again or []] == ["a", "e", "g"]


async def test_opening_a_collection_with_declared_fields_warms_its_subset_query(
    store: IgniteStore, cache_name: str
) -> None:
    """``subset.warm``: the first subset read of a freshly started Ignite node is several times
    slower than the next ones (docs/benchmarks.md), so opening the collection runs one in the
    background: a page of one value of the first declared field."""
    from hub.store.ignite import subset

    spec = CollectionSpec(cache_name, fields=FIELDS)
    await store.ensure_collection(spec)
    assert await subset.warm(store.ctx, store.coll(cache_name)) == 0  # empty: nothing to read
    client = f"warm-{cache_name}"  # (Writer's "w" has a dedup record from the other tests)
    docs = [(f"d{i}", {"team": f"t{i % 3}", "n": i}) for i in range(30)] + [("nt", {"n": 99})]  # nt: no team
    batch = [Mutation(client, i + 1, cache_name, k, "put", d, i + 1, None) for i, (k, d) in enumerate(docs)]
    assert {r.s for r in await store.apply(client, batch)} == {"ok"}
    assert await subset.warm(store.ctx, store.coll(cache_name)) == 10  # one team's documents
    # opening the collection (again, as a hub does at start) warms it in the background, and the
    # store's close leaves no warm-up running
    await store.ensure_collection(spec)
    tasks = list(store._warming)
    assert tasks and all(t.get_name() == f"warm-{cache_name}" for t in tasks)
    await asyncio.gather(*tasks)
    assert not store._warming
