"""Offline catch-up against a real hub and Ignite: while a client is away, 5,000 changes and 500
deletes are made through the hub, by SQL DML and by the Node.js thin client; coming back with
its cursor it gets about those changes (not the 20,000-document collection) and ends with
exactly Ignite's state."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hub.store.ignite.schema import meta_table_name
from tests.integration.conftest import (
    HubFactory,
    converge,
    fresh,
    ignite_docs,
    model,
    strip,
    sub,
    wait_for,
)
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.asyncio(loop_scope="session")

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
PREPOPULATED = 20_000


async def _sql(aio: Any, query: str, args: list[Any] | None = None) -> list[list[Any]]:
    cur = await aio.sql(query, query_args=args or [])
    rows = []
    async with cur:
        async for row in cur:
            rows.append(row)
    return rows


async def _node_write(port: int, cache: str, vtype: str, ops: dict[str, Any]) -> str:
    cmd = ["node", str(NODE_DIR / "docwrite.mjs"), str(port), cache, vtype]
    proc = await asyncio.to_thread(
        subprocess.run, cmd, input=json.dumps(ops).encode(), capture_output=True, timeout=120
    )
    assert proc.returncode == 0, f"node writer failed: {proc.stderr.decode()}"
    return proc.stdout.decode().strip()


async def _table_docs(aio: Any, table: str) -> dict[str, dict[str, Any]]:
    """The collection's data as Ignite holds it, read by SQL (much faster than a binary scan)."""
    rows = await _sql(aio, f'SELECT id, "v", "s" FROM {table}')
    return {str(i): {k: x for k, x in (("v", v), ("s", s)) if x is not None} for i, v, s in rows}


def _pid(i: int) -> str:
    return f"p{i:05d}"


@pytest.mark.timeout(240)
async def test_offline_catchup_hub_sql_and_node_writers(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, aio_client: Any
) -> None:
    coll = fresh("off")
    table = coll.upper()
    vtype = f"{coll}_doc"
    await _sql(
        aio_client,
        f'CREATE TABLE {table} (id VARCHAR PRIMARY KEY, "v" BIGINT, "s" VARCHAR) '
        f'WITH "cache_name={coll},value_type={vtype},atomicity=transactional"',
    )
    await _sql(
        aio_client,
        f'INSERT INTO {table} (id, "v", "s") '
        "SELECT CONCAT('p', LPAD(CAST(x AS VARCHAR), 5, '0')), x, 'pre' FROM SYSTEM_RANGE(0, ?)",
        [PREPOPULATED - 1],
    )
    assert len(await _table_docs(aio_client, table)) == PREPOPULATED

    def table_state() -> Any:
        return _table_docs(aio_client, table)

    hub = await hubs(
        "hub",
        ignite_addresses,
        {coll: {"cache": coll, "value_type": vtype}},
        catchup_overlap_ms=2000,
    )
    # Wait until the hub's reconcile has stamped every pre-populated document, then let more
    # than the overlap window pass: A's cursor then lies well after the pre-population.
    meta = meta_table_name(coll)

    async def all_stamped() -> bool:
        rows = await _sql(aio_client, f"SELECT COUNT(*) FROM {meta} WHERE DEL = FALSE")
        return int(rows[0][0]) == PREPOPULATED

    await wait_for(all_stamped, 120, interval=0.5)
    await asyncio.sleep(2.5)
    writer = HubClient(hub.url, fresh("writer"))
    clients.append(writer)
    await writer.connect()
    marker = await writer.put(coll, "marker", {"v": 0, "s": "marker"})
    assert marker["s"] == "ok"

    a = HubClient(hub.url, fresh("offline-a"))
    clients.append(a)
    await a.connect()
    synced = await sub(a, coll)
    assert synced["mode"] == "snapshot"
    await converge(aio_client, coll, [(a, coll)], read=table_state)
    cursor = list(a.cursors[coll])
    assert cursor[1] >= marker["ver"]
    held = dict(a.models[coll])
    await a.close()
    # the writer follows the collection live from A's cursor (to know when every change is stamped)
    assert (await sub(writer, coll, cursor))["mode"] == "catchup"

    # --- while A is away: 5,000 changes and 500 deletes on distinct keys --------------------------
    # through the hub (another client): 2,000 updates, 200 deletes
    for start in range(0, 2000, 500):
        res = await writer.mut(
            [writer.put_op(coll, _pid(i), {"v": -i, "s": "hub"}) for i in range(start, start + 500)], 30
        )
        assert all(r["s"] == "ok" for r in res)
    res = await writer.mut([writer.del_op(coll, _pid(i)) for i in range(2000, 2200)], 30)
    assert all(r["s"] == "ok" for r in res)
    # by SQL DML: 1,500 updates, 150 deletes
    await _sql(
        aio_client,
        f'UPDATE {table} SET "v" = "v" + 100000, "s" = \'sql\' WHERE id >= ? AND id < ?',
        [_pid(2200), _pid(3700)],
    )
    await _sql(aio_client, f"DELETE FROM {table} WHERE id >= ? AND id < ?", [_pid(3700), _pid(3850)])
    # by the Node.js thin client: 1,000 updates + 500 new documents, 150 deletes
    ops = {
        "puts": [[_pid(i), 7 * i, "node"] for i in range(3850, 4850)]
        + [[f"n{i:05d}", i, "node"] for i in range(500)],
        "removes": [_pid(i) for i in range(4850, 5000)],
    }
    assert await _node_write(ignite_addresses[0][1], coll, vtype, ops) == "ok 1500 150"

    changed = {_pid(i) for i in range(5000)} | {f"n{i:05d}" for i in range(500)}
    deleted = {_pid(i) for i in range(2000, 2200)} | {_pid(i) for i in range(3700, 3850)}
    deleted |= {_pid(i) for i in range(4850, 5000)}
    state: dict[str, dict[str, Any]] = {}

    async def writer_saw_all() -> bool:
        nonlocal state
        seen = writer.models.get(coll, {})
        if not changed <= set(seen):
            return False
        state = await _table_docs(aio_client, table)
        return all(
            (seen[i][1] is None) if i in deleted else (strip(seen[i][1]) == state.get(i)) for i in changed
        )

    await wait_for(writer_saw_all, 120, interval=0.5)
    assert len(state) == PREPOPULATED + 1 + 500 - 500
    assert state[_pid(2300)] == {"v": 2300 + 100000, "s": "sql"}
    assert state[_pid(4000)] == {"v": 28000, "s": "node"}
    assert state[_pid(10)] == {"v": -10, "s": "hub"}

    # --- A comes back with its cursor ------------------------------------------------------------
    back = HubClient(hub.url, a.client_id)
    back.seq = a.seq
    clients.append(back)
    await back.connect()
    back.models[coll] = held
    synced = await sub(back, coll, cursor)
    assert synced["mode"] == "catchup" and synced["reset"] is False
    assert not back.resyncs
    await converge(aio_client, coll, [(back, coll)], read=table_state)
    # the final check reads the data cache itself (key-value scan, not SQL)
    assert model(back, coll) == await ignite_docs(aio_client, coll)

    pages = [m for m in back.received if m["t"] == "page"]
    got = [ch for p in pages for ch in p["changes"]]
    made = 5000 + 500
    assert made <= len(got) <= made + 100, f"catch-up sent {len(got)} changes for {made} made"
    assert {ch[0] for ch in got} >= changed
    assert {ch[0] for ch in got if ch[2] is None} == deleted


@pytest.mark.timeout(240)
async def test_a_client_slower_than_the_snapshot_still_reaches_synced(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any
) -> None:
    """A client on a link three times the collection's write rate: the first sync of 2 MB takes
    longer than the live changes of the meantime fit in its hold buffer (256 KiB here). The sync pages
    on from the round's watermark, reaches ``synced`` and stays live. (This passed before the
    watermark too, paging on from the cursor less the overlap: it pins that no livelock comes back.)"""
    coll = fresh("slow")
    hub = await hubs("h", ignite_addresses, {coll: {"cache": coll}}, queue_bytes=256 * 1024)
    writer = HubClient(hub.url, fresh("w"))
    clients.append(writer)
    await writer.connect()
    pad = "x" * 1000
    for i in range(0, 2000, 100):
        res = await writer.mut([writer.put_op(coll, f"a{j:05d}", {"pad": pad}) for j in range(i, i + 100)])
        assert all(r["s"] == "ok" for r in res)

    stop = asyncio.Event()
    written: list[str] = []

    async def write_steadily() -> None:  # ~100 KB/s of new documents
        n = 0
        while not stop.is_set():
            ids = [f"b{j:06d}" for j in range(n, n + 10)]
            res = await writer.mut([writer.put_op(coll, i, {"pad": pad}) for i in ids])
            assert all(r["s"] == "ok" for r in res)
            written.extend(ids)
            n += 10
            await asyncio.sleep(0.1)

    task = asyncio.create_task(write_steadily())
    try:
        slow = HubClient(hub.url, fresh("slow"))
        clients.append(slow)
        slow.read_rate = 300_000  # bytes/s; a small receive buffer: the hub feels the slow link
        await slow.connect(small_rcvbuf=True)
        await slow.sub(coll, wait=False)
        await slow.wait(lambda: bool(slow.synced.get(coll)) or slow.close_code is not None, 150)
        assert slow.close_code is None and slow.synced[coll][0]["mode"] == "snapshot"
        held_back = len(written)
        # live: documents written after synced arrive without another sync
        await slow.wait(lambda: len(written) > held_back + 50, 30)
    finally:
        stop.set()
        await task
    expected = {f"a{j:05d}" for j in range(2000)} | set(written)
    await slow.wait(lambda: set(slow.docs(coll)) == expected, 60)
    # once synced, a client this slow may fall behind the live stream again: it then catches up
    # from its cursor, never re-reads the collection
    assert [s["mode"] for s in slow.synced[coll][1:]] == ["catchup"] * (len(slow.synced[coll]) - 1)


async def test_a_page_larger_than_the_send_queue_still_reaches_synced(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any
) -> None:
    """A send queue smaller than one page (``queue_bytes`` 64 KiB, pages up to ``max_frame``
    1 MiB): the queue takes the page alone, and the ``synced`` and acks behind it must still be
    queued. Found by the chaos suite: they were refused as a flood, the hub closed the connection
    with 4529, and the client met the same page on every reconnect — it never synced."""
    coll = fresh("bigpage")
    hub = await hubs("h", ignite_addresses, {coll: {"cache": coll}}, queue_bytes=64 * 1024)
    writer = HubClient(hub.url, fresh("w"))
    clients.append(writer)
    await writer.connect()
    pad = "x" * 12_000
    res = await writer.mut([writer.put_op(coll, f"d{j:03d}", {"pad": pad}) for j in range(40)])
    assert all(r["s"] == "ok" for r in res)

    reader = HubClient(hub.url, fresh("r"))
    clients.append(reader)
    await reader.connect()
    await reader.sub(coll, wait=False)
    await reader.wait(lambda: bool(reader.synced.get(coll)) or reader.close_code is not None, 60)
    assert reader.close_code is None, f"closed with {reader.close_code}"
    assert set(reader.docs(coll)) == {f"d{j:03d}" for j in range(40)}
    # and the connection stays usable: a write is acknowledged
    assert (await reader.put(coll, "after", {"v": 1}))["s"] == "ok"


async def test_a_busy_writer_batches_frames_for_clients_that_take_batches(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any
) -> None:
    """Frames that queue up for one connection (here: its reader stalls) leave in one message per
    batch to a client whose hello lists ``"batch"``, in order, and the client ends with the same
    documents and versions as one that gets a frame per message (docs/protocol.md, Batches)."""
    coll = fresh("batch")
    # a queue that holds all of it: the frames wait there, not in a resync
    hub = await hubs("h", ignite_addresses, {coll: {"cache": coll}}, queue_bytes=32 << 20)
    writer, plain, batched = (HubClient(hub.url, fresh(n)) for n in ("w", "plain", "batched"))
    clients.extend((writer, plain, batched))
    batched.features = ["batch"]
    await writer.connect()
    await plain.connect()
    await batched.connect(small_rcvbuf=True)
    for c in (plain, batched):
        await c.sub(coll)
    # Its reader stalls: the kernel takes up to ~4 MB for it (the hub's send buffer grows that far),
    # then the hub's writer waits and frames queue behind it. 8 MB of documents get past the kernel's
    # share whatever it is here; the small commits after them are the frames that queue.
    batched.pause()
    big = "x" * 100_000
    acked: dict[str, int] = {}

    async def write(ids: list[str], doc: dict[str, Any]) -> None:
        res = await writer.mut([writer.put_op(coll, i, {**doc, "id_": i}) for i in ids])
        assert all(r["s"] == "ok" for r in res)
        acked.update({i: r["ver"] for i, r in zip(ids, res, strict=True)})

    for i in range(0, 80, 5):
        await write([f"big{j:03d}" for j in range(i, i + 5)], {"pad": big})
    for j in range(40):
        await write([f"small{j:03d}"], {"n": j})
    await plain.wait(lambda: plain.versions(coll) == acked, 60)
    batched.resume()
    await batched.wait(lambda: batched.versions(coll) == acked, 90)
    assert batched.docs(coll) == plain.docs(coll) and len(plain.docs(coll)) == 120
    assert batched.batches > 0 and batched.batched_frames > batched.batches
    assert plain.batches == 0
    assert batched.close_code is None and plain.close_code is None
