"""A query subscription's catch-up sends the subset's changes and the removals of documents that
LEFT it, not a removal per change outside it (issue 12 §1, docs/sync-model.md §7 "moves"): against
real hub processes and a real Ignite node. The client goes away with a cursor; meanwhile many
documents outside its subset change (client writes and SQL DML), some of its documents leave it
in one or several steps, come back, are deleted (inside and outside); what its catch-up sends is
counted change by change. A version written without a recorded move (an older hub in a rolling
deploy, simulated with SQL on the meta table, which the hub had to give the new column) is still
removed."""

from __future__ import annotations

from typing import Any

import pytest
from pyignite.datatypes.prop_codes import PROP_QUERY_ENTITIES  # type: ignore[import-untyped,unused-ignore]

from hub.store.ignite.fields import data_table_name
from hub.store.ignite.schema import meta_cache_config, meta_table_name
from tests.integration.conftest import HubFactory, fresh, ignite_docs, wait_for
from tests.integration.test_query_subs import FIELDS, OPEN_X, _client, _matching, _sql, _strip
from tests.support.qclient import QueryClient

pytestmark = pytest.mark.asyncio(loop_scope="session")

TEAM_Y = [["team", "==", "y"]]


async def _away(w: Any, clients: list[Any], url: str, coll: str) -> tuple[QueryClient, Any, Any]:
    """A client syncs ``OPEN_X`` and leaves: (client id, its cursor, what it held)."""
    c = await _client(clients, url, fresh("qc"))
    synced = await c.qsub(coll, 1, filter=OPEN_X)
    assert synced["mode"] == "snapshot"
    # a snapshot's cursor may lag the versions it sent (the closed watermark): a live change's
    # cursor covers everything written before it
    await w.put(coll, "anchor", {"team": "x", "done": False, "n": -1})
    await c.wait(lambda: "anchor" in c.subsets.get(1, {}), 15)
    ver = c.subsets[1]["anchor"][0]
    await wait_for(lambda: c.qcursors[1][1] >= ver, 15)
    held = dict(c.subsets[1])
    await c.close()
    return c, list(c.qcursors[1]), held


async def _back(clients: list[Any], url: str, gone: QueryClient, coll: str, cursor: Any, held: Any) -> Any:
    back = QueryClient(url, gone.client_id)
    clients.append(back)
    await back.connect()
    back.subsets[1] = held
    synced = await back.qsub(coll, 1, filter=OPEN_X, cursor=cursor)
    assert synced["t"] == "qsynced" and synced["mode"] == "catchup", synced
    return back


def _sent(c: QueryClient) -> list[list[Any]]:
    return [ch for m in c.received if m["t"] == "qpage" for ch in m["changes"]]


@pytest.mark.timeout(180)
async def test_catchup_sends_the_subsets_changes_and_its_leavers_only(
    hubs: HubFactory, clients: list[Any], ignite_addresses: Any, aio_client: Any
) -> None:
    coll = fresh("qm")
    hub = await hubs("hub", ignite_addresses, {coll: {"cache": coll, "fields": FIELDS}})
    w = await _client(clients, hub.url)
    # d00..d19 open in x (the subset), o000..o199 in y
    batch = [w.put_op(coll, f"d{i:02d}", {"team": "x", "done": False, "n": i}) for i in range(20)]
    batch += [w.put_op(coll, f"o{i:03d}", {"team": "y", "done": False, "n": i}) for i in range(200)]
    assert all(r["s"] == "ok" for r in await w.mut(batch, timeout=60))
    gone, cursor, held = await _away(w, clients, hub.url, coll)
    assert sum(doc is not None for _, doc in held.values()) == 21, held
    # sees the SQL writes stamped by the feed before the client comes back
    watch = await _client(clients, hub.url)
    await watch.qsub(coll, 1, filter=OPEN_X)
    await watch.qsub(coll, 2, filter=TEAM_Y)

    table = f"PUBLIC.{data_table_name(coll)}"
    # outside the subset: 200 client writes, 20 SQL updates, one delete of each kind
    ops = [w.put_op(coll, f"o{i:03d}", {"team": "y", "done": i % 2 == 0, "n": -i}) for i in range(200)]
    assert all(r["s"] == "ok" for r in await w.mut(ops, timeout=60))
    for i in range(20):
        await _sql(aio_client, f"UPDATE {table} SET n = ? WHERE ID = ?", [1000 + i, f"o{i:03d}"])
    await w.delete(coll, "o150")
    await _sql(aio_client, f"DELETE FROM {table} WHERE ID = ?", ["o151"])
    # a new document outside, one entering
    await w.put(coll, "new-y", {"team": "y", "done": False, "n": 1})
    await w.put(coll, "new-x", {"team": "x", "done": False, "n": 2})
    # inside: changed and staying, leaving (client, SQL), deleted (client, SQL)
    await w.put(coll, "d01", {"team": "x", "done": False, "n": 101})
    await w.put(coll, "d02", {"team": "x", "done": True, "n": 2})
    await _sql(aio_client, f"UPDATE {table} SET team = ? WHERE ID = ?", ["y", "d03"])
    await w.delete(coll, "d04")
    await _sql(aio_client, f"DELETE FROM {table} WHERE ID = ?", ["d05"])
    # inside, and the SQL update leaves the declared fields as they were
    await _sql(aio_client, f"UPDATE {table} SET n = ? WHERE ID = ?", [106, "d06"])
    want = await _matching(aio_client, coll, OPEN_X)
    assert set(want) == {f"d{i:02d}" for i in range(20)} - {"d02", "d03", "d04", "d05"} | {"new-x", "anchor"}
    await watch.wait(lambda: _strip(watch.subset(1)) == want, 20)
    outside = await _matching(aio_client, coll, TEAM_Y)
    await watch.wait(lambda: _strip(watch.subset(2)) == outside, 20)

    back = await _back(clients, hub.url, gone, coll, cursor, held)
    await back.wait(lambda: _strip(back.subset(1)) == want, 20)
    sent = _sent(back)
    by_id: dict[str, list[Any]] = {}
    for ch in sent:
        by_id.setdefault(ch[0], []).append(ch)
    # exactly the subset's changes and its leavers, once each: nothing of the 222 outside changes
    assert set(by_id) == {"d01", "d02", "d03", "d04", "d05", "d06", "new-x"}, sorted(by_id)
    assert len(sent) == 7
    assert all(ch[2] is None for i in ("d02", "d03", "d04", "d05") for ch in by_id[i])
    assert all(ch[2] is not None for i in ("d01", "d06", "new-x") for ch in by_id[i])


@pytest.mark.timeout(180)
async def test_multistep_moves_out_and_back_in_while_offline(
    hubs: HubFactory, clients: list[Any], ignite_addresses: Any, aio_client: Any
) -> None:
    coll = fresh("qs")
    colls = {coll: {"cache": coll, "fields": FIELDS}}
    hub_a = await hubs("a", ignite_addresses, colls)
    hub_b = await hubs("b", ignite_addresses, colls)
    w = await _client(clients, hub_b.url)
    batch = [w.put_op(coll, f"d{i:02d}", {"team": "x", "done": False, "n": i}) for i in range(10)]
    batch += [w.put_op(coll, f"o{i:02d}", {"team": "y", "done": False, "n": i}) for i in range(30)]
    assert all(r["s"] == "ok" for r in await w.mut(batch, timeout=60))
    gone, cursor, held = await _away(w, clients, hub_a.url, coll)

    # several steps out: x -> z -> w (the last step's previous values did not match either)
    await w.put(coll, "d01", {"team": "z", "done": False, "n": 1})
    await w.put(coll, "d01", {"team": "w", "done": False, "n": 1})
    # out through done, then team, then an unrelated field changes
    await w.put(coll, "d02", {"team": "x", "done": True, "n": 2})
    await w.put(coll, "d02", {"team": "q", "done": True, "n": 2})
    await w.put(coll, "d02", {"team": "q", "done": True, "n": 22})
    # out, then deleted outside
    await w.put(coll, "d04", {"team": "y", "done": False, "n": 4})
    await w.delete(coll, "d04")
    # out and back in: a document, not a removal
    await w.put(coll, "d03", {"team": "y", "done": False, "n": 3})
    await w.put(coll, "d03", {"team": "x", "done": False, "n": 33})
    # in and out again (never held): a removal is harmless, a document would be wrong
    await w.put(coll, "o01", {"team": "x", "done": False, "n": 1})
    await w.put(coll, "o01", {"team": "y", "done": False, "n": 1})
    for i in range(5, 30):  # outside, staying outside (one deleted)
        await w.put(coll, f"o{i:02d}", {"team": "y", "done": True, "n": i})
    await w.delete(coll, "o29")
    want = await _matching(aio_client, coll, OPEN_X)
    assert set(want) == {"d00", "d03", "d05", "d06", "d07", "d08", "d09", "anchor"}

    back = await _back(clients, hub_b.url, gone, coll, cursor, held)
    await back.wait(lambda: _strip(back.subset(1)) == want, 20)
    sent = _sent(back)
    removed = {ch[0] for ch in sent if ch[2] is None}
    assert {"d01", "d02", "d04"} <= removed, sent
    assert [ch[2] is not None for ch in sent if ch[0] == "d03"] == [True]
    # nothing of the 25 outside documents that stayed outside
    assert {ch[0] for ch in sent} <= {"d01", "d02", "d03", "d04", "o01"}, sent


@pytest.mark.timeout(180)
async def test_rolling_deploy_meta_table_without_fp_and_versions_without_moves(
    hubs: HubFactory, clients: list[Any], ignite_addresses: Any, aio_client: Any
) -> None:
    coll = fresh("qr")
    # The meta table exists already as an older hub made it: no FP column. The hub adds it.
    old = meta_cache_config(coll, 0)
    entity = old[PROP_QUERY_ENTITIES][0]
    entity["query_fields"] = [f for f in entity["query_fields"] if f["name"] != "FP"]
    await aio_client.get_or_create_cache(old)
    hub = await hubs("hub", ignite_addresses, {coll: {"cache": coll, "fields": FIELDS}})
    w = await _client(clients, hub.url)
    batch = [w.put_op(coll, f"d{i:02d}", {"team": "x", "done": False, "n": i}) for i in range(10)]
    batch += [w.put_op(coll, f"o{i:02d}", {"team": "y", "done": False, "n": i}) for i in range(10)]
    assert all(r["s"] == "ok" for r in await w.mut(batch, timeout=60))
    gone, cursor, held = await _away(w, clients, hub.url, coll)

    meta = f"PUBLIC.{meta_table_name(coll)}"
    moves = f"PUBLIC.SYNCHUB_MOVES_{data_table_name(coll)}"

    async def older_hub_wrote(doc_id: str) -> None:
        # an older hub records no move and writes no FP: simulated on the row this hub wrote
        await _sql(aio_client, f"UPDATE {meta} SET FP = NULL WHERE ID = ?", [doc_id])
        await _sql(aio_client, f"DELETE FROM {moves} WHERE DOC = ?", [doc_id])

    await w.put(coll, "d04", {"team": "y", "done": False, "n": 4})  # out, by an older hub
    await older_hub_wrote("d04")
    await w.put(coll, "d05", {"team": "y", "done": False, "n": 5})  # out, by an older hub ...
    await older_hub_wrote("d05")
    await w.put(coll, "d05", {"team": "y", "done": False, "n": 55})  # ... then changed by this one
    await w.put(coll, "o01", {"team": "y", "done": False, "n": 11})  # outside, by an older hub
    await older_hub_wrote("o01")
    for i in range(2, 10):  # outside, by this hub
        await w.put(coll, f"o{i:02d}", {"team": "y", "done": True, "n": i})
    want = await _matching(aio_client, coll, OPEN_X)
    assert "d04" not in want and "d05" not in want

    back = await _back(clients, hub.url, gone, coll, cursor, held)
    await back.wait(lambda: _strip(back.subset(1)) == want, 20)
    sent = _sent(back)
    # the older hub's versions are treated as before (removed unless they match), the others not sent
    assert {ch[0] for ch in sent if ch[2] is None} == {"d04", "d05", "o01"}, sent
    assert {ch[0] for ch in sent} == {"d04", "d05", "o01"}, sent
    assert len(await ignite_docs(aio_client, coll)) == 21
