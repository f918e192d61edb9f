"""Admission: a bounded queue per controller. Beyond it an invoke answers 503 at once, with
OpenWhisk's error body and Retry-After, and takes nothing (no record, no activation id)."""

from __future__ import annotations

import threading

import pytest

from common.wsgi_server import QUEUE_WAIT
from controller.invoke import admission
from tests.controller.conftest import FakeInvoker
from tests.controller.test_actions_api import put


@pytest.mark.parametrize(
    ("pending", "max_pending", "waited", "max_wait", "admitted"),
    [
        (0, 256, 0.0, 0.5, True),
        (255, 256, 0.499, 0.5, True),
        (256, 256, 0.0, 0.5, False),  # the queue is full
        (300, 256, 0.0, 0.5, False),
        (0, 256, 0.6, 0.5, False),  # waited too long for a server thread
        (0, 0, 0.0, 0.5, False),
    ],
)
def test_admission_decision(pending, max_pending, waited, max_wait, admitted):
    refusal = admission(pending, max_pending, waited, max_wait)
    assert (refusal is None) == admitted
    if refusal is not None:
        assert refusal.startswith("The controller is overloaded")


def test_a_full_queue_answers_503_at_once_and_takes_nothing(platform, guest):
    client, services, fake = platform
    services.activation_service.config.max_pending = 2
    put(client, guest, "slow")
    release = threading.Event()

    def held(body):
        release.wait(10)
        return 200, FakeInvoker.record(body, {"done": True})

    fake.behaviour = held
    try:
        accepted = [
            client.post("/api/v1/namespaces/_/actions/slow", json={}, headers=guest)
            for _ in range(2)
        ]
        assert [r.status_code for r in accepted] == [202, 202]
        count = client.get("/api/v1/namespaces/_/activations?count=true", headers=guest)
        refused = client.post("/api/v1/namespaces/_/actions/slow", json={}, headers=guest)
        blocking = client.post(
            "/api/v1/namespaces/_/actions/slow?blocking=true", json={}, headers=guest
        )
        for r in (refused, blocking):
            assert r.status_code == 503
            assert set(r.json) == {"error", "code"}
            assert "overloaded" in r.json["error"] and "limit is 2" in r.json["error"]
            assert r.headers["Retry-After"] == "1"
            assert "x-openwhisk-activation-id" not in r.headers
        after = client.get("/api/v1/namespaces/_/activations?count=true", headers=guest)
        assert after.json == count.json  # the refused invokes stored nothing
        assert len(fake.requests) <= 2
    finally:
        release.set()
    # The queue drains; the accepted two end in their records and new work is taken again.
    for r in accepted:
        aid = r.json["activationId"]
        for _ in range(200):
            got = client.get(f"/api/v1/namespaces/_/activations/{aid}", headers=guest)
            if got.status_code == 200 and got.json["response"]["status"] == "success":
                break
            threading.Event().wait(0.05)
        assert got.json["response"]["result"] == {"done": True}
    fake.behaviour = fake.echo
    again = client.post("/api/v1/namespaces/_/actions/slow?blocking=true", json={}, headers=guest)
    assert again.status_code == 200
    assert services.activation_service.metrics.overloaded_total._value.get() == 2


def test_a_request_that_waited_too_long_for_a_thread_answers_503(platform, guest):
    client, services, _ = platform
    put(client, guest, "quick")
    late = client.post(
        "/api/v1/namespaces/_/actions/quick?blocking=true",
        json={},
        headers=guest,
        environ_base={QUEUE_WAIT: services.activation_service.config.max_queue_wait_s + 0.1},
    )
    assert late.status_code == 503 and "waited" in late.json["error"]
    prompt = client.post(
        "/api/v1/namespaces/_/actions/quick?blocking=true",
        json={},
        headers=guest,
        environ_base={QUEUE_WAIT: 0.01},
    )
    assert prompt.status_code == 200
