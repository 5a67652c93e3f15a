"""CQ lifecycle against real Ignite: cursor release, node selection, failover to a surviving node."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pyignite import AioClient
from pyignite.datatypes.prop_codes import PROP_BACKUPS_NUMBER, PROP_NAME

from hub.core.errors import SubscriptionLost
from hub.ignite import EventType, continuous_query
from tests.support.cq import next_batch, prime_cache
from tests.support.ports import free_port


async def test_200_open_close_cycles_free_server_cursors(aio_client: Any, cache_name: str) -> None:
    """All cycles share one dedicated connection (kept open by an anchor CQ). The server allows 128 open
    cursors per connection, so 200 cycles fail with TOO_MANY_CURSORS (1010) unless OP 0 frees each one."""
    cache = await aio_client.get_or_create_cache(cache_name)
    async with continuous_query(aio_client, cache_name) as anchor:
        await prime_cache(anchor, cache)
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
        batch = await next_batch(anchor, "the anchor's event after 200 cycles")
        assert [(e.type, e.key, e.value) for e in batch] == [(EventType.CREATED, 1, "still alive")]


async def test_dedicated_connection_skips_dead_address(
    ignite_addresses: list[tuple[str, int]], cache_name: str
) -> None:
    client = AioClient(partition_aware=False)
    await client.connect([("127.0.0.1", free_port()), *ignite_addresses])
    try:
        cache = await client.get_or_create_cache(cache_name)
        async with continuous_query(client, cache_name) as events:
            assert events.connection is not None
            assert (events.connection.host, events.connection.port) == tuple(ignite_addresses[0])
            await prime_cache(events, cache)
            await cache.put("k", 1)
            batch = await next_batch(events, "the put's event")
            assert batch[0].key == "k"
    finally:
        await client.close()


async def test_node_killed_subscription_lost_then_resubscribe(ignite_pair: Any, cache_name: str) -> None:
    """The ``ignite_pair`` fixture restarts the killed node after the test, even if it fails."""
    addresses = list(ignite_pair.addresses)
    client = AioClient()
    await client.connect(addresses)
    try:
        cache = await client.get_or_create_cache({PROP_NAME: cache_name, PROP_BACKUPS_NUMBER: 1})
        await cache.put_all({k: 0 for k in range(100)})
        async with continuous_query(client, cache_name) as events:
            conn = events.connection
            assert conn is not None
            victim = addresses.index((conn.host, conn.port))
            await prime_cache(events, cache)
            await cache.put(1, 1)
            assert (await next_batch(events, "the put's event before the kill"))[0].value == 1
            ignite_pair.kill_node(victim)
            with pytest.raises(SubscriptionLost) as info:
                while True:
                    await next_batch(events, "SubscriptionLost after the node kill")
            assert info.value.reason in ("connection", "timeout")

        survivor = addresses[1 - victim]
        # The client's first request after the kill may still go to the dead node's socket: the
        # continuous query's own connection skips dead addresses, the priming writes retry once.
        async with continuous_query(client, cache_name) as events:
            assert events.connection is not None
            assert (events.connection.host, events.connection.port) == survivor
            await prime_cache(events, _Retrying(cache))
            await cache.put(2, 2)
            batch = await next_batch(events, "the put's event on the survivor")
            assert [(e.type, e.key, e.old, e.value) for e in batch] == [(EventType.UPDATED, 2, 0, 2)]
    finally:
        await client.close()


class _Retrying:
    """A pyignite cache whose ``put``/``remove_key`` are retried while the client drops the dead node."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    async def _retry(self, op: str, *args: Any) -> Any:
        for attempt in range(30):
            try:
                return await getattr(self.cache, op)(*args)
            except Exception:  # whatever pyignite raises for the dead socket, until it reconnects
                if attempt == 29:
                    raise
                await asyncio.sleep(0.5)
        return None

    async def put(self, key: Any, value: Any) -> None:
        await self._retry("put", key, value)

    async def remove_key(self, key: Any) -> None:
        await self._retry("remove_key", key)
