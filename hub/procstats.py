"""What the kernel says about a process: its resident memory and open file descriptors, from /proc.

Read by the hub's scrape-time gauges (hub/metrics.py) and by the benchmarks about other processes
(the hub under load, Ignite, the load generator).
"""

from __future__ import annotations

import os

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def process_usage(pid: int | str = "self") -> tuple[int | None, int | None]:
    """(resident set size in bytes, open file descriptors) of a process, from /proc; None for what
    cannot be read (no /proc, or another user's process)."""
    rss: int | None = None
    fds: int | None = None
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            rss = int(f.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        pass
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return rss, fds
