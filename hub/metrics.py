"""Prometheus metrics without dependencies: counters, gauges, fixed-bucket histograms.

A :class:`Registry` belongs to one app (no global state, so tests and several apps in one
process do not mix); :meth:`Registry.render` produces the text exposition format 0.0.4, served
with :data:`CONTENT_TYPE`. Updates take a lock, so they are safe from worker threads too.
:class:`HubMetrics` predefines what the hub records.
"""

from __future__ import annotations

import asyncio
import math
import re
import sys
import threading
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Generic, TypeVar

from hub.procstats import process_usage

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
OVERFLOW: Final = "__overflow__"  # label value used once a family has max_series children

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SLOW_BUCKETS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
DEPTH_BUCKETS: Final = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape_label(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Child:
    __slots__ = ("_lock", "value")

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self.value = 0.0


class CounterChild(_Child):
    __slots__ = ()

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        with self._lock:
            self.value += amount


class GaugeChild(_Child):
    __slots__ = ()

    def set(self, value: float) -> None:
        with self._lock:
            self.value = float(value)

    def inc(self, amount: float = 1.0) -> None:
        with self._lock:
            self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        with self._lock:
            self.value -= amount

    def set_max(self, value: float) -> None:
        """Keep the largest value seen (e.g. the deepest queue since start)."""
        with self._lock:
            self.value = max(self.value, float(value))


class HistogramChild:
    __slots__ = ("_lock", "bounds", "count", "counts", "sum")

    def __init__(self, lock: threading.Lock, bounds: tuple[float, ...]) -> None:
        self._lock = lock
        self.bounds = bounds
        self.counts = [0] * len(bounds)  # per bucket, not cumulative
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float, times: int = 1) -> None:
        """Record ``value`` (``times`` observations of it: the copies of one broadcast)."""
        i = bisect_left(self.bounds, value)  # the first bucket whose bound is >= value
        with self._lock:
            if i < len(self.counts):
                self.counts[i] += times
            self.count += times
            self.sum += value * times


C = TypeVar("C", CounterChild, GaugeChild, HistogramChild)


class Family(Generic[C]):
    """A metric with a fixed set of label names; ``labels(...)`` gives one time series."""

    kind: str = ""

    def __init__(self, name: str, help: str, labels: Sequence[str] = (), *, max_series: int = 1000) -> None:
        if not _NAME.match(name):
            raise ValueError(f"bad metric name {name!r}")
        for label in labels:
            if not _LABEL.match(label) or label.startswith("__") or label == "le":
                raise ValueError(f"bad label name {label!r}")
        self.name = name
        self.help = help
        self.label_names = tuple(labels)
        self.max_series = max_series
        self._lock = threading.Lock()
        self._children: dict[tuple[str, ...], C] = {}
        self._single: C | None = None
        if not self.label_names:
            self._children[()] = self._single = self._new()  # exported as 0 from the start

    def _new(self) -> C:
        raise NotImplementedError

    def labels(self, *values: str, **named: str) -> C:
        if named:
            if values:
                raise ValueError("pass label values by position or by name, not both")
            try:
                values = tuple(named[n] for n in self.label_names)
            except KeyError as exc:
                raise ValueError(f"{self.name}: missing label {exc}") from None
            if len(named) != len(self.label_names):
                raise ValueError(f"{self.name}: unknown labels {sorted(set(named) - set(self.label_names))}")
        if len(values) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}")
        key = tuple(str(v) for v in values)
        child = self._children.get(key)
        if child is None:
            with self._lock:
                if key not in self._children and len(self._children) >= self.max_series:
                    key = (OVERFLOW,) * len(self.label_names)
                child = self._children.get(key)
                if child is None:
                    child = self._children[key] = self._new()
        return child

    def _only(self) -> C:
        # Hot (bumped per frame sent): an unlabelled metric's one child, made in __init__.
        if self._single is None:
            raise ValueError(f"{self.name} has labels {self.label_names}: use .labels(...)")
        return self._single

    def _samples(self) -> Iterable[str]:
        raise NotImplementedError

    def _snapshot(self) -> list[tuple[tuple[str, ...], C]]:
        with self._lock:
            return sorted(self._children.items(), key=lambda item: item[0])

    def render(self) -> str:
        lines = [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]
        lines.extend(self._samples())
        return "\n".join(lines) + "\n"


class Counter(Family[CounterChild]):
    kind = "counter"

    def __init__(self, name: str, help: str, labels: Sequence[str] = (), *, max_series: int = 1000) -> None:
        if not name.endswith("_total"):
            raise ValueError(f"counter {name!r} must end in _total")
        super().__init__(name, help, labels, max_series=max_series)

    def _new(self) -> CounterChild:
        return CounterChild(self._lock)

    def inc(self, amount: float = 1.0) -> None:
        self._only().inc(amount)

    def _samples(self) -> Iterable[str]:
        for key, child in self._snapshot():
            yield f"{self.name}{_labels(self.label_names, key)} {_fmt(child.value)}"


class Gauge(Family[GaugeChild]):
    kind = "gauge"

    def _new(self) -> GaugeChild:
        return GaugeChild(self._lock)

    def set(self, value: float) -> None:
        self._only().set(value)

    def inc(self, amount: float = 1.0) -> None:
        self._only().inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        self._only().dec(amount)

    def set_max(self, value: float) -> None:
        self._only().set_max(value)

    def _samples(self) -> Iterable[str]:
        for key, child in self._snapshot():
            yield f"{self.name}{_labels(self.label_names, key)} {_fmt(child.value)}"


class Histogram(Family[HistogramChild]):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        help: str,
        buckets: Sequence[float],
        labels: Sequence[str] = (),
        *,
        max_series: int = 1000,
    ) -> None:
        bounds = tuple(float(b) for b in buckets if not math.isinf(b))
        if not bounds or list(bounds) != sorted(set(bounds)):
            raise ValueError(f"{name}: buckets must be strictly increasing")
        self.bounds = bounds
        super().__init__(name, help, labels, max_series=max_series)

    def _new(self) -> HistogramChild:
        return HistogramChild(self._lock, self.bounds)

    def observe(self, value: float, times: int = 1) -> None:
        self._only().observe(value, times)

    def _samples(self) -> Iterable[str]:
        for key, child in self._snapshot():
            with self._lock:
                counts, total, count = list(child.counts), child.sum, child.count
            running = 0
            for bound, n in zip(self.bounds, counts, strict=True):
                running += n
                le = f'le="{_fmt(bound)}"'
                yield f"{self.name}_bucket{_labels(self.label_names, key, le)} {running}"
            inf = _labels(self.label_names, key, 'le="+Inf"')
            yield f"{self.name}_bucket{inf} {count}"
            yield f"{self.name}_sum{_labels(self.label_names, key)} {_fmt(total)}"
            yield f"{self.name}_count{_labels(self.label_names, key)} {count}"


C_F = TypeVar("C_F", Counter, Gauge, Histogram)


class Registry:
    """The metrics of one app."""

    def __init__(self) -> None:
        self._families: dict[str, Family[CounterChild] | Family[GaugeChild] | Family[HistogramChild]] = {}
        self._lock = threading.Lock()

    def register(self, family: C_F) -> C_F:
        """Add a metric built elsewhere (e.g. with a custom ``max_series``)."""
        with self._lock:
            if family.name in self._families:
                raise ValueError(f"metric {family.name} already registered")
            self._families[family.name] = family
        return family

    def counter(self, name: str, help: str, labels: Sequence[str] = ()) -> Counter:
        return self.register(Counter(name, help, labels))

    def gauge(self, name: str, help: str, labels: Sequence[str] = ()) -> Gauge:
        return self.register(Gauge(name, help, labels))

    def histogram(
        self, name: str, help: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> Histogram:
        return self.register(Histogram(name, help, buckets, labels))

    def render(self) -> str:
        """The text exposition format 0.0.4 of every metric, sorted by name."""
        with self._lock:
            families = sorted(self._families.values(), key=lambda f: f.name)
        return "".join(f.render() for f in families)


class HubMetrics:
    """Every metric the hub records, registered in ``registry`` (a new one by default).

    Names carry the ``synchub_`` prefix. Label values must come from small fixed sets (reasons,
    statuses, policies), never from user input: each family keeps at most 1000 series and folds
    the rest into ``__overflow__``.
    """

    def __init__(self, registry: Registry | None = None) -> None:
        r = self.registry = registry if registry is not None else Registry()
        p = "synchub_"
        self.connections = r.gauge(p + "connections", "Open client WebSocket connections.")
        self.frames_in = r.counter(p + "frames_in_total", "Frames received from clients.")
        self.frames_out = r.counter(p + "frames_out_total", "Frames sent to clients.")
        self.batched_frames = r.counter(p + "batched_frames_total", "Frames sent several to a message.")
        self.bytes_in = r.counter(p + "bytes_in_total", "Payload bytes received from clients.")
        self.bytes_out = r.counter(p + "bytes_out_total", "Payload bytes sent to clients.")
        self.events_in = r.counter(p + "events_in_total", "Change events received from Ignite.")
        self.events_out = r.counter(p + "events_out_total", "Changes sent to clients (per client).")
        self.queue_depth = r.histogram(
            p + "queue_depth", "Per-connection send queue depth, observed at each enqueue.", DEPTH_BUCKETS
        )
        self.queue_depth_max = r.gauge(p + "queue_depth_max", "Deepest send queue since start.")
        self.push_lag_seconds = r.histogram(
            p + "push_lag_seconds",
            "Ignite event to frame written.",
            LATENCY_BUCKETS,
        )
        self.catchup_seconds = r.histogram(
            p + "catchup_seconds", "From sub to synced (snapshot or catch-up).", SLOW_BUCKETS, ("mode",)
        )
        self.resyncs = r.counter(p + "resyncs_total", "resync messages sent.", ("reason",))
        self.dedup_hits = r.counter(p + "dedup_hits_total", "Mutations answered from the dedup record.")
        self.conflicts = r.counter(
            p + "conflicts_total", "Mutations that met a newer document.", ("policy", "outcome")
        )
        self.auth_failures = r.counter(p + "auth_failures_total", "Failed authentications.", ("reason",))
        self.mutations = r.counter(p + "mutations_total", "Mutation results by status.", ("status",))
        self.rate_limited = r.counter(p + "rate_limited_total", "Limit trips.", ("kind",))
        self.store_errors = r.counter(p + "store_errors_total", "Errors from the Ignite store.")
        self.events_repaired = r.counter(
            p + "events_repaired_total",
            "Committed changes a feed sent when settling because their event had not come (late or lost).",
        )
        self.clock_skew_seconds = r.gauge(
            p + "clock_skew_seconds", "How far other hubs' versions run ahead of this hub's clock."
        )
        self.feed_live = r.gauge(
            p + "feed_live", "1 while the collection's live feed (continuous query) is up.", ("coll",)
        )

        self.process_rss_bytes = r.gauge(
            p + "process_resident_memory_bytes", "Resident set size of the hub process (at scrape time)."
        )
        self.process_fds = r.gauge(p + "process_open_fds", "Open file descriptors of the hub process.")
        self.python_heap_blocks = r.gauge(
            p + "python_heap_blocks",
            "Memory blocks Python's allocator holds for live objects (uncollected garbage included); "
            "unlike the RSS it falls when they are freed: the figure a leak raises.",
        )
        self.asyncio_tasks = r.gauge(p + "asyncio_tasks", "Tasks of the hub's event loop not yet done.")
        self.ignite_cursors = r.gauge(
            p + "ignite_cursors",
            "Ignite cursors the hub holds open: sql, scan, cq (continuous queries).",
            ("kind",),
        )

    def sample(self, cursors: Mapping[str, int] | None = None) -> None:
        """Set the gauges read at scrape time: the process (RSS, fds), the event loop's tasks (when
        called inside a running loop) and ``cursors`` (open Ignite cursors by kind, if the store
        counts them). Costs one small read of /proc and a walk of the fd directory."""
        rss, fds = process_usage()
        if rss is not None:
            self.process_rss_bytes.set(rss)
        if fds is not None:
            self.process_fds.set(fds)
        self.python_heap_blocks.set(sys.getallocatedblocks())
        try:
            self.asyncio_tasks.set(len(asyncio.all_tasks()))
        except RuntimeError:  # no running loop
            pass
        for kind, n in (cursors or {}).items():
            self.ignite_cursors.labels(kind).set(n)

    def render(self) -> str:
        return self.registry.render()
