"""Prometheus metric types shared by the controller and the invoker.

Prometheus' text exposition format (version 0.0.4) is simple enough to write directly, so
Tango needs no client library: ``Counter``, ``Histogram`` and ``Gauge`` keep labelled values
under a lock, ``render`` turns a list of them into the text a scraper reads. The services'
own metric sets are ``controller.metrics.ControllerMetrics`` and
``invoker.metrics.InvokerMetrics``.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterable

# Seconds; from sub-millisecond warm runs to the 5-minute action timeout.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)

Labels = tuple[str, ...]


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(names: Iterable[str], values: Iterable[str]) -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)]
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _number(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


class _Metric:
    kind = ""

    def __init__(self, name: str, help: str, labels: Iterable[str] = ()):
        self.name, self.help, self.labels = name, help, tuple(labels)
        self._lock = threading.Lock()

    def _key(self, values: dict[str, str]) -> Labels:
        if set(values) != set(self.labels):
            raise ValueError(f"metric {self.name} takes labels {self.labels}, got {tuple(values)}")
        return tuple(str(values[n]) for n in self.labels)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    """A monotonically increasing count per label set."""

    kind = "counter"

    def __init__(self, name: str, help: str, labels: Iterable[str] = ()):
        super().__init__(name, help, labels)
        self._values: dict[Labels, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return self.header() + [
            f"{self.name}{_label_text(self.labels, k)} {_number(v)}" for k, v in items
        ]


class Histogram(_Metric):
    """Observations per label set in cumulative buckets (``_bucket``, ``_sum``, ``_count``)."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        help: str,
        labels: Iterable[str] = (),
        buckets: Iterable[float] = LATENCY_BUCKETS,
    ):
        super().__init__(name, help, labels)
        self.buckets = tuple(sorted(buckets))
        self._values: dict[Labels, list] = {}  # key → [counts per bucket (+Inf last), sum]

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        i = bisect.bisect_left(self.buckets, value)
        with self._lock:
            entry = self._values.setdefault(key, [[0] * (len(self.buckets) + 1), 0.0])
            entry[0][i] += 1
            entry[1] += value

    def count(self, **labels: str) -> int:
        entry = self._values.get(self._key(labels))
        return sum(entry[0]) if entry else 0

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted((k, (list(v[0]), v[1])) for k, v in self._values.items())
        out = self.header()
        for key, (counts, total) in items:
            running = 0
            for bound, n in zip((*self.buckets, math.inf), counts):
                running += n
                le = _label_text((*self.labels, "le"), (*key, _number(bound)))
                out.append(f"{self.name}_bucket{le} {running}")
            out.append(f"{self.name}_sum{_label_text(self.labels, key)} {_number(total)}")
            out.append(f"{self.name}_count{_label_text(self.labels, key)} {running}")
        return out


class Gauge(_Metric):
    """A value read at scrape time from ``collect() -> {label values: value}``."""

    kind = "gauge"

    def __init__(
        self,
        name: str,
        help: str,
        labels: Iterable[str] = (),
        collect: Callable[[], dict[Labels, float]] | None = None,
    ):
        super().__init__(name, help, labels)
        self.collect = collect or (lambda: {})

    def lines(self) -> list[str]:
        items = sorted(self.collect().items())
        return self.header() + [
            f"{self.name}{_label_text(self.labels, k)} {_number(v)}" for k, v in items
        ]


def render(metrics: Iterable[_Metric]) -> str:
    """The Prometheus text exposition (``text/plain; version=0.0.4``) of these metrics."""
    return "\n".join(line for m in metrics for line in m.lines()) + "\n"


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# OpenWhisk's status labels (reference §1.5: the snake-case forms used in metrics).
STATUS_LABEL = {0: "success", 1: "application_error", 2: "developer_error", 3: "internal_error"}
