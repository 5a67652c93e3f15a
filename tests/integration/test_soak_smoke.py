"""The connection soak's quick profile (``python -m bench.soak --profile quick``) as a smoke test.

Builds the Go load generator (``bench/loadgen``, ``go build``), starts a hub on the session's Ignite
node and runs 300 connections with 20 connects/disconnects per second and a steady write load for
30 s. It checks that the soak machinery works end to end and that nothing unexpected happened to any
connection or mutation; it is not a speed check and does not judge the slopes (30 s is too short:
the full profile, ``make soak``, does, docs/reliability.md).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(600)


def test_soak_quick_profile(ignite_addresses: list[tuple[str, int]], tmp_path: Path) -> None:
    host, port = ignite_addresses[0]
    out = REPO / "test-artifacts" / "soak-conn" / "smoke"
    prefix = f"soak_{uuid.uuid4().hex[:8]}"
    args = ["--profile", "quick", "--ignite", f"{host}:{port}", "--prefix", prefix, "--out", str(out)]
    run = subprocess.run(
        [sys.executable, "-m", "bench.soak", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert run.returncode == 0, f"soak failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"

    summary = json.loads((out / "summary.json").read_text())
    loadgen = summary["loadgen"]
    assert loadgen["unexpected_total"] == 0, loadgen["unexpected"]
    counts = loadgen["counts"]
    assert counts["synced"] >= 300 and counts.get("closed_graceful", 0) > 0
    assert counts.get("closed_abrupt", 0) > 0 and counts.get("ack:ok", 0) > 0
    assert counts["ack:ok"] == counts["mut_sent"]  # every mutation acknowledged, all "ok"
    assert summary["hub_alive_at_end"]
    assert {t["metric"] for t in summary["trends"]} >= {"hub_rss_bytes", "hub_fds", "asyncio_tasks"}

    with open(out / "samples.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 6
    phases = {r["phase"] for r in rows}
    assert {"idle", "steady"} <= phases
    steady = [r for r in rows if r["phase"] == "steady"]
    assert all(float(r["hub_rss_bytes"]) > 0 and float(r["hub_fds"]) > 0 for r in steady)
    assert all(float(r["asyncio_tasks"]) > 0 and r["ignite_cursors"] != "" for r in steady)
