"""A hub whose Ignite cluster restarted as a whole (in memory: every cache and document gone) serves
again without a restart of its own: it recreates its caches, writes are applied, and a reader sees
what was written after the restart and nothing of before. (Found by the chaos suite on 2026-12-02:
three minutes after such a restart the hubs still answered every write with 4503 "Cache does not
exist".)"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.conftest import running_cluster
from tests.integration.conftest import HubFactory, fresh, sub
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _write(url: str, coll: str, doc_id: str, clients: list[HubClient]) -> str:
    c = HubClient(url, fresh("w"))
    clients.append(c)
    try:
        await c.connect()
        (r,) = await c.mut([c.put_op(coll, doc_id, {"v": 1})], 10)
        return str(r["s"])
    except Exception as exc:  # closed with 4503 while Ignite is away, refused connection, ...
        return f"{exc!r} (close {c.close_code} {c.close_reason})"
    finally:
        await c.close()


@pytest.mark.timeout(300)
async def test_a_hub_serves_again_after_its_cluster_restarted_empty(
    tmp_path: Path, hubs: HubFactory, clients: list[HubClient]
) -> None:
    coll = fresh("rs")
    with running_cluster(tmp_path / "ignite", "restart-empty", nodes=1, backups=0) as cluster:
        hub = await hubs("hub", list(cluster.addresses), {coll: {"cache": coll}})
        assert await _write(hub.url, coll, "before", clients) == "ok"
        await asyncio.to_thread(cluster.stop)
        await asyncio.to_thread(cluster.start)  # in memory: no cache, no document
        deadline = time.monotonic() + 90
        outcomes: list[str] = []
        while time.monotonic() < deadline:
            outcomes.append(await _write(hub.url, coll, "after", clients))
            if outcomes[-1] == "ok":
                break
            await asyncio.sleep(1)
        assert outcomes[-1] == "ok", f"no write applied within 90 s of the restart: {outcomes[-3:]}"
        reader = HubClient(hub.url, fresh("r"))
        clients.append(reader)
        await reader.connect()
        await sub(reader, coll)
        assert set(reader.docs(coll)) == {"after"}
