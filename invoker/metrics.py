"""Prometheus metrics of one invoker, served at its ``GET /metrics`` (invoker/service.py).

``InvokerMetrics`` counts finished activations by action and status and by how their
container was obtained (warm, prewarmed, cold, recreated), and times the three steps the
invoker itself controls: binding a size (resize), ``/init`` and ``/run``. Container counts by
pool state and the run buffer are read from the pool at scrape time. Both services expose
``prometheus_client`` metrics through common/prometheus.py, so they have the same shapes.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram

from common.prometheus import LATENCY_BUCKETS, STATUS_LABEL, exposition, gauge

RESIZE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class InvokerMetrics:
    def __init__(self, invoker_id: str):
        self.invoker_id = invoker_id
        self.registry = r = CollectorRegistry()
        self.activations = Counter(
            "tango_invoker_activations_total",
            "Activations this invoker finished.",
            ("action", "status"),
            registry=r,
        )
        self.starts = Counter(
            "tango_invoker_starts_total",
            "Activations by how their container was obtained.",
            ("start_kind",),
            registry=r,
        )
        self.resize = Histogram(
            "tango_invoker_resize_seconds",
            "Time to bind an activation's size to its container.",
            registry=r,
            buckets=RESIZE_BUCKETS,
        )
        self.init = Histogram(
            "tango_invoker_init_seconds",
            "Container /init time (cold and prewarmed starts).",
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.run = Histogram(
            "tango_invoker_run_seconds",
            "Container /run time.",
            ("action",),
            registry=r,
            buckets=LATENCY_BUCKETS,
        )

    def activation_finished(
        self,
        action: str,
        status_code: int,
        start_kind: str,
        resize_ms: float,
        init_ms: float | None,
    ) -> None:
        status = STATUS_LABEL.get(status_code, "internal_error")
        self.activations.labels(action=action, status=status).inc()
        self.starts.labels(start_kind=start_kind).inc()
        self.resize.observe(resize_ms / 1000.0)
        if init_ms is not None:
            self.init.observe(init_ms / 1000.0)

    def run_finished(self, action: str, run_ms: float) -> None:
        self.run.labels(action=action).observe(run_ms / 1000.0)

    def render(self, pool_summary: Callable[[], dict]) -> str:
        """The exposition; ``pool_summary`` is ``ContainerPool.summary`` taken under the pool lock."""
        summary = pool_summary()
        return exposition(
            self.registry,
            [
                gauge(
                    "tango_invoker_containers",
                    "Containers by pool state.",
                    ("state",),
                    {(s,): n for s, n in summary.get("states", {}).items()},
                ),
                gauge(
                    "tango_invoker_buffered_activations",
                    "Activations waiting for a container.",
                    (),
                    {(): summary.get("buffer", 0)},
                ),
                gauge(
                    "tango_invoker_free_memory_megabytes",
                    "User memory not held by containers.",
                    (),
                    {(): summary.get("freeMemory", 0)},
                ),
            ],
        )
