"""Failover: a 2-node Ignite cluster, a collection with backups=1, a hub connected to both nodes.
The node holding the hub's continuous query is SIGKILLed while an external writer keeps writing;
subscribed clients get ``resync {reason: "cq_lost"}`` and converge to Ignite's state."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from typing import Any

import pytest
from pyignite import AioClient, GenericObjectMeta
from pyignite.datatypes import LongObject

from hub.dev.cluster import LocalCluster
from tests.integration.conftest import HubFactory, converge, fresh, sub, wait_for
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.mark.timeout(240)
async def test_cq_holder_killed_clients_resync_and_converge(
    ignite_pair: LocalCluster, hubs: HubFactory, clients: list[HubClient]
) -> None:
    addresses = list(ignite_pair.addresses)
    ports = [p for _, p in addresses]
    coll = fresh("fo")
    hub = await hubs("hub", addresses, {coll: {"cache": coll, "backups": 1}})

    subs = [HubClient(hub.url, fresh("sub")) for _ in range(2)]
    hub_writer = HubClient(hub.url, fresh("hw"))
    clients.extend([*subs, hub_writer])
    for c in subs:
        await c.connect()
        await sub(c, coll)
    await hub_writer.connect()
    res = await hub_writer.mut([hub_writer.put_op(coll, f"h{i:03d}", {"v": i}) for i in range(100)], 30)
    assert all(r["s"] == "ok" for r in res)
    epoch = subs[0].cursors[coll][0]
    # acknowledged mutations of 12 clients: their dedup records must survive the node loss
    acked: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for i in range(12):
        c = HubClient(hub.url, fresh("once"))
        await c.connect()
        op = c.put_op(coll, f"o{i:02d}", {"v": i})
        (r,) = await c.mut([op], 30)
        assert r["s"] == "ok"
        acked.append((c.client_id, op, r))
        await c.close()

    # Which node carries the continuous query? The hub holds one pooled connection per node and
    # one dedicated CQ connection: the node with two connections from the hub process.
    conns = hub.ignite_connections(ports)
    assert sorted(conns.values()) == [1, 2], f"hub connections per node port: {dict(conns)}"
    holder = ports.index(max(conns, key=lambda p: conns[p]))
    survivor = 1 - holder

    Doc = GenericObjectMeta(coll, (), {}, type_name=coll, schema=OrderedDict([("v", LongObject)]))
    aio = AioClient()
    await aio.connect(addresses)
    stop = asyncio.Event()
    written = {"n": 0, "errors": 0}

    async def external_writer() -> None:
        cache = await aio.get_cache(coll)
        i = 0
        while not stop.is_set():
            try:
                await asyncio.wait_for(cache.put(f"w{i % 50:02d}", Doc(v=i)), 10)
                written["n"] += 1
                i += 1
            except Exception:  # the killed node: pyignite reconnects to the other one
                written["errors"] += 1
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.01)

    task = asyncio.create_task(external_writer())
    try:
        await wait_for(lambda: written["n"] >= 50, 30)
        ignite_pair.kill_node(holder)
        n_at_kill = written["n"]
        await wait_for(lambda: all(any(r["reason"] == "cq_lost" for r in c.resyncs) for c in subs), 90)
        await wait_for(lambda: written["n"] >= n_at_kill + 100, 60)
    finally:
        stop.set()
        await task

    for c in subs:
        lost = [r for r in c.resyncs if r["reason"] == "cq_lost"]
        # a catch-up from the last cursor each client was sent, not a snapshot of everything
        assert lost and all(r["mode"] == "catchup" and r["coll"] == coll for r in lost)

    # the hub still takes writes, and everything converges to what the surviving node holds
    await aio.close()
    reader = AioClient()
    await reader.connect([addresses[survivor]])
    try:
        (after,) = await hub_writer.mut([hub_writer.put_op(coll, "after", {"v": -1})], 60)
        assert after["s"] == "ok"
        state = await converge(reader, coll, [(c, coll) for c in subs], timeout=90)
        assert state["after"] == {"v": -1}
        assert len([k for k in state if k.startswith("w")]) == 50
        assert len([k for k in state if k.startswith("h")]) == 100
        # the collection's generation did not change: the resync snapshot has the same epoch
        assert all(c.cursors[coll][0] == epoch for c in subs)
        # replays of acknowledged mutations are still recognised after the node loss
        for client_id, op, r in acked:
            c = HubClient(hub.url, client_id)
            clients.append(c)
            await c.connect()
            (again,) = await c.mut([op], 60)
            assert (again.get("dup"), again["s"], again["ver"]) == (True, "ok", r["ver"]), client_id
    finally:
        with contextlib.suppress(Exception):
            await reader.close()
