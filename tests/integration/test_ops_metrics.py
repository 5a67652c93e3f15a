"""``/metrics`` (Prometheus text format) moves as traffic flows through a real hub on Ignite."""

from __future__ import annotations

import pytest
from pyignite import AioClient

from tests.support.acl import config, connected, fresh, hub_on_ignite, metrics, token
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.timeout(120)


async def test_metrics_follow_traffic(ignite_addresses: list[tuple[str, int]]) -> None:
    coll = fresh()
    async with hub_on_ignite(config(ignite_addresses, {coll: {}})) as run:
        m0 = await metrics(run.http)
        assert m0["synchub_connections"] == 0
        async with connected(run.url, token("alice")) as a, connected(run.url, token("bob")) as b:
            await a.sub(coll)
            await b.sub(coll, ["not-the-epoch", 5])  # a cursor of another epoch: resync "epoch"
            m1 = await metrics(run.http)
            assert m1["synchub_connections"] == 2
            assert m1['synchub_catchup_seconds_count{mode="snapshot"}'] == 2
            assert m1['synchub_resyncs_total{reason="epoch"}'] == 1
            assert m1['synchub_ignite_cursors{kind="cq"}'] >= 1  # the collection's feed
            assert m1["synchub_asyncio_tasks"] > 2
            assert m1["synchub_process_open_fds"] > 2
            assert m1["synchub_process_resident_memory_bytes"] > 10 << 20

            # hub writes and an external write (pyignite, like another application)
            op = a.put_op(coll, "d1", {"v": 1})
            assert (await a.mut([op]))[0]["s"] == "ok"
            assert (await a.mut([op]))[0]["dup"] is True  # replay: a dedup hit
            stale = a.put_op(coll, "d1", {"v": 0})
            stale["ts"] = 1
            assert (await a.mut([stale]))[0]["s"] == "conflict"
            ext = AioClient()
            await ext.connect(ignite_addresses)
            try:
                await (await ext.get_cache(coll)).put("ext", 42)
            finally:
                await ext.close()
            await a.wait(lambda: "ext" in a.docs(coll), 10)
            await b.wait(lambda: "ext" in b.docs(coll), 10)
            m2 = await metrics(run.http)

        bad = HubClient(run.url, token="garbage")
        await bad.open()
        await bad.send({"t": "hello", "v": [1], "client": "x", "token": "garbage"})
        await bad.wait_closed()
        await bad.close()
        m3 = await metrics(run.http)

    assert m2["synchub_frames_in_total"] > m0["synchub_frames_in_total"] + 6
    assert m2["synchub_frames_out_total"] > m0["synchub_frames_out_total"] + 8
    assert m2["synchub_events_in_total"] >= 2  # d1 and ext came through the live feed
    assert m2["synchub_events_out_total"] >= 4  # ... to two subscribers
    assert m2["synchub_push_lag_seconds_count"] >= 4
    assert 0 < m2["synchub_push_lag_seconds_sum"] < 10
    assert m2["synchub_dedup_hits_total"] == 1
    assert m2['synchub_conflicts_total{policy="lww",outcome="conflict"}'] == 1
    assert m2['synchub_mutations_total{status="ok"}'] == 2  # the write and its replay
    assert m2["synchub_queue_depth_count"] > 0
    assert m3["synchub_connections"] == 0
    assert m3['synchub_auth_failures_total{reason="malformed"}'] == 1
