"""Memory benchmark (issue 13 §2.5): hub RSS per idle connection.

    .venv/bin/python -m bench.memory                   # full: 10,000 connections, 3 runs
    .venv/bin/python -m bench.memory --profile quick   # the CI smoke test: 500 connections, one run

Per run a fresh hub process (one worker: the cost of a connection in the process that holds it) is
started on one Ignite node and warmed up (``--warmup`` connections opened, synced and closed, so that
one-time costs such as imports, caches and the Ignite connections are not counted). Its RSS (the hub
and any child, from ``/proc``) is read; then the Go load generator (``-mode fanout``, no writes)
opens ``--conns`` connections over 127.0.0.x source addresses, each subscribed to an empty
collection (an app's idle client keeps its subscription), and holds them ``--hold`` seconds. The RSS
is read again ``--settle`` seconds after the last one synced: (after - before) / connections. The
open-file limit is raised for the hub and the load generator (``raise_nofile``).

Outputs: ``results.json`` and ``table.md`` under ``--out`` (default ``test-artifacts/bench/memory``).
Target: ≤ 20 KiB per connection at 10,000 connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.apply import machine, progress  # noqa: E402
from bench.soak import build_loadgen, ignite, raise_nofile  # noqa: E402
from hub.procstats import process_usage  # noqa: E402

PROFILES: dict[str, dict[str, Any]] = {
    "full": {"conns": 10_000, "runs": 3, "hold": 20.0, "settle": 5.0},
    "quick": {"conns": 500, "runs": 1, "hold": 4.0, "settle": 1.0},
}
COLL = "idle"


def tree_usage(pid: int) -> tuple[int, int]:
    """(RSS bytes, open fds) of ``pid`` and its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    rss = fds = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        r, f = process_usage(p)
        rss, fds = rss + (r or 0), fds + (f or 0)
        todo.extend(children.get(p, []))
    return rss, fds


async def loadgen(
    args: argparse.Namespace, url: str, conns: int, hold: float, on_steady: Any
) -> dict[str, Any]:
    """Open ``conns`` idle subscribers, call ``on_steady()`` once all are synced; the summary."""
    cmd = [
        str(args.binary),
        "-mode=fanout",
        f"-url={url}",
        f"-conns={conns}",
        "-writes=0",
        f"-duration={hold}s",
        f"-write-coll={COLL}",
        "-interval=60s",
        f"-ramp-rate={args.ramp}",
        f"-src-ips={args.src_ips}",
    ]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, limit=1 << 24)
    assert proc.stdout is not None
    lines = []
    sampled: Any = None
    async for raw in proc.stdout:
        lines.append(json.loads(raw))
        if lines[-1]["kind"] == "steady":
            sampled = await on_steady(lines[-1])
    code = await proc.wait()
    summary = next((x for x in lines if x["kind"] == "summary"), None)
    if summary is None:
        raise RuntimeError(f"the load generator ended without a summary (exit {code}): {lines[-3:]}")
    return {"summary": summary, "sampled": sampled, "exit": code}


async def one_run(args: argparse.Namespace, addresses: list[tuple[str, int]], out: Path) -> dict[str, Any]:
    from tests.support.hubproc import HubProcess

    hub = HubProcess(
        "bench-memory",
        addresses,
        {COLL: {}},
        hub={"log_level": "WARNING", "workers": 1},
        config_dir=out,
    )
    await hub.start(timeout=120)
    try:

        async def nothing(_: dict[str, Any]) -> None:
            return None

        await loadgen(args, hub.url, args.warmup, 0.5, nothing)
        await asyncio.sleep(args.settle)  # closed connections' buffers go back
        before = tree_usage(hub.pid)

        async def sample(steady: dict[str, Any]) -> dict[str, Any]:
            await asyncio.sleep(args.settle)
            rss, fds = tree_usage(hub.pid)
            return {"rss": rss, "fds": fds, "open": steady["open"]}

        lg = await loadgen(args, hub.url, args.conns, args.hold, sample)
    finally:
        hub.stop()
    after = lg["sampled"]
    per = (after["rss"] - before[0]) / max(1, after["open"])
    res = {
        "conns": args.conns,
        "open": after["open"],
        "rss_before": before[0],
        "rss_after": after["rss"],
        "fds_before": before[1],
        "fds_after": after["fds"],
        "bytes_per_conn": round(per),
        "connect_ms": lg["summary"]["sync_time"],
        "loadgen_sys_bytes": lg["summary"]["go_sys_bytes"],
        "unexpected": lg["summary"]["unexpected"],
        "exit": lg["exit"],
    }
    progress(
        f"{after['open']:,} connections: RSS {before[0] / 2**20:.0f} -> {after['rss'] / 2**20:.0f} MiB, "
        f"{per / 1024:.1f} KiB per connection, fds {before[1]} -> {after['fds']}"
    )
    return res


async def main_async(args: argparse.Namespace, out: Path) -> int:
    limit = raise_nofile(max(200_000, 4 * args.conns))
    if limit < args.conns + 1000:  # per process: the hub's sockets, and the load generator's
        progress(f"open-file limit {limit}: too low for {args.conns:,} connections")
        return 2
    args.binary = Path(args.loadgen) if args.loadgen else build_loadgen(out)
    runs = []
    with ignite(args.ignite, 1024) as (addresses, _):
        for r in range(args.runs):
            progress(f"run {r + 1}/{args.runs}: {args.conns:,} idle connections")
            runs.append(await one_run(args, addresses, out))
    med = statistics.median
    header = f"Machine: {machine()}. Command: `{' '.join(sys.argv)}`. Medians of {args.runs} run(s)."
    md = "\n".join(
        [
            "| idle connections (subscribed, one hub process) | hub RSS before -> after | per connection "
            "| open fds after | connect + sync p50 / p99 |",
            "|---|---|---:|---:|---|",
            f"| {min(r['open'] for r in runs):,} of {args.conns:,} "
            f"| {med(r['rss_before'] for r in runs) / 2**20:.0f} -> "
            f"{med(r['rss_after'] for r in runs) / 2**20:.0f} MiB "
            f"| {med(r['bytes_per_conn'] for r in runs) / 1024:.1f} KiB "
            f"| {med(r['fds_after'] for r in runs):,.0f} "
            f"| {med(r['connect_ms']['p50_ms'] for r in runs):,.0f} / "
            f"{med(r['connect_ms']['p99_ms'] for r in runs):,.0f} ms |",
        ]
    )
    (out / "results.json").write_text(json.dumps({"header": header, "runs": runs}, indent=2))
    (out / "table.md").write_text(header + "\n\n" + md + "\n")
    print(header)
    print(md)
    return 1 if any(r["exit"] != 0 or r["unexpected"] for r in runs) else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--conns", type=int, help="idle connections to open")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--hold", type=float, help="seconds the connections stay open once synced")
    parser.add_argument("--settle", type=float, help="seconds before reading the RSS")
    parser.add_argument("--warmup", type=int, default=50, help="connections opened and closed first")
    parser.add_argument("--ramp", type=float, default=1000.0, help="connections opened per second")
    parser.add_argument("--src-ips", type=int, default=32, help="127.0.0.x source addresses")
    parser.add_argument("--ignite", help="host:port of a running Ignite node (default: start one)")
    parser.add_argument("--loadgen", help="a built load generator (default: go build bench/loadgen)")
    parser.add_argument(
        "--out", type=Path, default=None, help="default test-artifacts/bench/memory/<profile>"
    )
    args = parser.parse_args(argv)
    for name, value in PROFILES[args.profile].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.conns < 1:
        parser.error("--conns must be at least 1")
    out: Path = (args.out or REPO / "test-artifacts" / "bench" / "memory" / args.profile).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(main_async(args, out))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind: stop the hubs and Ignite
    sys.exit(main())
