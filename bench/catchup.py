"""Catch-up, first sync and connection-storm benchmarks (issue 13 §2.4).

    .venv/bin/python -m bench.catchup                   # full: 100,000 and 1,000,000 documents; 3 runs
    .venv/bin/python -m bench.catchup --profile quick   # the CI smoke test: 2,000 documents; one run

**Catch-up** (``catchup``): per size in ``--sizes`` a collection ``cu<size>`` (declared field ``team``)
is filled with that many documents through ``IgniteStore.apply`` (as bench/subsets.py does), then a
hub is started on it. Per run a client takes the collection's cursor, goes away, ``--changed`` of the
documents change meanwhile (through ``IgniteStore.apply``: another hub's writes), and the client comes
back: the time from the reconnect (WebSocket dial, hello) to ``synced`` with that cursor, and the
changes received. Before each measurement the hub is left to finish with the writes (its CPU idle):
the catch-up is timed alone, not along with the hub's settling of 10,000 or 1,000,000 fresh writes.
The cursor is taken from a query subscription that matches nothing (``qsynced`` carries the
collection's closed watermark, the cursor a whole-collection client holds at that moment): syncing
1,000,000 documents whole first would take minutes (docs/benchmarks.md, subsets).

**First sync** (``first``): the real JS client (client-js, ``client-js/bench/first-sync.mjs``) syncs
``--first`` documents into its store, in Node (fake-indexeddb) and in headless Chromium (IndexedDB;
``--clients``): documents/s from the client's creation to ``live`` (every page stored).

**Connection storm** (``storm``): a hub is restarted, then the Go load generator opens ``--storm``
connections at once (``-mode fanout``, no writes), each subscribing with no cursor to a collection of
``--storm-docs`` documents: the time from the first dial until the last of them is ``synced``.

CPU seconds of the hub (and its workers), Ignite and the clients are read from /proc for each case.
Outputs: ``results.json`` and ``table.md`` under ``--out`` (default ``test-artifacts/bench/catchup``).
Targets: catch-up ≤ 1 s and the 1,000,000 case within 1.2x of the 100,000 case; first sync ≥ 50,000
documents/s; the storm all synced ≤ 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.apply import machine, progress  # noqa: E402
from bench.fanout import tree_cpu  # noqa: E402
from bench.soak import build_loadgen, ignite, raise_nofile  # noqa: E402
from bench.subsets import Client, fill  # noqa: E402
from hub.core.types import CollectionSpec  # noqa: E402
from hub.store.ignite import IgniteStore  # noqa: E402

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "sizes": "100000,1000000",
        "changed": 10_000,
        "first": 100_000,
        "storm": 1000,
        "storm_docs": 1000,
        "runs": 3,
    },
    "quick": {"sizes": "2000", "changed": 200, "first": 2000, "storm": 50, "storm_docs": 200, "runs": 1},
}
NOTHING = [["team", "==", "none"]]  # a filter no document matches: its qsynced holds the cursor


def spec(name: str) -> CollectionSpec:
    return CollectionSpec(name, fields=(("team", "string"),))


async def filled(addresses: list[tuple[str, int]], name: str, docs: int) -> float:
    """Fill ``name`` with documents d0..d<docs-1>; the seconds it took."""
    store = IgniteStore(addresses)
    await store.open()
    try:
        await store.ensure_collection(spec(name))
        t0 = time.perf_counter()
        progress(f"filling {name} with {docs:,} documents")
        await fill(store, name, range(docs), "v1")
        s = time.perf_counter() - t0
        progress(f"  {s:.0f} s ({docs / s:,.0f} documents/s)")
        return s
    finally:
        await store.close()


async def change(addresses: list[tuple[str, int]], name: str, ids: Sequence[int], tag: str) -> None:
    store = IgniteStore(addresses)
    await store.open()
    try:
        await store.ensure_collection(spec(name))
        await fill(store, name, ids, tag)
    finally:
        await store.close()


def cpu(pids: dict[str, int | None]) -> dict[str, float]:
    return {k: tree_cpu(p) or 0.0 for k, p in pids.items() if p is not None}


def spent(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: round(b[k] - a[k], 2) for k in a}


async def quiet(pid: int | None, limit: float = 600.0) -> float:
    """Wait until the hub is idle (under 0.15 CPU-s per s, twice in a row): its feed has settled
    what was just written by another process, which would otherwise be timed along. The wait, s."""
    t0 = time.perf_counter()
    last, calm = tree_cpu(pid) or 0.0, 0
    while calm < 2 and time.perf_counter() - t0 < limit:
        await asyncio.sleep(1.0)
        now = tree_cpu(pid) or 0.0
        calm, last = (calm + 1 if now - last < 0.15 else 0), now
    return round(time.perf_counter() - t0, 1)


async def catchup_runs(
    args: argparse.Namespace,
    hub: Any,
    addresses: list[tuple[str, int]],
    pids: dict[str, int | None],
    size: int,
) -> list[dict[str, Any]]:
    name = f"cu{size}"
    runs = []
    for r in range(args.runs):
        async with Client(hub.url) as c:
            cursor = (await c.sync(name, NOTHING))["cursor"]
        # a different stretch of documents each run; spread over the whole collection
        step = max(1, size // args.changed)
        ids = [(i * step + r) % size for i in range(args.changed)]
        await change(addresses, name, ids, f"r{r}")
        settled_s = await quiet(pids["hub"])
        a = cpu(pids)
        t0 = time.perf_counter()
        async with Client(hub.url) as c:
            welcome_s = time.perf_counter() - t0
            got = await c.sync(name, None, cursor)
        total = time.perf_counter() - t0
        res = {
            "size": size,
            "changed": args.changed,
            "s": round(total, 4),
            "sub_to_synced_s": round(got["s"], 4),
            "welcome_s": round(welcome_s, 4),
            "settled_s": settled_s,
            "docs": got["docs"],
            "mode": got["mode"],
            "cpu_s": spent(a, cpu(pids)),
        }
        progress(
            f"catch-up {size:,} run {r + 1}: {total * 1000:.0f} ms, {got['docs']:,} changes ({got['mode']})"
        )
        runs.append(res)
    return runs


async def first_sync(
    args: argparse.Namespace, hub: Any, pids: dict[str, int | None], coll: str, where: str
) -> dict[str, Any]:
    script = REPO / "client-js" / "bench" / "first-sync.mjs"
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(script),
        hub.url,
        coll,
        str(args.first),
        where,
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO / "client-js",
    )
    a = cpu(pids)
    assert proc.stdout is not None
    out = await proc.stdout.read()
    code = await proc.wait()
    lines = out.decode().strip().splitlines()
    if code != 0 or not lines:
        raise RuntimeError(f"first-sync.mjs failed (exit {code}): {out.decode()[-2000:]}")
    res: dict[str, Any] = json.loads(lines[-1])
    res["cpu_s"] = spent(a, cpu(pids)) | {"client": res.pop("cpuS")}
    progress(
        f"first sync ({where}): {res['stored']:,} documents in {res['ms']:,} ms ({res['docsPerSec']:,}/s)"
    )
    return res


async def storm(args: argparse.Namespace, hub: Any, pids: dict[str, int | None], out: Path) -> dict[str, Any]:
    cmd = [
        str(args.binary),
        "-mode=fanout",
        f"-url={hub.url}",
        f"-conns={args.storm}",
        "-writes=0",
        "-duration=1s",
        "-write-coll=storm",
        "-interval=60s",
        "-ramp-rate=1000000",  # all at once: each dial in its own goroutine
        f"-inflight={args.storm}",
        "-src-ips=16",
    ]
    a = cpu(pids)
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, limit=1 << 24)
    assert proc.stdout is not None
    lines = []
    b: dict[str, float] = {}
    with open(out / "loadgen.jsonl", "a") as log:
        async for raw in proc.stdout:
            log.write(raw.decode())
            lines.append(json.loads(raw))
            if lines[-1]["kind"] == "steady":
                b = cpu(pids)
    code = await proc.wait()
    steady = next((x for x in lines if x["kind"] == "steady"), None)
    summary = next((x for x in lines if x["kind"] == "summary"), None)
    if steady is None or summary is None:
        raise RuntimeError(f"the load generator ended without a summary (exit {code}): {lines[-3:]}")
    res = {
        "conns": args.storm,
        "synced": steady["open"],
        "s": round(steady["last_synced_ts"] - steady["ramp_ts"], 3),
        "sync_ms": summary["sync_time"],
        "pages": summary["counts"].get("page", 0),
        "cpu_s": spent(a, b) | {"loadgen": round(steady["cpu_s"], 2)},
        "unexpected": summary["unexpected"],
        "exit": code,
    }
    progress(f"storm: {res['synced']:,} of {args.storm:,} synced in {res['s']:.2f} s, cpu {res['cpu_s']}")
    return res


async def main_async(args: argparse.Namespace, out: Path) -> int:
    from tests.support.hubproc import HubProcess

    raise_nofile()
    if "storm" in args.parts:
        args.binary = Path(args.loadgen) if args.loadgen else build_loadgen(out)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results: dict[str, Any] = {"catchup": {}, "first": [], "storm": [], "fill_s": {}}
    region = 2048 + max(sizes) // 200  # 1,000,000 documents: meta rows and indexes need ~6 GB
    with ignite(args.ignite, 2048, region_max_mb=region) as (addresses, ignite_pid):
        colls = [f"cu{n}" for n in sizes]
        if "catchup" in args.parts or "first" in args.parts:
            for n in sizes:
                results["fill_s"][n] = await filled(addresses, f"cu{n}", n)
        first_coll = f"cu{args.first}"
        if "first" in args.parts and args.first not in sizes:
            colls.append(first_coll)
            results["fill_s"][args.first] = await filled(addresses, first_coll, args.first)
        if "storm" in args.parts:
            colls.append("storm")
            results["fill_s"]["storm"] = await filled(addresses, "storm", args.storm_docs)
        hub = HubProcess(
            "bench-catchup",
            addresses,
            {c: {"fields": {"team": "string"}} for c in colls},
            hub={"log_level": "WARNING", "workers": args.workers},
            config_dir=out,
        )
        try:
            await hub.start(timeout=300)
            pids = {"hub": hub.pid, "ignite": ignite_pid}
            results["hub_settled_s"] = await quiet(hub.pid)
            progress(f"hub idle {results['hub_settled_s']} s after its start")
            if "catchup" in args.parts:
                for n in sizes:
                    results["catchup"][n] = await catchup_runs(args, hub, addresses, pids, n)
            for _ in range(args.runs if "first" in args.parts else 0):
                for where in args.clients.split(","):
                    results["first"].append(await first_sync(args, hub, pids, first_coll, where))
            for _ in range(args.runs if "storm" in args.parts else 0):
                hub.stop()  # the storm follows a hub restart: a cold hub, every client at once
                await hub.start(timeout=120)
                pids["hub"] = hub.pid
                results["storm"].append(await storm(args, hub, pids, out))
        finally:
            hub.stop()
    header = f"Machine: {machine()}. Command: `{' '.join(sys.argv)}`. Medians of {args.runs} run(s)."
    md = table(args, results)
    (out / "results.json").write_text(json.dumps({"header": header, **results}, indent=2, default=str))
    (out / "table.md").write_text(header + "\n\n" + md + "\n")
    print(header)
    print(md)
    # a storm client the hub refused is a finding (in the table), not a failure of the benchmark
    return 0


def cpu_cells(runs: list[dict[str, Any]], keys: Sequence[str], digits: int = 1) -> str:
    """Median CPU seconds of each process, "-" for one not measured (an Ignite node given by --ignite)."""
    cells = []
    for k in keys:
        values = [r["cpu_s"][k] for r in runs if k in r["cpu_s"]]
        cells.append(f"{statistics.median(values):.{digits}f}" if values else "-")
    return ", ".join(cells)


def table(args: argparse.Namespace, results: dict[str, Any]) -> str:
    med = statistics.median
    md: list[str] = []
    if results["catchup"]:
        md += [
            f"Catch-up: a client offline while {args.changed:,} documents changed; dial -> `synced` "
            f"(sub -> `synced`), timed once the hub was idle again (it was {results.get('hub_settled_s')} s "
            "after its start). CPU seconds per catch-up: hub, Ignite.",
            "",
            "| documents | changes received | catch-up | vs the smallest | CPU s (hub, Ignite) |",
            "|---:|---:|---:|---:|---|",
        ]
        base = None
        for n, runs in results["catchup"].items():
            s = med(r["s"] for r in runs)
            base = base or s
            c = cpu_cells(runs, ("hub", "ignite"), 2)
            md.append(
                f"| {int(n):,} (filled at {int(n) / results['fill_s'][n]:,.0f}/s) | {runs[0]['docs']:,} "
                f"| {s * 1000:.0f} ms ({med(r['sub_to_synced_s'] for r in runs) * 1000:.0f} ms) "
                f"| {s / base:.2f}x | {c} |"
            )
    if results["first"]:
        md += [
            "",
            "| first sync of the JS client, whole collection | documents stored | time | documents/s "
            "| CPU s (hub, Ignite, client) |",
            "|---|---:|---:|---:|---|",
        ]
        labels = {"node": "Node + fake-indexeddb", "chromium": "Chromium (headless), IndexedDB"}
        for where, label in labels.items():
            runs = [r for r in results["first"] if r["where"] == where]
            if runs:
                c = cpu_cells(runs, ("hub", "ignite", "client"))
                md.append(
                    f"| {label} | {runs[0]['stored']:,} | {med(r['ms'] for r in runs):,.0f} ms "
                    f"| {med(r['docsPerSec'] for r in runs):,.0f} "
                    f"| {c} |"
                )
    if results["storm"]:
        runs = results["storm"]
        c = cpu_cells(runs, ("hub", "ignite", "loadgen"))
        md += [
            "",
            f"| connection storm after a hub restart ({args.storm_docs:,} documents each) | synced "
            "| first dial -> last `synced` | per client p50 / p99 | CPU s (hub, Ignite, load generator) |",
            "|---|---:|---:|---:|---|",
            f"| {args.storm:,} clients at once | {min(r['synced'] for r in runs):,} "
            f"| {med(r['s'] for r in runs):.2f} s "
            f"| {med(r['sync_ms']['p50_ms'] for r in runs):,.0f} "
            f"/ {med(r['sync_ms']['p99_ms'] for r in runs):,.0f} ms "
            f"| {c} |",
        ]
        failed: dict[str, int] = {}
        for r in runs:
            for k, v in r["unexpected"].items():
                failed[k] = failed.get(k, 0) + v
        if failed:  # e.g. connections the hub closed during their sync
            lost = [r["conns"] - r["synced"] for r in runs]
            md += [
                "",
                f"Not synced: {', '.join(map(str, lost))} of {args.storm:,} (per run). The load generator's "
                f"failure counters over {len(runs)} run(s), the replacements it opens after the storm "
                f"included: {failed}.",
            ]
    return "\n".join(md)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--sizes", help="collection sizes of the catch-up, comma separated")
    for name in ("changed", "first", "storm", "runs"):
        parser.add_argument(f"--{name}", type=int)
    parser.add_argument("--storm-docs", type=int, help="documents of the storm's collection")
    parser.add_argument("--parts", default="catchup,first,storm")
    parser.add_argument("--clients", default="node,chromium", help="where the first sync runs")
    parser.add_argument("--workers", type=int, default=0, help="hub worker processes (0: one per core)")
    parser.add_argument("--ignite", help="host:port of a running Ignite node (default: start one)")
    parser.add_argument("--loadgen", help="a built load generator (default: go build bench/loadgen)")
    parser.add_argument(
        "--out", type=Path, default=None, help="default test-artifacts/bench/catchup/<profile>"
    )
    args = parser.parse_args(argv)
    for name, value in PROFILES[args.profile].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.changed < 1 or any(int(s) < args.changed for s in args.sizes.split(",") if s):
        parser.error("--changed must be at least 1 and at most every size")
    out: Path = (args.out or REPO / "test-artifacts" / "bench" / "catchup" / args.profile).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "loadgen.jsonl").write_text("")
    return asyncio.run(main_async(args, out))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind: stop the hubs and Ignite
    sys.exit(main())
