"""Connection soak (issue 10 §3): one Ignite node, one hub process, the Go load generator in churn mode.

    .venv/bin/python -m bench.soak                 # full profile: 10,000 connections, 100 churn/s, 10 min
    .venv/bin/python -m bench.soak --profile quick # 300 connections, 20 churn/s, 30 s (the CI smoke test)
    make soak                                      # the full profile under nice
    .venv/bin/python -m bench.soak --starve --overload-lag-ms 250  # a hub with half a core, admission on

The driver raises its open-file limit (inherited by the hub and the load generator), starts a one-node
:class:`hub.dev.cluster.LocalCluster` on a free, lock-reserved port block (or uses ``--ignite host:port``),
starts the hub with :class:`tests.support.hubproc.HubProcess` (dev auth, two collections: a quiet one most
subscribers follow and the one the writers write), builds ``bench/loadgen`` with ``go build`` and runs it
(``-mode churn``). Every ``--sample`` seconds it records, in ``<out>/samples.csv``: the hub's RSS and open
fds (``/proc/<pid>``), its asyncio tasks, open Ignite cursors by kind and connections (``/metrics``), and
the CPU seconds of the hub, the Ignite JVM and the load generator (``/proc/<pid>/stat``).

Verdict: over the steady phase (after the ramp-up and ``--settle`` seconds more) each metric gets its
least-squares slope; it is *flat* when the drift that slope predicts over the window stays within
``max(rel * mean level, abs)`` (:data:`TOLERANCE`). At 100 churns/s a leak of one fd or task per 100
connections, or of ~1 KiB per connection, exceeds that within 10 minutes. Outputs: ``samples.csv``,
``loadgen.jsonl`` (the generator's lines), ``summary.json``, ``soak.png`` (matplotlib, when installed).
Exit status 1 when the load generator counted an unexpected outcome or a process died. A refusal by
admission control (4532, ``--overload-lag-ms``) is not one: the generator retries it after a backoff,
as client-js does, and the count is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.apply import machine, port_block, progress  # noqa: E402
from hub.gcpolicy import THAW_EVERY_S  # noqa: E402
from hub.procstats import process_usage  # noqa: E402

PROFILES: dict[str, dict[str, float]] = {
    "full": {
        "conns": 10_000,
        "churn": 100,
        "writes": 200,
        "duration": 600,
        "settle": 60,
        "ramp": 250,
        "rest": 75,
    },
    "quick": {"conns": 300, "churn": 20, "writes": 50, "duration": 30, "settle": 5, "ramp": 200, "rest": 11},
}

#: metric -> (relative tolerance of the mean level, absolute tolerance) for the drift over the window
TOLERANCE: dict[str, tuple[float, float]] = {
    "hub_rss_bytes": (0.05, 16 << 20),
    "hub_fds": (0.02, 16),
    "asyncio_tasks": (0.02, 16),
    "ignite_cursors": (0.0, 2),
    "connections": (0.02, 16),
}

#: Python heap blocks the hub may keep at rest per connection it served (a leak of one object per
#: connection keeps at least one)
LEAK_BLOCKS_PER_CONN = 1.0

COLUMNS = [
    "ts",
    "elapsed_s",
    "phase",
    "hub_rss_bytes",
    "hub_fds",
    "asyncio_tasks",
    "python_blocks",
    "ignite_cursors",
    "cursors_sql",
    "cursors_scan",
    "cursors_cq",
    "connections",
    "lg_open",
    "lg_unexpected",
    "hub_cpu_s",
    "ignite_cpu_s",
    "loadgen_cpu_s",
    "ignite_rss_bytes",
    "loadgen_rss_bytes",
]

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a process (its own threads, not its children)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, ValueError, IndexError):
        return None


def raise_nofile(want: int = 200_000) -> int:
    """Raise RLIMIT_NOFILE (soft, and hard when allowed) for this process and its children."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), max(hard, want)))
        return max(soft, want)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def build_loadgen(out: Path) -> Path:
    """``go build`` bench/loadgen into ``out`` (incremental; modules from the module proxy)."""
    binary = out / "loadgen"
    src = REPO / "bench" / "loadgen"
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=src, check=True)
    return binary


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                out[key] = float(value)
    return out


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope dy/dx (0 with fewer than two distinct x)."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / sxx


@dataclass
class Trend:
    metric: str
    mean: float
    per_min: float
    drift: float  # predicted change over the window
    allowed: float
    flat: bool


def trends(rows: Sequence[dict[str, Any]], start: float, end: float) -> list[Trend]:
    window = [r for r in rows if start <= float(r["ts"]) <= end]
    minutes = (end - start) / 60
    out = []
    for metric, (rel, absolute) in TOLERANCE.items():
        pts = [(float(r["ts"]) / 60, float(r[metric])) for r in window if r.get(metric) not in (None, "")]
        if not pts:
            continue
        mean = sum(y for _, y in pts) / len(pts)
        per_min = slope(pts)
        drift = per_min * minutes
        allowed = max(rel * abs(mean), absolute)
        out.append(Trend(metric, mean, per_min, drift, allowed, abs(drift) <= allowed))
    return out


def plot(rows: Sequence[dict[str, Any]], steady: tuple[float, float], path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        progress("matplotlib not installed: no plot")
        return False
    t0 = float(rows[0]["ts"])
    x = [(float(r["ts"]) - t0) / 60 for r in rows]

    def col(name: str, scale: float = 1.0) -> list[float]:
        return [float(r[name]) / scale if r.get(name) not in (None, "") else float("nan") for r in rows]

    fig, axes = plt.subplots(2, 3, figsize=(12, 6), sharex=True)
    panels = [
        ("hub RSS (MiB)", [("hub", col("hub_rss_bytes", 1 << 20))]),
        ("hub open fds", [("fds", col("hub_fds"))]),
        (
            "asyncio tasks",
            [("tasks", col("asyncio_tasks")), ("heap blocks / 1000", col("python_blocks", 1000))],
        ),
        (
            "open Ignite cursors",
            [("sql", col("cursors_sql")), ("scan", col("cursors_scan")), ("cq", col("cursors_cq"))],
        ),
        ("connections", [("hub", col("connections")), ("loadgen", col("lg_open"))]),
        ("CPU (cores)", []),
    ]
    for ax, (name, series) in zip(axes.flat, panels, strict=True):
        for label, ys in series:
            ax.plot(x, ys, label=label, linewidth=1)
        ax.set_title(name, fontsize=10)
        ax.axvspan((steady[0] - t0) / 60, (steady[1] - t0) / 60, color="0.92", zorder=0)
        if len(series) > 1:
            ax.legend(fontsize=7)
    cpu_ax = axes.flat[5]
    for name in ("hub_cpu_s", "ignite_cpu_s", "loadgen_cpu_s"):
        ys = col(name)
        rate = [float("nan")] + [
            (ys[i] - ys[i - 1]) / ((x[i] - x[i - 1]) * 60) if x[i] > x[i - 1] else float("nan")
            for i in range(1, len(ys))
        ]
        cpu_ax.plot(x, rate, label=name.removesuffix("_cpu_s"), linewidth=1)
    cpu_ax.legend(fontsize=7)
    for ax in axes[1]:
        ax.set_xlabel("minutes")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)
    return True


@contextlib.contextmanager
def ignite(
    addr: str | None, heap_mb: int, region_max_mb: int = 512
) -> Iterator[tuple[list[tuple[str, int]], int | None]]:
    """(addresses, JVM pid): ``addr`` as given, or a fresh one-node cluster stopped afterwards."""
    if addr:
        host, port = addr.rsplit(":", 1)
        yield [(host, int(port))], None
        return
    from hub.dev.cluster import LocalCluster

    with port_block() as base:
        state = Path(tempfile.mkdtemp(prefix="soak-ignite-"))
        cluster = LocalCluster(
            state,
            nodes=1,
            client_port=base,
            discovery_port=base + 10,
            communication_port=base + 20,
            name="soak",
            heap_mb=heap_mb,
            region_max_mb=region_max_mb,
        )
        progress(f"starting Ignite on {base}")
        cluster.start()
        try:
            yield list(cluster.addresses), cluster.node_pid(0)
        finally:
            cluster.stop()
            shutil.rmtree(state, ignore_errors=True)


async def sample_loop(
    hub: Any, pids: dict[str, int | None], state: dict[str, Any], rows: list[dict[str, Any]], every: float
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        while True:
            row: dict[str, Any] = {"ts": round(time.time(), 3), "phase": state["phase"]}
            row["elapsed_s"] = round(row["ts"] - state["t0"], 1)
            row["hub_rss_bytes"], row["hub_fds"] = process_usage(hub.pid)
            try:
                m = parse_metrics((await http.get(f"{hub.http}/metrics")).text)
            except httpx.HTTPError as e:
                progress(f"/metrics failed: {e!r}")
                m = {}
            row["asyncio_tasks"] = m.get("synchub_asyncio_tasks")
            row["python_blocks"] = m.get("synchub_python_heap_blocks")
            row["connections"] = m.get("synchub_connections")
            kinds = {k: m.get(f'synchub_ignite_cursors{{kind="{k}"}}') for k in ("sql", "scan", "cq")}
            for k, v in kinds.items():
                row[f"cursors_{k}"] = v
            if all(v is not None for v in kinds.values()):
                row["ignite_cursors"] = sum(v for v in kinds.values() if v is not None)
            row["lg_open"] = state.get("lg_open")
            row["lg_unexpected"] = state.get("lg_unexpected")
            for name in ("hub", "ignite", "loadgen"):
                row[f"{name}_cpu_s"] = cpu_seconds(pids.get(name))
            row["ignite_rss_bytes"] = process_usage(pids["ignite"])[0] if pids.get("ignite") else None
            row["loadgen_rss_bytes"] = process_usage(pids["loadgen"])[0] if pids.get("loadgen") else None
            rows.append(row)
            await asyncio.sleep(every)


async def soak(args: argparse.Namespace, out: Path) -> int:
    from tests.support.hubproc import HubProcess

    nofile = raise_nofile()
    progress(f"RLIMIT_NOFILE {nofile}")
    binary = Path(args.loadgen) if args.loadgen else build_loadgen(out)
    quiet, written = f"{args.prefix}_quiet", f"{args.prefix}_write"
    rows: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    with ignite(args.ignite, args.ignite_heap_mb) as (addresses, ignite_pid):
        hub_cfg: dict[str, Any] = {"log_level": args.hub_log_level}
        if args.overload_lag_ms:
            hub_cfg["overload_lag_ms"] = args.overload_lag_ms
        hub = HubProcess(
            f"soak-{args.profile}",
            addresses,
            {quiet: {}, written: {}},
            hub=hub_cfg,
            config_dir=out,
            wrap=["taskset", "-c", "0"] if args.starve else (),
        )
        await hub.start(timeout=120)
        # --starve: a busy loop on the hub's core, at the same priority, leaves the hub about half of it
        burner = (
            subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", "while True: pass"])
            if args.starve
            else None
        )
        state: dict[str, Any] = {"phase": "idle", "t0": time.time()}
        pids: dict[str, int | None] = {"hub": hub.pid, "ignite": ignite_pid, "loadgen": None}
        sampler = asyncio.create_task(sample_loop(hub, pids, state, rows, args.sample))
        cmd = [
            str(binary),
            "-mode=churn",
            f"-url={hub.url}",
            f"-conns={args.conns}",
            f"-churn={args.churn}",
            f"-writes={args.writes}",
            f"-duration={args.duration}s",
            f"-ramp-rate={args.ramp}",
            f"-sub-coll={quiet}",
            f"-write-coll={written}",
            f"-interval={args.sample}s",
            f"-inflight={args.inflight}",
        ]
        progress(" ".join(cmd))
        try:
            await asyncio.sleep(min(args.sample, 5) + 0.5)  # an idle sample before the load
            proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, limit=1 << 24)
            pids["loadgen"] = proc.pid
            state["phase"] = "ramp"
            assert proc.stdout is not None
            with open(out / "loadgen.jsonl", "w") as log:
                async for raw in proc.stdout:
                    log.write(raw.decode())
                    log.flush()
                    line = json.loads(raw)
                    lines.append(line)
                    if line["kind"] == "steady":
                        state["phase"], state["steady_ts"] = "steady", line["ts"]
                        progress(f"steady: {line['open']} connections open after {line['elapsed_s']:.0f} s")
                    elif line["kind"] == "interval":
                        state["lg_open"], state["lg_unexpected"] = line["open"], line["unexpected"]
                        if line["phase"] == "drain" and state["phase"] == "steady":
                            state["phase"], state["steady_end_ts"] = "drain", line["ts"]
                        progress(
                            f"{line['phase']} {line['elapsed_s']:.0f}s open {line['open']} "
                            f"unexpected {line['unexpected']}"
                        )
                    elif line["kind"] == "summary":
                        state["phase"] = "done"
            code = await proc.wait()
            # samples at rest after the load; the full profile waits past the hub's periodic full
            # collection (hub/gcpolicy.py, every 60 s), so its Python heap holds no garbage then
            await asyncio.sleep(max(args.rest, 2 * args.sample + 1))
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            hub_alive = hub.proc is not None and hub.proc.poll() is None
            hub.stop()
            if burner is not None:
                burner.kill()
                burner.wait()
    summary = next((x for x in lines if x["kind"] == "summary"), None)
    if summary is None:
        progress(f"the load generator ended without a summary (exit {code})")
        return 1
    steady_ts = float(state.get("steady_ts", rows[0]["ts"]))
    steady_end = steady_ts + summary["steady_s"]
    start = steady_ts + min(args.settle, summary["steady_s"] / 2)
    result = report(args, out, rows, summary, (start, steady_end), (steady_ts, steady_end), hub_alive)
    return 0 if code == 0 and hub_alive and result else 1


def report(
    args: argparse.Namespace,
    out: Path,
    rows: list[dict[str, Any]],
    summary: dict[str, Any],
    window: tuple[float, float],
    steady: tuple[float, float],
    hub_alive: bool,
) -> bool:
    with open(out / "samples.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k) for k in COLUMNS})
    found = trends(rows, *window)
    idle = [r for r in rows if r["phase"] == "idle" and r.get("hub_rss_bytes")]
    in_window = [r for r in rows if window[0] <= float(r["ts"]) <= window[1] and r.get("hub_rss_bytes")]
    rss_per_conn = None
    if idle and in_window:
        base = float(idle[-1]["hub_rss_bytes"])
        level = sum(float(r["hub_rss_bytes"]) for r in in_window) / len(in_window)
        rss_per_conn = (level - base) / args.conns
    cpu = {}
    for name in ("hub", "ignite", "loadgen"):
        values = [float(r[f"{name}_cpu_s"]) for r in rows if r.get(f"{name}_cpu_s") is not None]
        if len(values) >= 2:
            cpu[name] = round(values[-1] - values[0], 1)
    # at rest: the last idle sample before the load and the last sample after it (every
    # connection closed): fds, tasks and cursors must be back where they were
    after = [r for r in rows if r["phase"] == "done"]
    at_rest = {}
    if idle and after:
        for metric in (
            "hub_fds",
            "asyncio_tasks",
            "ignite_cursors",
            "connections",
            "hub_rss_bytes",
            "python_blocks",
        ):
            before_v, after_v = idle[-1].get(metric), after[-1].get(metric)
            if before_v not in (None, "") and after_v not in (None, ""):
                at_rest[metric] = {"before": float(before_v), "after": float(after_v)}
    back = all(
        v["after"] <= v["before"] for k, v in at_rest.items() if k not in ("hub_rss_bytes", "python_blocks")
    )
    # The leak verdict. The RSS is the allocator's high-water mark: it rises with the peaks of the
    # load and is not given back, so its slope says little. Python's live blocks fall when objects
    # are freed: what the hub still holds at rest, per connection it served, is what it kept of them.
    opened = float(summary["counts"].get("connect_ok", 0)) if summary else 0.0
    blocks = at_rest.get("python_blocks")
    # judged only after a rest past the hub's periodic full collection (the quick profile rests less)
    judged = blocks is not None and opened > 0 and args.rest > THAW_EVERY_S
    kept_per_conn = (blocks["after"] - blocks["before"]) / opened if judged and blocks else None
    rss_trend = next((t for t in found if t.metric == "hub_rss_bytes"), None)
    churned_per_min = args.churn * 60
    result = {
        "profile": args.profile,
        "machine": machine(),
        "command": " ".join(sys.argv),
        "window_s": round(window[1] - window[0], 1),
        "samples": len(rows),
        "trends": [t.__dict__ for t in found],
        "flat": all(t.flat for t in found),
        "at_rest": at_rest,
        "back_to_rest": back,
        "rss_per_connection_bytes": rss_per_conn,
        "heap_blocks_kept_per_connection": kept_per_conn,
        "leak": kept_per_conn is not None and kept_per_conn >= LEAK_BLOCKS_PER_CONN,
        "rss_growth_per_churned_connection_bytes": (
            rss_trend.per_min / churned_per_min if rss_trend and churned_per_min else None
        ),
        "cpu_seconds": cpu,
        "hub_alive_at_end": hub_alive,
        "loadgen": summary,
    }
    (out / "summary.json").write_text(json.dumps(result, indent=2))
    plotted = plot(rows, steady, out / "soak.png", f"soak: {args.conns} connections, {args.churn:g} churn/s")
    print(f"soak {args.profile}: {len(rows)} samples, steady window {result['window_s']} s")
    for t in found:
        unit, scale = ("KiB", 1024) if t.metric == "hub_rss_bytes" else ("", 1)
        print(
            f"  {t.metric:16} mean {t.mean / scale:12.1f}{unit}  slope {t.per_min / scale:+10.2f}{unit}/min"
            f"  drift {t.drift / scale:+10.1f}{unit} (allowed {t.allowed / scale:.1f})"
            f"  {'flat' if t.flat else 'NOT FLAT'}"
        )
    for metric, v in at_rest.items():
        print(f"  at rest {metric:16} before {v['before']:12.0f}  after {v['after']:12.0f}")
    if rss_per_conn is not None:
        print(f"  RSS per connection: {rss_per_conn / 1024:.1f} KiB")
    if kept_per_conn is not None:
        print(
            f"  Python heap kept at rest: {kept_per_conn:+.3f} blocks per connection served "
            f"({'LEAK' if result['leak'] else 'no leak'}: the limit is {LEAK_BLOCKS_PER_CONN})"
        )
    print(f"  CPU seconds: {cpu}")
    print(
        f"  achieved: {summary['churn_per_s']:.1f} churn/s, {summary['writes_acked_per_s']:.1f} writes/s; "
        f"sync p50/p99 {summary['sync_time']['p50_ms']:.0f}/{summary['sync_time']['p99_ms']:.0f} ms, "
        f"ack p50/p99 {summary['ack_rtt']['p50_ms']:.0f}/{summary['ack_rtt']['p99_ms']:.0f} ms"
    )
    print(f"  load generator: unexpected {summary['unexpected_total']} {summary['unexpected']}")
    if refused := summary["counts"].get("refused:overloaded"):
        print(f"  refused by admission control (4532, retried): {refused}")
    print(f"  outputs: {out}{' (with soak.png)' if plotted else ''}")
    return bool(summary["unexpected_total"] == 0 and not result["leak"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    for name in ("conns", "churn", "writes", "duration", "settle", "ramp", "rest"):
        parser.add_argument(f"--{name}", type=float, help="overrides the profile")
    parser.add_argument("--inflight", type=int, default=512, help="connections being opened at once")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--ignite", help="host:port of a running Ignite node (default: start one)")
    parser.add_argument("--ignite-heap-mb", type=int, default=1024)
    parser.add_argument("--loadgen", help="a built load generator (default: go build bench/loadgen)")
    parser.add_argument("--prefix", default="soak", help="collection name prefix")
    parser.add_argument("--hub-log-level", default="WARNING")
    parser.add_argument(
        "--overload-lag-ms", type=int, default=0, help="the hub's [hub] overload_lag_ms (admission control)"
    )
    parser.add_argument(
        "--starve", action="store_true", help="pin the hub to CPU 0 beside a busy loop: about half a core"
    )
    parser.add_argument("--out", type=Path, default=None, help="default test-artifacts/soak-conn/<profile>")
    args = parser.parse_args(argv)
    for name, value in PROFILES[args.profile].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.conns = int(args.conns)
    out: Path = (args.out or REPO / "test-artifacts" / "soak-conn" / args.profile).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(soak(args, out))


if __name__ == "__main__":
    sys.exit(main())
