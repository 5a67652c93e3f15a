"""Shared pytest fixtures: real Apache Ignite nodes via :class:`hub.ignite.cluster.LocalCluster`.

Every cluster gets its own block of ports (client / discovery / communication) picked at
random in 20000-30000 (below the Linux ephemeral range), checked free and reserved with a
lock file for the life of the fixture, so test runs never collide with ``make run``
(10800/47500/47100) or with other clusters on the same machine.

A missing JVM, Maven or network makes the fixtures *error* (never skip).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import random
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from hub.ignite.cluster import LocalCluster, port_is_free

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ignite"

PORT_RANGE = (20000, 30000)
BLOCK_WIDTH = 32  # client = base, discovery = base + 10, communication = base + 20; up to 10 nodes
_LOCK_DIR = Path(tempfile.gettempdir()) / "synchub-port-blocks"


@dataclasses.dataclass
class PortBlock:
    """A reserved block of ports for one cluster (``release()`` frees the reservation)."""

    client: int
    discovery: int
    communication: int
    _lock: IO[str] | None = dataclasses.field(default=None, repr=False)

    def cluster(self, state_dir: Path, **kwargs: Any) -> LocalCluster:
        """A LocalCluster on this block."""
        return LocalCluster(
            state_dir,
            client_port=self.client,
            discovery_port=self.discovery,
            communication_port=self.communication,
            **kwargs,
        )

    def cli_args(self) -> list[str]:
        """``synchub ignite start`` options for this block."""
        return [
            "--client-port",
            str(self.client),
            "--discovery-port",
            str(self.discovery),
            "--communication-port",
            str(self.communication),
        ]

    def release(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None


def reserve_port_block(nodes: int = 2, attempts: int = 200) -> PortBlock:
    """Reserve a free port block for a cluster of up to ``nodes`` (<= 10) nodes."""
    assert nodes <= 10
    _LOCK_DIR.mkdir(parents=True, exist_ok=True)
    rng = random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), "little"))
    slots = (PORT_RANGE[1] - PORT_RANGE[0]) // BLOCK_WIDTH
    for _ in range(attempts):
        base = PORT_RANGE[0] + rng.randrange(slots) * BLOCK_WIDTH
        lock = open(_LOCK_DIR / f"{base}.lock", "a+")  # held for the block lifetime
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        ports = [base + off + i for off in (0, 10, 20) for i in range(nodes)]
        if all(port_is_free(p) for p in ports):
            return PortBlock(base, base + 10, base + 20, lock)
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        lock.close()
    raise RuntimeError("no free port block found in 20000-30000")


def save_logs(cluster: LocalCluster, label: str) -> None:
    """Copy a cluster's node logs and configs to ``test-artifacts/ignite/<label>/``."""
    dest = ARTIFACTS / label
    dest.mkdir(parents=True, exist_ok=True)
    for pattern in ("node-*.log", "node-*.xml"):
        for path in cluster.state_dir.glob(pattern):
            shutil.copy2(path, dest / path.name)


@contextlib.contextmanager
def running_cluster(
    tmp: Path, label: str, nodes: int, backups: int, *, heap_mb: int = 768, region_max_mb: int = 1024
) -> Iterator[LocalCluster]:
    block = reserve_port_block(nodes)
    cluster = block.cluster(
        tmp,
        nodes=nodes,
        backups=backups,
        name=f"test-{label}",
        heap_mb=heap_mb,
        region_max_mb=region_max_mb,
    )
    try:
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            save_logs(cluster, label)
            block.release()


@pytest.fixture
def port_block() -> Iterator[PortBlock]:
    """A reserved, currently free port block for a test's own cluster (up to 10 nodes)."""
    block = reserve_port_block(nodes=10)
    try:
        yield block
    finally:
        block.release()


@pytest.fixture(scope="session")
def ignite_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One Ignite node for the whole test session (started on first use)."""
    # Every test makes fresh caches and each empty cache costs off-heap pages for its 1024
    # partitions: the session node gets room for the whole suite (allocated lazily).
    with running_cluster(
        tmp_path_factory.mktemp("ignite-session"),
        "session",
        nodes=1,
        backups=0,
        heap_mb=2048,
        region_max_mb=6144,
    ) as c:
        yield c


@pytest.fixture(scope="session")
def ignite_addresses(ignite_cluster: LocalCluster) -> list[tuple[str, int]]:
    """Thin-client endpoints of the session cluster."""
    return list(ignite_cluster.addresses)


@pytest.fixture(scope="module")
def ignite_pair(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalCluster]:
    """Two nodes (caches meant to use backups=1) for failover tests, one cluster per module.

    Tests may ``kill_node(i)``; they should ``start_node(i)`` again if later tests in the
    module need both nodes. Teardown copes with killed nodes."""
    label = "pair-" + request.module.__name__.rsplit(".", 1)[-1]
    with running_cluster(tmp_path_factory.mktemp("ignite-pair"), label, nodes=2, backups=1) as c:
        yield c


@pytest.fixture
def cache_name() -> str:
    """A unique, not yet existing cache name."""
    return f"t_{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def aio_client(ignite_addresses: list[tuple[str, int]]) -> AsyncIterator[Any]:
    """A pyignite ``AioClient`` connected to the session cluster (closed afterwards)."""
    from pyignite import AioClient

    client = AioClient()
    await client.connect(ignite_addresses)
    try:
        yield client
    finally:
        await client.close()
