"""IgniteStore against a real Ignite node: apply, conflict policies, dedup, versions, changes, GC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from hub.core.conflict import MergeContext, Policy
from hub.core.doc import doc_hash
from hub.core.errors import HubUsageError, RetentionPassed
from hub.core.hlc import COUNTER_BITS
from hub.core.types import CollectionSpec, Mutation
from hub.store.ignite import IgniteStore, read
from hub.store.ignite.schema import MetaRow
from hub.store.ignite.tx import wall_ms

NOW = 1_700_000_000_000


async def sql(client: Any, query: str, args: list[Any] | None = None) -> list[list[Any]]:
    cur = await client.sql(query, query_args=args or [])
    rows: list[list[Any]] = []
    async with cur:
        async for row in cur:
            rows.append(row)
    return rows


@pytest.fixture
async def store(ignite_addresses: list[tuple[str, int]]) -> AsyncIterator[IgniteStore]:
    s = IgniteStore(ignite_addresses)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def store2(ignite_addresses: list[tuple[str, int]]) -> AsyncIterator[IgniteStore]:
    """A second hub on the same cluster."""
    s = IgniteStore(ignite_addresses)
    await s.open()
    yield s
    await s.close()


def mut(
    client: str,
    seq: int,
    coll: str,
    key: str,
    doc: Mapping[str, Any] | None,
    ts: int,
    base: int | None = None,
) -> Mutation:
    return Mutation(client, seq, coll, key, "put" if doc is not None else "del", doc, ts, base)


def uniq(prefix: str, cache_name: str) -> str:
    return f"{prefix}-{cache_name}"


async def meta_of(s: IgniteStore, coll: str, key: str) -> MetaRow | None:
    return MetaRow.from_ignite(await s.coll(coll).meta.get(key))


# -- apply --------------------------------------------------------------------------------------------------


async def test_put_delete_round_trip(store: IgniteStore, cache_name: str) -> None:
    info = await store.ensure_collection(CollectionSpec(cache_name))
    assert info.epoch and info.floor == 0
    cl = uniq("c", cache_name)
    doc = {"title": "hi", "n": 3, "f": 1.5, "ok": True, "tags": ["a", 1], "m": {"x": 1}, "raw": b"\x00\x01"}
    [r1] = await store.apply(cl, [mut(cl, 1, cache_name, "a", {**doc, "id": "a"}, ts=10)])
    assert (r1.s, r1.dup) == ("ok", False) and r1.ver > 0
    assert r1.changed[0].doc == doc  # stored form, no id
    [ch] = await store.changes(cache_name, 0, 10, include_deleted=True)
    assert (ch.id, ch.ver, ch.doc) == ("a", r1.ver, doc)
    assert await store.count(cache_name) == 1
    meta = await meta_of(store, cache_name, "a")
    assert (
        meta is not None and meta.h == doc_hash(doc) and meta.lww == 10 and meta.by == cl and not meta.deleted
    )

    [r2] = await store.apply(cl, [mut(cl, 2, cache_name, "a", None, ts=11)])
    assert r2.s == "ok" and r2.ver > r1.ver
    assert await store.coll(cache_name).data.get("a") is None
    assert await store.changes(cache_name, 0, 10, include_deleted=True) == [type(ch)("a", r2.ver, None)]
    assert await store.changes(cache_name, 0, 10, include_deleted=False) == []
    assert await store.changes(cache_name, r2.ver, 10, include_deleted=True) == []
    assert await store.count(cache_name) == 0


async def test_versions_grow_per_key_despite_clock_skew(
    store: IgniteStore, store2: IgniteStore, cache_name: str
) -> None:
    for s in (store, store2):
        await s.ensure_collection(CollectionSpec(cache_name))
    store.clock = lambda: NOW + 3_600_000  # an hour ahead
    store2.clock = lambda: NOW  # behind
    cl = uniq("c", cache_name)
    vers = []
    for seq in range(1, 7):
        s = store if seq % 2 else store2
        [r] = await s.apply(cl, [mut(cl, seq, cache_name, "k", {"n": seq}, ts=seq)])
        assert r.s == "ok"
        vers.append(r.ver)
    assert vers == sorted(vers) and len(set(vers)) == len(vers)
    assert (await meta_of(store, cache_name, "k")).ver == vers[-1]  # type: ignore[union-attr]


async def test_a_hub_with_a_lagging_clock_knows_the_fleets_time_from_its_start(
    store: IgniteStore, store2: IgniteStore, cache_name: str
) -> None:
    """The fleet's watermark is seconds old when a hub whose clock lags starts (an idle fleet
    advances it every 10 s): the hub reads the Ignite server's clock too, so its idea of the time,
    against which it judges devices' clocks, is right at once. (Judged from the watermark alone,
    it lagged by the watermark's age: a device with a correct clock looked that far ahead, and its
    edits were moved back behind earlier ones: a flake of test_hub_clocks under load.)"""
    spec = CollectionSpec(cache_name)
    store.clock = lambda: wall_ms() - 5_000  # the watermark's last advance, 5 s ago
    await store.ensure_collection(spec)
    await store.advance(cache_name)
    store2.clock = lambda: wall_ms() - 60_000  # a minute behind
    await store2.ensure_collection(spec)
    assert abs(store2.hub_time_ms() - wall_ms()) < 1_000
    assert store2.clock_skew_ms > 59_000


def _increment(current: Any, incoming: Any, ctx: MergeContext) -> Any:
    return {"n": (current or {}).get("n", 0) + 1}


async def test_replay_is_a_no_op_on_any_hub(store: IgniteStore, store2: IgniteStore, cache_name: str) -> None:
    spec = CollectionSpec(cache_name, policy=Policy.MERGE, merge=_increment)
    for s in (store, store2):
        await s.ensure_collection(spec)
    cl = uniq("c", cache_name)
    batch = [mut(cl, seq, cache_name, "ctr", {"n": 0}, ts=seq) for seq in (1, 2, 3)]
    first = await store.apply(cl, batch)
    assert [r.s for r in first] == ["merged"] * 3 and [r.doc for r in first] == [{"n": 1}, {"n": 2}, {"n": 3}]
    ver = (await meta_of(store, cache_name, "ctr")).ver  # type: ignore[union-attr]
    for s in (store, store2):  # the same hub after a lost ack, and another hub after a reconnect
        again = await s.apply(cl, batch)
        assert all(r.dup for r in again)
        # seq 3 produced the current version: its original outcome stands; seqs 1 and 2 were
        # superseded, so they are answered with the current document instead of a stale one.
        assert (again[2].s, again[2].ver, again[2].doc) == (first[2].s, first[2].ver, first[2].doc)
        assert [(r.s, r.ver, r.doc) for r in again[:2]] == [("dup", ver, {"n": 3})] * 2
        assert again[0].changed == []
    assert (await store.changes(cache_name, 0, 10, include_deleted=True))[0].doc == {"n": 3}
    assert (await meta_of(store, cache_name, "ctr")).ver == ver  # type: ignore[union-attr]
    # a batch mixing a replay and a new seq applies only the new one
    mixed = await store2.apply(cl, [batch[2], mut(cl, 4, cache_name, "ctr", {"n": 0}, ts=4)])
    assert [r.dup for r in mixed] == [True, False] and mixed[1].doc == {"n": 4}


async def test_errors_unknown_read_only_invalid(store: IgniteStore, cache_name: str) -> None:
    await store.ensure_collection(CollectionSpec(cache_name))
    ro = cache_name + "_ro"
    await store.ensure_collection(CollectionSpec(ro, writable=False))
    cl = uniq("c", cache_name)
    res = await store.apply(
        cl,
        [
            mut(cl, 1, "nope", "a", {"x": 1}, ts=1),
            mut(cl, 2, ro, "a", {"x": 1}, ts=1),
            mut(cl, 3, cache_name, "a", {"x": 1}, ts=1),
            mut(cl, 4, cache_name, "a", {"x": "not an int"}, ts=2),  # field x is a Long now
        ],
    )
    assert [(r.s, r.code) for r in res] == [("error", 4404), ("error", 4403), ("ok", None), ("error", 4001)]
    replay = await store.apply(cl, [mut(cl, 1, "nope", "a", {"x": 1}, ts=1)])
    assert (replay[0].s, replay[0].code, replay[0].dup) == ("error", 4404, True)


async def test_writable_atomic_cache_is_a_usage_error(store: IgniteStore, cache_name: str) -> None:
    await sql(
        store.client,
        f'CREATE TABLE {cache_name} (id VARCHAR PRIMARY KEY, "t" VARCHAR) '
        f'WITH "cache_name={cache_name},value_type={cache_name}_v,atomicity=atomic"',
    )
    with pytest.raises(HubUsageError, match="ATOMIC"):
        await store.ensure_collection(CollectionSpec(cache_name))
    with pytest.raises(HubUsageError):
        await store.ensure_collection(CollectionSpec(cache_name + "x", atomicity="ATOMIC"))
    info = await store.ensure_collection(CollectionSpec(cache_name, writable=False))  # read-only is fine
    assert info.epoch


# -- conflict policies -------------------------------------------------------------------------------------


async def test_lww(store: IgniteStore, cache_name: str) -> None:
    await store.ensure_collection(CollectionSpec(cache_name))
    a, b = uniq("a", cache_name), uniq("b", cache_name)
    [r1] = await store.apply(a, [mut(a, 1, cache_name, "k", {"v": "a100"}, ts=100)])
    [old] = await store.apply(b, [mut(b, 1, cache_name, "k", {"v": "b50"}, ts=50)])
    assert (old.s, old.doc, old.ver) == ("conflict", {"v": "a100"}, r1.ver)
    [tie] = await store.apply(b, [mut(b, 2, cache_name, "k", {"v": "b100"}, ts=100)])
    assert tie.s == ("ok" if b > a else "conflict")
    [lose_tie] = await store.apply(a, [mut(a, 2, cache_name, "k2", {"v": "a"}, ts=7)])
    [win_tie] = await store.apply(b, [mut(b, 3, cache_name, "k2", {"v": "b"}, ts=7)])
    assert lose_tie.s == "ok" and win_tie.s == ("ok" if b > a else "conflict")
    [newer] = await store.apply(b, [mut(b, 4, cache_name, "k", {"v": "b200"}, ts=200)])
    assert newer.s == "ok" and newer.ver > r1.ver
    assert (await store.changes(cache_name, r1.ver, 10, include_deleted=True))[-1].doc == {"v": "b200"}


async def test_lww_unstamped_external_write_beats_client(store: IgniteStore, cache_name: str) -> None:
    await store.ensure_collection(CollectionSpec(cache_name))
    c = store.coll(cache_name)
    a = uniq("a", cache_name)
    [r1] = await store.apply(a, [mut(a, 1, cache_name, "k", {"v": "hub"}, ts=100)])
    obj, _ = c.vtype.encode({"v": "external"})
    await c.data.put("k", obj)  # another application, no feed running
    [r2] = await store.apply(a, [mut(a, 2, cache_name, "k", {"v": "client"}, ts=10**15)])
    assert (r2.s, r2.doc) == ("conflict", {"v": "external"})
    assert r2.ver > r1.ver  # the external write got stamped in the same transaction
    meta = await meta_of(store, cache_name, "k")
    assert meta is not None and meta.ver == r2.ver and meta.h == doc_hash({"v": "external"}) and meta.by == ""
    assert (await store.changes(cache_name, r1.ver, 10, include_deleted=True)) == [
        type(r2.changed[0])("k", r2.ver, {"v": "external"})
    ]
    # external put of a document no hub ever stamped also wins
    obj, _ = c.vtype.encode({"v": "fresh"})
    await c.data.put("k3", obj)
    [r3] = await store.apply(a, [mut(a, 3, cache_name, "k3", {"v": "client"}, ts=10**15, base=0)])
    assert (r3.s, r3.doc) == ("conflict", {"v": "fresh"}) and r3.ver > 0


async def test_reject_if_stale_and_merge(store: IgniteStore, cache_name: str) -> None:
    await store.ensure_collection(CollectionSpec(cache_name, policy=Policy.REJECT_IF_STALE))
    a = uniq("a", cache_name)
    [r1] = await store.apply(a, [mut(a, 1, cache_name, "k", {"v": 1}, ts=1, base=0)])
    assert r1.s == "ok"
    [r2] = await store.apply(a, [mut(a, 2, cache_name, "k", {"v": 2}, ts=2, base=r1.ver)])
    assert r2.s == "ok" and r2.ver > r1.ver
    [stale] = await store.apply(a, [mut(a, 3, cache_name, "k", {"v": 3}, ts=3, base=r1.ver)])
    assert (stale.s, stale.ver, stale.doc) == ("rejected", r2.ver, {"v": 2})
    [fresh_on_existing] = await store.apply(a, [mut(a, 4, cache_name, "k", {"v": 4}, ts=4, base=0)])
    assert fresh_on_existing.s == "rejected"
    # later mutations of one batch see the earlier ones
    res = await store.apply(
        a,
        [
            mut(a, 5, cache_name, "j", {"v": 1}, ts=5, base=0),
            mut(a, 6, cache_name, "j", {"v": 2}, ts=6, base=0),
        ],
    )
    assert [r.s for r in res] == ["ok", "rejected"] and res[1].ver == res[0].ver

    merged = cache_name + "_m"

    def merge(current: Any, incoming: Any, ctx: MergeContext) -> Any:
        return {**(current or {}), **(incoming or {}), "merged_by": ctx.client}

    await store.ensure_collection(CollectionSpec(merged, policy=Policy.MERGE, merge=merge))
    [m1] = await store.apply(a, [mut(a, 7, merged, "k", {"x": 1}, ts=7)])
    [m2] = await store.apply(a, [mut(a, 8, merged, "k", {"y": 2}, ts=8)])
    assert (m2.s, m2.doc) == ("merged", {"x": 1, "y": 2, "merged_by": a}) and m2.ver > m1.ver
    [ch] = await store.changes(merged, 0, 10, include_deleted=True)
    assert ch.doc == {"x": 1, "y": 2, "merged_by": a}


async def test_concurrent_hubs_same_keys(store: IgniteStore, store2: IgniteStore, cache_name: str) -> None:
    for s in (store, store2):
        await s.ensure_collection(CollectionSpec(cache_name))
    a, b = uniq("a", cache_name), uniq("b", cache_name)
    keys = [f"k{i}" for i in range(5)]
    rounds = 15
    best: dict[str, tuple[int, str, str]] = {}

    async def writer(s: IgniteStore, cl: str, offset: int) -> None:
        for rnd in range(1, rounds + 1):
            batch = []
            for i, k in enumerate(keys):
                ts = rnd * 10 + (offset if (i + rnd) % 2 else -offset)
                batch.append(mut(cl, rnd * 10 + i, cache_name, k, {"by": cl, "ts": ts}, ts=ts))
                best[k] = max(best.get(k, (0, "", "")), (ts, cl, cl))
            res = await s.apply(cl, batch)
            assert len(res) == len(keys) and {r.s for r in res} <= {"ok", "conflict"}

    await asyncio.gather(writer(store, a, 1), writer(store2, b, 2))
    final = {ch.id: ch.doc for ch in await store.changes(cache_name, 0, 100, include_deleted=True)}
    for k in keys:
        ts, cl, _ = best[k]
        assert final[k] == {"by": cl, "ts": ts}
    # no lost dedup record: every seq of both clients replays as a dup
    for s, cl in ((store2, a), (store, b)):
        seqs = [rnd * 10 + i for rnd in range(1, rounds + 1) for i in range(len(keys))]
        res = await s.apply(cl, [mut(cl, q, cache_name, "zz", {"x": 1}, ts=1) for q in seqs])
        # (superseded outcomes come back as "dup" with the current document)
        assert all(r.dup and r.s in ("ok", "conflict", "dup") for r in res)
    vers = [ch.ver for ch in await store.changes(cache_name, 0, 100, include_deleted=True)]
    assert vers == sorted(vers)


# -- retention ---------------------------------------------------------------------------------------------


async def test_gc_purges_tombstones_and_moves_floor(store: IgniteStore, cache_name: str) -> None:
    await store.ensure_collection(CollectionSpec(cache_name))
    a = uniq("a", cache_name)
    store.clock = lambda: NOW
    first = await store.apply(
        a, [mut(a, 1, cache_name, "old", {"v": 1}, ts=1), mut(a, 2, cache_name, "old", None, ts=2)]
    )
    await store.apply(a, [mut(a, 3, cache_name, "live", {"v": 1}, ts=3)])
    store.clock = lambda: NOW + 10_000
    res = await store.apply(
        a, [mut(a, 4, cache_name, "new", {"v": 1}, ts=4), mut(a, 5, cache_name, "new", None, ts=5)]
    )
    recent = res[1]
    floor = await store.gc(cache_name, retention_ms=5_000, now_ms=NOW + 10_000)
    # the floor is the newest tombstone purged, not the age limit (a collection without deletes
    # keeps its floor, so old cursors still catch up)
    assert floor == first[1].ver < ((NOW + 5_000) << COUNTER_BITS) - 1
    assert (await store.info(cache_name)).floor == floor
    c = store.coll(cache_name)
    rows = await sql(store.client, f"SELECT ID, VER FROM {c.table} WHERE DEL = TRUE")
    assert rows == [["new", recent.ver]]
    assert await meta_of(store, cache_name, "live") is not None  # live rows are never purged
    with pytest.raises(RetentionPassed):
        await store.changes(cache_name, 0, 10, include_deleted=True)
    after_floor = await store.changes(cache_name, floor, 10, include_deleted=True)
    assert [ch.id for ch in after_floor] == ["live", "new"]  # "live" was written after "old" was deleted
    assert [ch.id for ch in await store.changes(cache_name, 0, 10, include_deleted=False)] == ["live"]
    assert await store.gc(cache_name, retention_ms=60_000, now_ms=NOW + 10_000) == floor  # never moves down


async def test_changes_pages_by_version(store: IgniteStore, cache_name: str) -> None:
    await store.ensure_collection(CollectionSpec(cache_name))
    a = uniq("a", cache_name)
    await store.apply(a, [mut(a, i + 1, cache_name, f"d{i}", {"i": i}, ts=i + 1) for i in range(25)])
    await store.apply(a, [mut(a, 100 + i, cache_name, f"d{i}", None, ts=100) for i in range(0, 25, 2)])
    seen: list[str] = []
    after = 0
    while True:
        page = await store.changes(cache_name, after, 5, include_deleted=False)
        seen += [ch.id for ch in page]
        if len(page) < 5:
            break
        after = page[-1].ver
    assert sorted(seen) == sorted(f"d{i}" for i in range(1, 25, 2))


async def test_replay_after_a_later_change_reports_the_current_document(
    store: IgniteStore, store2: IgniteStore, cache_name: str
) -> None:
    # The ack of A's put is lost; B deletes the document; A replays after a snapshot (which holds
    # no tombstone): the stale "ok" must not come back, or A would resurrect the document.
    await store.ensure_collection(CollectionSpec(cache_name))
    await store2.ensure_collection(CollectionSpec(cache_name))
    a, b = uniq("a", cache_name), uniq("b", cache_name)
    put = mut(a, 1, cache_name, "d1", {"x": 1}, ts=NOW)
    (first,) = await store.apply(a, [put])
    assert first.s == "ok"
    (deleted,) = await store2.apply(b, [Mutation(b, 1, cache_name, "d1", "del", None, NOW + 10, None)])
    assert deleted.s == "ok" and deleted.ver > first.ver
    for s in (store, store2):
        (again,) = await s.apply(a, [put])
        assert (again.dup, again.s, again.ver, again.doc) == (True, "dup", deleted.ver, None)
    assert (await meta_of(store, cache_name, "d1")).ver == deleted.ver  # type: ignore[union-attr]


@pytest.mark.parametrize("tie_rows", [16, 1])
async def test_pages_never_split_a_version_shared_by_two_hubs(
    store: IgniteStore, store2: IgniteStore, cache_name: str, tie_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two hubs with the same clock reading stamp different documents with the same version; a
    # page that ended between them would make the reader (resuming with VER > last) skip one.
    # tie_rows=1: the group goes on past the rows read beyond the page (its rest is read again).
    monkeypatch.setattr(read, "TIE_ROWS", tie_rows)
    for s in (store, store2):
        await s.ensure_collection(CollectionSpec(cache_name))
    at = NOW + 5_000_000
    for s, cl, key in ((store, uniq("a", cache_name), "x"), (store2, uniq("b", cache_name), "y")):
        s.clock = lambda: at
        (r,) = await s.apply(cl, [mut(cl, 1, cache_name, key, {"v": key}, ts=1)])
        assert r.s == "ok"
    vx = (await meta_of(store, cache_name, "x")).ver  # type: ignore[union-attr]
    vy = (await meta_of(store, cache_name, "y")).ver  # type: ignore[union-attr]
    assert vx == vy  # the situation under test really happened
    for include_deleted in (False, True):
        page = await store.changes(cache_name, 0, 1, include_deleted=include_deleted)
        assert {c.id for c in page} == {"x", "y"}
        assert await store.changes(cache_name, page[-1].ver, 1, include_deleted=include_deleted) == []


# -- durability --------------------------------------------------------------------------------------------


async def test_caches_the_hub_creates_are_durable_by_default(store: IgniteStore, cache_name: str) -> None:
    """Without a ``backups`` setting a collection's data and meta caches keep one backup, and a
    partition whose every copy is lost is refused rather than served as empty (then synced to
    clients as deleted)."""
    from pyignite.datatypes.cache_config import PartitionLossPolicy
    from pyignite.datatypes.prop_codes import PROP_BACKUPS_NUMBER, PROP_PARTITION_LOSS_POLICY

    await store.ensure_collection(CollectionSpec(cache_name))
    c = store.coll(cache_name)
    for cache in (c.data, c.meta):
        settings = await cache.settings()
        assert settings[PROP_BACKUPS_NUMBER] == 1, cache.name
        assert settings[PROP_PARTITION_LOSS_POLICY] == PartitionLossPolicy.READ_WRITE_SAFE, cache.name
