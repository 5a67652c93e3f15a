"""Hub write-path benchmark: ``IgniteStore.apply`` throughput and the live feed's events/s.

    .venv/bin/python bench/apply.py [--rounds 3] [--n 10000] [--batch 500] [--addr host:port] [--profile]

Without ``--addr`` a one-node :class:`hub.dev.cluster.LocalCluster` is started on a free, reserved port
block in 20000-30000 (the scheme of tests/conftest.py: lock file per block, so parallel test runs never
collide) and stopped afterwards.

Each round uses fresh collections (lww, TRANSACTIONAL) and a fresh client id, and measures, in one process
on one event loop (as the hub runs):

* **apply only**: ``n`` puts (documents ``{i, title}`` like client-js/bench/offline-replay.mjs) in batches of
  ``batch``, applied one batch after the other by one client (the hub's order), no feed open;
* **apply + feed**: the same with the collection's feed open (continuous query + stamping check), as in a
  running hub: time until every batch is committed, and until the feed has yielded all ``n`` changes;
  feed events/s = ``n`` / (first write -> last change out of the feed).

``--profile`` additionally runs one apply-only pass under cProfile and prints the top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import fcntl
import io
import os
import platform
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.core.types import CollectionSpec, Mutation
from hub.store.ignite import IgniteStore

PORT_RANGE = (20000, 30000)
BLOCK_WIDTH = 32
_LOCK_DIR = Path(tempfile.gettempdir()) / "synchub-port-blocks"


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def commit() -> str:
    """The commit the benchmark runs on, ``+ local changes`` when tracked files differ from it."""
    repo = str(Path(__file__).resolve().parent.parent)
    try:
        sha = subprocess.run(
            ["git", "-C", repo, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{sha} + local changes" if dirty else sha


def machine() -> str:
    """Where and on what a benchmark runs: the box, its load, the code's commit."""
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"nproc={os.cpu_count()}, CPU {cpu!r}, Python {platform.python_version()}, "
        f"Linux {platform.release()}, load average {load}, commit {commit()}"
    )


@contextlib.contextmanager
def port_block() -> Iterator[int]:
    """A free, locked port block (client = base, discovery = base + 10, communication = base + 20)."""
    from hub.dev.cluster import port_is_free

    _LOCK_DIR.mkdir(parents=True, exist_ok=True)
    rng = random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), "little"))
    slots = (PORT_RANGE[1] - PORT_RANGE[0]) // BLOCK_WIDTH
    for _ in range(200):
        base = PORT_RANGE[0] + rng.randrange(slots) * BLOCK_WIDTH
        lock: IO[str] = open(_LOCK_DIR / f"{base}.lock", "a+")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        try:
            if all(port_is_free(base + off) for off in (0, 10, 20)):
                yield base
                return
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
            lock.close()
    raise RuntimeError("no free port block in 20000-30000")


def batches(client: str, coll: str, n: int, size: int, tag: str) -> list[list[Mutation]]:
    ts0 = (time.time_ns() // 1_000_000) << 16
    muts = [
        Mutation(
            client, i + 1, coll, f"{tag}-{i}", "put", {"i": i, "title": f"concurrent write {i}"}, ts0 + i, 0
        )
        for i in range(n)
    ]
    return [muts[i : i + size] for i in range(0, n, size)]


async def apply_all(store: IgniteStore, client: str, work: list[list[Mutation]]) -> list[float]:
    times: list[float] = []
    for b in work:
        t0 = time.perf_counter()
        results = await store.apply(client, b)
        times.append(time.perf_counter() - t0)
        bad = [r for r in results if r.s != "ok"]
        if bad:
            raise SystemExit(f"unexpected results: {bad[:3]}")
    return times


async def fresh(store: IgniteStore, label: str) -> str:
    name = f"bench_{label}_{random.randrange(1 << 30):x}"
    await store.ensure_collection(CollectionSpec(name))
    return name


async def round_(store: IgniteStore, n: int, size: int, profile: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # -- apply only
    coll = await fresh(store, "a")
    work = batches(f"c-{random.randrange(1 << 30):x}", coll, n, size, "a")
    cpu0, t0 = time.process_time(), time.perf_counter()
    times = await apply_all(store, work[0][0].client, work)
    out["apply_s"] = time.perf_counter() - t0
    out["apply_cpu_s"] = time.process_time() - cpu0
    out["batch_ms_p50"] = statistics.median(times) * 1000
    out["batch_ms_max"] = max(times) * 1000
    # -- apply with the feed open
    coll = await fresh(store, "f")
    work = batches(f"c-{random.randrange(1 << 30):x}", coll, n, size, "f")
    seen: set[str] = set()
    done = asyncio.Event()
    last = 0.0
    async with store.feed(coll) as feed:

        async def consume() -> None:
            nonlocal last
            async for changes in feed:
                for ch in changes:
                    seen.add(ch.id)
                if len(seen) >= n:
                    last = time.perf_counter()
                    done.set()
                    return

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.2)  # reconcile of the empty collection
        cpu0, t0 = time.process_time(), time.perf_counter()
        await apply_all(store, work[0][0].client, work)
        out["apply_feed_s"] = time.perf_counter() - t0
        await asyncio.wait_for(done.wait(), 120)
        out["feed_last_s"] = last - t0
        out["feed_events_per_s"] = n / (last - t0)
        out["apply_feed_cpu_s"] = time.process_time() - cpu0
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if profile:
        coll = await fresh(store, "p")
        work = batches(f"c-{random.randrange(1 << 30):x}", coll, n, size, "p")
        prof = cProfile.Profile()
        prof.enable()
        await apply_all(store, work[0][0].client, work)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(35)
        buf.write("\n")
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        out["profile"] = buf.getvalue()
    return out


async def run(addr: tuple[str, int], rounds: int, n: int, size: int, profile: bool) -> str:
    store = IgniteStore([addr])
    await store.open()
    try:
        warm = await fresh(store, "w")  # binary types, caches, connections
        await apply_all(store, "warm", batches("warm", warm, 2 * size, size, "w"))
        rows = []
        for r in range(rounds):
            progress(f"round {r + 1}/{rounds}")
            rows.append(await round_(store, n, size, profile and r == rounds - 1))
    finally:
        await store.close()
    out = [
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Machine: {machine()}.",
        f"Command: `.venv/bin/python bench/apply.py --rounds {rounds} --n {n} --batch {size}` "
        "(one local Ignite node started by the script; store, feed and node on the same host).",
        "",
        f"{n:,} puts by one client in batches of {size}, applied one after the other.",
        "",
        "| round | apply only: s (writes/s) | batch p50 / max ms | apply CPU s "
        "| with feed: apply s | feed: last change s (events/s) | CPU s (apply + feed) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for i, r in enumerate(rows, 1):
        out.append(
            f"| {i} | {r['apply_s']:.2f} ({n / r['apply_s']:,.0f}) | {r['batch_ms_p50']:.0f} / "
            f"{r['batch_ms_max']:.0f} | {r['apply_cpu_s']:.2f} | {r['apply_feed_s']:.2f} | "
            f"{r['feed_last_s']:.2f} ({r['feed_events_per_s']:,.0f}) | {r['apply_feed_cpu_s']:.2f} |"
        )
    for r in rows:
        if "profile" in r:
            out += ["", "cProfile of one apply-only pass:", "", r["profile"]]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--addr", help="host:port of a running node (default: start one)")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of one apply-only pass")
    args = ap.parse_args()
    if args.addr:
        host, port = args.addr.rsplit(":", 1)
        print(asyncio.run(run((host, int(port)), args.rounds, args.n, args.batch, args.profile)))
        return
    from hub.dev.cluster import LocalCluster

    with port_block() as base:
        cluster = LocalCluster(
            Path(tempfile.mkdtemp(prefix="bench-apply-")),
            nodes=1,
            client_port=base,
            discovery_port=base + 10,
            communication_port=base + 20,
            name="bench-apply",
            heap_mb=1024,
        )
        progress(f"starting Ignite on {base}")
        cluster.start()
        try:
            print(asyncio.run(run(cluster.addresses[0], args.rounds, args.n, args.batch, args.profile)))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
