"""``/healthz`` and ``/readyz`` against a dedicated Ignite node that is stopped and started again."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import httpx
import pytest
from pyignite import AioClient
from pyignite.datatypes.prop_codes import PROP_EXPIRY_POLICY

from hub.core.types import CollectionSpec
from hub.store.ignite import IgniteStore
from tests.conftest import PortBlock, save_logs
from tests.support.acl import config, connected, fresh, hub_on_ignite, metrics, token

pytestmark = pytest.mark.timeout(240)

DEDUP_TTL_MS = 3_600_000


async def wait_status(http: str, path: str, status: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=3) as client:
        while True:
            try:
                code = (await client.get(f"{http}{path}")).status_code
            except httpx.HTTPError:
                code = -1
            if code == status:
                return time.monotonic()
            assert time.monotonic() < deadline, f"{path} still {code}, wanted {status}"
            await asyncio.sleep(0.2)


async def check_dedup_expiry(addresses: list[tuple[str, int]]) -> None:
    """The hub created the dedup cache with an expiry policy of ``dedup_ttl_ms``."""
    client = AioClient()
    await client.connect(addresses)
    try:
        settings = await (await client.get_cache("synchub_dedup")).settings()
    finally:
        await client.close()
    policy = settings[PROP_EXPIRY_POLICY]
    assert policy is not None and policy.create == DEDUP_TTL_MS and policy.update == DEDUP_TTL_MS


async def test_readyz_follows_ignite(port_block: PortBlock, tmp_path: Path) -> None:
    cluster = port_block.cluster(tmp_path / "ignite", name="readyz", heap_mb=384)
    await asyncio.to_thread(cluster.start)
    try:
        coll = fresh()
        cfg = config(list(cluster.addresses), {coll: {}}, dedup_ttl_ms=DEDUP_TTL_MS)
        async with hub_on_ignite(cfg) as run:
            await wait_status(run.http, "/readyz", 200, 10)
            await check_dedup_expiry(list(cluster.addresses))
            async with connected(run.url, token("alice")) as c:
                await c.sub(coll)
                await asyncio.to_thread(cluster.stop)
                await wait_status(run.http, "/readyz", 503, 30)
                await wait_status(run.http, "/healthz", 200, 1)  # the process itself is fine
                assert (await metrics(run.http))[f'synchub_feed_live{{coll="{coll}"}}'] == 0
                await asyncio.to_thread(cluster.start)
                await wait_status(run.http, "/readyz", 200, 60)
                assert (await metrics(run.http))[f'synchub_feed_live{{coll="{coll}"}}'] == 1
            # the hub serves again: a fresh client syncs and writes
            async with connected(run.url, token("alice")) as c:
                await c.sub(coll)
                assert (await c.put(coll, "after", {"v": 1}))["s"] == "ok"
                await c.wait(lambda: "after" in c.docs(coll), 10)
    finally:
        await asyncio.to_thread(cluster.stop)
        save_logs(cluster, "readyz")


async def test_store_opened_while_the_node_starts_waits_instead_of_crashing_it(
    port_block: PortBlock, tmp_path: Path
) -> None:
    """A hub (re)connecting the moment a node's client port answers must not create caches yet.

    The connector answers before the node has joined (topology version -1); a cache created then
    crashed the node ("Failed to execute affinity operation on cache groups", seen in CI when the
    readyz test restarted its node under a reconnecting hub). The store waits for the node."""
    cluster = port_block.cluster(tmp_path / "ignite", name="early", heap_mb=384)
    host, port = cluster.addresses[0]
    starting = asyncio.create_task(asyncio.to_thread(cluster.start))
    try:
        while True:  # the first moment the client connector accepts connections
            assert not starting.done(), "the node started before its port was seen"
            try:
                _, writer = await asyncio.open_connection(host, port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.01)
        store = IgniteStore([(host, port)])
        try:
            await store.open()
            await store.ensure_collection(CollectionSpec(fresh("early")))
        finally:
            await store.close()
        await starting  # the node finished starting: it did not die under the early client
        assert cluster.node_pid(0) is not None
    finally:
        with contextlib.suppress(BaseException):
            await starting
        await asyncio.to_thread(cluster.stop)
        save_logs(cluster, "early")
