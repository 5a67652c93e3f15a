"""Integration tests for hub.dev.cluster / ``synchub ignite`` against real Ignite nodes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from hub.dev.cluster import (
    IGNITE_VERSION,
    ClusterStartError,
    LocalCluster,
    ensure_jars,
    handshake,
)

if TYPE_CHECKING:  # the fixture's type; conftest is not an importable module at run time
    from tests.conftest import PortBlock

REPO_ROOT = Path(__file__).resolve().parents[2]


def synchub(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --------------------------------------------------------------------------- session fixtures


def test_session_node_serves_thin_client(ignite_cluster: LocalCluster) -> None:
    (host, port) = ignite_cluster.addresses[0]
    assert handshake(host, port)
    [st] = ignite_cluster.status()
    assert st.running and st.ready and st.pid is not None


async def test_aio_client_cache_and_sql(aio_client: Any, cache_name: str) -> None:
    cache = await aio_client.get_or_create_cache(cache_name)
    await cache.put(1, "one")
    assert await cache.get(1) == "one"
    await cache.destroy()

    table = cache_name.upper()
    async with aio_client.sql(f"CREATE TABLE {table} (id INT PRIMARY KEY, v VARCHAR)") as cur:
        async for _ in cur:
            pass
    async with aio_client.sql(f"INSERT INTO {table} (id, v) VALUES (?, ?)", query_args=[1, "a"]) as cur:
        async for _ in cur:
            pass
    async with aio_client.sql(f"SELECT id, v FROM {table}") as cur:
        rows = [row async for row in cur]
    assert rows == [[1, "a"]]
    async with aio_client.sql(f"DROP TABLE {table}") as cur:
        async for _ in cur:
            pass


# --------------------------------------------------------------------------- CLI


def test_cli_start_status_stop(tmp_path: Path, port_block: PortBlock, ignite_cluster: LocalCluster) -> None:
    state = tmp_path / "cli"
    res = synchub("ignite", "start", "--state-dir", str(state), "--nodes", "1", *port_block.cli_args())
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.split() == [f"127.0.0.1:{port_block.client}"]
    try:
        assert (state / "node-0.pid").is_file()
        assert (state / "node-0.log").is_file()
        params = json.loads((state / "cluster.json").read_text())
        assert params["client_port"] == port_block.client and params["version"] == IGNITE_VERSION

        res = synchub("ignite", "status", "--state-dir", str(state))
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"127.0.0.1:{port_block.client} ready" in res.stdout

        # Starting again is a no-op for running nodes.
        res = synchub("ignite", "start", "--state-dir", str(state), *port_block.cli_args())
        assert res.returncode == 0, res.stderr
    finally:
        res = synchub("ignite", "stop", "--state-dir", str(state))
    assert res.returncode == 0, res.stderr
    assert not (state / "node-0.pid").exists()
    assert not handshake("127.0.0.1", port_block.client)
    res = synchub("ignite", "status", "--state-dir", str(state))
    assert res.returncode == 1 and "stopped" in res.stdout
    # Only its own node went away.
    assert all(st.ready for st in ignite_cluster.status())


def test_stop_never_signals_foreign_pids(tmp_path: Path, ignite_cluster: LocalCluster) -> None:
    """A PID file pointing at another cluster's node (or any process) is not signalled."""
    foreign = ignite_cluster.node_pid(0)
    assert foreign is not None
    state = tmp_path / "fake"
    fake = LocalCluster(state, client_port=29990, discovery_port=29991, communication_port=29992)
    state.mkdir()
    (state / "cluster.json").write_text(json.dumps(fake._params()))
    (state / "node-0.pid").write_text(f"{foreign}\n")
    res = synchub("ignite", "stop", "--state-dir", str(state))
    assert res.returncode == 0, res.stderr
    assert not (state / "node-0.pid").exists()
    time.sleep(0.5)
    assert ignite_cluster.node_pid(0) == foreign
    assert handshake(*ignite_cluster.addresses[0])


def test_cli_stop_without_cluster(tmp_path: Path) -> None:
    res = synchub("ignite", "stop", "--state-dir", str(tmp_path / "none"))
    assert res.returncode == 0


# --------------------------------------------------------------------------- start failures


def test_occupied_client_port_fails_fast(tmp_path: Path, port_block: PortBlock) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port_block.client))
        squatter.listen()
        cluster = port_block.cluster(tmp_path / "busy")
        began = time.monotonic()
        with pytest.raises(ClusterStartError, match=rf"client port {port_block.client}"):
            cluster.start(timeout=60)
        assert time.monotonic() - began < 10
    assert not cluster.pid_path(0).exists()


class _CorruptConfig(LocalCluster):
    def render_config(self, i: int) -> str:
        return "<beans><bean class='org.apache.ignite.configuration.IgniteConfiguration'>"


def test_corrupt_config_reports_log_tail(tmp_path: Path, port_block: PortBlock) -> None:
    cluster = _CorruptConfig(
        tmp_path / "corrupt",
        client_port=port_block.client,
        discovery_port=port_block.discovery,
        communication_port=port_block.communication,
    )
    began = time.monotonic()
    with pytest.raises(ClusterStartError) as err:
        cluster.start(timeout=60)
    assert time.monotonic() - began < 30
    msg = str(err.value)
    assert "exited" in msg and "last lines of" in msg
    assert "Failed to" in msg or "Exception" in msg, msg
    assert not cluster.pid_path(0).exists()
    assert not handshake("127.0.0.1", port_block.client)


def test_bad_jvm_option_reports_log_tail(tmp_path: Path, port_block: PortBlock) -> None:
    cluster = port_block.cluster(tmp_path / "badjvm", jvm_opts=["-XX:+SynchubNoSuchOption"])
    with pytest.raises(ClusterStartError, match="SynchubNoSuchOption"):
        cluster.start(timeout=30)


def test_second_node_failure_stops_first(tmp_path: Path, port_block: PortBlock) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port_block.discovery + 1))
        squatter.listen()
        cluster = port_block.cluster(tmp_path / "half", nodes=2)
        with pytest.raises(ClusterStartError, match="node 1"):
            cluster.start(timeout=60)
    assert [st.running for st in cluster.status()] == [False, False]
    assert not handshake("127.0.0.1", port_block.client)


# --------------------------------------------------------------------------- failover helpers


def test_pair_kill_and_restart_node(ignite_pair: LocalCluster) -> None:
    from pyignite import Client
    from pyignite.datatypes.cache_config import WriteSynchronizationMode
    from pyignite.datatypes.prop_codes import PROP_BACKUPS_NUMBER, PROP_NAME, PROP_WRITE_SYNCHRONIZATION_MODE

    client = Client()
    client.connect(ignite_pair.addresses)
    try:
        # FULL_SYNC: put_all returns once the backups hold the data (the default PRIMARY_SYNC
        # updates them asynchronously, so an immediate kill could lose some).
        cache = client.get_or_create_cache(
            {
                PROP_NAME: "t_pair",
                PROP_BACKUPS_NUMBER: ignite_pair.backups,
                PROP_WRITE_SYNCHRONIZATION_MODE: WriteSynchronizationMode.FULL_SYNC,
            }
        )
        cache.put_all({i: f"v{i}" for i in range(64)})
    finally:
        client.close()

    ignite_pair.kill_node(1)
    st = ignite_pair.status()
    assert not st[1].running and st[0].ready

    client = Client()
    client.connect([ignite_pair.addresses[0]])
    try:
        cache = client.get_cache("t_pair")
        # Backups survive the kill; retry while the cluster notices the dead node.
        deadline = time.monotonic() + 30
        while True:
            try:
                assert cache.get_all(list(range(64))) == {i: f"v{i}" for i in range(64)}
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        client.close()

    ignite_pair.start_node(1)
    assert all(s.ready for s in ignite_pair.status())


# --------------------------------------------------------------------------- jars


def test_ensure_jars_idempotent() -> None:
    libs = ensure_jars()
    marker = libs / ".complete"
    stamp = marker.stat().st_mtime_ns
    assert ensure_jars() == libs
    assert marker.stat().st_mtime_ns == stamp
    jars = {p.name for p in libs.glob("*.jar")}
    assert f"ignite-core-{IGNITE_VERSION}.jar" in jars
    assert f"ignite-indexing-{IGNITE_VERSION}.jar" in jars
    assert f"ignite-spring-{IGNITE_VERSION}.jar" in jars
    # Kept off the classpath (would open Jetty on 8080 / need a log4j2 config).
    assert not any(j.startswith(("ignite-rest-http", "ignite-log4j2")) for j in jars)
    assert (libs / "optional" / f"ignite-rest-http-{IGNITE_VERSION}.jar").is_file()


def test_ensure_jars_concurrent_fresh_cache(tmp_path: Path) -> None:
    results: list[Path] = []
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            results.append(ensure_jars(tmp_path))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors
    assert len(set(results)) == 1
    libs = results[0]
    listed = set((libs / ".complete").read_text().split())
    present = {p.name for p in libs.glob("*.jar")} | {p.name for p in (libs / "optional").glob("*.jar")}
    assert listed == present
    assert not [p for p in libs.parent.iterdir() if p.name.startswith("libs.tmp-")]


def test_ensure_jars_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pre-seed a complete cache so nothing is downloaded: the override path must be used.
    libs = tmp_path / f"ignite-{IGNITE_VERSION}" / "libs"
    libs.mkdir(parents=True)
    (libs / ".complete").write_text("")
    monkeypatch.setenv("SYNCHUB_CACHE", str(tmp_path))
    assert ensure_jars() == libs
    assert os.environ["SYNCHUB_CACHE"] == str(tmp_path)
