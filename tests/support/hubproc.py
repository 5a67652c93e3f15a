"""Run the hub as a real subprocess (``synchub serve --config <toml>``) for integration tests.

:class:`HubProcess` writes the TOML config, starts ``.venv/bin/synchub serve`` on a free port with
``PYTHONPATH`` set to the repo root (so ``tests.support.hooks`` merge hooks import), waits for
``/readyz`` to answer 200, appends its output to ``test-artifacts/hub-<name>.log`` and can be
SIGKILLed and restarted (on the same port by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import httpx

from tests.support.ports import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts"
SYNCHUB = REPO_ROOT / ".venv" / "bin" / "synchub"


def faketime_library() -> str:
    """Debian's libfaketime (package ``faketime``), preloaded into a hub whose clock is off.

    Not the ``faketime`` wrapper: a SIGKILLed wrapper leaves its named semaphore and shared memory
    in /dev/shm (``faketime_shm_<pid>``), and a later wrapper that gets the same pid refuses to
    start ("sem_open: File exists"); in a chaos run that kills the skewed hub again and again, its
    restart then failed for good (a fresh-clone run, 2026-12-01). The library preloaded directly
    starts whatever /dev/shm holds; :meth:`HubProcess.kill` removes what it leaves."""
    found = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    if not found:
        raise RuntimeError("libfaketime not found: install Debian's faketime package (make setup does)")
    return str(found[0])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):  # an inline table (filters: {claim = "team"})
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def render_toml(
    addresses: Sequence[tuple[str, int]],
    collections: Mapping[str, Mapping[str, Any]],
    hub: Mapping[str, Any] | None = None,
    ignite: Mapping[str, Any] | None = None,
    auth: Mapping[str, Any] | None = None,
    rooms: Mapping[str, Any] | None = None,
) -> str:
    """The hub config: ``[hub]`` (dev auth by default), ``[ignite]`` (addresses plus ``ignite``,
    e.g. credentials and TLS) and one table per collection."""
    # one process per hub unless a test asks for workers (hub.supervisor)
    hub_table: dict[str, Any] = {"host": "127.0.0.1", "dev_auth": True, "workers": 1}
    hub_table.update(hub or {})
    lines = ["[hub]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in hub_table.items()]
    lines += ["", "[ignite]", f"addresses = {_toml_value([f'{h}:{p}' for h, p in addresses])}"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in (ignite or {}).items()]
    if auth:
        lines += ["", "[auth]"] + [f"{k} = {_toml_value(v)}" for k, v in auth.items()]
    for name, table in collections.items():
        lines += ["", f"[collections.{name}]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if not isinstance(v, Mapping)]
        for sub, inner in table.items():  # sub-tables, e.g. access
            if isinstance(inner, Mapping):
                lines += ["", f"[collections.{name}.{sub}]"]
                lines += [f"{k} = {_toml_value(v)}" for k, v in inner.items()]
    if rooms:
        lines += ["", "[rooms]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in rooms.items() if k != "access"]
        for prefix, rules in rooms.get("access", {}).items():  # [rooms.access."<prefix>"]
            lines += ["", f"[rooms.access.{_toml_value(prefix)}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in rules.items()]
    return "\n".join(lines) + "\n"


class HubProcess:
    """One hub process. ``start()``/``kill()``/``stop()`` may be called repeatedly."""

    def __init__(
        self,
        name: str,
        addresses: Sequence[tuple[str, int]],
        collections: Mapping[str, Mapping[str, Any]],
        *,
        hub: Mapping[str, Any] | None = None,
        ignite: Mapping[str, Any] | None = None,
        config_dir: Path,
        wrap: Sequence[str] = (),
        auth: Mapping[str, Any] | None = None,
        clock_skew_s: int = 0,
        rooms: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.wrap = list(wrap)  # a command prefix (e.g. a profiler)
        self.clock_skew_s = clock_skew_s  # this hub's wall clock is off by this much (libfaketime)
        self.port = free_port()
        self.config_path = config_dir / f"hub-{name}.toml"
        self.config_path.write_text(render_toml(addresses, collections, hub, ignite, auth, rooms))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / f"hub-{name}.log"
        self.log_path.write_text("")
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/sync"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def start(self, timeout: float = 60.0, *, new_port: bool = False) -> None:
        """Start the process and wait until ``/readyz`` answers 200."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        if new_port:
            self.port = free_port()
        self.starts += 1
        self._log = open(self.log_path, "ab")
        self._log.write(f"===== start #{self.starts} on port {self.port} =====\n".encode())
        self._log.flush()
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        for key in [k for k in env if k.startswith("SYNCHUB_")]:
            del env[key]
        cmd = [str(SYNCHUB) if SYNCHUB.exists() else sys.executable, "serve"]
        if not SYNCHUB.exists():
            cmd[1:1] = ["-m", "hub"]
        cmd += ["--config", str(self.config_path), "--port", str(self.port)]
        if self.wrap:
            cmd[:0] = self.wrap
        if self.clock_skew_s:
            env["LD_PRELOAD"] = faketime_library()
            env["FAKETIME"] = f"{self.clock_skew_s:+d}s"
            env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"  # only the wall clock is off
        self.proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        await self._wait_ready(timeout)

    async def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=5.0) as http:
            while True:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"hub {self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.http}/readyz")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"hub {self.name} not ready after {timeout}s:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the process (no shutdown of any kind) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGKILL)
        self._reap()
        if self.clock_skew_s and self.proc is not None:
            # what libfaketime keeps per process and removes only when the process exits normally
            for name in (f"faketime_shm_{self.proc.pid}", f"sem.faketime_sem_{self.proc.pid}"):
                with contextlib.suppress(OSError):
                    (Path("/dev/shm") / name).unlink()

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM (uvicorn shuts down: 4500 to clients), SIGKILL after ``grace`` seconds."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
        self._reap()

    def _signal(self, sig: int) -> None:
        """Signal the hub's whole process group (its own session): with a ``wrap`` the hub is a
        child of the process started here, and must not outlive it."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _reap(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def ignite_connections(self, ports: Sequence[int]) -> Counter[int]:
        """How many established TCP connections this process holds to each of ``ports``
        (read from /proc: the process's socket inodes matched against /proc/net/tcp)."""
        inodes: set[str] = set()
        fd_dir = Path(f"/proc/{self.pid}/fd")
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        # by inode: a read of these tables may show a socket twice when others come and go meanwhile
        seen: dict[str, int] = {}
        for table in ("tcp", "tcp6"):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{self.pid}/net/{table}").read_text().splitlines()[1:]:
                    cols = line.split()
                    remote_port = int(cols[2].rsplit(":", 1)[1], 16)
                    if cols[3] == "01" and cols[9] in inodes and remote_port in ports:
                        seen[cols[9]] = remote_port
        return Counter(seen.values())
