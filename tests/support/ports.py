"""Ports for the hubs that tests start, taken where nothing else can take them meanwhile.

``bind(0)`` and close hands out an ephemeral port that any outgoing connection of this machine may
get before the hub binds it ("address already in use", now and then). Tests instead take ports in
30000-32767: below the kernel's ephemeral range (32768-60999 here) and above the Ignite port blocks
(20000-30000, tests/conftest.py). Each port is reserved with a lock file for the life of the test
process, so parallel test runs (e.g. ``make soak-tests``) never hand out the same one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path
from typing import IO

RANGE = (30000, 32768)
_LOCK_DIR = Path(tempfile.gettempdir()) / "synchub-test-ports"
_held: dict[int, IO[str]] = {}


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A free loopback port outside the ephemeral range, reserved for this process."""
    _LOCK_DIR.mkdir(parents=True, exist_ok=True)
    rng = random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), "little"))
    for _ in range(500):
        port = rng.randrange(*RANGE)
        if port in _held:
            continue
        lock = open(_LOCK_DIR / f"{port}.lock", "a+")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        if _bindable(port):
            _held[port] = lock
            return port
        with contextlib.suppress(OSError):
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        lock.close()
    raise RuntimeError(f"no free port in {RANGE[0]}-{RANGE[1] - 1}")
