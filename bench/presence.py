"""Presence benchmark (issue 12 §2): how long a member's join or state update takes to reach the
other members of its room, on the same hub and across two hubs (the backplane is Ignite).

    .venv/bin/python -m bench.presence                   # full: 1,000 members, 100 rooms, 2 hubs, 3 runs
    .venv/bin/python -m bench.presence --profile quick   # the CI smoke test: 40 members, 4 rooms, 5 s

Per run: two hub processes on one Ignite node; the Go load generator (``bench/loadgen -mode presence``)
opens the members, alternately on each hub, each joining room ``bench-<i mod rooms>`` with its join
time in its state; then for ``--duration`` seconds random members send ``pupdate`` at ``--rate`` per
second in all, each state carrying its send time. Every other member of the room records the delay to
its ``joined`` / ``updated``. Reported: p50/p99/p999 of updates seen on the same hub and on the other
hub, of joins, how many updates arrived of those expected (every other member of the room), and the
CPU seconds of both hubs, Ignite and the load generator over the update window.
Outputs: ``results.json`` and ``table.md`` under ``--out`` (default ``test-artifacts/bench/presence``).
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

from bench.apply import machine, progress  # noqa: E402
from bench.fanout import tree_cpu  # noqa: E402
from bench.soak import build_loadgen, ignite, raise_nofile  # noqa: E402

PROFILES: dict[str, dict[str, Any]] = {
    "full": {"members": 1000, "rooms": 100, "rate": 200.0, "duration": 20.0, "runs": 3},
    "quick": {"members": 40, "rooms": 4, "rate": 20.0, "duration": 5.0, "runs": 1},
}
ROOMS = {"access": {"": {"read": ["*"], "write": ["*"]}}}


async def one_run(args: argparse.Namespace, hubs: list[Any], pids: dict[str, int | None]) -> dict[str, Any]:
    cmd = [
        str(args.binary),
        "-mode=presence",
        "-url=" + ",".join(h.url for h in hubs),
        f"-conns={args.members}",
        f"-rooms={args.rooms}",
        f"-writes={args.rate}",
        f"-duration={args.duration}s",
        "-ramp-rate=500",
    ]
    lg = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, limit=1 << 24)
    assert lg.stdout is not None
    lines: list[dict[str, Any]] = []
    marks: dict[str, dict[str, float | None]] = {}
    async for raw in lg.stdout:
        line = json.loads(raw)
        lines.append(line)
        if line["kind"] in ("steady", "steady_end"):
            marks[line["kind"]] = {k: tree_cpu(p) for k, p in pids.items()} | {"loadgen": line["cpu_s"]}
    code = await lg.wait()
    summary = next((x for x in lines if x["kind"] == "summary"), None)
    if summary is None or len(marks) < 2:
        raise RuntimeError(f"the load generator ended without a complete run (exit {code})")
    a, b = marks["steady"], marks["steady_end"]
    cpu = {k: round((b[k] or 0.0) - (a[k] or 0.0), 2) for k in a if a[k] is not None}
    seen = summary["same_hub"]["count"] + summary["cross_hub"]["count"]
    return {
        "same_hub": summary["same_hub"],
        "cross_hub": summary["cross_hub"],
        "joined": summary["joined"],
        "updates_sent": summary["updates_sent"],
        "updates_seen": seen,
        "updates_expected": summary["expected_updated"],
        "cpu_s": cpu,
        "unexpected": summary["unexpected"],
        "exit": code,
    }


async def main_async(args: argparse.Namespace, out: Path) -> int:
    from tests.support.hubproc import HubProcess

    raise_nofile()
    args.binary = Path(args.loadgen) if args.loadgen else build_loadgen(out)
    runs: list[dict[str, Any]] = []
    with ignite(args.ignite, 1024) as (addresses, ignite_pid):
        hubs = [
            HubProcess(
                f"bench-presence-{i}",
                addresses,
                {},
                hub={"log_level": "WARNING"},
                rooms=ROOMS,
                config_dir=out,
            )
            for i in range(2)
        ]
        try:
            for h in hubs:
                await h.start(timeout=120)
            pids: dict[str, int | None] = {"hub_a": hubs[0].pid, "hub_b": hubs[1].pid, "ignite": ignite_pid}
            for i in range(args.runs):
                progress(
                    f"run {i + 1}/{args.runs}: {args.members} members, {args.rooms} rooms, {args.rate:g}/s"
                )
                r = await one_run(args, hubs, pids)
                runs.append(r)
                progress(
                    f"  same hub p50/p99 {r['same_hub']['p50_ms']:.1f}/{r['same_hub']['p99_ms']:.1f} ms, "
                    f"other hub {r['cross_hub']['p50_ms']:.1f}/{r['cross_hub']['p99_ms']:.1f} ms, "
                    f"seen {r['updates_seen']:,} of {r['updates_expected']:,.0f}; cpu {r['cpu_s']}"
                )
        finally:
            for h in hubs:
                h.stop()

    def med(get: Any) -> float:
        return statistics.median(get(r) for r in runs)

    header = f"Machine: {machine()}. Command: `{' '.join(sys.argv)}`. Medians of {len(runs)} run(s)."
    rows = ["| seen by the other members | p50 | p99 | p999 |", "|---|---|---|---|"]
    for key, label in (
        ("same_hub", "update, same hub"),
        ("cross_hub", "update, other hub"),
        ("joined", "join"),
    ):
        rows.append(
            f"| {label} | {med(lambda r, k=key: r[k]['p50_ms']):.1f} ms "
            f"| {med(lambda r, k=key: r[k]['p99_ms']):.1f} ms "
            f"| {med(lambda r, k=key: r[k]['p999_ms']):.1f} ms |"
        )
    share = med(lambda r: r["updates_seen"] / r["updates_expected"] if r["updates_expected"] else 0.0)
    md = "\n".join(rows) + f"\n\nUpdates seen of those expected: {share:.1%}."
    (out / "results.json").write_text(json.dumps({"header": header, "runs": runs}, indent=2))
    (out / "table.md").write_text(header + "\n\n" + md + "\n")
    print(header)
    print(md)
    return 0 if all(sum(r["unexpected"].values()) == 0 and r["exit"] == 0 for r in runs) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    for name, kind in (("members", int), ("rooms", int), ("rate", float), ("duration", float), ("runs", int)):
        parser.add_argument(f"--{name}", type=kind)
    parser.add_argument("--ignite", help="host:port of a running Ignite node (default: start one)")
    parser.add_argument("--loadgen", help="a built load generator (default: go build bench/loadgen)")
    parser.add_argument(
        "--out", type=Path, default=None, help="default test-artifacts/bench/presence/<profile>"
    )
    args = parser.parse_args(argv)
    for name, value in PROFILES[args.profile].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    out: Path = (args.out or REPO / "test-artifacts" / "bench" / "presence" / args.profile).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(main_async(args, out))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind: stop the hubs and Ignite
    sys.exit(main())
