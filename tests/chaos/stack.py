"""The real stack the chaos schedules run on, and the faults it can suffer.

Two Ignite nodes (caches with ``backups = 1``), two hub processes on that cluster, a TCP proxy in
front of each hub (clients connect through it), the Node process hosting the JavaScript clients,
and a pyignite client that plays "another application" writing to the data caches directly."""

from __future__ import annotations

import asyncio
import contextlib
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
from tests.chaos.schedule import HUBS, NODES
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
}
COLLS = list(COLLECTIONS)
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


class Stack:
    def __init__(self, tmp: Path, label: str = "chaos", skew_s: int = -40) -> None:
        self.tmp = tmp
        self.skew_s = skew_s
        self.label = label
        self.block: PortBlock | None = None
        self.cluster: LocalCluster | None = None
        self.hubs: list[HubProcess] = []
        self.proxies: list[Proxy] = []
        self.aio: Any = None
        self.driver: Driver | None = None
        self._driver_log: IO[bytes] | None = None
        # background restarts (hub or node) started by a fault; awaited before the check
        self.pending: set[asyncio.Task[None]] = set()
        self.down_hubs: set[int] = set()
        self.down_nodes: set[int] = set()
        self.paused: set[int] = set()
        self.paused_nodes: set[int] = set()
        self.http_port = 0

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
        )
        await asyncio.to_thread(self.cluster.start)
        addresses = list(self.cluster.addresses)
        self.http_port = free_port()
        for i in range(HUBS):
            # the second hub's wall clock is off (versions and cursors must not depend on clocks)
            wrap = ["faketime", "-f", f"{self.skew_s:+d}s"] if i == 1 and self.skew_s else []
            hub = HubProcess(
                f"{self.label}-{i}",
                addresses,
                COLLECTIONS,
                config_dir=self.tmp,
                wrap=wrap,
                auth=AUTH,
                # the Chromium client's page is served by the driver on this port
                hub={"dev_auth": False, "origins": [f"http://127.0.0.1:{self.http_port}"]},
            )
            self.hubs.append(hub)
        # hubs start together, as in a rolling deploy (issue 9 §7)
        await asyncio.gather(*(h.start(timeout=120) for h in self.hubs))
        for hub in self.hubs:
            proxy = Proxy(hub.port)
            await proxy.start()
            self.proxies.append(proxy)
        self.aio = AioClient()
        await self.aio.connect(addresses)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self._driver_log = open(ARTIFACTS / f"{self.label}-driver.log", "ab")
        self.driver = Driver(self._driver_log, env={"CHAOS_HTTP_PORT": str(self.http_port)})
        await self.driver.start()

    async def stop(self) -> None:
        for task in list(self.pending):
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self.pending, return_exceptions=True)
        if self.driver is not None:
            await self.driver.stop()
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
        task.add_done_callback(self.pending.discard)

    async def settle(self, timeout: float = 180.0) -> None:
        """Wait for every background restart to finish (and fail if one failed)."""
        deadline = time.monotonic() + timeout
        while self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"restarts still running after {timeout:g}s")
            done, _ = await asyncio.wait(set(self.pending), timeout=left)
            for task in done:
                task.result()

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
