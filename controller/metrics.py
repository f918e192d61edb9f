"""Prometheus metrics of the controller, and the small metric types both services use.

Prometheus' text exposition format (version 0.0.4) is simple enough to write directly, so
Tango needs no client library: ``Counter``, ``Histogram`` and ``Gauge`` keep labelled values
under a lock, ``render`` turns a list of them into the text a scraper reads.

``ControllerMetrics`` is the controller's set. ``ActivationService`` (controller/invoke.py)
owns one and feeds it when an activation ends or a request is throttled; the ``GET /metrics``
route (controller/api/metrics.py) renders it with the invoker states of the moment. The
user-facing series carry OpenWhisk's user-events names (``openwhisk_action_*``, reference
§3.5) so existing dashboards work; the platform's own series are ``tango_controller_*``.
The invoker's set lives in invoker/metrics.py and reuses the types defined here.
"""
from __future__ import annotations

import bisect
import math
import threading
from typing import Callable, Iterable

# Seconds; from sub-millisecond warm runs to the 5-minute action timeout.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0, 60.0, 300.0)

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
        return self.header() + [f"{self.name}{_label_text(self.labels, k)} {_number(v)}" for k, v in items]


class Histogram(_Metric):
    """Observations per label set in cumulative buckets (``_bucket``, ``_sum``, ``_count``)."""
    kind = "histogram"

    def __init__(self, name: str, help: str, labels: Iterable[str] = (),
                 buckets: Iterable[float] = LATENCY_BUCKETS):
        super().__init__(name, help, labels)
        self.buckets = tuple(sorted(buckets))
        self._values: dict[Labels, list] = {}   # key → [counts per bucket (+Inf last), sum]

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

    def __init__(self, name: str, help: str, labels: Iterable[str] = (),
                 collect: Callable[[], dict[Labels, float]] | None = None):
        super().__init__(name, help, labels)
        self.collect = collect or (lambda: {})

    def lines(self) -> list[str]:
        items = sorted(self.collect().items())
        return self.header() + [f"{self.name}{_label_text(self.labels, k)} {_number(v)}" for k, v in items]


def render(metrics: Iterable[_Metric]) -> str:
    """The Prometheus text exposition (``text/plain; version=0.0.4``) of these metrics."""
    return "\n".join(line for m in metrics for line in m.lines()) + "\n"


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# OpenWhisk's status labels (reference §1.5: the snake-case forms used in metrics).
STATUS_LABEL = {0: "success", 1: "application_error", 2: "developer_error", 3: "internal_error"}


def annotation(record: dict, key: str, default=None):
    for a in record.get("annotations") or ():
        if a.get("key") == key:
            return a.get("value")
    return default


class ControllerMetrics:
    """What the controller counts: finished activations (by namespace, action and status, with
    their duration, waitTime and initTime and how their container started), the controller's
    own invoke latency, and throttled requests. Invoker states are read at scrape time."""

    def __init__(self):
        user = ("namespace", "initiator", "action")
        self.activations = Counter("openwhisk_action_activations_total", "Activations that finished.", user)
        self.status = Counter("openwhisk_action_status", "Finished activations by response status.",
                              (*user, "status"))
        self.cold_starts = Counter("openwhisk_action_coldStarts_total",
                                   "Activations that had to initialize a container (initTime present).", user)
        self.starts = Counter("tango_controller_starts_total",
                              "Activations by how their container was obtained (startKind annotation).",
                              ("namespace", "action", "start_kind"))
        self.duration = Histogram("openwhisk_action_duration_seconds", "Activation duration (end - start).", user)
        self.wait_time = Histogram("openwhisk_action_waitTime_seconds",
                                   "Time from the controller's receipt to a ready container.", user)
        self.init_time = Histogram("openwhisk_action_initTime_seconds", "Container /init time of cold starts.", user)
        self.invoke_latency = Histogram("tango_controller_invoke_latency_seconds",
                                        "Controller-observed time from dispatch to the invoker's record.",
                                        ("namespace", "action"))
        self.limit_concurrent = Counter("openwhisk_action_limit_concurrent_total",
                                        "Requests refused: too many concurrent invocations.", ("namespace",))
        self.limit_timed = Counter("openwhisk_action_limit_timed_total",
                                   "Requests refused: too many invocations in the last minute.", ("namespace",))

    def activation_finished(self, namespace: str, initiator: str, record: dict, dispatch_s: float) -> None:
        """Called once per finished (non-sequence) activation with its final record."""
        action = annotation(record, "path") or f"{namespace}/{record.get('name', '')}"
        user = {"namespace": namespace, "initiator": initiator, "action": action}
        self.activations.inc(**user)
        self.status.inc(status=STATUS_LABEL.get(record.get("statusCode"), "internal_error"), **user)
        self.duration.observe(record.get("duration", 0) / 1000.0, **user)
        self.invoke_latency.observe(dispatch_s, namespace=namespace, action=action)
        wait = annotation(record, "waitTime")
        if isinstance(wait, (int, float)):
            self.wait_time.observe(wait / 1000.0, **user)
        init = annotation(record, "initTime")
        if isinstance(init, (int, float)):
            self.cold_starts.inc(**user)
            self.init_time.observe(init / 1000.0, **user)
        kind = annotation(record, "startKind")
        if kind:
            self.starts.inc(namespace=namespace, action=action, start_kind=str(kind))

    def throttled(self, namespace: str, message: str) -> None:
        """A 429 from ``controller.throttle``; its message says which limit was hit."""
        if "concurrent" in message:
            self.limit_concurrent.inc(namespace=namespace)
        else:
            self.limit_timed.inc(namespace=namespace)

    def render(self, invoker_states: Iterable[str], in_flight: int) -> str:
        """The exposition, with gauges for the invokers by state and activations in flight."""
        counts = {("up",): 0, ("down",): 0, ("unhealthy",): 0}
        for state in invoker_states:
            counts[(state,)] = counts.get((state,), 0) + 1
        gauges = [Gauge("tango_controller_invokers", "Registered invokers by health state.", ("state",),
                        lambda: counts),
                  Gauge("tango_controller_activations_in_flight",
                        "Activations dispatched to an invoker and not yet answered.", (),
                        lambda: {(): in_flight})]
        return render([self.activations, self.status, self.cold_starts, self.starts, self.duration,
                       self.wait_time, self.init_time, self.invoke_latency, self.limit_concurrent,
                       self.limit_timed, *gauges])
