"""Run chaos schedules on a fresh real stack (docs/reliability.md).

    .venv/bin/python -m tests.chaos.run --schedules 1000 --seed 7 --profile long
    .venv/bin/python -m tests.chaos.run --schedules 20 --profile restart   # each restarts the cluster
    .venv/bin/python -m tests.chaos.run --schedules 20 --profile restart-persistent   # ... on disk
    .venv/bin/python -m tests.chaos.run --seed 7 --index 12            # replay one generated schedule
    .venv/bin/python -m tests.chaos.run --replay test-artifacts/chaos/fail-7-12.json
    .venv/bin/python -m tests.chaos.run --seed 7 --index 12 --shrink   # and shrink it if it fails

A failing schedule is written to ``test-artifacts/chaos/fail-<seed>-<index>.json`` and printed with
its replay command. The summary (schedules, faults by kind, writes checked, violations) is printed
at the end and written to ``test-artifacts/chaos/summary-<seed>.json`` (``summary-<seed>-from<start>.json``
for a chunk of a long run: ``--start 200 --schedules 100`` runs schedules 200 to 299 of the seed)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.chaos.runner import Outcome, run_schedule
from tests.chaos.schedule import PROFILES, Schedule, generate
from tests.chaos.shrink import shrink
from tests.chaos.stack import Stack
from tests.support.hubproc import ARTIFACTS

OUT = ARTIFACTS / "chaos"


def replay_command(sched: Schedule) -> str:
    return (
        f".venv/bin/python -m tests.chaos.run --seed {sched.seed} --index {sched.index} "
        f"--profile {sched.profile}"
    )


class Tally:
    def __init__(self) -> None:
        self.schedules = 0
        self.failed: list[dict[str, Any]] = []
        self.faults: Counter[str] = Counter()
        self.writes = 0
        self.skipped = 0
        self.seconds = 0.0
        self.healed: Counter[str] = Counter()  # nodes and hubs found dead outside a fault

    def add(self, out: Outcome) -> None:
        self.schedules += 1
        self.faults.update(out.faults)
        self.writes += out.writes
        self.skipped += out.skipped
        self.seconds += out.seconds
        self.healed.update(out.healed)

    def summary(self) -> dict[str, Any]:
        return {
            "schedules": self.schedules,
            "failed": len(self.failed),
            "faults": dict(sorted(self.faults.items())),
            "faults_total": sum(self.faults.values()),
            "writes_checked": self.writes,
            "faults_skipped": self.skipped,
            "restarted_outside_faults": dict(sorted(self.healed.items())),
            "seconds": round(self.seconds, 1),
            "failures": self.failed,
        }


async def run_many(
    schedules: list[Schedule],
    *,
    shrink_budget: int = 0,
    tmp: Path | None = None,
    log: Any = print,
) -> Tally:
    tally = Tally()
    OUT.mkdir(parents=True, exist_ok=True)
    persistent = {PROFILES[s.profile].persistent for s in schedules if s.profile in PROFILES}
    if len(persistent) > 1:
        raise ValueError("schedules of persistent and in-memory profiles need stacks of their own")
    with tempfile.TemporaryDirectory(prefix="chaos-", dir=tmp) as d:
        stack = Stack(Path(d), persistent=persistent == {True})
        try:
            await stack.start()
            for sched in schedules:
                out = await run_schedule(stack, sched)
                tally.add(out)
                status = "ok" if out.ok else "FAIL"
                tag = "" if sched.profile == "quick" else f" ({sched.profile})"
                log(
                    f"chaos {sched.seed}/{sched.index}{tag}: {status} {out.seconds:.1f}s "
                    f"({out.timing[0]:.1f} + {out.timing[1]:.1f} quiescing), {out.writes} writes, "
                    f"faults {dict(out.faults)}"
                    + (f", restarted (died outside a fault): {out.healed}" if out.healed else "")
                    + "".join(f"; {n}" for n in out.notes if n.startswith(("restart:", "SQL table")))
                )
                if out.ok:
                    continue
                path = OUT / f"fail-{sched.seed}-{sched.index}.json"
                path.write_text(sched.to_json())
                if out.observed is not None:  # what the checker saw: every client's data and events
                    seen = dataclasses.asdict(out.observed)
                    seen["ignite"] = {
                        coll: {k: v for k, v in docs.items() if k.startswith(out.observed.prefix + ".")}
                        for coll, docs in out.observed.ignite.items()
                    }
                    seen["notes"] = out.notes
                    (OUT / f"fail-{sched.seed}-{sched.index}-observed.json").write_text(
                        json.dumps(seen, indent=1, default=str)
                    )
                record: dict[str, Any] = {
                    "seed": sched.seed,
                    "index": sched.index,
                    "violations": out.violations[:20],
                    "replay": replay_command(sched),
                    "file": str(path),
                }
                log("  " + "\n  ".join(out.violations[:20]))
                log(f"  replay: {record['replay']}  (schedule in {path})")
                if shrink_budget:

                    async def again(s: Schedule) -> list[str]:
                        return (await run_schedule(stack, s)).violations

                    small, why = await shrink(sched, out.violations, again, shrink_budget)
                    spath = OUT / f"fail-{sched.seed}-{sched.index}-shrunk.json"
                    spath.write_text(small.to_json())
                    record["shrunk"] = {"steps": small.steps, "violations": why[:5], "file": str(spath)}
                    log(f"  shrunk to {len(small.steps)} steps ({spath}): {json.dumps(small.steps)}")
                    log(f"  replay: .venv/bin/python -m tests.chaos.run --replay {spath}")
                tally.failed.append(record)
        finally:
            await stack.stop()
    return tally


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--schedules", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None, help="default: from the clock (printed)")
    ap.add_argument("--index", type=int, default=None, help="run only this schedule of the seed")
    ap.add_argument("--start", type=int, default=0, help="first schedule index")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    ap.add_argument("--replay", type=Path, default=None, help="a schedule file written by a failing run")
    ap.add_argument(
        "--shrink", type=int, nargs="?", const=40, default=0, help="shrink failures (budget of runs)"
    )
    args = ap.parse_args(argv)
    # pyignite logs every refused reconnect while a node is down (a fault we inject): keep it quiet
    logging.getLogger("pyignite").setLevel(logging.CRITICAL)
    profile = PROFILES[args.profile]
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    if args.replay is not None:
        schedules = [Schedule.from_json(args.replay.read_text())]
        schedules[0].tag = f"r{int(time.time()) % 100000}"
    elif args.index is not None:
        schedules = [generate(seed, args.index, profile)]
        schedules[0].tag = f"r{int(time.time()) % 100000}"
    else:
        schedules = [generate(seed, i, profile) for i in range(args.start, args.start + args.schedules)]
    print(f"chaos: {len(schedules)} schedule(s), seed {seed}, profile {args.profile}", flush=True)
    tally = asyncio.run(run_many(schedules, shrink_budget=args.shrink))
    summary = tally.summary()
    OUT.mkdir(parents=True, exist_ok=True)
    # a long profile may be run in chunks (--start): one summary per chunk
    name = f"summary-{seed}" + (f"-from{args.start}" if args.start and args.index is None else "")
    summary["profile"] = args.profile
    summary["indices"] = [s.index for s in schedules][:1] + [s.index for s in schedules][-1:]
    (OUT / f"{name}.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "failures"}), flush=True)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
