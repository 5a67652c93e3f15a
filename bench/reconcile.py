"""Background reconciliation benchmark: the sweep, the feed's opening pass and the coverage lease.

    .venv/bin/python bench/reconcile.py [--rounds 3] [--n 20000 --n 100000] [--quick] [--addr host:port]
        [--profile]

Without ``--addr`` a one-node :class:`hub.dev.cluster.LocalCluster` is started on a free, reserved port
block (the scheme of tests/conftest.py, shared with bench/apply.py) and stopped afterwards. ``--quick``:
``--n 2000 --rounds 1``.

Per ``n`` (default 20,000 and 100,000) a fresh collection (lww, TRANSACTIONAL) is filled through
``IgniteStore.apply`` (the documents of bench/read.py: all stamped), then per round:

* **sweep**: ``store.sweep(coll, 16)`` called until every partition of the data cache was visited once
  (a full cycle: 1,024 partitions, 64 calls), as a hub's feed calls it once per second per collection;
  wall time and CPU seconds per partition and per cycle, hence the share of one core a hub spends on it
  at the default rate of 16 partitions/s;
* **opening pass**: from entering ``async with store.feed(coll)`` (the continuous query starts) until the
  pass over every partition ended (the feed's coverage lease marks it covering), with the feed drained
  as the hub does; partitions read (calls of ``feed.partition_differences``);
* both again with **1 % unstamped**: before each, ``n / 100`` documents were changed behind the hub's
  back (plain ``put_all`` on the data cache, binary objects of the collection's type, no meta row
  written), so the sweep / the pass must find and stamp them;
* **coverage lease**: a first store's feed runs its pass and takes ``cover/<coll>`` (how long after
  its pass ended); this process's CPU while that feed covers with no writes (it renews the lease every
  2 s); then a second ``IgniteStore`` (another hub) opens a feed on the collection, once right after a
  renewal of the lease (the longest wait: two whole renewal intervals, then up to one 1 s poll) and
  once 1.5 s after one: partitions it reads (0 by design) and the time until it covers, against the
  whole pass above.

Figures are medians over the rounds. Wall time and CPU seconds are of this process (store + pyignite;
the Ignite node is a separate process). ``--profile`` adds a cProfile of one clean sweep cycle of the
largest ``n``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import io
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import hub.store.ignite as store_module
import hub.store.ignite.feed as feed_module
from bench.apply import machine, port_block, progress
from bench.read import fill
from hub.core.types import CollectionSpec
from hub.store.ignite import IgniteStore
from hub.store.ignite.cover import Lease, cover_key
from hub.store.ignite.encode import string_key

SWEEP_PARTITIONS = 16  # the hub's default (hub/server/feed.py), one call per second
IDLE_S = 4.0  # CPU of a covering feed with no writes, measured over this long (two lease renewals)
JOIN_LATE_S = 1.5  # the second join: this long after a renewal (renewals every cover.RENEW_S = 2 s)

# -- instrumentation: partitions read (per store) and the moment a feed starts covering ---------------

_swept: dict[int, set[int]] = {}  # id(ctx) -> partitions visited by IgniteStore.sweep
_passed: dict[int, int] = {}  # id(ctx) -> partitions read by opening passes
_leases: dict[int, TimedLease] = {}  # id(ctx) -> the lease of its last feed opened


class TimedLease(Lease):
    """:class:`Lease` noting when its feed starts covering (its opening pass ended, or it trusted a
    holder): wall and CPU clocks at that moment."""

    def __init__(self, ctx: Any, coll: str) -> None:
        self.covered_at: tuple[float, float] | None = None
        self.covers = asyncio.Event()
        super().__init__(ctx, coll)
        _leases[id(ctx)] = self

    @property  # type: ignore[override]
    def covering(self) -> bool:
        return self._covering

    @covering.setter
    def covering(self, value: bool) -> None:
        self._covering = value
        if value and self.covered_at is None:
            self.covered_at = (time.perf_counter(), time.process_time())
            self.covers.set()


def instrument() -> None:
    sweep_real = store_module.partition_differences
    pass_real = feed_module.partition_differences

    async def swept(ctx: Any, c: Any, p: int) -> Any:
        _swept.setdefault(id(ctx), set()).add(p)
        return await sweep_real(ctx, c, p)

    async def passed(ctx: Any, c: Any, p: int) -> Any:
        _passed[id(ctx)] = _passed.get(id(ctx), 0) + 1
        return await pass_real(ctx, c, p)

    store_module.partition_differences = swept  # type: ignore[assignment]
    feed_module.partition_differences = passed  # type: ignore[assignment]
    feed_module.Lease = TimedLease  # type: ignore[misc]


# -- the measurements ------------------------------------------------------------------------------------


async def change_behind_back(store: IgniteStore, coll: str, n: int, count: int) -> None:
    """Change ``count`` random documents with plain puts on the data cache: no meta row, no stamp."""
    c = store.coll(coll)
    tag = f"{random.randrange(1 << 30):x}"
    ids = random.sample(range(n), count)
    await c.vtype.register(store.client, store.ctx.types_token)
    for start in range(0, count, 1000):
        puts = {}
        for i in ids[start : start + 1000]:
            doc = {
                "i": i,
                "title": f"changed behind the hub's back {tag} {i}",
                "score": i / 7,
                "done": i % 3 == 0,
                "tags": ["a", f"t{i % 10}"],
                "n2": None if i % 5 == 0 else i * 2,
            }
            puts[string_key(f"doc-{i}")] = c.vtype.encode_raw(doc)[0]
        await c.data.put_all(puts)


async def sweep_cycle(store: IgniteStore, coll: str) -> dict[str, float]:
    """``store.sweep(coll, 16)`` until every partition was visited once."""
    c = store.coll(coll)
    visited = _swept.setdefault(id(store.ctx), set())
    visited.clear()
    calls: list[tuple[float, float]] = []
    stamped = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    while len(visited) < c.partitions:
        cpu1, t1 = time.process_time(), time.perf_counter()
        stamped += len(await store.sweep(coll, SWEEP_PARTITIONS))
        calls.append((time.perf_counter() - t1, time.process_time() - cpu1))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    parts = len(visited)
    return {
        "wall": wall,
        "cpu": cpu,
        "partitions": parts,
        "calls": len(calls),
        "call_wall_p50": statistics.median(w for w, _ in calls),
        "call_wall_max": max(w for w, _ in calls),
        "call_cpu_p50": statistics.median(u for _, u in calls),
        "call_cpu_max": max(u for _, u in calls),
        "stamped": stamped,
    }


async def drain(feed: Any, ids: set[str]) -> None:
    async for changes in feed:
        ids.update(ch.id for ch in changes)


async def no_lease(store: IgniteStore, coll: str) -> None:
    """Wait until nobody holds ``cover/<coll>`` (else the next feed would wait to trust it)."""
    for _ in range(200):
        if await store.ctx.sys.get(cover_key(coll)) is None:
            return
        await asyncio.sleep(0.05)
    raise SystemExit(f"cover/{coll} still held")


@contextlib.asynccontextmanager
async def opened(store: IgniteStore, coll: str, ids: set[str]) -> Any:
    """The feed of ``coll`` open and drained (as the hub does); yields its lease."""
    async with store.feed(coll) as feed:
        lease = _leases[id(store.ctx)]
        task = asyncio.create_task(drain(feed, ids))
        try:
            yield lease
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def opening_pass(store: IgniteStore, coll: str, timeout: float) -> dict[str, float]:
    """Open the feed, time its opening pass, close it."""
    await no_lease(store, coll)
    key = id(store.ctx)
    _passed[key] = 0
    ids: set[str] = set()
    cpu0, t0 = time.process_time(), time.perf_counter()
    async with opened(store, coll, ids) as lease:
        await asyncio.wait_for(lease.covers.wait(), timeout)
        assert lease.covered_at is not None
        t1, cpu1 = lease.covered_at
    return {"wall": t1 - t0, "cpu": cpu1 - cpu0, "partitions": _passed[key], "stamped": len(ids)}


async def renewed(store: IgniteStore, coll: str) -> None:
    """Return right after the holder of ``cover/<coll>`` renewed it (its value changed)."""
    first = await store.ctx.sys.get(cover_key(coll))
    deadline = time.monotonic() + 30
    while await store.ctx.sys.get(cover_key(coll)) == first:
        if time.monotonic() > deadline:
            raise SystemExit("the covering feed does not renew its lease")
        await asyncio.sleep(0.02)


async def join(b: IgniteStore, coll: str) -> tuple[float, float, int]:
    """``b`` opens a feed while another covers ``coll``: (s, CPU s) until it covers, partitions read."""
    key = id(b.ctx)
    _passed[key] = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    async with opened(b, coll, set()) as lease:
        await asyncio.wait_for(lease.covers.wait(), 60)
        assert lease.covered_at is not None
        t1, cpu1 = lease.covered_at
    return t1 - t0, cpu1 - cpu0, _passed[key]


async def lease_join(a: IgniteStore, b: IgniteStore, coll: str, timeout: float) -> dict[str, float]:
    """``a``'s feed makes its pass and takes the lease; idle CPU while it covers; then ``b`` opens a
    feed right after a renewal of the lease (the longest wait: two whole renewal intervals) and
    JOIN_LATE_S after one: what it reads, how long until it covers."""
    await no_lease(a, coll)
    async with opened(a, coll, set()) as lease_a:
        await asyncio.wait_for(lease_a.covers.wait(), timeout)
        assert lease_a.covered_at is not None
        deadline = time.monotonic() + 30
        while await a.ctx.sys.get(cover_key(coll)) is None:
            if time.monotonic() > deadline:
                raise SystemExit("the covering feed never took its lease")
            await asyncio.sleep(0.02)
        taken = time.perf_counter() - lease_a.covered_at[0]
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(IDLE_S)
        idle = (time.process_time() - cpu0) / (time.perf_counter() - t0)
        await renewed(a, coll)
        wall, cpu, parts = await join(b, coll)
        await renewed(a, coll)
        await asyncio.sleep(JOIN_LATE_S)
        late, _, parts_late = await join(b, coll)
    return {
        "wall": wall,
        "cpu": cpu,
        "wall_late": late,
        "partitions": max(parts, parts_late),
        "lease_taken": taken,
        "idle_cpu": idle,
    }


async def measure(a: IgniteStore, b: IgniteStore, n: int, rounds: int, profile: bool) -> dict[str, Any]:
    coll = f"bench_rec_{random.randrange(1 << 30):x}"
    await a.ensure_collection(CollectionSpec(coll))
    progress(f"n={n}: filling")
    t0 = time.perf_counter()
    await fill(a, coll, n)
    progress(f"n={n}: filled in {time.perf_counter() - t0:.1f} s")
    await b.ensure_collection(CollectionSpec(coll))
    await a.sweep(coll, SWEEP_PARTITIONS)  # warm-up: connections, binary metadata
    timeout = max(120.0, n / 100)
    dirty = max(1, n // 100)
    rows: list[dict[str, dict[str, float]]] = []
    for r in range(rounds):
        progress(f"n={n}: round {r + 1}/{rounds}: sweep")
        row = {"sweep": await sweep_cycle(a, coll)}
        progress(f"n={n}: round {r + 1}/{rounds}: opening pass")
        row["pass"] = await opening_pass(a, coll, timeout)
        progress(f"n={n}: round {r + 1}/{rounds}: sweep, 1 % unstamped")
        await change_behind_back(a, coll, n, dirty)
        row["sweep_dirty"] = await sweep_cycle(a, coll)
        progress(f"n={n}: round {r + 1}/{rounds}: opening pass, 1 % unstamped")
        await change_behind_back(a, coll, n, dirty)
        row["pass_dirty"] = await opening_pass(a, coll, timeout)
        progress(f"n={n}: round {r + 1}/{rounds}: coverage lease")
        row["lease"] = await lease_join(a, b, coll, timeout)
        for k in ("sweep_dirty", "pass_dirty"):
            if row[k]["stamped"] != dirty:
                raise SystemExit(f"{k}: stamped {row[k]['stamped']}, expected {dirty}")
        for k in ("sweep", "pass"):
            if row[k]["stamped"]:
                raise SystemExit(f"{k}: stamped {row[k]['stamped']} of a clean collection")
        rows.append(row)
    out: dict[str, Any] = {
        k: {f: statistics.median(row[k][f] for row in rows) for f in rows[0][k]} for k in rows[0]
    }
    out["dirty"] = dirty
    if profile:
        prof = cProfile.Profile()
        prof.enable()
        await sweep_cycle(a, coll)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(30)
        buf.write("\n")
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        out["profile"] = buf.getvalue()
    return out


def _table(
    head: str, cols: list[str], results: dict[int, dict[str, Any]], line: Callable[[int, dict[str, Any]], str]
) -> list[str]:
    out = ["", head, "", "| " + " | ".join(cols) + " |", "|---|" + "---:|" * (len(cols) - 1)]
    for n, res in results.items():
        out.append(line(n, res))
    return out


async def run(addr: tuple[str, int], rounds: int, ns: list[int], profile: bool, command: str) -> str:
    instrument()
    a, b = IgniteStore([addr]), IgniteStore([addr])
    await a.open()
    await b.open()
    results: dict[int, dict[str, Any]] = {}
    try:
        for n in ns:
            results[n] = await measure(a, b, n, rounds, profile and n == max(ns))
    finally:
        await a.close()
        await b.close()

    def sweep_line(n: int, res: dict[str, Any]) -> str:
        cells = [f"{n:,}"]
        for k in ("sweep", "sweep_dirty"):
            s = res[k]
            per_wall, per_cpu = s["wall"] / s["partitions"], s["cpu"] / s["partitions"]
            cells += [
                f"{s['wall']:.2f} / {s['cpu']:.2f}",
                f"{per_wall * 1000:.2f} / {per_cpu * 1000:.2f}",
            ]
            if k == "sweep":
                cells += [
                    f"{s['call_wall_p50'] * 1000:.0f} / {s['call_wall_max'] * 1000:.0f}",
                    f"{per_cpu * SWEEP_PARTITIONS * 100:.1f} %",
                ]
            else:
                cells.append(f"{s['stamped']:,.0f}")
        return "| " + " | ".join(cells) + " |"

    def pass_line(n: int, res: dict[str, Any]) -> str:
        p, d = res["pass"], res["pass_dirty"]
        return (
            f"| {n:,} | {p['wall']:.2f} | {p['cpu']:.2f} | {p['partitions']:,.0f} | "
            f"{n / p['wall']:,.0f} | {d['wall']:.2f} | {d['cpu']:.2f} | {d['stamped']:,.0f} |"
        )

    def lease_line(n: int, res: dict[str, Any]) -> str:
        le, p = res["lease"], res["pass"]
        return (
            f"| {n:,} | {le['partitions']:,.0f} | {le['wall']:.2f} / {le['wall_late']:.2f} | "
            f"{le['cpu']:.2f} | {p['wall']:.2f} | {le['lease_taken']:.2f} | {le['idle_cpu'] * 100:.1f} % |"
        )

    sweep_cols = [
        "n",
        "cycle s / CPU s",
        "per partition ms / CPU ms",
        "call of 16: p50 / max ms",
        "CPU at 16 partitions/s",
        "1 % unstamped: cycle s / CPU s",
        "per partition ms / CPU ms",
        "stamped",
    ]
    pass_cols = [
        "n",
        "pass s",
        "CPU s",
        "partitions read",
        "docs/s",
        "1 % unstamped: pass s",
        "CPU s",
        "stamped",
    ]
    lease_cols = [
        "n",
        "joining feed: partitions read",
        f"covers after s: opened right after a renewal / {JOIN_LATE_S:g} s after",
        "CPU s (right after)",
        "whole pass s (above)",
        "holder's lease taken s after its pass",
        "holder, no writes: CPU (of one core)",
    ]
    out = [
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Machine: {machine()}.",
        f"Command: `{command}` (one local Ignite node started by the script; stores and node on the "
        f"same host). Medians of {rounds} round(s).",
    ]
    out += _table(
        f"Sweep: `store.sweep(coll, {SWEEP_PARTITIONS})` until each of the data cache's partitions was "
        "visited once (wall / CPU of this process).",
        sweep_cols,
        results,
        sweep_line,
    )
    out += _table(
        "Opening pass: `async with store.feed(coll)` until the pass ended (the feed covers).",
        pass_cols,
        results,
        pass_line,
    )
    out += _table(
        "Coverage lease: a second store opens a feed while the first one's feed covers the collection.",
        lease_cols,
        results,
        lease_line,
    )
    for n, res in results.items():
        if "profile" in res:
            out += ["", f"cProfile of one clean sweep cycle, n = {n:,}:", "", res["profile"]]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, action="append", help="collection size (repeatable; 20000 and 100000)")
    ap.add_argument("--quick", action="store_true", help="--n 2000 --rounds 1")
    ap.add_argument("--addr", help="host:port of a running node (default: start one)")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of one sweep cycle")
    args = ap.parse_args()
    if args.quick:
        args.n, args.rounds = [2000], 1
    ns = args.n or [20_000, 100_000]
    command = " ".join(
        [".venv/bin/python bench/reconcile.py", f"--rounds {args.rounds}"]
        + [f"--n {n}" for n in ns]
        + (["--profile"] if args.profile else [])
    )
    args_: Any = (args.rounds, ns, args.profile, command)
    if args.addr:
        host, port = args.addr.rsplit(":", 1)
        print(asyncio.run(run((host, int(port)), *args_)))
        return
    from hub.dev.cluster import LocalCluster

    with port_block() as base:
        cluster = LocalCluster(
            Path(tempfile.mkdtemp(prefix="bench-reconcile-")),
            nodes=1,
            client_port=base,
            discovery_port=base + 10,
            communication_port=base + 20,
            name="bench-reconcile",
            heap_mb=1024,
        )
        progress(f"starting Ignite on {base}")
        cluster.start()
        try:
            print(asyncio.run(run(cluster.addresses[0], *args_)))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
