"""Prometheus metrics of the controller.

``ControllerMetrics`` is the controller's set. ``ActivationService`` (controller/invoke.py)
owns one and feeds it when an activation ends or a request is throttled; the ``GET /metrics``
route (controller/api/metrics.py) renders it with the invoker states of the moment. The
user-facing series carry OpenWhisk's user-events names (``openwhisk_action_*``, docs/design.md
§7.5) so existing dashboards work; the platform's own series are ``tango_controller_*``.
The metric types are ``prometheus_client``'s; the shared glue is common/prometheus.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram

from common.prometheus import (
    LATENCY_BUCKETS,
    STATUS_LABEL,
    CounterWithoutSuffix,
    exposition,
    gauge,
)


def annotation(record: dict, key: str, default=None):
    for a in record.get("annotations") or ():
        if a.get("key") == key:
            return a.get("value")
    return default


class ControllerMetrics:
    """What the controller counts: finished activations (by namespace, action and status, with
    their duration, waitTime and initTime and how their container started), the controller's
    own invoke latency, and throttled requests. Invoker states are read at scrape time."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        user = ("namespace", "initiator", "action")
        buckets = LATENCY_BUCKETS
        self.activations = Counter(
            "openwhisk_action_activations_total", "Activations that finished.", user, registry=r
        )
        self.status = CounterWithoutSuffix(
            "openwhisk_action_status", "Finished activations by response status.", (*user, "status")
        )
        r.register(self.status)
        self.cold_starts = Counter(
            "openwhisk_action_coldStarts_total",
            "Activations that had to initialize a container (initTime present).",
            user,
            registry=r,
        )
        self.starts = Counter(
            "tango_controller_starts_total",
            "Activations by how their container was obtained (startKind annotation).",
            ("namespace", "action", "start_kind"),
            registry=r,
        )
        self.duration = Histogram(
            "openwhisk_action_duration_seconds",
            "Activation duration (end - start).",
            user,
            registry=r,
            buckets=buckets,
        )
        self.wait_time = Histogram(
            "openwhisk_action_waitTime_seconds",
            "Time from the controller's receipt to a ready container.",
            user,
            registry=r,
            buckets=buckets,
        )
        self.init_time = Histogram(
            "openwhisk_action_initTime_seconds",
            "Container /init time of cold starts.",
            user,
            registry=r,
            buckets=buckets,
        )
        self.invoke_latency = Histogram(
            "tango_controller_invoke_latency_seconds",
            "Controller-observed time from dispatch to the invoker's record.",
            ("namespace", "action"),
            registry=r,
            buckets=buckets,
        )
        self.limit_concurrent = Counter(
            "openwhisk_action_limit_concurrent_total",
            "Requests refused: too many concurrent invocations.",
            ("namespace",),
            registry=r,
        )
        self.limit_timed = Counter(
            "openwhisk_action_limit_timed_total",
            "Requests refused: too many invocations in the last minute.",
            ("namespace",),
            registry=r,
        )
        self.overloaded_total = Counter(
            "tango_controller_overloaded_total",
            "Invokes refused with 503 by admission (controller.invoke.admission).",
            registry=r,
        )

    def activation_finished(
        self, namespace: str, initiator: str, record: dict, dispatch_s: float
    ) -> None:
        """Called once per finished (non-sequence) activation with its final record."""
        action = annotation(record, "path") or f"{namespace}/{record.get('name', '')}"
        user = {"namespace": namespace, "initiator": initiator, "action": action}
        self.activations.labels(**user).inc()
        code = record.get("statusCode")
        status = (
            STATUS_LABEL.get(code, "internal_error") if isinstance(code, int) else "internal_error"
        )
        self.status.labels(status=status, **user).inc()
        self.duration.labels(**user).observe(record.get("duration", 0) / 1000.0)
        self.invoke_latency.labels(namespace=namespace, action=action).observe(dispatch_s)
        wait = annotation(record, "waitTime")
        if isinstance(wait, (int, float)):
            self.wait_time.labels(**user).observe(wait / 1000.0)
        init = annotation(record, "initTime")
        if isinstance(init, (int, float)):
            self.cold_starts.labels(**user).inc()
            self.init_time.labels(**user).observe(init / 1000.0)
        kind = annotation(record, "startKind")
        if kind:
            self.starts.labels(namespace=namespace, action=action, start_kind=str(kind)).inc()

    def overloaded(self) -> None:
        """A 503 from admission: the controller's queue is full or the request waited too long."""
        self.overloaded_total.inc()

    def throttled(self, namespace: str, message: str) -> None:
        """A 429 from ``controller.throttle``; its message says which limit was hit."""
        if "concurrent" in message:
            self.limit_concurrent.labels(namespace=namespace).inc()
        else:
            self.limit_timed.labels(namespace=namespace).inc()

    def render(self, invoker_states: Iterable[str], in_flight: int) -> str:
        """The exposition, with gauges for the invokers by state and activations in flight."""
        counts: dict[tuple[str, ...], float] = {("up",): 0, ("down",): 0, ("unhealthy",): 0}
        for state in invoker_states:
            counts[(state,)] = counts.get((state,), 0) + 1
        return exposition(
            self.registry,
            [
                gauge(
                    "tango_controller_invokers",
                    "Registered invokers by health state.",
                    ("state",),
                    counts,
                ),
                gauge(
                    "tango_controller_activations_in_flight",
                    "Activations dispatched to an invoker and not yet answered.",
                    (),
                    {(): in_flight},
                ),
            ],
        )
