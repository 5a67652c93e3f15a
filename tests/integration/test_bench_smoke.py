"""The fan-out benchmark's quick mode (``python -m bench.fanout --profile quick``) as a smoke test.

It checks that the benchmark runs end to end against a real hub on the session's Ignite node and
that its figures are sane (every update delivered to every subscriber, latencies and CPU seconds
measured); it is not a speed check: the figures go to docs/benchmarks.md from ``make bench``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(300)


def test_fanout_quick_profile(ignite_addresses: list[tuple[str, int]]) -> None:
    host, port = ignite_addresses[0]
    out = REPO / "test-artifacts" / "bench" / "fanout" / "smoke"
    args = ["--profile", "quick", "--servers", "synchub", "--workers", "1", "--ignite", f"{host}:{port}"]
    run = subprocess.run(
        [sys.executable, "-m", "bench.fanout", *args, "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, f"fanout failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"

    result = json.loads((out / "results.json").read_text())
    [r] = result["runs"]
    assert r["server"] == "synchub" and r["subscribers"] == 50 and r["exit"] == 0
    assert r["unexpected"] == {}
    # every update acknowledged reached every subscriber (the window may cut the last few)
    assert r["latency_ms"]["count"] >= 0.9 * r["offered_per_s"] * r["window_s"]
    assert 0 < r["latency_ms"]["p50_ms"] <= r["latency_ms"]["p99_ms"]
    assert r["cpu_s"]["server"] > 0 and r["cpu_s"]["loadgen"] > 0
    assert r["events_per_server_cpu_s"] > 0
    assert "50 x 50" in (out / "table.md").read_text()


def test_push_quick_profile(ignite_addresses: list[tuple[str, int]]) -> None:
    host, port = ignite_addresses[0]
    out = REPO / "test-artifacts" / "bench" / "push" / "smoke"
    args = ["--profile", "quick", "--workers", "1", "--ignite", f"{host}:{port}", "--out", str(out)]
    run = subprocess.run(
        [sys.executable, "-m", "bench.push", *args], cwd=REPO, capture_output=True, text=True, timeout=240
    )
    assert run.returncode == 0, f"push failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"

    [r] = json.loads((out / "results.json").read_text())["runs"]
    assert r["sent"] > 0 and r["unexpected"] == {}
    # every external put reached every subscriber through the hub (a change may be sent twice: an
    # external write's event and the sweep that stamps it can both find it; clients keep the
    # higher version), and the baseline listener
    assert r["expected_deliveries"] == r["sent"] * 20
    assert r["expected_deliveries"] <= r["hub_deliveries"] <= 1.1 * r["expected_deliveries"]
    assert r["baseline"]["count"] == r["sent"]
    assert 0 < r["hub"]["p50_ms"] <= r["hub"]["p99_ms"] and 0 < r["baseline"]["p50_ms"]
    assert r["cpu_s"]["hub"] > 0 and r["cpu_s"]["writer"] > 0


def test_presence_quick_profile(ignite_addresses: list[tuple[str, int]]) -> None:
    host, port = ignite_addresses[0]
    out = REPO / "test-artifacts" / "bench" / "presence" / "smoke"
    args = ["--profile", "quick", "--ignite", f"{host}:{port}", "--out", str(out)]
    run = subprocess.run(
        [sys.executable, "-m", "bench.presence", *args], cwd=REPO, capture_output=True, text=True, timeout=240
    )
    assert run.returncode == 0, f"presence failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"

    [r] = json.loads((out / "results.json").read_text())["runs"]
    assert r["unexpected"] == {} and r["exit"] == 0 and r["updates_sent"] > 0
    # 40 members in 4 rooms: each update reaches the 9 others, on both hubs (a member's updates may
    # be merged into its latest state, never duplicated)
    assert r["updates_expected"] == 9 * r["updates_sent"]
    assert 0.9 * r["updates_expected"] <= r["updates_seen"] <= r["updates_expected"]
    assert r["same_hub"]["count"] > 0 and r["cross_hub"]["count"] > 0 and r["joined"]["count"] > 0
    assert 0 < r["cross_hub"]["p50_ms"] <= r["cross_hub"]["p99_ms"]


def test_subsets_quick_profile(ignite_addresses: list[tuple[str, int]]) -> None:
    host, port = ignite_addresses[0]
    out = REPO / "test-artifacts" / "bench" / "subsets" / "smoke"
    args = ["--profile", "quick", "--docs", "5000", "--outside", "300", "--duration", "5"]
    args += ["--ignite", f"{host}:{port}"]
    run = subprocess.run(
        [sys.executable, "-m", "bench.subsets", *args, "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert run.returncode == 0, f"subsets failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"

    result = json.loads((out / "results.json").read_text())
    [r] = result["sync"]["runs"]
    assert r["subset_first"]["docs"] == 5 and r["subset_first"]["mode"] == "snapshot"  # team t42 of 5,000
    # the subset's 100 changes, none of the 300 outside (moves: docs/sync-model.md §7)
    assert r["catchup"]["mode"] == "catchup" and r["catchup"]["docs"] == 100
    assert r["whole_first"]["docs"] >= 5000
    for case in ("whole", "filters"):
        [c] = result["cost"][case]
        assert c["busy"]["unexpected"] == {} and c["busy"]["changes"] > 0
        assert c["busy"]["delivered"] >= c["busy"]["expected"] > 0
        # the idle cost subtracted is measured: on a busy machine a short run's difference is noise
        assert c["busy"]["hub_cpu_s"] > 0 and math.isfinite(c["per_change_ms"])
