"""Snapshot / catch-up read benchmark: ``IgniteStore.changes()`` paging through a collection.

    .venv/bin/python bench/read.py [--rounds 3] [--n 20000] [--page 1000] [--addr host:port] [--profile]
                                   [--sql hub|pyignite|both]

Without ``--addr`` a one-node :class:`hub.dev.cluster.LocalCluster` is started on a free, reserved port
block (the scheme of tests/conftest.py, shared with bench/apply.py) and stopped afterwards.

A fresh collection (lww, TRANSACTIONAL) is filled with ``n`` documents through ``IgniteStore.apply``
(fields ``i``, ``title``, ``score``, ``done``, ``tags`` (list of strings), ``n2`` (int or null)); then, per
round, the whole collection is read:

* **snapshot**: ``changes(coll, 0, page, include_deleted=False)`` repeatedly from the last version seen
  until a short page (what a client's initial sync costs the hub);
* **catch-up**: the same with ``include_deleted=True`` (a reconnecting client's catch-up from cursor 0);
* **settle**: ``unseen(coll, after, top, seen, 5000)`` from version 0 to the top with every document
  seen (what the feed's settle reads each tick, over the whole collection: only the SQL read of the
  meta rows, no data).

``--sql`` picks who runs the SQL queries of the meta table: the hub's own request and decoder
(``hub``, hub/ignite/sql.py, the default), pyignite's cursor (``pyignite``, as before), or ``both``
alternately in each round, on the same data.

Wall time and CPU seconds of this process (store + pyignite; the Ignite node is a separate process).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import io
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apply import machine, port_block, progress
from hub.core.types import CollectionSpec, Mutation
from hub.store.ignite import IgniteStore, read

_HUB_SQL = read.sql


async def _pyignite_sql(client: Any, query: str, args: Any = (), page_size: int = 1024, **opts: Any) -> Any:
    return await read._sql_pyignite(client, query, args, page_size, **opts)


def use_sql(path: str) -> None:
    """Route ``read.changes`` / ``read.unseen``'s SQL through the hub's decoder or pyignite's cursor."""
    read.sql = _HUB_SQL if path == "hub" else _pyignite_sql  # type: ignore[assignment]


async def fill(store: IgniteStore, coll: str, n: int, size: int = 500) -> None:
    client = f"fill-{random.randrange(1 << 30):x}"
    ts0 = (time.time_ns() // 1_000_000) << 16
    for start in range(0, n, size):
        batch = [
            Mutation(
                client,
                i + 1,
                coll,
                f"doc-{i}",
                "put",
                {
                    "i": i,
                    "title": f"document number {i}",
                    "score": i / 7,
                    "done": i % 3 == 0,
                    "tags": ["a", f"t{i % 10}"],
                    "n2": None if i % 5 == 0 else i * 2,
                },
                ts0 + i,
                0,
            )
            for i in range(start, min(n, start + size))
        ]
        results = await store.apply(client, batch)
        bad = [r for r in results if r.s != "ok"]
        if bad:
            raise SystemExit(f"unexpected results: {bad[:3]}")


async def read_all(store: IgniteStore, coll: str, page: int, include_deleted: bool) -> int:
    after, total = 0, 0
    while True:
        changes = await store.changes(coll, after, page, include_deleted=include_deleted)
        total += len(changes)
        if len(changes) < page:
            return total
        after = changes[-1].ver


async def timed(
    store: IgniteStore, coll: str, page: int, include_deleted: bool, n: int
) -> tuple[float, float]:
    cpu0, t0 = time.process_time(), time.perf_counter()
    got = await read_all(store, coll, page, include_deleted)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if got != n:
        raise SystemExit(f"read {got} documents, expected {n}")
    return wall, cpu


async def settle(store: IgniteStore, coll: str, seen: dict[str, int], top: int) -> tuple[float, float]:
    cpu0, t0 = time.process_time(), time.perf_counter()
    after = 0
    while after < top:
        missed, after = await store.unseen(coll, after, top, seen, 5000)
        if missed:
            raise SystemExit(f"settle found {len(missed)} unseen changes")
    return time.perf_counter() - t0, time.process_time() - cpu0


async def run(addr: tuple[str, int], rounds: int, n: int, page: int, profile: bool, paths: list[str]) -> str:
    store = IgniteStore([addr])
    await store.open()
    rows: list[dict[str, Any]] = []
    prof_text = ""
    try:
        coll = f"bench_read_{random.randrange(1 << 30):x}"
        await store.ensure_collection(CollectionSpec(coll))
        progress(f"filling {n} documents")
        await fill(store, coll, n)
        everything = await store.changes(coll, 0, n + 1, include_deleted=True)
        seen = {ch.id: ch.ver for ch in everything}
        top = max(seen.values())
        for path in paths:  # warm-up: connections, binary metadata
            use_sql(path)
            await read_all(store, coll, page, False)
        for r in range(rounds):
            for path in paths:
                progress(f"round {r + 1}/{rounds}: SQL by {path}")
                use_sql(path)
                s_wall, s_cpu = await timed(store, coll, page, False, n)
                c_wall, c_cpu = await timed(store, coll, page, True, n)
                u_wall, u_cpu = await settle(store, coll, seen, top)
                rows.append(
                    {"round": r + 1, "sql": path, "s_wall": s_wall, "s_cpu": s_cpu, "c_wall": c_wall}
                    | {"c_cpu": c_cpu, "u_wall": u_wall, "u_cpu": u_cpu}
                )
        if profile:
            use_sql(paths[-1])
            prof = cProfile.Profile()
            prof.enable()
            await read_all(store, coll, page, False)
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
            prof_text = buf.getvalue()
    finally:
        use_sql("hub")
        await store.close()
    sql_arg = "both" if len(paths) > 1 else paths[0]
    out = [
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Machine: {machine()}.",
        f"Command: `.venv/bin/python bench/read.py --rounds {rounds} --n {n} --page {page} --sql {sql_arg}` "
        "(one local Ignite node started by the script; store and node on the same host).",
        "",
        f"{n:,} documents read with `changes()` in pages of {page}; settle = `unseen()` over all of them.",
        "",
        "| round | SQL by | snapshot s (docs/s) | snapshot CPU s | catch-up s (docs/s) | catch-up CPU s "
        "| settle s (rows/s) | settle CPU s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['round']} | {r['sql']} | {r['s_wall']:.2f} ({n / r['s_wall']:,.0f}) | {r['s_cpu']:.2f} | "
            f"{r['c_wall']:.2f} ({n / r['c_wall']:,.0f}) | {r['c_cpu']:.2f} | "
            f"{r['u_wall']:.2f} ({n / r['u_wall']:,.0f}) | {r['u_cpu']:.2f} |"
        )
    if prof_text:
        out += ["", f"cProfile of one snapshot pass (SQL by {paths[-1]}):", "", prof_text]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--page", type=int, default=1000)
    ap.add_argument("--addr", help="host:port of a running node (default: start one)")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of one snapshot pass")
    ap.add_argument("--sql", choices=("hub", "pyignite", "both"), default="hub", help="who runs the SQL")
    args = ap.parse_args()
    paths = ["pyignite", "hub"] if args.sql == "both" else [args.sql]
    args_: Any = (args.rounds, args.n, args.page, args.profile, paths)
    if args.addr:
        host, port = args.addr.rsplit(":", 1)
        print(asyncio.run(run((host, int(port)), *args_)))
        return
    from hub.dev.cluster import LocalCluster

    with port_block() as base:
        cluster = LocalCluster(
            Path(tempfile.mkdtemp(prefix="bench-read-")),
            nodes=1,
            client_port=base,
            discovery_port=base + 10,
            communication_port=base + 20,
            name="bench-read",
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
