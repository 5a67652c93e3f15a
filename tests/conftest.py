"""Shared pytest fixtures: real Apache Ignite nodes via :class:`hub.dev.cluster.LocalCluster`.

Every cluster gets its own block of ports (client / discovery / communication) picked at
random in 20000-30000 (below the Linux ephemeral range), checked free and reserved with a
lock file for the life of the fixture, so test runs never collide with ``make run``
(10800/47500/47100) or with other clusters on the same machine.

A missing JVM, Maven or network makes the fixtures *error* (never skip).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import functools
import inspect
import io
import os
import random
import shutil
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from hypothesis import HealthCheck, settings

from hub.dev.cluster import LocalCluster, port_is_free

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ignite"

# Hypothesis checks properties, not speed: its per-example deadline and "too slow" health check
# turned a busy CI machine into red runs. Failing examples still fail, with their seed printed.
settings.register_profile(
    "synchub", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("synchub")

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
def ignite_pair_cluster(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalCluster]:
    """Two nodes (caches meant to use backups=1) for failover tests, one cluster per module."""
    label = "pair-" + request.module.__name__.rsplit(".", 1)[-1]
    with running_cluster(tmp_path_factory.mktemp("ignite-pair"), label, nodes=2, backups=1) as c:
        yield c


@pytest.fixture
def ignite_pair(ignite_pair_cluster: LocalCluster) -> Iterator[LocalCluster]:
    """The module's two-node cluster with both nodes running; tests may ``kill_node(i)``.

    The fixture, not the test, restarts killed nodes: it runs even when the test failed or was
    cancelled, so no test has to restore the cluster from a ``finally`` of its own (which, in a
    coroutine abandoned by a timeout, could run much later and start a node nobody stops)."""
    yield ignite_pair_cluster
    for i in range(ignite_pair_cluster.nodes):
        if ignite_pair_cluster.node_pid(i) is None:
            ignite_pair_cluster.start_node(i)


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


# --------------------------------------------------------------------------- hangs and leftovers
#: Seconds left to pytest-timeout after an async test's own deadline: the deadline cancels the test's
#: task first, so its ``finally`` blocks and the fixtures' teardowns run while everything is alive.
DEADLINE_MARGIN_S = 20.0


def _deadline_s(item: pytest.Item) -> float:
    mark = item.get_closest_marker("timeout")
    total = float(mark.args[0]) if mark and mark.args else float(item.config.getini("timeout") or 300)
    return max(total - DEADLINE_MARGIN_S, total * 0.8)


def _with_deadline(fn: Callable[..., Awaitable[Any]], budget: float) -> Callable[..., Awaitable[Any]]:
    """``fn`` run as a task that is cancelled after ``budget`` seconds, failing with its stack.

    Without this, pytest-timeout's SIGALRM escapes the event loop and leaves the test coroutine
    suspended; its ``finally`` then runs whenever the coroutine is collected, tests later."""

    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        task = asyncio.ensure_future(fn(*args, **kwargs))
        done, _ = await asyncio.wait({task}, timeout=budget)
        if done:
            return task.result()
        where = io.StringIO()
        task.print_stack(file=where)
        task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 15)
        pytest.fail(f"test did not finish within {budget:g}s; it was waiting at:\n{where.getvalue()}")

    return run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fn = getattr(item, "obj", None)
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(fn):
            item.obj = _with_deadline(fn, _deadline_s(item))


def _live_children() -> list[tuple[int, str]]:
    """(pid, command line) of this process's children that have not exited."""
    me = os.getpid()
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == me and fields[0] != "Z":
                cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                out.append((int(stat.parent.name), cmd[:200]))
    return out


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Every fixture has been torn down: a child still running is a leak. Kill it and fail the run."""
    leaked = _live_children()
    for pid, _ in leaked:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    if leaked:
        lines = "\n".join(f"  pid {pid}: {cmd}" for pid, cmd in leaked)
        print(f"\nERROR: processes left running after every fixture was torn down (killed now):\n{lines}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
