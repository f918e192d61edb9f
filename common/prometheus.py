"""Prometheus exposition shared by the controller and the invoker, on ``prometheus_client``.

Each service keeps its metrics in its own ``CollectorRegistry`` (several apps may live in one
test process) and renders them with ``exposition``, adding gauges read at scrape time. The
services' own metric sets are ``controller.metrics.ControllerMetrics`` and
``invoker.metrics.InvokerMetrics``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import prometheus_client
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# Only the series Tango documents: no `<name>_created` timestamps beside counters/histograms.
prometheus_client.disable_created_metrics()

# What `prometheus_client.generate_latest` writes: the classic text format, version 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

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

# OpenWhisk's status labels (the snake-case forms used in metrics), by status code.
STATUS_LABEL = {0: "success", 1: "application_error", 2: "developer_error", 3: "internal_error"}


class CounterWithoutSuffix(Collector):
    """A counter exposed under a name without ``_total``, as OpenWhisk's
    ``openwhisk_action_status`` is. ``prometheus_client`` always appends ``_total`` to a
    counter's samples, so this one is exposed as untyped under its exact name."""

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str]):
        self.name = name
        self.counter = Counter(name, documentation, labelnames, registry=None)

    def labels(self, **labels: str) -> Counter:
        return self.counter.labels(**labels)

    def collect(self) -> Iterator[Metric]:
        for family in self.counter.collect():
            metric = Metric(self.name, family.documentation, "unknown")
            for s in family.samples:
                if s.name.endswith("_total"):
                    metric.add_sample(self.name, s.labels, s.value)
            yield metric


def gauge(
    name: str, documentation: str, labelnames: Iterable[str], values: dict[tuple[str, ...], float]
) -> GaugeMetricFamily:
    """A gauge family read at scrape time: ``values`` maps label values to a value."""
    family = GaugeMetricFamily(name, documentation, labels=list(labelnames))
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


class _Snapshot(Collector):
    def __init__(self, registry: CollectorRegistry, extra: Iterable[Metric]):
        self.registry, self.extra = registry, list(extra)

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()
        yield from self.extra


def exposition(registry: CollectorRegistry, extra: Iterable[Metric] = ()) -> str:
    """The text exposition (``CONTENT_TYPE``) of ``registry`` followed by ``extra`` families."""
    return prometheus_client.generate_latest(_Snapshot(registry, extra)).decode()
