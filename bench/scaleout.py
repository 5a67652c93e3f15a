"""Scale-out benchmark (issue 13 §2.6): two hub processes on the same Ignite node beside one.

    .venv/bin/python -m bench.scaleout                   # full: 20 s per case, 3 runs
    .venv/bin/python -m bench.scaleout --profile quick   # the CI smoke test: 5 s, one run

Two independent hubs (``HubProcess`` twice, the same Ignite node; not the workers of one hub; each
hub one worker process, or one per core with ``--workers 0``: two boxes' worth of processes) and
the same load split between their URLs, beside one hub with the whole load:

* **Fan-out**: ``--subscribers`` subscribers of one collection and ``--rate`` updates/s, through
  bench/fanout.py's runner (``bench/loadgen -mode fanout``). One hub: one load generator. Two hubs:
  one load generator per hub, each with half the subscribers and publishing half the updates on its
  hub, so every subscriber still receives every update, half of them from the other hub (through
  Ignite). Delivered events/s are summed over the load generators' steady windows (started
  together; each its own window).
* **Ingest**: ``--writers`` connections writing as fast as they are acknowledged, through
  bench/ingest.py's runner (``-mode ingest``); with two hubs half of the writers on each.

Reported: the figures, two hubs / one hub as a ratio, and the CPU seconds of the hubs and Ignite.
Outputs: ``results.json`` and ``table.md`` under ``--out`` (default ``test-artifacts/bench/scaleout``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import fanout, ingest  # noqa: E402
from bench.apply import machine, progress  # noqa: E402
from bench.soak import build_loadgen, ignite, raise_nofile  # noqa: E402

PROFILES: dict[str, dict[str, Any]] = {
    "full": {"subscribers": 1000, "rate": 300.0, "writers": 8, "duration": 20.0, "runs": 3},
    "quick": {"subscribers": 50, "rate": 50.0, "writers": 2, "duration": 5.0, "runs": 1},
}


def server(hub: Any, pids: dict[str, int | None], base: int, coll: str) -> fanout.Server:
    srv = fanout.Server()
    srv.name, srv.ws_url, srv.pids = "synchub", hub.url, pids
    # documents of their own (w<base>-<k>), in a collection of the case's own (the last -write-coll
    # wins): subscribers of a collection earlier cases filled would each get its snapshot first
    srv.extra = (f"-writer-base={base}", f"-write-coll={coll}")
    return srv


def fan_coll(run: int, hubs: int) -> str:
    return f"{fanout.CHANNEL}_{run}_{hubs}"


async def fan(
    args: argparse.Namespace, hubs: list[Any], ignite_pid: int | None, out: Path, coll: str
) -> dict[str, Any]:
    n = len(hubs)
    servers = [
        server(h, {"server": h.pid} | ({"ignite": ignite_pid} if i == 0 else {}), i, coll)
        for i, h in enumerate(hubs)
    ]
    runs = await asyncio.gather(
        *(
            fanout.one_run(s, args.binary, args.subscribers // n, args.rate / n, args, out / "loadgen.jsonl")
            for s in servers
        )
    )
    # every subscriber receives every update, whichever hub it came through
    offered = args.subscribers // n * n * args.rate
    delivered = sum(r["delivered_per_s"] for r in runs)
    return {
        "hubs": n,
        "delivered_per_s": round(delivered, 1),
        "offered_per_s": offered,
        "p50_ms": max(r["latency_ms"]["p50_ms"] for r in runs),
        "p99_ms": max(r["latency_ms"]["p99_ms"] for r in runs),
        "hub_cpu_per_s": round(sum(r["cpu_s"].get("server", 0.0) / r["window_s"] for r in runs), 2),
        "ignite_cpu_per_s": round(runs[0]["cpu_s"].get("ignite", 0.0) / runs[0]["window_s"], 2),
        "unexpected": {k: v for r in runs for k, v in r["unexpected"].items()},
        "exit": max(r["exit"] for r in runs),
        "loadgens": runs,
    }


async def ing(args: argparse.Namespace, hubs: list[Any], ignite_pid: int | None) -> dict[str, Any]:
    n = len(hubs)
    per = argparse.Namespace(
        **(vars(args) | {"writers": max(1, args.writers // n), "batch": args.ingest_batch})
    )
    runs = await asyncio.gather(
        *(
            ingest.loadgen(
                per,
                "ingest",
                h.url,
                {"hub": h.pid} | ({"ignite": ignite_pid} if i == 0 else {}),
                (f"-writer-base={i * per.writers}",),
            )
            for i, h in enumerate(hubs)
        )
    )
    return {
        "hubs": n,
        "acked_per_s": round(sum(r["acked_per_s"] for r in runs), 1),
        "p50_ms": max(r["ack_ms"]["p50_ms"] for r in runs),
        "p99_ms": max(r["ack_ms"]["p99_ms"] for r in runs),
        "hub_cpu_s": round(sum(r["cpu_s"].get("hub", 0.0) for r in runs), 2),
        "ignite_cpu_s": runs[0]["cpu_s"].get("ignite", 0.0),
        "unexpected": {k: v for r in runs for k, v in r["unexpected"].items()},
        "exit": max(r["exit"] for r in runs),
        "loadgens": runs,
    }


async def main_async(args: argparse.Namespace, out: Path) -> int:
    from tests.support.hubproc import HubProcess

    raise_nofile()
    args.binary = Path(args.loadgen) if args.loadgen else build_loadgen(out)
    results: dict[str, list[dict[str, Any]]] = {
        "fanout_1": [],
        "fanout_2": [],
        "ingest_1": [],
        "ingest_2": [],
    }
    with ignite(args.ignite, 2048) as (addresses, ignite_pid):
        hubs = [
            HubProcess(
                f"bench-scaleout-{i}",
                addresses,
                {fan_coll(r, n): {} for r in range(args.runs) for n in (1, 2)} | {"ingest": {}},
                hub={"log_level": "WARNING", "workers": args.workers, "mut_rate": 1e9, "mut_burst": 10**9},
                config_dir=out,
            )
            for i in range(2)
        ]
        try:
            for hub in hubs:
                await hub.start(timeout=120)
            for r in range(args.runs):
                for n in (1, 2):  # alternate: both see the same machine
                    progress(f"run {r + 1}/{args.runs}: fan-out through {n} hub(s)")
                    f = await fan(args, hubs[:n], ignite_pid, out, fan_coll(r, n))
                    results[f"fanout_{n}"].append(f)
                    progress(f"  delivered {f['delivered_per_s']:,.0f}/s of {f['offered_per_s']:,.0f}")
                    progress(f"run {r + 1}/{args.runs}: ingest through {n} hub(s)")
                    g = await ing(args, hubs[:n], ignite_pid)
                    results[f"ingest_{n}"].append(g)
                    progress(f"  {g['acked_per_s']:,.0f} mutations/s")
        finally:
            for hub in hubs:
                hub.stop()
    med = statistics.median
    header = f"Machine: {machine()}. Command: `{' '.join(sys.argv)}`. Medians of {args.runs} run(s)."
    fan1, fan2 = (med(x["delivered_per_s"] for x in results[f"fanout_{n}"]) for n in (1, 2))
    ing1, ing2 = (med(x["acked_per_s"] for x in results[f"ingest_{n}"]) for n in (1, 2))
    rows = [
        f"Fan-out: {args.subscribers:,} subscribers x {args.rate:,.0f} updates/s "
        f"({args.subscribers * args.rate:,.0f} deliveries/s offered), batches of {args.batch}. "
        f"Ingest: {args.writers} writer connections, batches of {args.ingest_batch}, "
        f"up to {args.window} unacknowledged each.",
        "",
        f"| hubs ({args.workers or 'one per core'} worker(s) each) | fan-out delivered/s, p50 / p99 "
        "| hub CPU-s per s "
        "| ingest mutations/s, ack p50 / p99 |",
        "|---|---|---:|---|",
    ]
    for n in (1, 2):
        fs, gs = results[f"fanout_{n}"], results[f"ingest_{n}"]
        rows.append(
            f"| {n} | {med(x['delivered_per_s'] for x in fs):,.0f}, {med(x['p50_ms'] for x in fs):.1f} / "
            f"{med(x['p99_ms'] for x in fs):.1f} ms | {med(x['hub_cpu_per_s'] for x in fs):.2f} "
            f"| {med(x['acked_per_s'] for x in gs):,.0f}, {med(x['p50_ms'] for x in gs):.1f} / "
            f"{med(x['p99_ms'] for x in gs):.1f} ms |"
        )
    rows.append(f"| **2 / 1** | **{fan2 / fan1:.2f}x** | | **{ing2 / ing1:.2f}x** |")
    md = "\n".join(rows)
    (out / "results.json").write_text(json.dumps({"header": header, **results}, indent=2))
    (out / "table.md").write_text(header + "\n\n" + md + "\n")
    print(header)
    print(md)
    bad = [x for xs in results.values() for x in xs if x["exit"] != 0 or x["unexpected"]]
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--subscribers", type=int, help="fan-out subscribers, split between the hubs")
    parser.add_argument("--rate", type=float, help="fan-out updates/s, split between the hubs")
    parser.add_argument("--writers", type=int, help="ingest connections, split between the hubs")
    parser.add_argument("--duration", type=float, help="steady seconds per case")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--batch", type=int, default=10, help="fan-out: updates per mut frame")
    parser.add_argument("--ingest-batch", type=int, default=100, help="ingest: mutations per mut frame")
    parser.add_argument("--window", type=int, default=1000, help="ingest: unacknowledged per connection")
    parser.add_argument("--pad", type=int, default=100, help="padding bytes per document")
    parser.add_argument("--docs", type=int, default=100_000, help="ingest: distinct ids per writer")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes of each hub (0: one per core: two boxes' worth)",
    )
    parser.add_argument("--ignite", help="host:port of a running Ignite node (default: start one)")
    parser.add_argument("--loadgen", help="a built load generator (default: go build bench/loadgen)")
    parser.add_argument(
        "--out", type=Path, default=None, help="default test-artifacts/bench/scaleout/<profile>"
    )
    args = parser.parse_args(argv)
    for name, value in PROFILES[args.profile].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.subscribers < 2 or args.writers < 2:
        parser.error("--subscribers and --writers must be at least 2 (they are split between two hubs)")
    out: Path = (args.out or REPO / "test-artifacts" / "bench" / "scaleout" / args.profile).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "loadgen.jsonl").write_text("")
    return asyncio.run(main_async(args, out))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind: stop the hubs and Ignite
    sys.exit(main())
