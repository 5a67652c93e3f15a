"""Continuous-query benchmark: put->event latency and sustained events/s vs a plain pyignite put.

    .venv/bin/python bench/cq.py [--quick] [--addr 127.0.0.1:10800]

Without ``--addr`` a one-node LocalCluster is started on free ports in 30000-31999 (and stopped after).
Everything runs in one process on one event loop (as the hub does): the floor is the round trip of a plain
``await cache.put``; the CQ latency is from just before ``put`` to the event reaching the iterator.
Each CQ configuration (pageSize / timeInterval) is measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyignite import AioClient

from bench.apply import machine
from hub.ignite import continuous_query

CONFIGS = [(1, 0), (64, 5), (256, 20)]  # (page_size, time_interval_ms)


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


async def floor_put(cache: Any, n: int) -> list[float]:
    lat = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        await cache.put(i % 1000, i)
        lat.append((time.perf_counter_ns() - t0) / 1e3)
    return lat


async def cq_latency(client: Any, cache: Any, name: str, n: int, page: int, ti: int) -> list[float]:
    progress(f"latency pageSize={page} timeInterval={ti} x{n}")
    lat = []
    async with continuous_query(client, name, page_size=page, time_interval_ms=ti) as events:
        it = aiter(events)
        for i in range(n):
            t0 = time.perf_counter_ns()
            await cache.put(i % 1000, i)
            seen = False
            while not seen:
                batch = await anext(it)
                seen = any(e.value == i for e in batch)
            lat.append((time.perf_counter_ns() - t0) / 1e3)
    return lat


async def write_load(cache: Any, keys: int, rounds: int, writers: int, base: int) -> None:
    async def writer(w: int) -> None:
        mine = [k for k in range(keys) if k % writers == w]
        for r in range(rounds):
            await cache.put_all({k: base + r for k in mine})

    await asyncio.gather(*(writer(w) for w in range(writers)))


async def throughput(
    client: Any, cache: Any, name: str, keys: int, rounds: int, writers: int, page: int | None, ti: int
) -> tuple[float, float]:
    """(events or writes per second, seconds). page=None: writes only, no CQ (the floor)."""
    total = keys * rounds
    progress(f"throughput pageSize={page} timeInterval={ti} x{total}")
    if page is None:
        t0 = time.perf_counter()
        await write_load(cache, keys, rounds, writers, 0)
        dt_s = time.perf_counter() - t0
        return total / dt_s, dt_s
    async with continuous_query(
        client, name, page_size=page, time_interval_ms=ti, buffer_batches=total
    ) as ev:
        t0 = time.perf_counter()
        task = asyncio.create_task(write_load(cache, keys, rounds, writers, 0))
        got = 0
        async for batch in ev:
            got += len(batch)
            if got >= total:
                break
        dt_s = time.perf_counter() - t0
        await task
    return total / dt_s, dt_s


async def run(addr: tuple[str, int], quick: bool) -> str:
    n_lat = 300 if quick else 2000
    keys, rounds, writers = (1000, 20, 4) if quick else (1000, 100, 4)
    client = AioClient(partition_aware=False)
    await client.connect([addr])
    try:
        name = f"bench_cq_{random.randrange(1 << 30):x}"
        cache = await client.get_or_create_cache(name)
        await cache.put_all({k: -1 for k in range(1000)})
        await floor_put(cache, 200)  # warm-up
        for page, ti in CONFIGS:
            await cq_latency(client, cache, name, 100, page, ti)
        floor = await floor_put(cache, n_lat)
        rows = []
        for page, ti in CONFIGS:
            lat = await cq_latency(client, cache, name, n_lat, page, ti)
            rows.append((page, ti, lat))
        floor_rate, _ = await throughput(client, cache, name, keys, rounds, writers, None, 0)
        tput = []
        for page, ti in CONFIGS:
            rate, secs = await throughput(client, cache, name, keys, rounds, writers, page, ti)
            tput.append((page, ti, rate, secs))
        await cache.destroy()
    finally:
        await client.close()

    f50, f99 = statistics.median(floor), pct(floor, 99)
    out = [
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Machine: {machine()}.",
        f"Command: `.venv/bin/python bench/cq.py{' --quick' if quick else ''}` "
        f"(Ignite 2.17.0, one local node, client and node on the same host).",
        "",
        f"Latency: {n_lat} sequential puts on 1000 keys; "
        "CQ latency = `put` call to the event reaching the iterator.",
        "",
        "| Path | p50 µs | p99 µs | p50 / put p50 |",
        "|---|---:|---:|---:|",
        f"| plain `await cache.put` round trip (floor) | {f50:.0f} | {f99:.0f} | 1.00 |",
    ]
    for page, ti, lat in rows:
        p50 = statistics.median(lat)
        out.append(
            f"| CQ pageSize={page} timeInterval={ti} ms | {p50:.0f} | {pct(lat, 99):.0f} | {p50 / f50:.2f} |"
        )
    out += [
        "",
        f"Throughput: {keys * rounds:,} updates ({writers} concurrent writers, "
        f"`put_all` of {keys // writers} keys each, {keys} keys x {rounds} rounds); "
        "CQ events/s = updates / (first write to last event consumed).",
        "",
        "| Path | events/s (writes/s) | seconds | / write-only rate |",
        "|---|---:|---:|---:|",
        f"| writes only, no CQ (floor) | {floor_rate:,.0f} | {keys * rounds / floor_rate:.2f} | 1.00 |",
    ]
    for page, ti, rate, secs in tput:
        out.append(
            f"| CQ pageSize={page} timeInterval={ti} ms | {rate:,.0f} | {secs:.2f} "
            f"| {rate / floor_rate:.2f} |"
        )
    return "\n".join(out)


async def _guarded(coro: Any, timeout: float) -> str:
    """Run ``coro``; on a hang, print every task's stack (a benchmark must never hang silently)."""
    task = asyncio.ensure_future(coro)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        for t in asyncio.all_tasks():
            t.print_stack(file=sys.stderr)
        task.cancel()
        raise SystemExit(f"benchmark did not finish within {timeout:.0f} s")
    return str(task.result())


def start_cluster(state: Path) -> Any:
    from hub.dev.cluster import LocalCluster, port_is_free

    rng = random.Random()
    for _ in range(100):
        base = 30000 + rng.randrange(60) * 32
        if all(port_is_free(base + off) for off in (0, 10, 20)):
            cluster = LocalCluster(
                state,
                nodes=1,
                client_port=base,
                discovery_port=base + 10,
                communication_port=base + 20,
                name="bench-cq",
                heap_mb=1024,
            )
            cluster.start()
            return cluster
    raise RuntimeError("no free ports in 30000-31999")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer samples (about 20 s)")
    ap.add_argument("--addr", help="host:port of a running node (default: start one)")
    args = ap.parse_args()
    cluster = None
    if args.addr:
        host, port = args.addr.rsplit(":", 1)
        addr = (host, int(port))
    else:
        cluster = start_cluster(Path(tempfile.mkdtemp(prefix="bench-cq-")))
        addr = cluster.addresses[0]
    try:
        print(asyncio.run(_guarded(run(addr, args.quick), 600.0)))
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
