"""Query-subscription benchmarks (issue 12 §1), each side by side with syncing the whole collection.

    .venv/bin/python -m bench.subsets                   # full: 1,000,000 documents; 10,000 subscribers
    .venv/bin/python -m bench.subsets --profile quick   # the CI smoke test: 20,000 documents; 200 subscribers

**First sync and catch-up** (``sync``): a collection ``big`` with the declared field ``team`` is filled
with ``--docs`` documents through ``IgniteStore.apply`` (1,000 teams, so ``team == "t42"`` holds
``docs / 1,000`` of them), then a hub is started on it and one client (this process: ``websockets`` +
msgpack, hello -> sub -> every page read -> ``qsynced``/``synced``) measures: the first sync of the
subset (``filter: [["team", "==", "t42"]]``); the first sync of the whole collection; and a catch-up of
the subset from its cursor after 100 of its documents and ``--outside`` others changed (so catch-up
work can be compared with the subset's changes alone: ``--outside 0``).

**Fan-out cost per change** (``cost``): hub CPU seconds per change with 10 subscribers of the whole
collection, and with ``--subscribers`` query subscribers spread over 1,000 distinct filters (each change
matches one filter, so 10 subscribers receive it in both cases), from the Go load generator
(``-mode fanout -filters``). The hub's idle cost with the same connections open (pings) is measured
first and subtracted.

Outputs: ``results.json`` and ``table.md`` under ``--out`` (default ``test-artifacts/bench/subsets``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgpack
import websockets

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.apply import machine, progress  # noqa: E402
from bench.fanout import tree_cpu  # noqa: E402
from bench.soak import build_loadgen, ignite, raise_nofile  # noqa: E402
from hub.core.types import CollectionSpec, Mutation  # noqa: E402
from hub.store.ignite import IgniteStore  # noqa: E402

PROFILES: dict[str, dict[str, Any]] = {
    "full": {"docs": 1_000_000, "outside": 10_000, "subscribers": 10_000, "rate": 100.0, "runs": 3},
    "quick": {"docs": 20_000, "outside": 1_000, "subscribers": 200, "rate": 20.0, "runs": 1},
}
TEAMS = 1000
BIG = CollectionSpec("big", fields=(("team", "string"),))
FAN = CollectionSpec("fan", fields=(("team", "string"),))


def hub_collections() -> dict[str, Any]:
    return {c.name: {"fields": dict(c.fields)} for c in (BIG, FAN)}


async def fill(store: IgniteStore, coll: str, ids: Sequence[int], tag: str, size: int = 500) -> None:
    """Put documents ``d<i>`` (team ``t<i mod 1000>``) through the hub's write path."""
    client = f"fill-{random.randrange(1 << 30):x}"
    ts0 = (time.time_ns() // 1_000_000) << 16
    seq = 0
    for start in range(0, len(ids), size):
        batch = []
        for i in ids[start : start + size]:
            seq += 1
            doc = {"team": f"t{i % TEAMS}", "i": i, "title": f"document {i} {tag}"}
            batch.append(Mutation(client, seq, coll, f"d{i}", "put", doc, ts0 + seq, 0))
        results = await store.apply(client, batch)
        if any(r.s != "ok" for r in results):
            raise SystemExit(f"unexpected results: {[r for r in results if r.s != 'ok'][:3]}")


class Client:
    """One synchub connection: enough protocol to time a sync (docs/protocol.md)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: Any = None

    async def __aenter__(self) -> Client:
        self.ws = await websockets.connect(self.url, max_size=1 << 26)
        await self.send(
            {"t": "hello", "v": [1], "client": f"bench-{random.randrange(1 << 30):x}", "token": None}
        )
        while (await self.recv())["t"] != "welcome":
            pass
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def send(self, m: dict[str, Any]) -> None:
        await self.ws.send(msgpack.packb(m))

    async def recv(self) -> dict[str, Any]:
        while True:
            m: dict[str, Any] = msgpack.unpackb(await self.ws.recv())
            if m["t"] == "ping":
                await self.send({"t": "pong", "n": m["n"]})
                continue
            if m["t"] == "error":
                raise RuntimeError(f"hub error: {m}")
            return m

    async def sync(self, coll: str, filt: list[Any] | None, cursor: Any = None) -> dict[str, Any]:
        """sub -> (q)synced: seconds, documents (removals included) and the cursor."""
        sub: dict[str, Any] = {"t": "sub", "id": 1, "coll": coll, "cursor": cursor}
        if filt is not None:
            sub["filter"] = filt
        t0 = time.perf_counter()
        await self.send(sub)
        docs = 0
        while True:
            m = await self.recv()
            if m["t"] in ("page", "qpage"):
                docs += len(m["changes"])
            elif m["t"] in ("synced", "qsynced"):
                return {"s": time.perf_counter() - t0, "docs": docs, "cursor": m["cursor"], "mode": m["mode"]}


async def part_sync(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    from tests.support.hubproc import HubProcess

    # 1,000,000 documents with their meta rows and indexes do not fit the default 512 MB region
    with ignite(args.ignite, 2048, region_max_mb=6144) as (addresses, _):
        store = IgniteStore(addresses)
        await store.open()
        try:
            await store.ensure_collection(BIG)
            t0 = time.perf_counter()
            progress(f"filling {args.docs:,} documents")
            await fill(store, "big", range(args.docs), "v1")
            fill_s = time.perf_counter() - t0
            progress(f"  {fill_s:.0f} s ({args.docs / fill_s:,.0f} documents/s)")
        finally:
            await store.close()
        hub = HubProcess(
            "bench-subsets", addresses, hub_collections(), hub={"log_level": "WARNING"}, config_dir=out
        )
        await hub.start(timeout=300)
        runs = []
        try:
            subset = [["team", "==", "t42"]]
            for r in range(args.runs):
                async with Client(hub.url) as c:
                    first = await c.sync("big", subset)
                progress(
                    f"run {r + 1}: subset first sync {first['s'] * 1000:.0f} ms, {first['docs']} documents"
                )
                # catch-up: 100 of the subset's documents and `outside` others change meanwhile
                store = IgniteStore(addresses)
                await store.open()
                try:
                    await store.ensure_collection(BIG)
                    await fill(store, "big", range(42, 42 + 100 * TEAMS, TEAMS), f"r{r}", size=1)
                    others = [i for i in range(args.docs) if i % TEAMS != 42][: args.outside]
                    await fill(store, "big", others, f"r{r}")
                finally:
                    await store.close()
                async with Client(hub.url) as c:
                    catchup = await c.sync("big", subset, first["cursor"])
                progress(
                    f"  catch-up {catchup['s'] * 1000:.0f} ms, {catchup['docs']} changes ({catchup['mode']})"
                )
                # first syncs of other subsets on the now warm hub (its first query was t42's)
                warm = []
                for team in (100 + 10 * r + i for i in range(args.warm)):
                    async with Client(hub.url) as c:
                        w = await c.sync("big", [["team", "==", f"t{team}"]])
                    w.pop("cursor", None)
                    warm.append(w)
                if warm:
                    progress(
                        "  warm subset first syncs "
                        + ", ".join(f"{w['s'] * 1000:.0f} ms ({w['docs']})" for w in warm)
                    )
                whole = None
                if args.whole and (r == 0 or args.whole_every_run):
                    async with Client(hub.url) as c:
                        whole = await c.sync("big", None)
                    progress(f"  whole collection {whole['s']:.1f} s, {whole['docs']:,} documents")
                runs.append({"subset_first": first, "catchup": catchup, "whole_first": whole, "warm": warm})
        finally:
            hub.stop()
    for r in runs:
        for v in r.values():
            if isinstance(v, dict):
                v.pop("cursor", None)
    return {"fill_s": fill_s, "runs": runs}


async def fan_run(
    args: argparse.Namespace, hub: Any, pids: dict[str, int | None], subs: int, filters: int, rate: float
) -> dict[str, Any]:
    cmd = [
        str(args.binary),
        "-mode=fanout",
        f"-url={hub.url}",
        f"-conns={subs}",
        f"-writes={rate}",
        "-batch=1",
        f"-filters={filters}",
        f"-duration={args.duration}s",
        "-write-coll=fan",
        "-interval=5s",
        "-ramp-rate=2000",
        "-src-ips=16",
    ]
    lg = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, limit=1 << 24)
    assert lg.stdout is not None
    marks: dict[str, float] = {}
    lines = []
    async for raw in lg.stdout:
        line = json.loads(raw)
        lines.append(line)
        if line["kind"] in ("steady", "steady_end"):
            marks[line["kind"]] = tree_cpu(pids["hub"]) or 0.0
            marks[line["kind"] + "_t"] = line["ts"]
    await lg.wait()
    summary = next(x for x in lines if x["kind"] == "summary")
    return {
        "hub_cpu_s": marks["steady_end"] - marks["steady"],
        "window_s": marks["steady_end_t"] - marks["steady_t"],
        "changes": summary["steady_counts"].get("ack:ok", 0),
        "delivered": summary["delivery"]["count"],
        "expected": summary.get("expected_deliveries", 0),
        "latency": summary["delivery"],
        "unexpected": summary["unexpected"],
    }


async def part_cost(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    from tests.support.hubproc import HubProcess

    raise_nofile()
    args.binary = Path(args.loadgen) if args.loadgen else build_loadgen(out)
    result: dict[str, Any] = {}
    with ignite(args.ignite, 1024) as (addresses, _):
        hub = HubProcess(
            "bench-subsets-fan", addresses, hub_collections(), hub={"log_level": "WARNING"}, config_dir=out
        )
        await hub.start(timeout=120)
        try:
            pids = {"hub": hub.pid}
            cases = {
                "whole": (10, 0),
                "filters": (args.subscribers, TEAMS if args.subscribers >= TEAMS else 20),
            }
            for name, (subs, filters) in cases.items():
                per_run = []
                for r in range(args.runs):
                    idle = await fan_run(args, hub, pids, subs, filters, 0.0)
                    busy = await fan_run(args, hub, pids, subs, filters, args.rate)
                    idle_rate = idle["hub_cpu_s"] / idle["window_s"]
                    work = busy["hub_cpu_s"] - idle_rate * busy["window_s"]
                    per_change_ms = 1000 * work / busy["changes"] if busy["changes"] else float("nan")
                    per_run.append(
                        {"idle": idle, "busy": busy, "per_change_ms": per_change_ms, "filters": filters}
                    )
                    progress(
                        f"{name} run {r + 1}: {subs} subscribers, {filters or 'no'} filters: "
                        f"{per_change_ms:.2f} ms hub CPU per change (idle {idle_rate:.2f} cores), "
                        f"delivered {busy['delivered']:,} of {busy['expected']:,}"
                    )
                result[name] = per_run
        finally:
            hub.stop()
    return result


async def main_async(args: argparse.Namespace, out: Path) -> int:
    results: dict[str, Any] = {}
    if "sync" in args.parts:
        results["sync"] = await part_sync(args, out)
    if "cost" in args.parts:
        results["cost"] = await part_cost(args, out)
    header = f"Machine: {machine()}. Command: `{' '.join(sys.argv)}`. Medians of {args.runs} run(s)."
    md: list[str] = []
    med = statistics.median
    if "sync" in results:
        runs = results["sync"]["runs"]
        whole = [r["whole_first"] for r in runs if r["whole_first"]]
        md += [
            f"{args.docs:,} documents, filled at {args.docs / results['sync']['fill_s']:,.0f}/s.",
            "",
            "| | documents | time |",
            "|---|---:|---:|",
            f"| subset first sync (team == t42) | {runs[0]['subset_first']['docs']:,} "
            f"| {med(r['subset_first']['s'] for r in runs) * 1000:.0f} ms |",
            f"| subset catch-up (100 of its documents and {args.outside:,} others changed) "
            f"| {runs[0]['catchup']['docs']:,} | {med(r['catchup']['s'] for r in runs) * 1000:.0f} ms |",
        ]
        warm = [w for r in runs for w in r.get("warm") or []]
        if warm:
            times = [w["s"] * 1000 for w in warm]
            md.append(
                f"| subset first sync, other teams, hub warm ({len(warm)}) | {warm[0]['docs']:,} "
                f"| {med(times):.0f} ms (median), {max(times):.0f} ms (max) |"
            )
        if whole:
            md.append(
                f"| whole collection first sync | {whole[0]['docs']:,} | {med(w['s'] for w in whole):.1f} s |"
            )
    if "cost" in results:
        md += [
            "",
            "| subscribers | distinct filters | hub CPU per change | delivered of expected |",
            "|---|---|---|---|",
        ]
        for name, per_run in results["cost"].items():
            subs = 10 if name == "whole" else args.subscribers
            ms = statistics.median(r["per_change_ms"] for r in per_run)
            share = statistics.median(r["busy"]["delivered"] / max(1, r["busy"]["expected"]) for r in per_run)
            md.append(
                f"| {subs:,} | {per_run[0]['filters'] or '- (whole collection)'} "
                f"| {ms:.2f} ms | {share:.1%} |"
            )
    text = "\n".join(md)
    (out / "results.json").write_text(json.dumps({"header": header, **results}, indent=2, default=str))
    (out / "table.md").write_text(header + "\n\n" + text + "\n")
    print(header)
    print(text)
    bad = [
        r["busy"]["unexpected"]
        for per in results.get("cost", {}).values()
        for r in per
        if r["busy"]["unexpected"]
    ]
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    for name, kind in (("docs", int), ("outside", int), ("subscribers", int), ("rate", float), ("runs", int)):
        parser.add_argument(f"--{name}", type=kind)
    parser.add_argument("--parts", default="sync,cost")
    parser.add_argument("--duration", type=float, default=10.0, help="steady seconds of each cost run")
    parser.add_argument("--whole-every-run", action="store_true", help="sync the whole collection every run")
    parser.add_argument(
        "--whole",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="sync the whole collection (run 1)",
    )
    parser.add_argument("--warm", type=int, default=3, help="first syncs of other subsets per run, hub warm")
    parser.add_argument("--ignite", help="host:port of a running Ignite node (default: start one)")
    parser.add_argument("--loadgen", help="a built load generator (default: go build bench/loadgen)")
    parser.add_argument(
        "--out", type=Path, default=None, help="default test-artifacts/bench/subsets/<profile>"
    )
    args = parser.parse_args(argv)
    for name, value in PROFILES[args.profile].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    out: Path = (args.out or REPO / "test-artifacts" / "bench" / "subsets" / args.profile).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(main_async(args, out))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind: stop the hubs and Ignite
    sys.exit(main())
