"""Push-latency benchmark (issue 13 §2.1): an external Ignite put -> receipt at the hub's subscribers,
side by side with its baseline, our raw continuous-query listener on the same cache in the same run.

    .venv/bin/python -m bench.push                   # full: 1,000 subscribers, 1,000 puts/s, 20 s, 3 runs
    .venv/bin/python -m bench.push --profile quick   # the CI smoke test: 20 subscribers, 50 puts/s, 5 s

Per run: a hub (``[hub] workers``, one per core by default) serves collection ``push`` (data cache
``bench_push``); the Go load generator (``bench/loadgen -mode fanout -writes 0``) opens the subscribers;
once they are synced, a writer process (this module, ``--role writer``: pyignite, another application
as far as the hub knows) puts documents ``BenchPush {ts, k, pad}`` into the data cache at the target
rate, ``ts`` being the wall-clock time (ns) just before the put. Latency = receipt time - ``ts``: in
the load generator for every subscriber's copy (log-linear histogram), and in this process for the
baseline, a continuous query on the same cache with the hub feed's settings
(``hub/store/ignite/feed.py``: page size 128, time interval 20 ms) that does nothing but decode. The
hub's figure thus includes what the product adds: stamping the external write, settling, fan-out.
CPU seconds of the hub (with its workers), Ignite, the writer and the load generator over the window.
Outputs: ``results.json`` and ``table.md`` under ``--out`` (default ``test-artifacts/bench/push``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import statistics
import sys
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.apply import machine, progress  # noqa: E402
from bench.fanout import tree_cpu  # noqa: E402
from bench.soak import build_loadgen, ignite, raise_nofile  # noqa: E402

PROFILES: dict[str, dict[str, Any]] = {
    "full": {"subscribers": 1000, "rate": 1000.0, "duration": 20.0, "runs": 3},
    "quick": {"subscribers": 20, "rate": 50.0, "duration": 5.0, "runs": 1},
}
COLL, CACHE, TYPE = "push", "bench_push", "BenchPush"
FEED_PAGE_SIZE, FEED_TIME_INTERVAL_MS = 128, 20  # the hub feed's (hub/store/ignite/feed.py)


def pct(xs: Sequence[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


async def writer(addr: tuple[str, int], rate: float, duration: float, pad: int) -> None:
    """Put ``BenchPush`` documents at ``rate``/s for ``duration`` s (ticks of 10 ms, puts in parallel)."""
    from pyignite import AioClient, GenericObjectMeta  # type: ignore[import-untyped,unused-ignore]
    from pyignite.datatypes import LongObject, String  # type: ignore[import-untyped,unused-ignore]

    doc = GenericObjectMeta(
        TYPE,
        (),
        {},
        type_name=TYPE,
        schema=OrderedDict([("ts", LongObject), ("k", LongObject), ("pad", String)]),
    )
    client = AioClient(partition_aware=True)
    await client.connect([addr])
    cache = await client.get_cache(CACHE)
    filler = "x" * pad
    start, k, sent = time.monotonic(), 0, 0
    while (elapsed := time.monotonic() - start) < duration:
        due = int(elapsed * rate) - sent
        if due > 0:
            puts = []
            for _ in range(due):
                k += 1
                puts.append(cache.put(f"d{k % 500}", doc(ts=time.time_ns(), k=k, pad=filler)))
            await asyncio.gather(*puts)
            sent += due
        await asyncio.sleep(0.01)
    await client.close()
    use = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"sent": sent, "cpu_s": round(use.ru_utime + use.ru_stime, 2)}), flush=True)


async def baseline(addr: tuple[str, int], lat: list[float], ready: asyncio.Event) -> None:
    from pyignite import AioClient

    from hub.ignite import continuous_query

    client = AioClient(partition_aware=False)
    await client.connect([addr])
    try:
        cq = continuous_query(client, CACHE, page_size=FEED_PAGE_SIZE, time_interval_ms=FEED_TIME_INTERVAL_MS)
        async with cq as events:
            ready.set()
            async for batch in events:
                now = time.time_ns()
                for ev in batch:
                    ts = ev.value.get("ts") if isinstance(ev.value, dict) else None
                    if isinstance(ts, int):
                        lat.append((now - ts) / 1e6)
    finally:
        await client.close()


async def one_run(
    args: argparse.Namespace, hub: Any, addr: tuple[str, int], pids: dict[str, int | None]
) -> dict[str, Any]:
    binary = args.binary
    cmd = [
        str(binary),
        "-mode=fanout",
        f"-url={hub.url}",
        f"-conns={args.subscribers}",
        "-writes=0",
        f"-duration={args.duration + args.tail}s",
        f"-write-coll={COLL}",
        "-interval=5s",
        "-ramp-rate=1000",
    ]
    lat: list[float] = []
    ready = asyncio.Event()
    base = asyncio.create_task(baseline(addr, lat, ready))
    await asyncio.wait_for(ready.wait(), 60)
    lg = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, limit=1 << 24)
    assert lg.stdout is not None
    lines: list[dict[str, Any]] = []
    w: asyncio.subprocess.Process | None = None
    cpu0: dict[str, float | None] = {}
    cpu1: dict[str, float | None] = {}
    t0 = t1 = 0.0
    async for raw in lg.stdout:
        line = json.loads(raw)
        lines.append(line)
        if line["kind"] == "steady" and w is None:
            w = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.push", "--role", "writer", "--ignite", f"{addr[0]}:{addr[1]}",
                f"--rate={args.rate}", f"--duration={args.duration}", f"--pad={args.pad}",
                cwd=REPO, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            cpu0 = {k: tree_cpu(p) for k, p in pids.items()} | {"loadgen": line["cpu_s"]}
            t0 = time.monotonic()
            w_task = asyncio.create_task(w.communicate())
        if line["kind"] == "steady_end" and w is not None:
            cpu1 = {k: tree_cpu(p) for k, p in pids.items()} | {"loadgen": line["cpu_s"]}
            t1 = time.monotonic()
    await lg.wait()
    if w is None:
        raise RuntimeError("the load generator never reached its steady phase")
    out, _ = await w_task
    report = json.loads(out.decode().strip().splitlines()[-1])
    sent = report["sent"]
    await asyncio.sleep(0.5)
    base.cancel()
    await asyncio.gather(base, return_exceptions=True)
    summary = next(x for x in lines if x["kind"] == "summary")
    cpu = {k: round((cpu1.get(k) or 0) - (cpu0.get(k) or 0), 2) for k in cpu0 if cpu0.get(k) is not None}
    return {
        "sent": sent,
        "window_s": round(t1 - t0, 2),
        "hub": summary["delivery"],
        "hub_deliveries": summary["delivery"]["count"],
        "expected_deliveries": sent * args.subscribers,
        "baseline": {
            "count": len(lat),
            "p50_ms": pct(lat, 50),
            "p99_ms": pct(lat, 99),
            "p999_ms": pct(lat, 99.9),
            "max_ms": max(lat, default=float("nan")),
        },
        "cpu_s": cpu | {"writer": report["cpu_s"]},
        "unexpected": summary["unexpected"],
    }


async def main_async(args: argparse.Namespace, out: Path) -> int:
    from tests.support.hubproc import HubProcess

    raise_nofile()
    args.binary = Path(args.loadgen) if args.loadgen else build_loadgen(out)
    runs: list[dict[str, Any]] = []
    with ignite(args.ignite, 1024) as (addresses, ignite_pid):
        hub = HubProcess(
            "bench-push",
            addresses,
            {COLL: {"cache": CACHE, "value_type": TYPE}},
            hub={"log_level": "WARNING", "workers": args.workers},
            config_dir=out,
        )
        await hub.start(timeout=120)
        try:
            pids: dict[str, int | None] = {"hub": hub.pid, "ignite": ignite_pid}
            for i in range(args.runs):
                progress(f"run {i + 1}/{args.runs}: {args.subscribers} subscribers, {args.rate:g} puts/s")
                r = await one_run(args, hub, addresses[0], pids)
                runs.append(r)
                progress(
                    f"  hub p50/p99/p999 {r['hub']['p50_ms']:.1f}/{r['hub']['p99_ms']:.1f}/"
                    f"{r['hub']['p999_ms']:.1f} ms "
                    f"({r['hub_deliveries']:,} of {r['expected_deliveries']:,}); "
                    f"baseline {r['baseline']['p50_ms']:.1f}/{r['baseline']['p99_ms']:.1f}/"
                    f"{r['baseline']['p999_ms']:.1f} ms; cpu {r['cpu_s']}"
                )
        finally:
            hub.stop()

    def med(get: Any) -> float:
        return statistics.median(get(r) for r in runs)

    header = f"Machine: {machine()}. Command: `{' '.join(sys.argv)}`. Medians of {len(runs)} run(s)."
    rows = [
        "| | p50 | p99 | p999 | delivered |",
        "|---|---|---|---|---|",
        f"| hub: put -> {args.subscribers:,} subscribers | {med(lambda r: r['hub']['p50_ms']):.1f} ms "
        f"| {med(lambda r: r['hub']['p99_ms']):.1f} ms | {med(lambda r: r['hub']['p999_ms']):.1f} ms "
        f"| {med(lambda r: r['hub_deliveries'] / r['expected_deliveries']):.1%} |",
        f"| baseline: put -> raw CQ listener | {med(lambda r: r['baseline']['p50_ms']):.1f} ms "
        f"| {med(lambda r: r['baseline']['p99_ms']):.1f} ms "
        f"| {med(lambda r: r['baseline']['p999_ms']):.1f} ms "
        f"| {med(lambda r: r['baseline']['count'] / r['sent']):.1%} |",
    ]
    names = {"hub": "hub", "ignite": "Ignite", "loadgen": "load generator", "writer": "writer"}
    cpu = ", ".join(
        f"{label} {med(lambda r, k=k: r['cpu_s'].get(k) or 0.0):.1f}"
        for k, label in names.items()
        if all(k in r["cpu_s"] for r in runs)
    )
    window = med(lambda r: r["window_s"])
    rows.append("")
    rows.append(f"CPU seconds over the {window:.0f} s window (medians): {cpu}.")
    md = "\n".join(rows)
    (out / "results.json").write_text(json.dumps({"header": header, "runs": runs}, indent=2))
    (out / "table.md").write_text(header + "\n\n" + md + "\n")
    print(header)
    print(md)
    return 0 if all(sum(r["unexpected"].values()) == 0 for r in runs) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--role", choices=("bench", "writer"), default="bench")
    parser.add_argument("--subscribers", type=int)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--runs", type=int)
    parser.add_argument("--pad", type=int, default=100)
    parser.add_argument("--tail", type=float, default=10.0, help="seconds subscribers stay after the writes")
    parser.add_argument("--workers", type=int, default=0, help="hub worker processes (0: one per core)")
    parser.add_argument("--ignite", help="host:port of a running Ignite node (default: start one)")
    parser.add_argument("--loadgen", help="a built load generator (default: go build bench/loadgen)")
    parser.add_argument("--out", type=Path, default=None, help="default test-artifacts/bench/push/<profile>")
    args = parser.parse_args(argv)
    for name, value in PROFILES[args.profile].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.role == "writer":
        host, port = args.ignite.rsplit(":", 1)
        asyncio.run(writer((host, int(port)), args.rate, args.duration, args.pad))
        return 0
    out: Path = (args.out or REPO / "test-artifacts" / "bench" / "push" / args.profile).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(main_async(args, out))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind: stop the hubs and Ignite
    sys.exit(main())
