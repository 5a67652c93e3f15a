"""The real stack the chaos schedules run on, and the faults it can suffer.

Two Ignite nodes (caches with ``backups = 1``), two hub processes on that cluster, a TCP proxy in
front of each hub (clients connect through it), the Node process hosting the JavaScript clients,
and the "other applications" writing to the data caches directly: pyignite (puts, removes,
expiry, ``clear()``, SQL DML) and a Node.js thin client (``apache-ignite-client``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections import OrderedDict
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from pyignite import AioClient, GenericObjectMeta  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes import ExpiryPolicy, LongObject, String  # type: ignore[import-untyped,unused-ignore]

from hub.dev.cluster import LocalCluster
from tests.chaos.driver import Driver
from tests.chaos.proxy import Proxy
from tests.chaos.schedule import BURST_BYTES, BURST_DOCS, HUBS, NODES
from tests.conftest import PortBlock, reserve_port_block, save_logs
from tests.support.hubproc import ARTIFACTS, HubProcess
from tests.support.ports import free_port

COLLECTIONS: dict[str, dict[str, Any]] = {
    "lww": {"cache": "chaos_lww", "value_type": "ChaosLww", "policy": "lww"},
    "rts": {"cache": "chaos_rts", "value_type": "ChaosRts", "policy": "reject-if-stale"},
    "ledger": {
        "cache": "chaos_ledger",
        "value_type": "ChaosLedger",
        "policy": "merge",
        "merge": "tests.support.hooks:ledger",
    },
    "own": {
        "cache": "chaos_own",
        "value_type": "ChaosOwn",
        "access": {
            "read": ["authenticated"],
            "write": ["authenticated"],
            "row_filter": "tests.support.acl:owner_only",
        },
    },
    "team": {
        "cache": "chaos_team",
        "value_type": "ChaosTeam",
        "access": {
            "read": ["authenticated"],
            "write": ["authenticated"],
            "row_filter": "tests.support.acl:team_only",
        },
    },
    # an SQL table another application also writes with DML (created before the hubs start)
    "sql": {"cache": "chaos_sql", "value_type": "ChaosSql"},
}
SQL_TABLE = "CHAOS_SQL"
SQL_DDL = (
    f'CREATE TABLE IF NOT EXISTS {SQL_TABLE} (id VARCHAR PRIMARY KEY, "v" BIGINT, "by" VARCHAR) '
    'WITH "cache_name=chaos_sql,value_type=ChaosSql,backups=1,atomicity=transactional"'
)
COLLS = list(COLLECTIONS)
#: a small send queue, so a client that stops reading overflows it with one burst (a slow consumer)
QUEUE_BYTES = 256 * 1024
NODE_DIR = Path(__file__).resolve().parent.parent / "node"
# tokens are "<user>" or "<user>@<team>" (tests.support.hooks:chaos_identity)
AUTH = {"mode": "hook", "hook": "tests.support.hooks:chaos_identity"}


def _doc_type(coll: str, fields: list[tuple[str, Any]]) -> Any:
    spec = COLLECTIONS[coll]
    return GenericObjectMeta(
        spec["value_type"], (), {}, type_name=spec["value_type"], schema=OrderedDict(fields)
    )


LwwDoc = _doc_type("lww", [("v", LongObject), ("by", String)])
OwnDoc = _doc_type("own", [("owner", String), ("v", LongObject), ("by", String)])
TeamDoc = _doc_type("team", [("team", String), ("v", LongObject), ("by", String)])
_EXT_TYPES = {"lww": LwwDoc, "own": OwnDoc, "team": TeamDoc}


class NodeWriter:
    """``tests/node/chaoswrite.mjs``: a Node.js thin client writing documents, one request at a time."""

    def __init__(self, addresses: list[tuple[str, int]], log: IO[bytes]) -> None:
        self.addresses = addresses
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.n = 0

    async def start(self) -> None:
        endpoints = ",".join(f"{h}:{p}" for h, p in self.addresses)
        self.proc = await asyncio.create_subprocess_exec(
            "node",
            str(NODE_DIR / "chaoswrite.mjs"),
            endpoints,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self.log,
        )

    async def call(self, **req: Any) -> None:
        proc = self.proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        self.n += 1
        proc.stdin.write((json.dumps({"n": self.n} | req) + "\n").encode())
        await proc.stdin.drain()
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line:
            raise RuntimeError("the Node writer exited")
        answer = json.loads(line)
        if answer.get("n") != self.n:
            raise RuntimeError(f"the Node writer answered {answer} to request {self.n}")
        if "error" in answer:
            raise RuntimeError(f"Node writer: {answer['error']}")

    async def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            await asyncio.wait_for(self.proc.wait(), 10)
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


class Stack:
    def __init__(
        self, tmp: Path, label: str = "chaos", skew_s: int = -40, *, persistent: bool = False
    ) -> None:
        self.tmp = tmp
        self.persistent = persistent  # Ignite native persistence: a cluster restart keeps the data
        self.skew_s = skew_s
        self.label = label
        self.block: PortBlock | None = None
        self.cluster: LocalCluster | None = None
        self.hubs: list[HubProcess] = []
        self.proxies: list[Proxy] = []
        self.aio: Any = None
        self.driver: Driver | None = None
        self.node_writer: NodeWriter | None = None
        self._driver_log: IO[bytes] | None = None
        # background restarts (hub or node) started by a fault; awaited before the check
        self.pending: set[asyncio.Task[None]] = set()
        self.failed: list[BaseException] = []  # background restarts that raised
        self.down_hubs: set[int] = set()
        self.down_nodes: set[int] = set()
        self.paused: set[int] = set()
        self.paused_nodes: set[int] = set()
        self.http_port = 0
        self.notes: list[str] = []  # what a fault's background part could not do (the runner reports it)

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        self.block = reserve_port_block(NODES)
        self.cluster = self.block.cluster(
            self.tmp / "ignite",
            nodes=NODES,
            backups=1,
            name=f"test-{self.label}",
            heap_mb=768,
            region_max_mb=1024,
            persistence=self.persistent,
        )
        await asyncio.to_thread(self.cluster.start)
        addresses = list(self.cluster.addresses)
        self.aio = AioClient()
        await self.aio.connect(addresses)
        await self.sql(SQL_DDL)
        self.http_port = free_port()
        for i in range(HUBS):
            # the second hub's wall clock is off (versions and cursors must not depend on clocks)
            skew = self.skew_s if i == 1 else 0
            hub = HubProcess(
                f"{self.label}-{i}",
                addresses,
                COLLECTIONS,
                config_dir=self.tmp,
                clock_skew_s=skew,
                auth=AUTH,
                # the Chromium client's page is served by the driver on this port
                hub={
                    "dev_auth": False,
                    "origins": [f"http://127.0.0.1:{self.http_port}"],
                    "queue_bytes": QUEUE_BYTES,
                    # every committed write batch in the hub logs: a violation can be traced seq by seq
                    "log_writes": True,
                    # One hub process sweeps each collection (the coverage lease holder): at 64
                    # partitions a second, unpaced (the collections are tiny), a cleared cache is
                    # repaired within about 16 s, plus up to 10 s when the sweeper is killed, well
                    # inside QUIESCE_S. At the defaults, paced to 10 % of the time, a cycle over
                    # 1,024 partitions took long enough that one schedule quiesced only after 86 s.
                    "sweep_partitions": 64,
                    "sweep_share": 1,
                },
            )
            self.hubs.append(hub)
        # hubs start together, as in a rolling deploy (issue 9 §7)
        await asyncio.gather(*(h.start(timeout=120) for h in self.hubs))
        for hub in self.hubs:
            proxy = Proxy(hub.port)
            await proxy.start()
            self.proxies.append(proxy)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self._driver_log = open(ARTIFACTS / f"{self.label}-driver.log", "ab")
        self.driver = Driver(self._driver_log, env={"CHAOS_HTTP_PORT": str(self.http_port)})
        await self.driver.start()
        self.node_writer = NodeWriter(addresses, self._driver_log)
        await self.node_writer.start()

    async def stop(self) -> None:
        for task in list(self.pending):
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self.pending, return_exceptions=True)
        if self.driver is not None:
            await self.driver.stop()
        if self.node_writer is not None:
            await self.node_writer.stop()
        for proxy in self.proxies:
            await proxy.close()
        for i, hub in enumerate(self.hubs):
            with contextlib.suppress(ProcessLookupError, AssertionError):
                if i in self.paused:
                    hub._signal(signal.SIGCONT)
            hub.stop()
        if self.aio is not None:
            with contextlib.suppress(Exception):
                await self.aio.close()
        if self.cluster is not None:
            try:
                await asyncio.to_thread(self.cluster.stop)
            finally:
                save_logs(self.cluster, self.label)
        if self.block is not None:
            self.block.release()
        if self._driver_log is not None:
            self._driver_log.close()

    # ------------------------------------------------------------------ faults

    def _background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.pending.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.pending.discard(task)
        # a restart that failed must fail the schedule, not leave a hub or node down unnoticed
        if not task.cancelled() and task.exception() is not None:
            self.failed.append(task.exception())  # type: ignore[arg-type]

    async def settle(self, timeout: float = 180.0) -> None:
        """Wait for every background restart to finish (and fail if one failed)."""
        deadline = time.monotonic() + timeout
        if self.failed:
            raise self.failed.pop(0)
        while self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"restarts still running after {timeout:g}s")
            done, _ = await asyncio.wait(set(self.pending), timeout=left)
            for task in done:
                task.result()
        if self.failed:
            raise self.failed.pop(0)

    def nodes_up(self) -> bool:
        """Every Ignite node running. A node can also die outside a fault: it halts on SEGMENTATION
        when the machine stalls longer than the failure detection timeout (a VM snapshot froze this
        one for about 30 s on 2026-12-02, and the next ``kill_node`` then took the last copy)."""
        assert self.cluster is not None
        return all(self.cluster.node_pid(i) is not None for i in range(NODES))

    async def heal(self) -> list[str]:
        """Restart the Ignite nodes and hubs that died outside a fault (none of their restarts
        pending), so that each schedule starts, and is checked, on the whole stack; what was
        restarted."""
        assert self.cluster is not None
        healed = []
        for i in range(NODES):
            if i not in self.down_nodes and self.cluster.node_pid(i) is None:
                await asyncio.to_thread(self.cluster.start_node, i)
                healed.append(f"node {i}")
        for i, hub in enumerate(self.hubs):
            if i not in self.down_hubs and hub.proc is not None and hub.proc.poll() is not None:
                await hub.start(timeout=120)
                healed.append(f"hub {i}")
        return healed

    def hub_busy(self, i: int) -> bool:
        return i in self.down_hubs or i in self.paused

    async def kill_hub(self, i: int, ms: int, *, term: bool = False) -> None:
        hub = self.hubs[i]
        self.down_hubs.add(i)
        if term:
            await asyncio.to_thread(hub.stop)
        else:
            hub.kill()

        async def restart() -> None:
            try:
                await asyncio.sleep(ms / 1000)
                await hub.start(timeout=120)
            finally:
                self.down_hubs.discard(i)

        self._background(restart())

    async def pause_hub(self, i: int, ms: int) -> None:
        hub = self.hubs[i]
        self.paused.add(i)
        hub._signal(signal.SIGSTOP)

        async def resume() -> None:
            try:
                await asyncio.sleep(ms / 1000)
            finally:
                hub._signal(signal.SIGCONT)
                self.paused.discard(i)

        self._background(resume())

    async def stall(self, i: int, ms: int) -> None:
        proxy = self.proxies[i]
        proxy.stall(ms / 1000)

        async def unstall() -> None:
            await asyncio.sleep(ms / 1000)
            proxy.stall(0)

        self._background(unstall())

    async def kill_node(self, i: int, ms: int) -> None:
        assert self.cluster is not None
        cluster = self.cluster
        self.down_nodes.add(i)
        await asyncio.to_thread(cluster.kill_node, i)

        async def restart() -> None:
            try:
                await asyncio.sleep(ms / 1000)
                await asyncio.to_thread(cluster.start_node, i)
            finally:
                self.down_nodes.discard(i)

        self._background(restart())

    async def restart_cluster(self, ms: int) -> None:
        """Every Ignite node SIGKILLed at once, the cluster started again ``ms`` later. In memory it
        comes back empty: no cache, no document, no binary type; with persistence it comes back
        with every committed transaction (recovered from its WAL). The hubs run on throughout.

        The other applications go down with it and come back with new clients: pyignite's and the
        Node client's registries would otherwise take the lost binary types as still registered
        (what the hubs must cope with, not what this stack's own writers are here to test)."""
        assert self.cluster is not None
        cluster = self.cluster
        self.down_nodes.update(range(NODES))
        old, self.aio = self.aio, AioClient()  # not connected until the cluster is back: writes fail
        with contextlib.suppress(Exception):
            await old.close()
        if self.node_writer is not None:
            await self.node_writer.stop()
        for i in range(NODES):
            await asyncio.to_thread(cluster.kill_node, i)

        async def restart() -> None:
            try:
                await asyncio.sleep(ms / 1000)
                await asyncio.to_thread(cluster.start)
            finally:
                self.down_nodes.difference_update(range(NODES))
            await self.aio.connect(list(cluster.addresses))
            try:  # as its application would (a hub may have created the cache first: noted)
                await self.sql(SQL_DDL)
            except Exception as exc:
                self.notes.append(f"SQL table not created again after the cluster restart: {exc!r}")
            if self.node_writer is not None:
                await self.node_writer.start()

        self._background(restart())

    async def pause_node(self, i: int, ms: int) -> None:
        """SIGSTOP an Ignite node for ``ms`` (a GC pause, a stalled disk): Ignite made slow."""
        assert self.cluster is not None
        pid = self.cluster.node_pid(i)
        if pid is None:
            return
        os.kill(pid, signal.SIGSTOP)
        self.paused_nodes.add(i)

        async def resume() -> None:
            try:
                await asyncio.sleep(ms / 1000)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
                self.paused_nodes.discard(i)

        self._background(resume())

    # ------------------------------------------------------------------ the external writer

    async def ext_put(self, coll: str, doc_id: str, fields: dict[str, Any]) -> None:
        cache = await self.aio.get_cache(COLLECTIONS[coll]["cache"])
        value = _EXT_TYPES[coll](**fields)
        await asyncio.wait_for(cache.put(doc_id, value), 15)

    async def ext_ttl(self, coll: str, doc_id: str, fields: dict[str, Any], ms: int) -> None:
        """A document another application writes with an expiry (it disappears without a write)."""
        cache = await self.aio.get_cache(COLLECTIONS[coll]["cache"])
        ttl = timedelta(milliseconds=ms)
        short = cache.with_expire_policy(expiry_policy=ExpiryPolicy(create=ttl, update=ttl))
        await asyncio.wait_for(short.put(doc_id, LwwDoc(**fields)), 15)

    async def ext_clear(self, coll: str) -> None:
        """``IgniteCache.clear()``: every entry goes, and no continuous query hears of it."""
        cache = await self.aio.get_cache(COLLECTIONS[coll]["cache"])
        await asyncio.wait_for(cache.clear(), 30)

    async def burst(self, v: int) -> None:
        """Large documents (``BURST_DOCS`` of ``BURST_BYTES``) written at once into ``lww``: what a
        slow consumer's queue overflows on. The same ids each time, so the collection stays small."""
        cache = await self.aio.get_cache(COLLECTIONS["lww"]["cache"])
        pad = "x" * BURST_BYTES
        docs = {f"burst.b{i}": LwwDoc(v=v, by=f"burst {v} {pad}") for i in range(BURST_DOCS)}
        await asyncio.wait_for(cache.put_all(docs), 30)

    async def sql(self, query: str, args: list[Any] | None = None) -> list[list[Any]]:
        """SQL (DDL or DML) from another application."""

        async def run() -> list[list[Any]]:
            rows = []
            cur = await self.aio.sql(query, query_args=args or [])
            async with cur:
                async for row in cur:
                    rows.append(row)
            return rows

        return await asyncio.wait_for(run(), 30)

    async def node_write(self, coll: str, op: str, doc_id: str, fields: dict[str, Any] | None = None) -> None:
        """A put or remove through the Node.js thin client."""
        assert self.node_writer is not None
        spec = COLLECTIONS[coll]
        await self.node_writer.call(
            op=op, cache=spec["cache"], type=spec["value_type"], key=doc_id, **(fields or {})
        )

    async def ext_del(self, coll: str, doc_id: str) -> None:
        cache = await self.aio.get_cache(COLLECTIONS[coll]["cache"])
        await asyncio.wait_for(cache.remove_key(doc_id), 15)

    async def ignite_state(self, coll: str, prefix: str | None = None) -> dict[str, dict[str, Any]]:
        """What the data cache of ``coll`` holds (documents of ``prefix`` only, if given)."""
        from tests.integration.conftest import ignite_docs

        docs = await ignite_docs(self.aio, COLLECTIONS[coll]["cache"])
        if prefix is None:
            return docs
        return {k: v for k, v in docs.items() if k.startswith(prefix + ".")}
