"""Several hub processes on one port (``[hub] workers``, ``hub.supervisor``), on a real Ignite node:
connections spread over the workers, a change made through one worker reaches a client of
another, a worker that dies is replaced, and SIGTERM stops them all gracefully."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import HubFactory, fresh, wait_for
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.asyncio(loop_scope="session")


def children(pid: int) -> set[int]:
    """Live child processes of ``pid`` (from /proc)."""
    out: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its closing paren
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(entry.name))
    return out


def listening(port: int, pids: set[int]) -> set[int]:
    """Which of ``pids`` hold a socket listening on ``port`` (state 0A in /proc/net/tcp{,6},
    matched to the processes by socket inode). By owner, not by count: the kernel writes those
    tables a page at a time, and sockets that come and go between two pages (a killed worker's)
    can make a read show a line twice or not at all."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    out: set[int] = set()
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        if any(link.startswith("socket:[") and link[8:-1] in inodes for link in links):
            out.add(pid)
    return out


def alive(pid: int) -> bool:
    """Running (a zombie waiting for whoever adopted it to reap it counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def started(log: Path) -> int:
    """Workers of the hub logged in ``log`` that completed their start-up (uvicorn logs this
    before its server listens)."""
    return log.read_text(errors="replace").count("Application startup complete.")


async def by_worker(url: str, clients: list[HubClient], want: int = 2) -> dict[str, HubClient]:
    """Connect until clients on ``want`` distinct workers are open (the kernel spreads connections
    by a hash of their addresses: 64 tries miss a worker with a chance of 2^-63)."""
    seen: dict[str, HubClient] = {}
    for _ in range(64):
        c = HubClient(url, fresh("c"))
        clients.append(c)
        welcome = await c.connect()
        if welcome["hub"] in seen:
            await c.close()
        else:
            seen[welcome["hub"]] = c
        if len(seen) >= want:
            break
    return seen


@pytest.mark.timeout(240)
async def test_workers_share_the_port_and_the_changes(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any
) -> None:
    coll = fresh("workers")
    hub = await hubs("w", ignite_addresses, {coll: {"cache": coll}}, workers=2)
    await wait_for(lambda: len(children(hub.pid)) == 2, 30)
    first = children(hub.pid)
    await wait_for(lambda: listening(hub.port, first) == first, 30)

    seen = await by_worker(hub.url, clients)
    assert len(seen) == 2, f"every connection went to one worker: {list(seen)}"
    writer, reader = seen.values()
    await reader.sub(coll)
    assert (await writer.put(coll, "a", {"v": 1}))["s"] == "ok"
    # through Ignite: the reader's worker hears of it by its own continuous query
    await reader.wait(lambda: reader.docs(coll).get("a", {}).get("v") == 1, 30)

    # a worker that dies is replaced; the port keeps serving
    victim = sorted(first)[0]
    os.kill(victim, signal.SIGKILL)
    # one reading of the children per poll: a victim still dying (not yet a zombie) makes two
    # workers in one reading and is gone from the next, before any replacement exists
    await wait_for(lambda: len(children(hub.pid) - first) == 1, 60)
    (replacement,) = children(hub.pid) - first
    # the replacement takes a second or more to import and start; until it listens the kernel
    # sends every connection to the survivor
    await wait_for(lambda: replacement in listening(hub.port, {replacement}), 60)
    # and it listens only once its app has started: no connection waits in the backlog of a
    # worker still starting (or dies with one whose start-up fails)
    assert started(hub.log_path) == 3, "the replacement listened before its start-up completed"
    again = await by_worker(hub.url, clients)
    assert len(again) == 2

    # SIGTERM (to the supervisor only, as an orchestrator sends it): every worker drains and exits
    pids = children(hub.pid)
    assert hub.proc is not None
    hub.proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(hub.proc.wait, 30)
    assert code == 0
    assert not any(alive(p) for p in pids)
    for c in again.values():
        assert await c.wait_closed(10) == 4500  # going away: retry elsewhere


@pytest.mark.timeout(120)
async def test_a_killed_supervisor_leaves_no_worker_behind(hubs: HubFactory, ignite_addresses: Any) -> None:
    coll = fresh("orphans")
    hub = await hubs("o", ignite_addresses, {coll: {"cache": coll}}, workers=2)
    await wait_for(lambda: len(children(hub.pid)) == 2, 30)
    pids = children(hub.pid)
    assert hub.proc is not None
    hub.proc.kill()  # the supervisor alone: its workers are in process groups of their own
    await asyncio.to_thread(hub.proc.wait, 10)

    await wait_for(lambda: not any(alive(p) for p in pids), 20)
