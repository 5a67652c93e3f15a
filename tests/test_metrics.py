from __future__ import annotations

import asyncio
import os
import re
import threading

import pytest

from hub.metrics import (
    CONTENT_TYPE,
    OVERFLOW,
    Counter,
    Gauge,
    Histogram,
    HubMetrics,
    Registry,
)
from hub.procstats import process_usage
from hub.store.ignite.cursors import CursorTally

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[dict[str, tuple[str, str]], Samples]:
    """A strict reader of the text format 0.0.4: (name -> (type, help), sample -> value)."""
    assert text.endswith("\n")
    meta: dict[str, list[str]] = {}
    samples: Samples = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            meta.setdefault(name, ["", ""])[1] = help_text
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert kind in {"counter", "gauge", "histogram"}
            meta.setdefault(name, ["", ""])[0] = kind
        else:
            match = _SAMPLE.match(line)
            assert match, line
            name, _, raw_labels, value = match.groups()
            labels: list[tuple[str, str]] = []
            if raw_labels:
                consumed = 0
                for lm in _LABEL.finditer(raw_labels):
                    assert lm.start() == consumed, line
                    consumed = lm.end()
                    unescaped = lm.group(2).replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
                    labels.append((lm.group(1), unescaped))
                assert consumed == len(raw_labels), line
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in meta or base in meta, f"sample {name} before its TYPE"
            key = (name, frozenset(labels))
            assert key not in samples, f"duplicate sample {line}"
            samples[key] = float(value)
    return {k: (v[0], v[1]) for k, v in meta.items()}, samples


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_content_type() -> None:
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")


def test_counter_gauge_histogram_render_and_parse() -> None:
    registry = Registry()
    requests = registry.counter("app_requests_total", "Requests.", ("status",))
    requests.labels("ok").inc()
    requests.labels(status="ok").inc(2)
    requests.labels("error").inc()
    temp = registry.gauge("app_temperature", "Temperature.\nIn C.")
    temp.set(21.5)
    temp.inc()
    temp.dec(0.5)
    latency = registry.histogram("app_latency_seconds", "Latency.", (0.1, 0.5, 1.0))
    for value in (0.05, 0.1, 0.3, 2.0):
        latency.observe(value)

    meta, samples = parse(registry.render())
    assert meta["app_requests_total"] == ("counter", "Requests.")
    assert meta["app_temperature"] == ("gauge", "Temperature.\\nIn C.")
    assert meta["app_latency_seconds"][0] == "histogram"
    assert sample(samples, "app_requests_total", status="ok") == 3
    assert sample(samples, "app_requests_total", status="error") == 1
    assert sample(samples, "app_temperature") == 22
    buckets = [sample(samples, "app_latency_seconds_bucket", le=le) for le in ("0.1", "0.5", "1", "+Inf")]
    assert buckets == [2, 3, 3, 4]  # cumulative; 0.1 falls in le="0.1"
    assert sample(samples, "app_latency_seconds_count") == 4
    assert sample(samples, "app_latency_seconds_sum") == pytest.approx(2.45)


def test_label_values_are_escaped() -> None:
    registry = Registry()
    c = registry.counter("x_total", "X.", ("reason",))
    weird = 'a "quoted"\\back\nslash'
    c.labels(weird).inc()
    _, samples = parse(registry.render())
    assert sample(samples, "x_total", reason=weird) == 1


def test_special_values() -> None:
    registry = Registry()
    g = registry.gauge("g", "G.", ("k",))
    g.labels("inf").set(float("inf"))
    g.labels("nan").set(float("nan"))
    g.labels("neg").set(float("-inf"))
    g.labels("big").set(1e20)
    text = registry.render()
    assert 'g{k="inf"} +Inf' in text and 'g{k="nan"} NaN' in text and 'g{k="neg"} -Inf' in text
    assert 'g{k="big"} 1e+20' in text
    parse(text)


def test_registries_are_independent() -> None:
    a, b = HubMetrics(), HubMetrics()
    a.frames_in.inc()
    assert sample(parse(a.render())[1], "synchub_frames_in_total") == 1
    assert sample(parse(b.render())[1], "synchub_frames_in_total") == 0  # unlabelled: 0 from the start


def test_hub_metrics_predefined() -> None:
    m = HubMetrics()
    m.connections.inc()
    m.connections.inc()
    m.connections.dec()
    m.frames_in.inc()
    m.frames_out.inc(3)
    m.bytes_in.inc(100)
    m.bytes_out.inc(300)
    m.events_in.inc()
    m.events_out.inc(2)
    m.queue_depth.observe(7)
    m.queue_depth_max.set_max(7)
    m.queue_depth_max.set_max(3)
    m.push_lag_seconds.observe(0.004)
    m.catchup_seconds.labels("snapshot").observe(1.2)
    m.resyncs.labels("slow").inc()
    m.dedup_hits.inc()
    m.conflicts.labels(policy="lww", outcome="conflict").inc()
    m.auth_failures.labels("expired").inc()
    m.mutations.labels("ok").inc()
    m.rate_limited.labels("messages").inc()
    m.store_errors.inc()
    meta, samples = parse(m.render())
    expected = {
        "synchub_connections": "gauge",
        "synchub_frames_in_total": "counter",
        "synchub_frames_out_total": "counter",
        "synchub_batched_frames_total": "counter",
        "synchub_bytes_in_total": "counter",
        "synchub_bytes_out_total": "counter",
        "synchub_events_in_total": "counter",
        "synchub_events_out_total": "counter",
        "synchub_queue_depth": "histogram",
        "synchub_queue_depth_max": "gauge",
        "synchub_push_lag_seconds": "histogram",
        "synchub_catchup_seconds": "histogram",
        "synchub_resyncs_total": "counter",
        "synchub_dedup_hits_total": "counter",
        "synchub_conflicts_total": "counter",
        "synchub_auth_failures_total": "counter",
        "synchub_mutations_total": "counter",
        "synchub_rate_limited_total": "counter",
        "synchub_store_errors_total": "counter",
        "synchub_feed_live": "gauge",
        "synchub_clock_skew_seconds": "gauge",
        "synchub_events_repaired_total": "counter",
        "synchub_process_resident_memory_bytes": "gauge",
        "synchub_process_open_fds": "gauge",
        "synchub_python_heap_blocks": "gauge",
        "synchub_asyncio_tasks": "gauge",
        "synchub_ignite_cursors": "gauge",
    }
    assert {name: kind for name, (kind, _) in meta.items()} == expected
    assert sample(samples, "synchub_connections") == 1
    assert sample(samples, "synchub_queue_depth_max") == 7
    assert sample(samples, "synchub_queue_depth_bucket", le="10") == 1
    assert sample(samples, "synchub_catchup_seconds_count", mode="snapshot") == 1
    assert sample(samples, "synchub_conflicts_total", policy="lww", outcome="conflict") == 1
    assert sample(samples, "synchub_auth_failures_total", reason="expired") == 1
    assert sample(samples, "synchub_push_lag_seconds_bucket", le="0.005") == 1


def test_label_cardinality_is_bounded() -> None:
    c = Counter("c_total", "C.", ("k",), max_series=3)
    for i in range(10):
        c.labels(str(i)).inc()
    registry = Registry()
    registry.register(c)
    _, samples = parse(registry.render())
    assert len(samples) == 4
    assert sample(samples, "c_total", k=OVERFLOW) == 7


def test_misuse() -> None:
    registry = Registry()
    registry.counter("a_total", "A.")
    with pytest.raises(ValueError, match="already registered"):
        registry.counter("a_total", "A.")
    with pytest.raises(ValueError, match="_total"):
        Counter("a", "A.")
    with pytest.raises(ValueError, match="bad metric name"):
        Gauge("1a", "A.")
    with pytest.raises(ValueError, match="bad label"):
        Gauge("a", "A.", ("le",))
    with pytest.raises(ValueError, match="bad label"):
        Histogram("h", "H.", (1,), ("__x",))
    with pytest.raises(ValueError, match="increasing"):
        Histogram("h", "H.", (1, 1))
    with pytest.raises(ValueError, match="increasing"):
        Histogram("h", "H.", ())
    labelled = Counter("l_total", "L.", ("a", "b"))
    with pytest.raises(ValueError, match=r"use \.labels"):
        labelled.inc()
    with pytest.raises(ValueError, match="takes labels"):
        labelled.labels("x")
    with pytest.raises(ValueError, match="missing label"):
        labelled.labels(a="x")
    with pytest.raises(ValueError, match="unknown labels"):
        labelled.labels(a="x", b="y", c="z")
    with pytest.raises(ValueError, match="not both"):
        labelled.labels("x", b="y")
    with pytest.raises(ValueError, match="only goes up"):
        labelled.labels("x", "y").inc(-1)
    Histogram("h", "H.", (1, float("inf")))  # +Inf is implicit and accepted


def test_thread_safety() -> None:
    m = HubMetrics()

    def work() -> None:
        for _ in range(10_000):
            m.frames_in.inc()
            m.push_lag_seconds.observe(0.01)
            m.mutations.labels("ok").inc()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _, samples = parse(m.render())
    assert sample(samples, "synchub_frames_in_total") == 40_000
    assert sample(samples, "synchub_push_lag_seconds_count") == 40_000
    assert sample(samples, "synchub_mutations_total", status="ok") == 40_000


def test_process_usage_reads_proc() -> None:
    rss, fds = process_usage()
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    assert rss is not None and abs(rss - pages * os.sysconf("SC_PAGE_SIZE")) < 64 << 20
    assert fds is not None and abs(fds - len(os.listdir("/proc/self/fd"))) <= 2
    r, w = os.pipe()
    try:
        assert process_usage()[1] == fds + 2
    finally:
        os.close(r)
        os.close(w)
    assert process_usage(pid=2**22 + 7) == (None, None)  # above pid_max: no such process


async def test_sample_sets_scrape_time_gauges() -> None:
    m = HubMetrics()
    sleepers = [asyncio.create_task(asyncio.sleep(30)) for _ in range(5)]
    try:
        m.sample({"sql": 2, "scan": 0, "cq": 1})
        _, samples = parse(m.render())
        tasks_now = len(asyncio.all_tasks())
    finally:
        for t in sleepers:
            t.cancel()
        await asyncio.gather(*sleepers, return_exceptions=True)
    assert sample(samples, "synchub_asyncio_tasks") == tasks_now >= 6  # this test's task + 5
    assert sample(samples, "synchub_process_resident_memory_bytes") > 1 << 20
    assert sample(samples, "synchub_process_open_fds") >= 3
    assert sample(samples, "synchub_python_heap_blocks") > 10_000  # an interpreter with the hub loaded
    assert sample(samples, "synchub_ignite_cursors", kind="sql") == 2
    assert sample(samples, "synchub_ignite_cursors", kind="scan") == 0
    assert sample(samples, "synchub_ignite_cursors", kind="cq") == 1
    m.sample()  # no store cursors: the last values stay
    _, samples = parse(m.render())
    assert sample(samples, "synchub_ignite_cursors", kind="cq") == 1


def test_sample_outside_a_loop_skips_tasks() -> None:
    m = HubMetrics()
    m.sample()
    _, samples = parse(m.render())
    assert sample(samples, "synchub_asyncio_tasks") == 0
    assert sample(samples, "synchub_process_open_fds") > 0


def test_cursor_tally_counts_while_held() -> None:
    tally = CursorTally()
    with tally.holding("sql"), tally.holding("sql"):
        assert tally.open == {"sql": 2, "scan": 0, "cq": 0}
    with pytest.raises(RuntimeError), tally.holding("cq"):
        assert tally.open["cq"] == 1
        raise RuntimeError("query failed")
    assert tally.open == {"sql": 0, "scan": 0, "cq": 0}
    assert tally.opened == {"sql": 2, "scan": 0, "cq": 1}
