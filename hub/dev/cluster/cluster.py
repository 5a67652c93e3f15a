"""Local Apache Ignite 2.x clusters for development and tests.

A :class:`LocalCluster` runs one or more real Ignite server nodes as plain JVM processes
(``CommandLineStartup`` + a generated Spring XML file) from jars fetched once from Maven
Central by :func:`~hub.dev.cluster.jars.ensure_jars`.  Every cluster is isolated by ports: each node binds
only 127.0.0.1, gets its own thin-client, discovery and communication port (port range 0), and
its discovery IP finder lists exactly this cluster's discovery ports, so several clusters
(``make run``, test sessions, other developers) can run side by side on one machine.

State lives in ``state_dir``: ``cluster.json`` (the parameters), ``node-<i>.xml`` (config),
``node-<i>.log`` (stdout+stderr of the JVM), ``node-<i>.pid`` and ``work/node-<i>/``.
"""

# Over 400 lines: one class, a node's whole lifecycle (config, start, readiness, stop, reap); ports,
# jars, JVM, processes and probes are already their own modules.

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from hub.ignite.protocol import IGNITE_VERSION
from hub.ignite.readiness import client_tls, handshake, port_is_free

from .config import SslFiles, render_node_config
from .errors import ClusterStartError, IgniteError
from .jars import ensure_jars
from .jvm import node_command
from .process import owns, read_pid, reap, send_signal, tail, wait_gone, write_pid
from .security import activate_and_create_user, client_options

_STOP_GRACE_S = 10.0


@dataclasses.dataclass(frozen=True)
class NodeStatus:
    """State of one node as seen from its PID file and client port."""

    index: int
    pid: int | None
    running: bool
    ready: bool
    address: tuple[str, int]
    log: Path

    def describe(self) -> str:
        host, port = self.address
        state = "ready" if self.ready else ("starting" if self.running else "stopped")
        pid = self.pid if self.running else "-"
        return f"node-{self.index} {host}:{port} {state} pid={pid}"


class LocalCluster:
    """One or more Ignite server nodes on 127.0.0.1 with their own port block and state dir.

    Node ``i`` uses client port ``client_port + i``, discovery ``discovery_port + i`` and
    communication ``communication_port + i`` (all with port range 0).
    """

    HOST = "127.0.0.1"
    STATE_FILE = "cluster.json"

    def __init__(
        self,
        state_dir: Path,
        nodes: int = 1,
        backups: int = 0,
        client_port: int = 10800,
        discovery_port: int = 47500,
        communication_port: int = 47100,
        heap_mb: int = 768,
        name: str = "synchub",
        *,
        region_initial_mb: int = 256,
        region_max_mb: int = 512,
        jvm_opts: Sequence[str] = (),
        cache_dir: Path | None = None,
        authentication: tuple[str, str] | None = None,
        ssl: SslFiles | None = None,
    ) -> None:
        if nodes < 1:
            raise ValueError("nodes must be >= 1")
        if not 0 <= backups < max(nodes, 1) + 1:
            raise ValueError("backups must be between 0 and nodes")
        self.state_dir = Path(state_dir).resolve()
        self.nodes = nodes
        self.backups = backups
        self.client_port = client_port
        self.discovery_port = discovery_port
        self.communication_port = communication_port
        self.heap_mb = heap_mb
        self.name = name
        self.region_initial_mb = region_initial_mb
        self.region_max_mb = region_max_mb
        self.jvm_opts = list(jvm_opts)
        self.cache_dir = cache_dir
        # Opt-in security. ``authentication`` = (user, password): authenticationEnabled with
        # native persistence; the user is created (or, for "ignite", its password set) on
        # first start. ``ssl``: the thin-client connector accepts TLS only.
        self.authentication = authentication
        self.ssl = ssl
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self.start_times: dict[int, float] = {}

    # ---- persistence of parameters (lets `synchub ignite stop/status` find the cluster)

    def _params(self) -> dict[str, object]:
        return {
            "nodes": self.nodes,
            "backups": self.backups,
            "client_port": self.client_port,
            "discovery_port": self.discovery_port,
            "communication_port": self.communication_port,
            "heap_mb": self.heap_mb,
            "name": self.name,
            "region_initial_mb": self.region_initial_mb,
            "region_max_mb": self.region_max_mb,
            "jvm_opts": self.jvm_opts,
            # Throwaway local credentials, kept so `synchub ignite status/stop` can probe the node.
            "authentication": list(self.authentication) if self.authentication else None,
            "ssl": self.ssl.as_dict() if self.ssl else None,
            "version": IGNITE_VERSION,
        }

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> LocalCluster:
        """Re-open a cluster started earlier (possibly by another process) from ``cluster.json``."""
        path = Path(state_dir) / cls.STATE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise IgniteError(f"no cluster in {state_dir} ({cls.STATE_FILE} missing)") from None
        return cls(
            Path(state_dir),
            nodes=int(data["nodes"]),
            backups=int(data["backups"]),
            client_port=int(data["client_port"]),
            discovery_port=int(data["discovery_port"]),
            communication_port=int(data["communication_port"]),
            heap_mb=int(data["heap_mb"]),
            name=str(data["name"]),
            region_initial_mb=int(data.get("region_initial_mb", 256)),
            region_max_mb=int(data.get("region_max_mb", 512)),
            jvm_opts=[str(o) for o in data.get("jvm_opts", [])],
            authentication=(str(auth[0]), str(auth[1])) if (auth := data.get("authentication")) else None,
            ssl=SslFiles(Path(tls["keystore"]), str(tls["password"]), str(tls["store_type"]))
            if (tls := data.get("ssl"))
            else None,
        )

    # ---- paths and addresses

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Thin-client endpoints of all nodes, in node order."""
        return [(self.HOST, self.client_port + i) for i in range(self.nodes)]

    def node_name(self, i: int) -> str:
        return f"{self.name}-{i}"

    def log_path(self, i: int) -> Path:
        return self.state_dir / f"node-{i}.log"

    def pid_path(self, i: int) -> Path:
        return self.state_dir / f"node-{i}.pid"

    def config_path(self, i: int) -> Path:
        return self.state_dir / f"node-{i}.xml"

    def work_dir(self, i: int) -> Path:
        return self.state_dir / "work" / f"node-{i}"

    def _ports(self, i: int) -> dict[str, int]:
        return {
            "client": self.client_port + i,
            "discovery": self.discovery_port + i,
            "communication": self.communication_port + i,
        }

    def _check_index(self, i: int) -> None:
        if not 0 <= i < self.nodes:
            raise IndexError(f"node index {i} out of range 0..{self.nodes - 1}")

    # ---- security

    @property
    def persistent(self) -> bool:
        """Native persistence is on (required by, and only used for, authentication)."""
        return self.authentication is not None

    def client_options(self, credentials: tuple[str, str] | None = None) -> dict[str, object]:
        """pyignite ``Client``/``AioClient`` options for this cluster (TLS without certificate
        check; pass ``credentials`` to override the cluster's user)."""
        return client_options(credentials or self.authentication, tls=self.ssl is not None)

    def _probe(self, i: int, *, probe: bool = True, timeout: float = 1.0) -> bool:
        host, port = self.addresses[i]
        return handshake(
            host,
            port,
            timeout=timeout,
            probe=probe,
            tls=client_tls() if self.ssl is not None else None,
            credentials=self.authentication,
            auth_failure_ok=True,
        )

    def _secure_setup(self) -> None:
        """Activate a persistent cluster (it starts INACTIVE the first time) and create the user."""
        assert self.authentication is not None
        activate_and_create_user(self.name, self.addresses, self.authentication, tls=self.ssl is not None)

    # ---- config / command line

    def render_config(self, i: int) -> str:
        """Spring XML for node ``i``."""
        return render_node_config(self, i)

    def command(self, i: int, libs: Path) -> list[str]:
        """The JVM command line for node ``i``."""
        return node_command(
            heap_mb=self.heap_mb,
            state_dir=self.state_dir,
            work_dir=self.work_dir(i),
            node_name=self.node_name(i),
            jvm_opts=self.jvm_opts,
            libs=libs,
            config_path=self.config_path(i),
        )

    # ---- PID handling

    def _read_pid(self, i: int) -> int | None:
        return read_pid(self.pid_path(i))

    def _owns(self, pid: int) -> bool:
        """True if ``pid`` is a live java process started for this state dir."""
        return owns(pid, self.state_dir)

    def node_pid(self, i: int) -> int | None:
        """PID of node ``i`` if it is running (verified), else None."""
        pid = self._read_pid(i)
        return pid if pid is not None and self._owns(pid) else None

    def _reap(self, i: int, timeout: float = 10.0) -> None:
        reap(self._procs.pop(i, None), timeout)

    # ---- lifecycle

    def start(self, timeout: float = 90) -> list[tuple[str, int]]:
        """Start all nodes in order (skipping ones already running) and wait until each
        completes a thin-client handshake. On failure stops what it started and raises
        :class:`ClusterStartError`."""
        libs = ensure_jars(self.cache_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / self.STATE_FILE).write_text(json.dumps(self._params(), indent=2) + "\n")
        deadline = time.monotonic() + timeout
        started: list[int] = []
        # A persistent cluster answers requests only once active: wait for the handshakes of
        # all nodes first, activate (and create the user), then require the full probe.
        early = self.persistent
        try:
            for i in range(self.nodes):
                if self.node_pid(i) is not None:
                    self._wait_ready(i, deadline, offset=0, probe=not early)
                    continue
                started.append(i)
                self._start_one(i, libs, deadline, probe=not early)
            if early:
                self._secure_setup()
                for i in range(self.nodes):
                    self._wait_ready(i, deadline, offset=0)
        except BaseException:
            for i in reversed(started):
                self._stop_nodes([i])
            raise
        return self.addresses

    def start_node(self, i: int, timeout: float = 90) -> tuple[str, int]:
        """(Re)start node ``i`` (e.g. after :meth:`kill_node`) and wait until it is ready."""
        self._check_index(i)
        if self.node_pid(i) is not None:
            raise IgniteError(f"node {i} is already running (pid {self.node_pid(i)})")
        libs = ensure_jars(self.cache_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_one(i, libs, time.monotonic() + timeout)
        except BaseException:
            self._stop_nodes([i])
            raise
        return self.addresses[i]

    def _start_one(self, i: int, libs: Path, deadline: float, *, probe: bool = True) -> None:
        self._reap(i)
        self.pid_path(i).unlink(missing_ok=True)
        log = self.log_path(i)
        busy = [f"{kind} port {port}" for kind, port in self._ports(i).items() if not port_is_free(port)]
        if busy:
            raise ClusterStartError(
                f"node {i} of cluster {self.name!r} cannot start: {', '.join(busy)} on {self.HOST} "
                f"already in use (another cluster or process?)\n--- last lines of {log} ---\n{tail(log)}"
            )
        self.work_dir(i).mkdir(parents=True, exist_ok=True)
        self.config_path(i).write_text(self.render_config(i))
        cmd = self.command(i, libs)
        with open(log, "ab") as fh:
            offset = fh.tell()
            fh.write(f"=== synchub: starting node {i} at {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
            fh.write((" ".join(cmd) + "\n").encode())
            fh.flush()
            began = time.monotonic()
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
                start_new_session=True,
            )
        self._procs[i] = proc
        write_pid(self.pid_path(i), proc.pid)
        self._wait_ready(i, deadline, offset, probe=probe)
        self.start_times[i] = time.monotonic() - began

    def _wait_ready(self, i: int, deadline: float, offset: int, *, probe: bool = True) -> None:
        host, port = self.addresses[i]
        while True:
            proc = self._procs.get(i)
            exited = proc.poll() is not None if proc is not None else self.node_pid(i) is None
            if exited:
                code = f" with code {proc.returncode}" if proc is not None else ""
                raise ClusterStartError(
                    f"node {i} of cluster {self.name!r} exited{code} before its client port "
                    f"{host}:{port} was ready\n--- last lines of {self.log_path(i)} ---\n"
                    f"{tail(self.log_path(i), offset=offset)}"
                )
            if self._probe(i, probe=probe):
                return
            if time.monotonic() >= deadline:
                raise ClusterStartError(
                    f"node {i} of cluster {self.name!r} not ready on {host}:{port} before the timeout\n"
                    f"--- last lines of {self.log_path(i)} ---\n{tail(self.log_path(i), offset=offset)}"
                )
            time.sleep(0.2)

    def _stop_nodes(self, indexes: Sequence[int], grace: float = _STOP_GRACE_S) -> None:
        victims: dict[int, int] = {}
        for i in indexes:
            pid = self._read_pid(i)
            if pid is not None and self._owns(pid):
                send_signal(pid, signal.SIGTERM)
                victims[i] = pid
        end = time.monotonic() + grace
        for i, pid in victims.items():
            proc = self._procs.get(i)
            while self._owns(pid) and time.monotonic() < end:
                if proc is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=0.1)
                else:
                    time.sleep(0.1)
            if self._owns(pid):
                send_signal(pid, signal.SIGKILL)
                self._wait_gone(i, pid)
        for i in indexes:
            self._reap(i)
            self.pid_path(i).unlink(missing_ok=True)

    def _wait_gone(self, i: int, pid: int, timeout: float = 10.0) -> None:
        wait_gone(pid, self.state_dir, self._procs.get(i), timeout)

    def stop(self, grace: float = _STOP_GRACE_S) -> None:
        """Stop every node of this cluster: SIGTERM, then SIGKILL after ``grace`` seconds.
        Only PIDs from this cluster's PID files that still belong to it are signalled."""
        self._stop_nodes(range(self.nodes), grace)

    def kill_node(self, i: int) -> None:
        """SIGKILL node ``i`` (failover tests) and wait until the process is gone."""
        self._check_index(i)
        pid = self._read_pid(i)
        if pid is not None and self._owns(pid):
            send_signal(pid, signal.SIGKILL)
            self._wait_gone(i, pid)
        self._reap(i)
        self.pid_path(i).unlink(missing_ok=True)

    def status(self) -> list[NodeStatus]:
        result = []
        for i, (host, port) in enumerate(self.addresses):
            pid = self._read_pid(i)
            running = pid is not None and self._owns(pid)
            ready = running and self._probe(i)
            result.append(NodeStatus(i, pid, running, ready, (host, port), self.log_path(i)))
        return result

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
