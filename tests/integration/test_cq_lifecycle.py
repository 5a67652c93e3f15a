"""CQ lifecycle against real Ignite: cursor release, node selection, failover to a surviving node."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from pyignite import AioClient
from pyignite.datatypes.prop_codes import PROP_BACKUPS_NUMBER, PROP_NAME

from hub.ignite import EventType, SubscriptionLost, continuous_query


async def test_200_open_close_cycles_free_server_cursors(aio_client: Any, cache_name: str) -> None:
    """All cycles share one dedicated connection (kept open by an anchor CQ). The server allows 128 open
    cursors per connection, so 200 cycles fail with TOO_MANY_CURSORS (1010) unless OP 0 frees each one."""
    cache = await aio_client.get_or_create_cache(cache_name)
    async with continuous_query(aio_client, cache_name) as anchor:
        conn = anchor.connection
        assert conn is not None
        ids = []
        for _ in range(200):
            async with continuous_query(aio_client, cache_name) as cq:
                assert cq.connection is conn
                ids.append(cq.cq_id)
        assert len(set(ids)) == 200
        assert conn.sink_count == 1
        await cache.put(1, "still alive")
        batch = await anext(anchor)
        assert [(e.type, e.key, e.value) for e in batch] == [(EventType.CREATED, 1, "still alive")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_dedicated_connection_skips_dead_address(
    ignite_addresses: list[tuple[str, int]], cache_name: str
) -> None:
    client = AioClient(partition_aware=False)
    await client.connect([("127.0.0.1", _free_port()), *ignite_addresses])
    try:
        cache = await client.get_or_create_cache(cache_name)
        async with continuous_query(client, cache_name) as events:
            assert events.connection is not None
            assert (events.connection.host, events.connection.port) == tuple(ignite_addresses[0])
            await cache.put("k", 1)
            batch = await anext(events)
            assert batch[0].key == "k"
    finally:
        await client.close()


async def _put_with_retry(cache: Any, key: Any, value: Any) -> None:
    for attempt in range(30):
        try:
            await cache.put(key, value)
            return
        except Exception:
            if attempt == 29:
                raise
            await asyncio.sleep(0.5)


async def test_node_killed_subscription_lost_then_resubscribe(ignite_pair: Any, cache_name: str) -> None:
    addresses = list(ignite_pair.addresses)
    victim: int | None = None
    client = AioClient()
    await client.connect(addresses)
    try:
        cache = await client.get_or_create_cache({PROP_NAME: cache_name, PROP_BACKUPS_NUMBER: 1})
        await cache.put_all({k: 0 for k in range(100)})
        async with continuous_query(client, cache_name) as events:
            conn = events.connection
            assert conn is not None
            victim = addresses.index((conn.host, conn.port))
            await cache.put(1, 1)
            assert (await anext(events))[0].value == 1
            ignite_pair.kill_node(victim)
            with pytest.raises(SubscriptionLost) as info:
                async for _ in events:
                    pass
            assert info.value.reason in ("connection", "timeout")

        survivor = addresses[1 - victim]
        async with continuous_query(client, cache_name) as events:
            assert events.connection is not None
            assert (events.connection.host, events.connection.port) == survivor
            await _put_with_retry(cache, 2, 2)
            batch = await anext(events)
            assert [(e.type, e.key, e.old, e.value) for e in batch] == [(EventType.UPDATED, 2, 0, 2)]
    finally:
        await client.close()
        if victim is not None:
            ignite_pair.start_node(victim)
