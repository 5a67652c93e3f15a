"""Ingest benchmark (issue 13 §2.3): client mutations applied to Ignite per second, through one hub
process and through the whole box (a hub with one worker per core), side by side with the design
this product replaces: one HTTP request per record to Ignite's REST API (``ignite-rest-http``).

    .venv/bin/python -m bench.ingest                   # full: 20 s per case, 3 runs
    .venv/bin/python -m bench.ingest --profile quick   # the CI smoke test: 3 s, one run

One Ignite node (with its REST API on, hub/dev/cluster ``rest_port``). Per case the Go load generator
runs a closed loop for ``--duration`` seconds: ``-mode ingest`` (``--writers`` hub connections, each
with up to ``--window`` mutations unacknowledged, sent in ``mut`` batches of ``--batch``: every put is
applied with the full write rule, exactly once, and acknowledged) or ``-mode rest`` (``--rest-conns``
HTTP requests in flight, ``GET /ignite?cmd=put`` one record each, as a browser app would do without a
sync hub). Documents are ``{ts, k, pad}`` with ``--pad`` bytes over ``--docs`` distinct ids. Reported:
acknowledged puts/s, ack round trip p50/p99, CPU seconds of the hub(s), Ignite and the load generator.
Outputs: ``results.json`` and ``table.md`` under ``--out`` (default ``test-artifacts/bench/ingest``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.apply import machine, port_block, progress  # noqa: E402
from bench.fanout import tree_cpu  # noqa: E402
from bench.soak import build_loadgen, raise_nofile  # noqa: E402

PROFILES: dict[str, dict[str, Any]] = {
    "full": {"duration": 20.0, "runs": 3, "writers": 8, "batch": 100, "window": 1000},
    "quick": {"duration": 5.0, "runs": 1, "writers": 2, "batch": 50, "window": 200},
}


async def loadgen(
    args: argparse.Namespace, mode: str, url: str, pids: dict[str, int | None], extra: Sequence[str] = ()
) -> dict[str, Any]:
    writers = args.rest_conns if mode == "rest" else args.writers
    cmd = [str(args.binary), f"-mode={mode}", f"-url={url}", f"-writers={writers}", f"-batch={args.batch}"]
    cmd += [f"-window={args.window}", f"-duration={args.duration}s", f"-pad={args.pad}", f"-docs={args.docs}"]
    cmd += ["-write-coll=ingest" if mode == "ingest" else "-write-coll=ingest_rest", *extra]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, limit=1 << 24)
    assert proc.stdout is not None
    marks: dict[str, dict[str, float | None]] = {}
    lines = []
    async for raw in proc.stdout:
        line = json.loads(raw)
        lines.append(line)
        if line["kind"] in ("steady", "steady_end"):
            marks[line["kind"]] = {k: tree_cpu(p) for k, p in pids.items()} | {"loadgen": line["cpu_s"]}
    code = await proc.wait()
    summary = next((x for x in lines if x["kind"] == "summary"), None)
    if summary is None or len(marks) < 2:
        raise RuntimeError(f"the load generator ended without a summary (exit {code}): {lines[-3:]}")
    a, b = marks["steady"], marks["steady_end"]
    return {
        "mode": mode,
        "acked_per_s": summary["acked_per_s"],
        "acked": summary["acked"],
        "ack_ms": summary["ack_rtt"],
        "cpu_s": {k: round((b[k] or 0.0) - (a[k] or 0.0), 2) for k in a if a[k] is not None},
        "unexpected": summary["unexpected"],
        "exit": code,
    }


async def main_async(args: argparse.Namespace, out: Path) -> int:
    from hub.dev.cluster import LocalCluster
    from tests.support.hubproc import HubProcess

    raise_nofile()
    args.binary = Path(args.loadgen) if args.loadgen else build_loadgen(out)
    results: dict[str, list[dict[str, Any]]] = {"rest": [], "hub_1": [], "hub_box": []}
    with port_block() as base:
        cluster = LocalCluster(
            Path(tempfile.mkdtemp(prefix="ingest-ignite-")),
            nodes=1,
            client_port=base,
            discovery_port=base + 10,
            communication_port=base + 20,
            name="ingest",
            heap_mb=2048,
            rest_port=base + 5,
        )
        progress(f"starting Ignite on {base} (REST on {base + 5})")
        cluster.start()
        hubs: list[Any] = []
        try:
            rest_url = f"http://127.0.0.1:{base + 5}"
            import urllib.request

            urllib.request.urlopen(
                f"{rest_url}/ignite?cmd=getorcreate&cacheName=ingest_rest", timeout=30
            ).read()
            ignite_pid = cluster.node_pid(0)
            for workers, key in ((1, "hub_1"), (0, "hub_box")):
                hub = HubProcess(
                    f"bench-ingest-{key}",
                    list(cluster.addresses),
                    {"ingest": {}},
                    hub={"log_level": "WARNING", "workers": workers, "mut_rate": 1e9, "mut_burst": 10**9},
                    config_dir=out,
                )
                hubs.append((key, hub))
            for r in range(args.runs):
                progress(f"run {r + 1}/{args.runs}: REST baseline, {args.rest_conns} requests in flight")
                res = await loadgen(args, "rest", rest_url, {"ignite": ignite_pid})
                results["rest"].append(res)
                progress(f"  {res['acked_per_s']:,.0f} puts/s, cpu {res['cpu_s']}")
                for key, hub in hubs:
                    await hub.start(timeout=120)
                    try:
                        pids = {"hub": hub.pid, "ignite": ignite_pid}
                        progress(f"run {r + 1}/{args.runs}: {key}, {args.writers} connections x {args.batch}")
                        res = await loadgen(args, "ingest", hub.url, pids)
                        results[key].append(res)
                        progress(f"  {res['acked_per_s']:,.0f} mutations/s, cpu {res['cpu_s']}")
                    finally:
                        hub.stop()
        finally:
            cluster.stop()

    def med(key: str, get: Any) -> float:
        return statistics.median(get(r) for r in results[key])

    header = f"Machine: {machine()}. Command: `{' '.join(sys.argv)}`. Medians of {args.runs} run(s)."
    rest = med("rest", lambda r: r["acked_per_s"])
    rows = [
        "| path | puts/s | vs REST | ack p50 / p99 | CPU s per 1,000 puts (server, Ignite) |",
        "|---|---|---|---|---|",
    ]
    labels = {
        "rest": "REST API, one request per record",
        "hub_1": "synchub, one hub process",
        "hub_box": "synchub, one worker per core",
    }
    for key, label in labels.items():
        rate = med(key, lambda r: r["acked_per_s"])
        per_k = {
            name: med(key, lambda r, n=name: 1000 * r["cpu_s"].get(n, 0.0) / max(1, r["acked"]))
            for name in ("hub", "ignite")
        }
        p50 = med(key, lambda r: r["ack_ms"]["p50_ms"])
        p99 = med(key, lambda r: r["ack_ms"]["p99_ms"])
        rows.append(
            f"| {label} | {rate:,.0f} | {rate / rest:.1f}x | {p50:.1f} / {p99:.1f} ms "
            f"| {per_k['hub']:.2f}, {per_k['ignite']:.2f} |"
        )
    md = "\n".join(rows)
    (out / "results.json").write_text(json.dumps({"header": header, **results}, indent=2))
    (out / "table.md").write_text(header + "\n\n" + md + "\n")
    print(header)
    print(md)
    bad = [r for rs in results.values() for r in rs if r["exit"] != 0]
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--duration", type=float)
    parser.add_argument("--runs", type=int)
    parser.add_argument("--writers", type=int, help="hub connections writing")
    parser.add_argument("--batch", type=int, help="mutations per mut frame")
    parser.add_argument("--window", type=int, help="unacknowledged mutations per connection, at most")
    parser.add_argument("--rest-conns", type=int, default=32, help="REST requests in flight")
    parser.add_argument("--docs", type=int, default=100_000, help="distinct document ids")
    parser.add_argument("--pad", type=int, default=100)
    parser.add_argument("--loadgen", help="a built load generator (default: go build bench/loadgen)")
    parser.add_argument(
        "--out", type=Path, default=None, help="default test-artifacts/bench/ingest/<profile>"
    )
    args = parser.parse_args(argv)
    for name, value in PROFILES[args.profile].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    out: Path = (args.out or REPO / "test-artifacts" / "bench" / "ingest" / args.profile).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(main_async(args, out))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind: stop the hubs and Ignite
    sys.exit(main())
