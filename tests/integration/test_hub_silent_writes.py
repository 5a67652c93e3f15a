"""Writes that raise no continuous-query event still reach subscribers: ``IgniteCache.clear()``,
entries that expire, Ignite's data streamer (from a Java client node). Real Ignite, a real hub
process; the hub sweeps every partition each second here (``sweep_partitions = 1024``, unpaced:
``sweep_share = 1``; the default, 16, covers a small collection in about a minute). Each failed
before the sweep (hub/store/ignite/stamp.py ``differences``) and the expired events
(hub/store/ignite/feed.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pyignite.datatypes import ExpiryPolicy

from hub.dev.cluster.cluster import LocalCluster
from tests.integration.conftest import HubFactory, fresh, ignite_docs, model, sub, wait_for
from tests.support.javaclient import stream
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _reader(clients: list[HubClient], url: str, coll: str) -> HubClient:
    c = HubClient(url, fresh("r"))
    clients.append(c)
    await c.connect()
    await sub(c, coll)
    return c


async def test_clear_reaches_subscribers_and_catchup(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, aio_client: Any
) -> None:
    coll = fresh("clr")
    hub = await hubs("h", ignite_addresses, {coll: {"cache": coll}}, sweep_partitions=1024, sweep_share=1)
    live = await _reader(clients, hub.url, coll)
    away = await _reader(clients, hub.url, coll)
    writer = HubClient(hub.url, fresh("w"))
    clients.append(writer)
    await writer.connect()
    await writer.mut([writer.put_op(coll, f"d{i:02d}", {"n": i}) for i in range(20)])
    await wait_for(lambda: len(live.docs(coll)) == 20 and len(away.docs(coll)) == 20, 15)
    cursor = list(away.cursors[coll])
    await away.close()

    await (await aio_client.get_cache(coll)).clear()  # no continuous-query event at all
    await wait_for(lambda: live.docs(coll) == {}, 20)
    assert await ignite_docs(aio_client, coll) == {}

    back = await _reader_from(clients, hub.url, coll, away.client_id, cursor, away)
    assert model(back, coll) == {}, "catch-up kept documents that clear() removed"


async def _reader_from(
    clients: list[HubClient], url: str, coll: str, client_id: str, cursor: list[Any], before: HubClient
) -> HubClient:
    c = HubClient(url, client_id)
    clients.append(c)
    c.models[coll] = dict(before.models[coll])  # what it held when it left
    await c.connect()
    synced = await sub(c, coll, cursor)
    assert synced["mode"] == "catchup"
    return c


async def test_expired_entries_reach_subscribers_as_deletes(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, aio_client: Any
) -> None:
    coll = fresh("ttl")
    hub = await hubs("h", ignite_addresses, {coll: {"cache": coll}}, sweep_partitions=1024, sweep_share=1)
    reader = await _reader(clients, hub.url, coll)
    writer = HubClient(hub.url, fresh("w"))
    clients.append(writer)
    await writer.connect()
    assert (await writer.put(coll, "keep", {"n": 1}))["s"] == "ok"
    await wait_for(lambda: "keep" in reader.docs(coll), 15)

    # another application writes a session document that lives one second
    plain = await aio_client.get_cache(coll)
    doc = await plain.get("keep")  # a value of the collection's binary type
    doc.n = 2
    short_lived = plain.with_expire_policy(expiry_policy=ExpiryPolicy(create=timedelta(seconds=1)))
    await short_lived.put("session", doc)
    await wait_for(lambda: "session" in reader.docs(coll), 15)
    await wait_for(lambda: "session" not in reader.docs(coll), 20)
    assert set(reader.docs(coll)) == {"keep"}
    assert set(await ignite_docs(aio_client, coll)) == {"keep"}


@pytest.mark.parametrize("overwrite", [False, True], ids=["isolated", "overwrite"])
async def test_data_streamer_writes_reach_subscribers_and_catchup(
    hubs: HubFactory, clients: list[HubClient], ignite_cluster: LocalCluster, overwrite: bool
) -> None:
    """Ignite's data streamer (a Java client node; ``allowOverwrite`` false, the default, writes
    through the isolated updater) bypasses the hub: every streamed document reaches a live
    subscriber, and a client that was away catches up on them. (On Ignite 2.17 both updaters do
    notify continuous queries, so this passed before the sweep too: it pins the behaviour, and the
    sweep is the net for a receiver that does not.)"""
    coll = fresh("str")
    hub = await hubs(
        "h", list(ignite_cluster.addresses), {coll: {"cache": coll}}, sweep_partitions=1024, sweep_share=1
    )
    live = await _reader(clients, hub.url, coll)
    away = await _reader(clients, hub.url, coll)
    cursor = list(away.cursors[coll])
    await away.close()

    n = 300
    await stream(ignite_cluster, coll, "s", n, overwrite=overwrite)
    expected = {f"s{i}": {"n": i, "by": "streamer"} for i in range(n)}
    await wait_for(lambda: live.docs(coll) == expected, 30)

    back = await _reader_from(clients, hub.url, coll, away.client_id, cursor, away)
    assert model(back, coll) == expected
