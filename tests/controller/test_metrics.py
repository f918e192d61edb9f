"""Prometheus metrics: the exposition through prometheus_client (common/prometheus.py), the
controller's ``GET /metrics`` moving after invokes and throttles (fake invoker), and the
invoker's set."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from common.prometheus import CounterWithoutSuffix, exposition, gauge
from controller.config import SYSTEM_KEY, ControllerConfig
from invoker.metrics import InvokerMetrics
from tests.controller.conftest import FakeInvoker, basic

OPERATOR = basic(SYSTEM_KEY)  # whisk.system: an admin subject (the dev keys are installed)

CODE = {"exec": {"kind": "python:3.11", "code": "def main(args):\n    return args\n"}}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in an exposition (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        assert m, f"not a Prometheus sample line: {line!r}"
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if m.group(1) == name and got == labels:
            return float(m.group(3))
    return 0.0


def test_exposition_format():
    registry = CollectorRegistry()
    c = Counter("jobs_total", "Jobs.", ("kind",), registry=registry)
    c.labels(kind='say "hi"\n').inc()
    c.labels(kind="b").inc(2)
    h = Histogram("lat_seconds", "Latency.", buckets=(0.1, 1.0), registry=registry)
    for v in (0.05, 0.1, 0.5, 3.0):
        h.observe(v)
    status = CounterWithoutSuffix("status", "By status.", ("status",))
    registry.register(status)
    status.labels(status="success").inc()
    text = exposition(registry, [gauge("up", "Up.", (), {(): 1})])
    assert "# TYPE jobs_total counter" in text and "# TYPE lat_seconds histogram" in text
    assert (
        'jobs_total{kind="say \\"hi\\"\\n"} 1.0' in text
        and sample(text, "jobs_total", kind="b") == 2
    )
    assert sample(text, "lat_seconds_bucket", le="0.1") == 2
    assert sample(text, "lat_seconds_bucket", le="1.0") == 3
    assert sample(text, "lat_seconds_bucket", le="+Inf") == 4
    assert sample(text, "lat_seconds_count") == 4 and sample(text, "lat_seconds_sum") == 3.65
    assert sample(text, "up") == 1
    # OpenWhisk's name without _total is kept, and no _created series appear.
    assert sample(text, "status", status="success") == 1
    assert "status_total" not in text and "_created" not in text


def test_counters_move_after_invokes(platform, guest):
    client, services, fake = platform
    client.put("/api/v1/namespaces/_/actions/hello", json=CODE, headers=guest)
    before = client.get("/metrics", headers=OPERATOR).data.decode()
    user = {"namespace": "guest", "initiator": "guest", "action": "guest/hello"}
    fake.behaviour = lambda body: (
        200,
        {
            **FakeInvoker.record(body, {"ok": True}),
            "annotations": [
                {"key": "path", "value": "guest/hello"},
                {"key": "waitTime", "value": 12},
                {"key": "initTime", "value": 300},
                {"key": "startKind", "value": "cold"},
            ],
        },
    )
    assert (
        client.post("/api/v1/namespaces/_/actions/hello?blocking=true", headers=guest).status_code
        == 200
    )
    fake.behaviour = lambda body: (200, FakeInvoker.record(body, {"error": "no"}, status_code=1))
    assert (
        client.post("/api/v1/namespaces/_/actions/hello?blocking=true", headers=guest).status_code
        == 502
    )
    r = client.get("/metrics", headers=OPERATOR)
    assert r.status_code == 200 and r.content_type.startswith("text/plain; version=0.0.4")
    after = r.data.decode()

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("openwhisk_action_activations_total", **user) == 2
    assert delta("openwhisk_action_status", status="success", **user) == 1
    assert delta("openwhisk_action_status", status="application_error", **user) == 1
    assert delta("openwhisk_action_coldStarts_total", **user) == 1
    assert delta("openwhisk_action_initTime_seconds_count", **user) == 1
    assert delta("openwhisk_action_waitTime_seconds_sum", **user) == pytest.approx(
        0.012 + 0.001
    )  # 12 ms + 1 ms
    assert (
        delta(
            "tango_controller_starts_total",
            namespace="guest",
            action="guest/hello",
            start_kind="cold",
        )
        == 1
    )
    assert (
        delta(
            "tango_controller_invoke_latency_seconds_count", namespace="guest", action="guest/hello"
        )
        == 2
    )
    assert sample(after, "tango_controller_invokers", state="up") == 1
    assert sample(after, "tango_controller_invokers", state="down") == 0


def test_invoker_failures_count_as_internal_errors_and_invoker_states_show(platform, guest):
    client, services, fake = platform
    client.put("/api/v1/namespaces/_/actions/hello", json=CODE, headers=guest)
    fake.behaviour = lambda body: (200, None)  # the invoker dies mid-activation
    r = client.post("/api/v1/namespaces/_/actions/hello?blocking=true", headers=guest)
    assert r.status_code == 502 and r.json["response"]["status"] == "whisk internal error"
    text = client.get("/metrics", headers=OPERATOR).data.decode()
    assert (
        sample(
            text,
            "openwhisk_action_status",
            namespace="guest",
            initiator="guest",
            action="guest/hello",
            status="internal_error",
        )
        >= 1
    )
    services.registry.mark_down("invoker0")
    text = client.get("/metrics", headers=OPERATOR).data.decode()
    assert sample(text, "tango_controller_invokers", state="down") == 1
    assert sample(text, "tango_controller_invokers", state="up") == 0


def test_throttled_requests_are_counted(platform, guest):
    client, services, _ = platform
    services.subjects.set_limits("guest", {"invocationsPerMinute": 1})
    client.put("/api/v1/namespaces/_/actions/hello", json=CODE, headers=guest)
    before = sample(
        client.get("/metrics", headers=OPERATOR).data.decode(),
        "openwhisk_action_limit_timed_total",
        namespace="guest",
    )
    client.post("/api/v1/namespaces/_/actions/hello?blocking=true", headers=guest)
    r = client.post("/api/v1/namespaces/_/actions/hello?blocking=true", headers=guest)
    assert r.status_code == 429
    after = sample(
        client.get("/metrics", headers=OPERATOR).data.decode(),
        "openwhisk_action_limit_timed_total",
        namespace="guest",
    )
    assert after - before == 1


def test_invoker_metrics():
    m = InvokerMetrics("invoker0")
    m.activation_finished("guest/a", 0, "cold", 0.4, 250)
    m.activation_finished("guest/a", 2, "warm", 0.0, None)
    m.run_finished("guest/a", 3.0)
    text = m.render(lambda: {"states": {"warm": 2, "busy": 1}, "buffer": 3, "freeMemory": 1024})
    assert sample(text, "tango_invoker_activations_total", action="guest/a", status="success") == 1
    assert (
        sample(text, "tango_invoker_activations_total", action="guest/a", status="developer_error")
        == 1
    )
    assert sample(text, "tango_invoker_starts_total", start_kind="cold") == 1
    assert sample(text, "tango_invoker_starts_total", start_kind="warm") == 1
    assert sample(text, "tango_invoker_init_seconds_count") == 1
    assert sample(text, "tango_invoker_resize_seconds_count") == 2
    assert sample(text, "tango_invoker_run_seconds_count", action="guest/a") == 1
    assert sample(text, "tango_invoker_containers", state="warm") == 2
    assert sample(text, "tango_invoker_buffered_activations") == 3


def test_only_the_operator_reads_the_controllers_metrics(platform, guest):
    client, services, _ = platform
    token = services.config.internal_token
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"X-Tango-Internal": "wrong"},
        {"Authorization": "Basic bm8tc3VjaDprZXk="},
        {"X-Tango-Internal": "t\u00f6ken"},
    ):
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 401 and set(r.json) == {"error", "code"}, headers
    r = client.get("/metrics", headers=guest)  # a tenant's key sees no other tenant's names
    assert r.status_code == 403 and set(r.json) == {"error", "code"}
    for headers in (OPERATOR, {"Authorization": f"Bearer {token}"}, {"X-Tango-Internal": token}):
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 200 and "tango_controller_invokers" in r.data.decode()


def test_public_metrics_serves_anyone(platform):
    client, services, _ = platform
    services.config.public_metrics = True
    assert client.get("/metrics").status_code == 200


def test_the_controller_flag_makes_metrics_public():
    from controller.server import parse_args

    assert parse_args(["--public-metrics"]).public_metrics is True
    assert parse_args([]).public_metrics is ControllerConfig.public_metrics is False
