"""While no Ignite node can be reached, a store's calls fail at once and only one trial at a time
connects; once the node is back, the next trial reconnects and calls go through (real Ignite).

Found by the chaos suite's ``restart-persistent`` profile: pyignite reconnects to every node inside
each request that finds none alive, so every call of a hub opened connections while the cluster
restarted. A node recovering its WAL holds each such session (about 2 MiB of direct memory) for up
to 10 s: 8,000 of them halted a node with OutOfMemoryError. Here a listener stands in for a node
that accepts connections and answers nothing, and counts them.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hub.core.errors import StoreUnavailable
from hub.core.types import CollectionSpec
from hub.store.ignite import IgniteStore
from tests.conftest import running_cluster


@pytest.mark.timeout(180)
async def test_calls_while_no_node_answers_open_few_connections_and_the_store_comes_back(
    tmp_path: Path,
) -> None:
    spec = CollectionSpec("breaker_docs")
    with running_cluster(tmp_path / "ignite", "breaker", nodes=1, backups=0) as cluster:
        (address,) = cluster.addresses
        store = IgniteStore([address])
        await store.open()
        try:
            await store.ensure_collection(spec)
            assert await store.count(spec.name) == 0
            await asyncio.to_thread(cluster.kill_node, 0)

            accepted = 0

            async def stand_in(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                nonlocal accepted
                accepted += 1
                writer.close()  # no handshake answer: pyignite counts the node unreachable

            server = await asyncio.start_server(stand_in, *address)
            calls = failed = 0
            until = time.monotonic() + 3.0
            try:
                while time.monotonic() < until:
                    results = await asyncio.gather(
                        *(store.count(spec.name) for _ in range(20)), return_exceptions=True
                    )
                    calls += len(results)
                    failed += sum(isinstance(r, StoreUnavailable) for r in results)
                    await asyncio.sleep(0.005)
            finally:
                server.close()
                await server.wait_closed()
            assert failed == calls, "every call failed as unavailable"
            assert calls >= 200
            # one trial per backoff (0.1 s doubling to 1 s) instead of a connection per call
            assert accepted <= 30, f"{accepted} connections for {calls} calls"

            await asyncio.to_thread(cluster.start)  # in memory: empty again
            deadline = time.monotonic() + 60
            while True:
                try:
                    await store.ensure_collection(spec)
                    assert await store.count(spec.name) == 0
                    break
                except StoreUnavailable:
                    assert time.monotonic() < deadline, "the store did not come back"
                    await asyncio.sleep(0.2)
        finally:
            await store.close()
