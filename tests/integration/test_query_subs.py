"""Query subscriptions (partial sync, issue 12 §1) against real hub processes and a real Ignite node:
the snapshot is exactly the subset, documents move in and out live (inserts and removals), writes
of other Ignite clients (SQL DML) enter and leave the subset, and a client that was away while
documents moved into and out of its subset comes back (to another hub) with exactly Ignite's
matching documents. Invalid filters are answered 4422 and the connection stays usable."""

from __future__ import annotations

from typing import Any

import pytest

from hub.core.query import parse_filter
from hub.store.ignite.fields import data_table_name
from tests.integration.conftest import HubFactory, fresh, ignite_docs, wait_for
from tests.support.qclient import QueryClient

pytestmark = pytest.mark.asyncio(loop_scope="session")

FIELDS = {"team": "string", "done": "bool", "n": "long"}
OPEN_X = [["team", "==", "x"], ["done", "==", False]]


async def _client(clients: list[Any], url: str, client_id: str | None = None) -> QueryClient:
    c = QueryClient(url, client_id)
    clients.append(c)
    await c.connect()
    return c


async def _sql(aio: Any, query: str, args: list[Any] | None = None) -> None:
    cur = await aio.sql(query, query_args=args or [])
    async with cur:
        async for _ in cur:
            pass


async def _matching(aio: Any, cache: str, raw: Any) -> dict[str, dict[str, Any]]:
    """Ignite's documents that match ``raw``, by a scan of the data cache (not the hub's SQL)."""
    f = parse_filter(raw)
    return {i: d for i, d in (await ignite_docs(aio, cache)).items() if f.matches(d)}


def _strip(docs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i: {k: v for k, v in d.items() if v is not None} for i, d in docs.items()}


@pytest.mark.timeout(150)
async def test_subset_snapshot_live_moves_and_external_writes(
    hubs: HubFactory, clients: list[Any], ignite_addresses: Any, aio_client: Any
) -> None:
    coll = fresh("qs")
    hub = await hubs("hub", ignite_addresses, {coll: {"cache": coll, "fields": FIELDS}})
    w = await _client(clients, hub.url)
    assert "query" in (w.welcome or {})["features"]
    batch = [
        w.put_op(coll, f"d{i:02d}", {"team": "xy"[i % 2], "done": i % 3 == 0, "n": i, "t": f"doc {i}"})
        for i in range(40)
    ]
    assert all(r["s"] == "ok" for r in await w.mut(batch, timeout=30))

    c = await _client(clients, hub.url)
    synced = await c.qsub(coll, 1, filter=OPEN_X)
    assert synced["t"] == "qsynced" and synced["mode"] == "snapshot", synced
    want = await _matching(aio_client, coll, OPEN_X)
    assert len(want) == 13
    assert _strip(c.subset(1)) == want
    # only the subset travelled: no page held a document outside it
    assert all(m["t"] != "page" for m in c.received)
    sent = {ch[0] for m in c.received if m["t"] == "qpage" for ch in m["changes"]}
    assert sent == set(want)

    # live: d01 (team y) enters, d02 (x, open) leaves by done, d04 leaves by team, d08 is deleted
    await w.put(coll, "d01", {"team": "x", "done": False, "n": 1})
    await w.put(coll, "d02", {"team": "x", "done": True, "n": 2})
    await w.put(coll, "d04", {"team": "y", "done": False, "n": 4})
    await w.delete(coll, "d08")
    await w.put(coll, "d10", {"team": "x", "done": False, "n": 100})  # stays: an update
    want = await _matching(aio_client, coll, OPEN_X)
    await c.wait(lambda: _strip(c.subset(1)) == want, 15)
    removals = {ch[0] for m in c.qchgs for ch in m["changes"] if ch[2] is None}
    assert {"d02", "d04", "d08"} <= removals
    assert "d01" in {ch[0] for m in c.qchgs for ch in m["changes"] if ch[2] is not None}

    # another Ignite client writes with SQL DML over the declared columns (the hub made them as a
    # QueryEntity: unquoted, upper-case column names for the fields): in, out, a new row
    table = f"PUBLIC.{data_table_name(coll)}"
    await _sql(aio_client, f"UPDATE {table} SET team = ? WHERE ID = ?", ["x", "d05"])  # y,open -> in
    await _sql(aio_client, f"UPDATE {table} SET done = TRUE WHERE ID = ?", ["d14"])  # x,open -> out
    await _sql(
        aio_client,
        f"INSERT INTO {table} (ID, team, done, n) VALUES (?, ?, ?, ?)",
        ["e1", "x", False, 7],
    )
    want = await _matching(aio_client, coll, OPEN_X)
    assert "d05" in want and "e1" in want and "d14" not in want
    await c.wait(lambda: _strip(c.subset(1)) == want, 20)

    # a second, overlapping subscription on the same connection: its own id, cursor and subset
    ranged = [["n", ">=", 4], ["n", "<", 12]]
    synced2 = await c.qsub(coll, 2, filter=ranged)
    assert synced2["t"] == "qsynced" and synced2["q"] != synced["q"]
    assert _strip(c.subset(2)) == await _matching(aio_client, coll, ranged)
    mark = len(c.received)
    await c.send({"t": "unsub", "coll": coll, "id": 2})
    await w.put(coll, "d06", {"team": "x", "done": False, "n": 6})  # in both subsets
    want = await _matching(aio_client, coll, OPEN_X)
    await c.wait(lambda: _strip(c.subset(1)) == want, 15)
    await c.barrier()
    # after its unsub, subscription 2's stream sends nothing more
    q2 = synced2["q"]
    assert not any(m["t"] == "qchg" and m["q"] == q2 and m["changes"] for m in c.received[mark:])


@pytest.mark.timeout(180)
async def test_offline_moves_in_and_out_resume_on_another_hub(
    hubs: HubFactory, clients: list[Any], ignite_addresses: Any, aio_client: Any
) -> None:
    coll = fresh("qo")
    colls = {coll: {"cache": coll, "fields": FIELDS}}
    hub_a = await hubs("a", ignite_addresses, colls)
    hub_b = await hubs("b", ignite_addresses, colls)
    w = await _client(clients, hub_b.url)
    batch = [w.put_op(coll, f"d{i:02d}", {"team": "xy"[i % 2], "done": False, "n": i}) for i in range(20)]
    assert all(r["s"] == "ok" for r in await w.mut(batch, timeout=30))

    c = await _client(clients, hub_a.url, "query-client")
    await c.qsub(coll, 7, filter=OPEN_X)
    assert _strip(c.subset(7)) == await _matching(aio_client, coll, OPEN_X)
    # live across hubs: written through hub b, seen through hub a
    await w.put(coll, "d01", {"team": "x", "done": False, "n": 1})
    await c.wait(lambda: "d01" in c.subset(7), 15)
    await wait_for(
        lambda: c.qcursors.get(7) is not None and c.qcursors[7][1] > c.qsynced[7][-1]["cursor"][1], 10
    )
    cursor = c.qcursors[7]
    held = dict(c.subsets[7])
    await c.close()

    # while away: in, out, in-and-out, out-and-in, deleted, changed inside, changed outside
    await w.put(coll, "d03", {"team": "x", "done": False, "n": 3})  # y -> x: in
    await w.put(coll, "d02", {"team": "x", "done": True, "n": 2})  # out
    await w.put(coll, "d05", {"team": "x", "done": False, "n": 5})  # in ...
    await w.put(coll, "d05", {"team": "y", "done": False, "n": 5})  # ... and out again
    await w.put(coll, "d04", {"team": "y", "done": False, "n": 4})  # out ...
    await w.put(coll, "d04", {"team": "x", "done": False, "n": 44})  # ... and in again, changed
    await w.delete(coll, "d06")
    await w.put(coll, "d08", {"team": "x", "done": False, "n": 88})  # stays, changed
    await w.put(coll, "d07", {"team": "z", "done": False, "n": 7})  # outside -> outside
    await _sql(aio_client, f"UPDATE PUBLIC.{data_table_name(coll)} SET team = ? WHERE ID = ?", ["y", "d10"])
    want = await _matching(aio_client, coll, OPEN_X)
    assert "d03" in want and "d04" in want and not {"d02", "d05", "d06", "d10"} & set(want)

    back = QueryClient(hub_b.url, "query-client")
    clients.append(back)
    await back.connect()
    back.subsets[7] = held
    synced = await back.qsub(coll, 7, filter=OPEN_X, cursor=cursor)
    assert synced["t"] == "qsynced" and synced["mode"] == "catchup", synced
    await back.wait(lambda: _strip(back.subset(7)) == want, 20)
    # no more than the changes since the cursor travelled: d00/d12/... unchanged were not re-sent
    sent = {ch[0] for m in back.received if m["t"] == "qpage" for ch in m["changes"]}
    assert "d00" not in sent
    # and every move out reached the client: in the catch-up's pages, or live when its version came
    # after the pages were read (d10 is an SQL write: a hub's feed stamps it when its event arrives,
    # which may be after the reconnect)
    live = {ch[0] for m in back.received if m["t"] == "qchg" for ch in m["changes"]}
    assert {"d02", "d05", "d06", "d10"} <= sent | live


@pytest.mark.timeout(120)
async def test_invalid_filters_are_refused_with_4422(
    hubs: HubFactory, clients: list[Any], ignite_addresses: Any
) -> None:
    coll, plain = fresh("qe"), fresh("qp")
    hub = await hubs(
        "hub",
        ignite_addresses,
        {
            coll: {
                "cache": coll,
                "fields": FIELDS,
                "subscriptions": {"mine": {"filter": [["team", "==", {"claim": "team"}]]}},
            },
            plain: {"cache": plain},
        },
    )
    c = await _client(clients, hub.url)
    cases: list[tuple[str, dict[str, Any], str]] = [
        (coll, {"filter": [["title", "==", "x"]]}, "not declared"),
        (coll, {"filter": [["team", "==", 5]]}, "is a string"),
        (coll, {"filter": [["n", "<", 1.5]]}, "is a long"),
        (coll, {"filter": [["done", ">", False]]}, "needs a number"),
        (coll, {"filter": [["team", "like", "x"]]}, "op must be"),
        (coll, {"filter": []}, "non-empty"),
        (coll, {"name": "nope"}, "no subscription named"),
        (coll, {"name": "mine"}, "claim"),  # the dev token has no team claim
        (plain, {"filter": [["team", "==", "x"]]}, "no query subscriptions"),
    ]
    for i, (name, extra, why) in enumerate(cases, start=1):
        got = await c.qsub(name, i, **extra)
        assert got["t"] == "error" and got["code"] == 4422 and got["ref"] == i, (extra, got)
        assert why in got["msg"], (why, got["msg"])
    assert c.close_code is None
    ok = await c.qsub(coll, 99, filter={"team": "x"})
    assert ok["t"] == "qsynced"


@pytest.mark.timeout(120)
async def test_settle_cursor_frames_go_only_to_filters_that_got_changes(
    hubs: HubFactory, clients: list[Any], ignite_addresses: Any
) -> None:
    # The settle's empty qchg (the cursor moving past what was sent) goes to the filters whose
    # subscribers got changes since their last cursor frame, not to every filter every second:
    # at 1,000 filters that was 1,000 frames a second with nothing new in them.
    coll = fresh("qd")
    hub = await hubs("hub", ignite_addresses, {coll: {"cache": coll, "fields": FIELDS}})
    w = await _client(clients, hub.url)
    c = await _client(clients, hub.url)
    busy = await c.qsub(coll, 1, filter=[["team", "==", "busy"]])
    idle = await c.qsub(coll, 2, filter=[["team", "==", "idle"]])
    mark = len(c.received)
    for i in range(3):
        await w.put(coll, f"b{i}", {"team": "busy", "done": False, "n": i})
    # data, then at least one settle that covers it (settles run every second while changes flow)
    await c.wait(lambda: len(c.subset(1)) == 3, 15)
    ver = max(int(ch[1]) for m in c.qchgs if m["q"] == busy["q"] for ch in m["changes"])
    await c.wait(
        lambda: any(
            m["t"] == "qchg" and m["q"] == busy["q"] and not m["changes"] and m["cursor"][1] >= ver
            for m in c.received[mark:]
        ),
        15,
    )
    await w.put(coll, "b9", {"team": "busy", "done": False, "n": 9})  # and one more settle
    await c.wait(lambda: len(c.subset(1)) == 4, 15)
    await c.barrier()
    assert not [m for m in c.received[mark:] if m["t"] == "qchg" and m["q"] == idle["q"]]
