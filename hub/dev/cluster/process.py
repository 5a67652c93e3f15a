"""Node processes seen from outside: PID files, whether a PID is still our JVM, signals, log tails.

A PID file alone proves nothing (PIDs are reused): a PID counts as a node of a cluster only while it is a
live, non-zombie ``java`` process whose command line names the cluster's state directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

_LOG_TAIL_LINES = 40

#: Node processes that had not exited when their cluster let go of them.
UNREAPED: list[subprocess.Popen[bytes]] = []


def read_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def tail(path: Path, lines: int = _LOG_TAIL_LINES, offset: int = 0) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return f"(no log at {path})"
    text = data.decode(errors="replace").splitlines()[-lines:]
    return "\n".join(text) if text else "(log is empty)"


def owns(pid: int, state_dir: Path) -> bool:
    """True if ``pid`` is a live java process started for ``state_dir``."""
    args = read_cmdline(pid)
    if not args or is_zombie(pid):
        return False
    return os.path.basename(args[0]).startswith("java") and any(str(state_dir) in a for a in args)


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def write_pid(path: Path, pid: int) -> None:
    tmp = path.with_suffix(".pid.tmp")
    tmp.write_text(f"{pid}\n")
    tmp.replace(path)


def send_signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def reap(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """Wait for a node process we started; one still exiting is kept (neither zombie nor ResourceWarning)."""
    if proc is not None:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            UNREAPED.append(proc)


def wait_gone(pid: int, state_dir: Path, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """Wait up to ``timeout`` seconds until ``pid`` is no longer our node (reaping it if we started it)."""
    end = time.monotonic() + timeout
    while owns(pid, state_dir) and time.monotonic() < end:
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.1)
        else:
            time.sleep(0.05)
