"""Several hub processes on one port (``[hub] workers``, one per core by default).

Hubs are stateless and share nothing but Ignite, so the workers of one box are simply hubs: each
has its own Ignite connections, continuous queries and connections; a change made through one
reaches the clients of the others through Ignite, as between two boxes. Each worker binds the
port with ``SO_REUSEPORT`` and the kernel spreads new connections over them.

The supervisor (the process started) forks the workers and restarts one that dies. A worker runs
in its own process group, so a Ctrl-C reaches the supervisor only and each worker gets exactly one
SIGTERM (forwarded: a second one would skip the graceful drain); it dies with the supervisor
(``PR_SET_PDEATHSIG``), so a SIGKILLed supervisor leaves no worker behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

#: a worker that dies within this many seconds of its start counts as failing at start-up
FAST_EXIT_S = 10.0
#: this many start-up failures in a row stop the supervisor (a bad config, Ignite gone)
MAX_FAST_EXITS = 5
_PR_SET_PDEATHSIG = 1


def worker_count(setting: int) -> int:
    """``setting``, or the number of cores this process may run on when it is 0."""
    if setting > 0:
        return setting
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def listen_socket(host: str, port: int, backlog: int = 2048, *, listen: bool = True) -> socket.socket:
    """A socket bound to ``host:port`` and shared with the other workers (``SO_REUSEPORT``).

    ``listen=False`` binds only: the kernel gives a socket connections from the moment it
    listens, so a worker binds at fork (a taken port fails it at once) and listens only when its
    server starts serving (asyncio's ``create_server`` calls ``listen``), after the app's start-up.
    Connections never wait in the backlog of a worker still starting, nor die with one whose
    start-up fails."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the supervisor died before prctl: nothing to serve for
        os._exit(1)


class Supervisor:
    """Forks ``n`` workers running ``work(index)`` and keeps them running until told to stop.

    Args:
        n: Number of workers.
        work: Runs one worker in the forked child; its return value is the child's exit status.
    """

    def __init__(self, n: int, work: Callable[[int], int]) -> None:
        self.n = n
        self.work = work
        self.children: dict[int, tuple[int, float]] = {}  # pid -> (index, started)
        self.stopping = False
        self.fast_exits = 0
        self.status = 0

    def _spawn(self, index: int) -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                os.setpgid(0, 0)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_DFL)
                _die_with_parent(parent)
                code = self.work(index)
            except BaseException:
                log.exception("worker %d failed", index)
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = (index, time.monotonic())
        log.info("worker started", extra={"worker": index, "pid": pid})

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stopping:
            log.info("stopping workers", extra={"signal": signal.Signals(signum).name})
        self.stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def run(self) -> int:
        """Start the workers, restart those that die, return when all have stopped."""
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        for i in range(self.n):
            self._spawn(i)
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            if pid not in self.children:
                continue
            index, started = self.children.pop(pid)
            code = os.waitstatus_to_exitcode(status)
            if self.stopping:
                self.status = self.status or max(code, 0)
                continue
            fast = time.monotonic() - started < FAST_EXIT_S
            self.fast_exits = self.fast_exits + 1 if fast else 0
            log.error("worker exited", extra={"worker": index, "pid": pid, "code": code})
            if self.fast_exits >= MAX_FAST_EXITS:
                log.error("workers keep failing at start-up: stopping", extra={"code": code})
                self.status = code if code > 0 else 1
                self._on_signal(signal.SIGTERM, None)
                continue
            time.sleep(min(5.0, 0.2 * 2**self.fast_exits))
            if not self.stopping:
                self._spawn(index)
        return self.status
