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
from hub.store.ignite.schema import meta_cache_name
from tests.integration.conftest import HubFactory, converge, fresh, ignite_docs, model, sub, wait_for
from tests.support.javaclient import reset_lost_partitions
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


@pytest.mark.timeout(240)
async def test_lost_partitions_end_in_a_new_epoch_and_every_client_resyncs(
    ignite_pair: LocalCluster, hubs: HubFactory, clients: list[HubClient]
) -> None:
    """A collection without backups loses the partitions of a node that dies: the documents there,
    their meta rows and tombstones are gone, so no catch-up could tell a client. The hub records
    the loss; once an operator resets the lost partitions, the collection gets a new epoch and its
    subscribers resync with a snapshot that ends equal to what Ignite still holds. (Before, clients
    kept the lost documents forever; the sweep also mistook a LOST partition for the cache's end.)"""
    addresses = list(ignite_pair.addresses)
    coll = fresh("lost")
    hub = await hubs("hub", addresses, {coll: {"cache": coll, "backups": 0}})
    writer, reader = HubClient(hub.url, fresh("w")), HubClient(hub.url, fresh("r"))
    clients.extend([writer, reader])
    await writer.connect()
    await reader.connect()
    res = await writer.mut([writer.put_op(coll, f"d{i:03d}", {"v": i}) for i in range(200)], 30)
    assert all(r["s"] == "ok" for r in res)
    await sub(reader, coll)
    assert len(reader.docs(coll)) == 200
    epoch = reader.cursors[coll][0]

    ignite_pair.kill_node(1)
    ig = AioClient()
    async with ig.connect([addresses[0]]):
        sys_cache = await ig.get_cache("synchub_sys")

        async def loss_recorded() -> bool:
            return await sys_cache.get(f"lost/{coll}") is not None

        await wait_for(loss_recorded, 60, interval=0.5)
        await reset_lost_partitions(ignite_pair, [coll, meta_cache_name(coll)])

        async def new_epoch() -> bool:
            return await sys_cache.get(f"epoch/{coll}") not in (None, epoch)

        await wait_for(new_epoch, 60, interval=0.5)
        if reader.close_code is None:  # the live subscription is resynced in place
            await reader.wait(lambda: reader.cursors[coll][0] != epoch, 60)
            assert any(r["reason"] == "epoch" and r["mode"] == "snapshot" for r in reader.resyncs)
            final = reader
        else:  # its sync hit a lost partition meanwhile: refused as unavailable, the client returns
            assert reader.close_code == 4503, reader.close_reason
            final = HubClient(hub.url, reader.client_id)
            clients.append(final)
            final.models[coll] = dict(reader.models[coll])
            await final.connect()
            synced = await sub(final, coll, reader.cursors[coll])
            assert synced["mode"] == "snapshot" and synced["reset"] is True
        survivors = await ignite_docs(ig, coll)
    assert 0 < len(survivors) < 200, "the dead node held none (or all) of the documents"
    assert model(final, coll) == survivors
    # the collection works again, lost keys included (the writer may have to come back too)
    if writer.close_code is not None:
        writer = HubClient(hub.url, writer.client_id)
        clients.append(writer)
        await writer.connect()
    res = await writer.mut([writer.put_op(coll, f"d{i:03d}", {"v": -i}) for i in range(200)], 30)
    assert all(r["s"] == "ok" for r in res), res
    await final.wait(lambda: len(final.docs(coll)) == 200 and final.docs(coll)["d001"]["v"] == -1, 30)
