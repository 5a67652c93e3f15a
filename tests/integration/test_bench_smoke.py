"""The quick modes of the benchmarks of ``make bench`` (bench/fanout.py, push.py, presence.py,
subsets.py, ingest.py, catchup.py, memory.py, scaleout.py) as smoke tests.

Each checks that its benchmark runs end to end against real hubs on the session's Ignite node and
that its figures are sane (every update delivered to every subscriber, latencies and CPU seconds
measured); none is a speed check: the figures go to docs/benchmarks.md from ``make bench``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(300)


def _bench(name: str, args: list[str], ignite: tuple[str, int]) -> dict[str, Any]:
    """Run ``python -m bench.<name> --profile quick ...`` on ``ignite``; its results.json."""
    out = REPO / "test-artifacts" / "bench" / name / "smoke"
    cmd = [sys.executable, "-m", f"bench.{name}", "--profile", "quick", *args]
    cmd += ["--ignite", f"{ignite[0]}:{ignite[1]}", "--out", str(out)]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=280)
    assert run.returncode == 0, f"{name} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    result: dict[str, Any] = json.loads((out / "results.json").read_text())
    result["table"] = (out / "table.md").read_text()
    return result


def test_fanout_quick_profile(ignite_addresses: list[tuple[str, int]]) -> None:
    result = _bench("fanout", ["--servers", "synchub", "--workers", "1"], ignite_addresses[0])
    [r] = result["runs"]
    assert r["server"] == "synchub" and r["subscribers"] == 50 and r["exit"] == 0
    assert r["unexpected"] == {}
    # every update acknowledged reached every subscriber (the window may cut the last few); judged
    # against what the hub acknowledged, not the offered rate: a loaded box acknowledges fewer
    acked = r["ack_ms"]["count"]
    assert acked > 0
    assert 0.9 * acked * r["subscribers"] <= r["latency_ms"]["count"] <= (acked + 2) * r["subscribers"]
    assert 0 < r["latency_ms"]["p50_ms"] <= r["latency_ms"]["p99_ms"]
    assert r["cpu_s"]["server"] > 0 and r["cpu_s"]["loadgen"] > 0
    assert r["events_per_server_cpu_s"] > 0
    assert "50 x 50" in result["table"]


def test_push_quick_profile(ignite_addresses: list[tuple[str, int]]) -> None:
    [r] = _bench("push", ["--workers", "1"], ignite_addresses[0])["runs"]
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
    [r] = _bench("presence", [], ignite_addresses[0])["runs"]
    assert r["unexpected"] == {} and r["exit"] == 0 and r["updates_sent"] > 0
    # 40 members in 4 rooms: each update reaches the 9 others, on both hubs (a member's updates may
    # be merged into its latest state, never duplicated)
    assert r["updates_expected"] == 9 * r["updates_sent"]
    assert 0.9 * r["updates_expected"] <= r["updates_seen"] <= r["updates_expected"]
    assert r["same_hub"]["count"] > 0 and r["cross_hub"]["count"] > 0 and r["joined"]["count"] > 0
    assert 0 < r["cross_hub"]["p50_ms"] <= r["cross_hub"]["p99_ms"]


def test_subsets_quick_profile(ignite_addresses: list[tuple[str, int]]) -> None:
    args = ["--docs", "5000", "--outside", "300", "--duration", "5"]
    result = _bench("subsets", args, ignite_addresses[0])
    [r] = result["sync"]["runs"]
    assert r["subset_first"]["docs"] == 5 and r["subset_first"]["mode"] == "snapshot"  # team t42 of 5,000
    # the subset's 100 changes, none of the 300 outside (moves: docs/sync-model.md §7)
    assert r["catchup"]["mode"] == "catchup" and r["catchup"]["docs"] == 100
    assert r["whole_first"]["docs"] >= 5000
    assert [(w["docs"], w["mode"]) for w in r["warm"]] == [(5, "snapshot")] * 3  # teams t100-t102, hub warm
    for case in ("whole", "filters"):
        [c] = result["cost"][case]
        assert c["busy"]["unexpected"] == {} and c["busy"]["changes"] > 0
        assert c["busy"]["delivered"] >= c["busy"]["expected"] > 0
        # the idle cost subtracted is measured: on a busy machine a short run's difference is noise
        assert c["busy"]["hub_cpu_s"] > 0 and math.isfinite(c["per_change_ms"])


def test_ingest_quick_profile() -> None:
    # its own Ignite node: the REST API (the baseline) is off in the test fixtures' nodes
    out = REPO / "test-artifacts" / "bench" / "ingest" / "smoke"
    cmd = [sys.executable, "-m", "bench.ingest", "--profile", "quick", "--out", str(out)]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=280)
    assert run.returncode == 0, f"ingest failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    result = json.loads((out / "results.json").read_text())
    for key in ("rest", "hub_1", "hub_box"):
        [r] = result[key]
        assert r["exit"] == 0 and r["unexpected"] == {}, (key, r)
        assert r["acked"] > 0 and r["ack_ms"]["p50_ms"] > 0
    assert result["hub_1"][0]["cpu_s"]["hub"] > 0 and result["rest"][0]["cpu_s"]["ignite"] > 0


def test_catchup_quick_profile(ignite_addresses: list[tuple[str, int]]) -> None:
    result = _bench("catchup", [], ignite_addresses[0])
    [c] = result["catchup"]["2000"]
    # the 200 changed documents come back, from the cursor (a watermark lagging the fill's last
    # writes may add a few of those, never a snapshot of the 2,000)
    assert c["mode"] == "catchup" and 200 <= c["docs"] < 400, c
    # (its hub CPU is read from /proc in clock ticks of 10 ms: a 200-document catch-up may take less)
    assert 0 < c["sub_to_synced_s"] <= c["s"] and c["cpu_s"]["hub"] >= 0
    # the JS client's first sync in Node (fake-indexeddb) and in Chromium, read back from its store
    assert [f["where"] for f in result["first"]] == ["node", "chromium"]
    for f in result["first"]:
        assert f["stored"] == 2000 and f["docs"] >= 2000 and f["trouble"] is None, f
        assert f["docsPerSec"] > 0 and f["cpu_s"]["client"] > 0 and f["cpu_s"]["hub"] > 0
    [s] = result["storm"]
    assert s["exit"] == 0 and s["unexpected"] == {} and s["synced"] == 50, s
    assert s["pages"] >= 50 and 0 < s["sync_ms"]["p50_ms"] <= s["sync_ms"]["max_ms"] <= 1000 * s["s"] + 50
    assert "50 clients at once" in result["table"]


def test_memory_quick_profile(ignite_addresses: list[tuple[str, int]]) -> None:
    [r] = _bench("memory", [], ignite_addresses[0])["runs"]
    assert r["exit"] == 0 and r["unexpected"] == {} and r["open"] == 500, r
    # every connection is a socket of the hub while the RSS is read; the growth is the connections'
    assert r["fds_after"] >= r["fds_before"] + 500
    assert r["rss_after"] > r["rss_before"] > 0
    assert 0 < r["bytes_per_conn"] < 1 << 20


def test_scaleout_quick_profile(ignite_addresses: list[tuple[str, int]]) -> None:
    result = _bench("scaleout", [], ignite_addresses[0])
    for key in ("fanout_1", "fanout_2", "ingest_1", "ingest_2"):
        [r] = result[key]
        assert r["exit"] == 0 and r["unexpected"] == {}, (key, r)
        assert len(r["loadgens"]) == r["hubs"] == int(key[-1])
    one, two = result["fanout_1"][0], result["fanout_2"][0]
    assert one["delivered_per_s"] >= 0.8 * one["offered_per_s"] and 0 < one["p50_ms"] <= one["p99_ms"]
    # with two hubs each load generator's subscribers get the other hub's updates too (through
    # Ignite): about twice what its own publisher sent
    for lg in two["loadgens"]:
        assert lg["delivered_per_s"] >= 1.5 * lg["offered_per_s"], lg
    assert two["hub_cpu_per_s"] > 0
    for key in ("ingest_1", "ingest_2"):
        assert all(lg["acked"] > 0 for lg in result[key][0]["loadgens"])
    assert "**2 / 1**" in result["table"]
