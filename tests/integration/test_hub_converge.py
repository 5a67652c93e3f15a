"""Convergence against a real hub process and a real Ignite node: interleaved writers, a late
joiner, and two hubs on one cluster (live fan-out across hubs, resuming a cursor on another hub)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from tests.integration.conftest import HubFactory, converge, fresh, ignite_docs, model, sub, wait_for
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _client(clients: list[HubClient], url: str, client_id: str | None = None) -> HubClient:
    c = HubClient(url, client_id)
    clients.append(c)
    await c.connect()
    return c


@pytest.mark.timeout(120)
async def test_two_clients_converge_and_late_joiner(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, aio_client: Any
) -> None:
    coll = fresh("conv")
    hub = await hubs("hub", ignite_addresses, {coll: {"cache": coll, "policy": "lww"}})
    a = await _client(clients, hub.url)
    b = await _client(clients, hub.url)
    for c in (a, b):
        synced = await sub(c, coll)
        assert synced["mode"] == "snapshot"

    rng = random.Random(1)
    ids = [f"d{i:03d}" for i in range(60)]
    sent = {"put": 0, "del": 0}

    async def writer(c: HubClient, tag: str) -> None:
        for rnd in range(12):
            batch = []
            for doc_id in rng.sample(ids, 15):
                if rng.random() < 0.3:
                    batch.append(c.del_op(coll, doc_id))
                    sent["del"] += 1
                else:
                    batch.append(c.put_op(coll, doc_id, {"by": tag, "r": rnd, "x": rng.randrange(1000)}))
                    sent["put"] += 1
            results = await c.mut(batch, timeout=30)
            assert [r["seq"] for r in results] == [m["seq"] for m in batch]
            assert all(r["s"] in ("ok", "conflict") for r in results), results

    await asyncio.gather(writer(a, "a"), writer(b, "b"))
    assert sent["del"] > 20 and sent["put"] > 100

    state = await converge(aio_client, coll, [(a, coll), (b, coll)])
    assert 0 < len(state) < len(ids), "the run should leave some documents live and some deleted"
    assert a.versions(coll) == b.versions(coll), "both clients hold the same version per document"

    late = await _client(clients, hub.url)
    synced = await sub(late, coll)
    assert synced["mode"] == "snapshot" and synced["reset"] is True
    assert model(late, coll) == state == await ignite_docs(aio_client, coll)
    # (the late joiner may also hold tombstones the hub sent when settling, docs/sync-model.md §4)
    live_versions = {i: v for i, v in a.versions(coll).items() if i in state}
    assert {i: v for i, v in late.versions(coll).items() if i in state} == live_versions


@pytest.mark.timeout(120)
async def test_two_hubs_live_and_resume_on_other_hub(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, aio_client: Any
) -> None:
    coll = fresh("two")
    colls = {coll: {"cache": coll}}
    hub_a = await hubs("a", ignite_addresses, colls)
    hub_b = await hubs("b", ignite_addresses, colls)

    on_a = await _client(clients, hub_a.url)
    on_b = await _client(clients, hub_b.url)
    await sub(on_a, coll)
    await sub(on_b, coll)

    # live: a change through hub A reaches a client of hub B
    res = await on_a.put(coll, "x1", {"v": 1})
    assert res["s"] == "ok"
    await wait_for(lambda: on_b.docs(coll).get("x1") == {"v": 1}, 30)
    assert on_b.versions(coll)["x1"] == res["ver"]
    res_b = await on_b.put(coll, "x2", {"v": 2})
    await wait_for(lambda: on_a.docs(coll).get("x2") == {"v": 2}, 30)
    assert on_a.versions(coll)["x2"] == res_b["ver"]

    # a client syncs on A, remembers its cursor and leaves
    roamer = await _client(clients, hub_a.url, fresh("roamer"))
    await on_a.mut([on_a.put_op(coll, f"p{i:03d}", {"v": i}) for i in range(200)])
    await asyncio.sleep(2.5)  # the hubs settle past those: the roamer's cursor covers them
    await on_a.put(coll, "marker", {"v": 0})
    synced = await sub(roamer, coll)
    assert synced["mode"] == "snapshot"
    await converge(aio_client, coll, [(roamer, coll)])
    cursor = roamer.cursors[coll]
    known = dict(roamer.models[coll])
    await roamer.close()

    # changes while it is away, through both hubs, puts and deletes
    await on_a.mut([on_a.put_op(coll, f"p{i:03d}", {"v": -i}) for i in range(0, 40)])
    await on_b.mut([on_b.del_op(coll, f"p{i:03d}") for i in range(40, 60)])
    await on_b.mut([on_b.put_op(coll, f"n{i:03d}", {"v": i}) for i in range(30)])
    state = await converge(aio_client, coll, [(on_a, coll), (on_b, coll)])

    # it comes back on hub B with its cursor: catch-up, not a snapshot
    back = await _client(clients, hub_b.url, roamer.client_id)
    back.models[coll] = known
    synced = await sub(back, coll, cursor)
    assert synced["mode"] == "catchup" and synced["reset"] is False
    assert not back.resyncs
    assert model(back, coll) == state
    received = sum(len(msg["changes"]) for msg in back.received if msg["t"] == "page")
    assert 90 <= received < 200, f"catch-up sent {received} changes for 90 made"
