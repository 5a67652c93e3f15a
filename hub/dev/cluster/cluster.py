"""Local Apache Ignite 2.x clusters for development and tests: their nodes as processes.

A :class:`LocalCluster` runs one or more real Ignite server nodes as plain JVM processes
(``CommandLineStartup`` + a generated Spring XML file) from jars fetched once from Maven
Central by :func:`~hub.dev.cluster.jars.ensure_jars`: start, readiness, stop, kill and status.
Its parameters, ports and state files are :class:`~hub.dev.cluster.layout.ClusterLayout`'s part.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from hub.ignite.readiness import client_tls, handshake, port_is_free

from .errors import ClusterStartError, IgniteError
from .jars import ensure_jars
from .layout import ClusterLayout
from .process import owns, read_pid, reap, send_signal, tail, wait_gone, write_pid
from .security import activate, activate_and_create_user

_STOP_GRACE_S = 10.0
#: how long nodes may take to answer after their JVM starts: usually 5-15 s, but over 90 s on a
#: 2-core box under heavy load (a fresh-clone CI run beside other work); only a bound, never a wait
START_TIMEOUT_S = 240.0


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


class LocalCluster(ClusterLayout):
    """One or more Ignite server nodes on 127.0.0.1 with their own port block and state dir, run as
    JVM processes (the layout: :class:`~hub.dev.cluster.layout.ClusterLayout`)."""

    @functools.cached_property
    def _procs(self) -> dict[int, subprocess.Popen[bytes]]:
        """The JVM processes this object started, by node index."""
        return {}

    @functools.cached_property
    def start_times(self) -> dict[int, float]:
        """Seconds each node this object started took to become ready, by node index."""
        return {}

    # ---- probes and security

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
        """Activate a persistent cluster (it starts INACTIVE the first time); create the user if any."""
        if self.authentication is None:
            activate(self.addresses, tls=self.ssl is not None)
        else:
            activate_and_create_user(self.name, self.addresses, self.authentication, tls=self.ssl is not None)

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

    def start(self, timeout: float = START_TIMEOUT_S) -> list[tuple[str, int]]:
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

    def start_node(self, i: int, timeout: float = START_TIMEOUT_S) -> tuple[str, int]:
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
