"""Fan-out benchmark (issue 13 §2.2): synchub side by side with Centrifugo v6 on the same box.

    .venv/bin/python -m bench.fanout                    # full: 4 scenarios x 3 runs x both servers
    .venv/bin/python -m bench.fanout --profile quick    # the CI smoke test: one small run of synchub
    make bench                                          # every benchmark, the full profiles

Each scenario is ``subscribers x updates/s``: the Go load generator (``bench/loadgen -mode fanout``)
opens that many WebSocket subscribers of one collection (synchub) or channel (Centrifugo), then one
publisher sends that many updates per second in batches of ``--batch`` (synchub: ``mut`` frames on a
hub connection; Centrifugo: ``/api/batch`` requests to its HTTP API), each carrying its send time, for
``--duration`` seconds. Measured over that steady window: delivered events/s, the latency from the
payload timestamp to receipt (HDR-style histogram: p50/p99/p999), and the CPU seconds of every
process from ``/proc``: the server (the hub with its workers; Centrifugo), Ignite, the load generator.
"Events per server CPU-second" divides the events delivered by the server's CPU seconds (synchub's
server includes its Ignite node: the product needs it). Each figure is the median of ``--runs`` runs;
both servers run each scenario in the same invocation, alternating, so both see the same machine.

Outputs (``--out``, default ``test-artifacts/bench/fanout``): ``results.json`` (every run), a
Markdown table on stdout and in ``table.md``, and ``fanout.png`` (delivered/s and p99 by scenario).
Centrifugo is ``go install``-ed by ``make bench`` (``--centrifugo`` names the binary).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.apply import machine, progress  # noqa: E402
from bench.soak import build_loadgen, cpu_seconds, ignite, raise_nofile  # noqa: E402

PROFILES: dict[str, dict[str, Any]] = {
    "full": {"scenarios": "100x500,1000x100,1000x1000,10000x20", "runs": 3, "duration": 20.0},
    "quick": {"scenarios": "50x50", "runs": 1, "duration": 5.0},
}
CHANNEL = "fanout"


def tree_cpu(pid: int | None) -> float | None:
    """CPU seconds of ``pid`` and every live descendant (the hub's supervisor and its workers)."""
    if pid is None:
        return None
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += cpu_seconds(p) or 0.0
        todo.extend(children.get(p, []))
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One server under test: its URLs and the pids whose CPU is counted as the server's."""

    name = ""
    ws_url = ""
    extra: Sequence[str] = ()
    pids: dict[str, int | None]

    def cpu(self) -> dict[str, float | None]:
        return {k: tree_cpu(p) for k, p in self.pids.items()}


@contextlib.asynccontextmanager
async def synchub_server(args: argparse.Namespace, out: Path) -> AsyncIterator[Server]:
    from tests.support.hubproc import HubProcess

    with ignite(args.ignite, 1024) as (addresses, ignite_pid):
        hub = HubProcess(
            "bench-fanout",
            addresses,
            {CHANNEL: {}},
            hub={"log_level": "WARNING", "workers": args.workers},
            config_dir=out,
        )
        await hub.start(timeout=120)
        try:
            srv = Server()
            srv.name, srv.ws_url = "synchub", hub.url
            srv.pids = {"server": hub.pid, "ignite": ignite_pid}
            yield srv
        finally:
            hub.stop()


@contextlib.asynccontextmanager
async def centrifugo_server(args: argparse.Namespace, out: Path) -> AsyncIterator[Server]:
    port = free_port()
    config = {
        "client": {"insecure": True, "allowed_origins": ["*"]},
        "http_api": {"key": "bench"},
        "channel": {"without_namespace": {"allow_subscribe_for_client": True}},
        "http_server": {"address": "127.0.0.1", "port": port},
        "log": {"level": "warn"},
    }
    path = out / "centrifugo.json"
    path.write_text(json.dumps(config))
    log = open(out / "centrifugo.log", "ab")
    proc = subprocess.Popen([args.centrifugo, "--config", str(path)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"centrifugo exited with {proc.returncode}: see {out / 'centrifugo.log'}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("centrifugo did not listen within 30 s")
            await asyncio.sleep(0.1)
        srv = Server()
        srv.name, srv.ws_url = "centrifugo", f"ws://127.0.0.1:{port}/connection/websocket"
        srv.extra = ("-target=centrifugo", f"-api=http://127.0.0.1:{port}/api", "-api-key=bench")
        srv.pids = {"server": proc.pid}
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def one_run(
    srv: Server, binary: Path, subs: int, rate: float, args: argparse.Namespace, log: Path
) -> dict[str, Any]:
    cmd = [
        str(binary),
        "-mode=fanout",
        f"-url={srv.ws_url}",
        f"-conns={subs}",
        f"-writes={rate}",
        f"-batch={args.batch}",
        f"-pad={args.pad}",
        f"-duration={args.duration}s",
        f"-write-coll={CHANNEL}",
        "-interval=5s",
        "-ramp-rate=1000",
        *srv.extra,
    ]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, limit=1 << 24)
    assert proc.stdout is not None
    marks: dict[str, dict[str, float | None]] = {}
    lines: list[dict[str, Any]] = []
    with open(log, "a") as f:
        async for raw in proc.stdout:
            f.write(raw.decode())
            line = json.loads(raw)
            lines.append(line)
            if line["kind"] in ("steady", "steady_end"):
                marks[line["kind"]] = {**srv.cpu(), "loadgen": line["cpu_s"], "t": line["ts"]}
    code = await proc.wait()
    summary = next((x for x in lines if x["kind"] == "summary"), None)
    if summary is None or "steady" not in marks or "steady_end" not in marks:
        raise RuntimeError(f"the load generator ended without a complete run (exit {code}): see {log}")
    a, b = marks["steady"], marks["steady_end"]
    cpu = {k: round((b[k] or 0.0) - (a[k] or 0.0), 2) for k in a if k != "t" and a[k] is not None}
    end = next(x for x in lines if x["kind"] == "steady_end")
    window = float(b["t"] or 0) - float(a["t"] or 0)
    server_cpu = cpu.get("server", 0.0) + cpu.get("ignite", 0.0)
    delivered = int(end["delivered"])
    return {
        "server": srv.name,
        "subscribers": subs,
        "rate": rate,
        "window_s": round(window, 2),
        "offered_per_s": subs * rate,
        "delivered_per_s": round(delivered / window, 1) if window else 0.0,
        "latency_ms": summary["delivery"],
        "ack_ms": summary["ack_rtt"],
        "connect_s": summary["sync_time"],
        "cpu_s": cpu,
        "events_per_server_cpu_s": round(delivered / server_cpu) if server_cpu else None,
        "events_per_hub_cpu_s": round(delivered / cpu["server"]) if cpu.get("server") else None,
        "unexpected": summary["unexpected"],
        "exit": code,
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(get: Any) -> float:
        values = [get(r) for r in runs if get(r) is not None]
        return statistics.median(values) if values else float("nan")

    return {
        "delivered_per_s": med(lambda r: r["delivered_per_s"]),
        "p50_ms": med(lambda r: r["latency_ms"]["p50_ms"]),
        "p99_ms": med(lambda r: r["latency_ms"]["p99_ms"]),
        "p999_ms": med(lambda r: r["latency_ms"]["p999_ms"]),
        "epcs": med(lambda r: r["events_per_server_cpu_s"]),
        "epcs_own": med(lambda r: r["events_per_hub_cpu_s"]),
        "server_cpu_per_s": med(
            lambda r: (r["cpu_s"].get("server", 0) + r["cpu_s"].get("ignite", 0)) / r["window_s"]
        ),
        "loadgen_cpu_per_s": med(lambda r: r["cpu_s"].get("loadgen", 0) / r["window_s"]),
        "offered_per_s": runs[0]["offered_per_s"],
        "runs": len(runs),
        "unexpected": sum(sum(r["unexpected"].values()) for r in runs),
    }


def table(results: dict[str, dict[str, dict[str, Any]]], servers: Sequence[str]) -> str:
    head = "| subscribers x updates/s | " + " | ".join(
        f"{s} delivered/s (of offered), p50 / p99 / p999 | {s} events per CPU-s (server alone / with Ignite)"
        for s in servers
    )
    lines = [head + " |", "|---" * (1 + 2 * len(servers)) + "|"]
    for scenario, by_server in results.items():
        cells = []
        for s in servers:
            m = by_server.get(s)
            if m is None:
                cells += ["-", "-"]
                continue
            share = 100 * m["delivered_per_s"] / m["offered_per_s"]
            cells.append(
                f"{m['delivered_per_s']:,.0f} ({share:.0f} %), {m['p50_ms']:.1f} / {m['p99_ms']:.1f} / "
                f"{m['p999_ms']:.1f} ms"
            )
            own = f"{m['epcs_own']:,.0f}"
            cells.append(own if m["epcs_own"] == m["epcs"] else f"{own} / {m['epcs']:,.0f}")
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: dict[str, dict[str, dict[str, Any]]], servers: Sequence[str], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        progress("matplotlib not installed: no plot")
        return
    scenarios = list(results)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    width = 0.8 / max(1, len(servers))
    for i, s in enumerate(servers):
        xs = [j + i * width for j in range(len(scenarios))]
        get = lambda key, s=s: [results[sc].get(s, {}).get(key, float("nan")) for sc in scenarios]  # noqa: E731
        axes[0].bar(xs, get("delivered_per_s"), width, label=s)
        axes[1].bar(xs, get("p99_ms"), width, label=s)
        axes[2].bar(xs, get("epcs"), width, label=s)
    for ax, title in zip(
        axes, ("delivered events/s", "p99 latency (ms, log)", "events per server CPU-second"), strict=True
    ):
        ax.set_xticks(
            [j + width * (len(servers) - 1) / 2 for j in range(len(scenarios))], scenarios, fontsize=8
        )
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    axes[1].set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


async def main_async(args: argparse.Namespace, out: Path) -> int:
    raise_nofile()
    binary = Path(args.loadgen) if args.loadgen else build_loadgen(out)
    scenarios = [(int(a), float(b)) for a, b in (s.split("x") for s in args.scenarios.split(","))]
    servers = [s for s in args.servers.split(",") if s]
    if "centrifugo" in servers and not (args.centrifugo and shutil.which(args.centrifugo)):
        progress(f"centrifugo binary {args.centrifugo!r} not found (make bench installs it)")
        return 2
    runs: list[dict[str, Any]] = []
    factories = {"synchub": synchub_server, "centrifugo": centrifugo_server}
    for run in range(args.runs):
        for name in servers:  # alternate: both servers see the same machine
            async with factories[name](args, out) as srv:
                for subs, rate in scenarios:
                    progress(f"run {run + 1}/{args.runs}: {name} {subs} x {rate:g}/s")
                    r = await one_run(srv, binary, subs, rate, args, out / "loadgen.jsonl")
                    r["run"] = run + 1
                    runs.append(r)
                    progress(
                        f"  delivered {r['delivered_per_s']:,.0f}/s of {r['offered_per_s']:,.0f}, "
                        f"p50/p99 {r['latency_ms']['p50_ms']:.1f}/{r['latency_ms']['p99_ms']:.1f} ms, "
                        f"cpu {r['cpu_s']}, unexpected {r['unexpected']}"
                    )
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for subs, rate in scenarios:
        key = f"{subs:,} x {rate:,.0f}"
        for name in servers:
            mine = [r for r in runs if r["server"] == name and r["subscribers"] == subs and r["rate"] == rate]
            results.setdefault(key, {})[name] = median_of(mine)
    md = table(results, servers)
    header = f"Machine: {machine()}. Command: `{' '.join(sys.argv)}`. Medians of {args.runs} run(s)."
    (out / "results.json").write_text(
        json.dumps({"header": header, "runs": runs, "medians": results}, indent=2)
    )
    (out / "table.md").write_text(header + "\n\n" + md + "\n")
    plot(results, servers, out / "fanout.png")
    print(header)
    print(md)
    return 0 if all(m["unexpected"] == 0 for by in results.values() for m in by.values()) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument(
        "--scenarios", help="subscribers x updates/s, comma separated (overrides the profile)"
    )
    parser.add_argument("--runs", type=int)
    parser.add_argument("--duration", type=float, help="steady seconds per run")
    parser.add_argument("--servers", default="synchub,centrifugo")
    parser.add_argument("--batch", type=int, default=10, help="updates per mut frame / per /api/batch")
    parser.add_argument("--pad", type=int, default=100, help="padding bytes per update")
    parser.add_argument("--workers", type=int, default=0, help="hub worker processes (0: one per core)")
    parser.add_argument("--ignite", help="host:port of a running Ignite node (default: start one)")
    parser.add_argument(
        "--centrifugo", default=shutil.which("centrifugo") or str(Path.home() / "go/bin/centrifugo")
    )
    parser.add_argument("--loadgen", help="a built load generator (default: go build bench/loadgen)")
    parser.add_argument(
        "--out", type=Path, default=None, help="default test-artifacts/bench/fanout/<profile>"
    )
    args = parser.parse_args(argv)
    for name, value in PROFILES[args.profile].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    out: Path = (args.out or REPO / "test-artifacts" / "bench" / "fanout" / args.profile).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "loadgen.jsonl").write_text("")
    with contextlib.suppress(FileNotFoundError):
        os.remove(out / "centrifugo.log")
    return asyncio.run(main_async(args, out))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind: stop the hubs and Ignite
    sys.exit(main())
