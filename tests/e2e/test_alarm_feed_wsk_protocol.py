"""The alarm feed driven exactly as OpenWhisk's ``wsk`` CLI drives it, with raw REST calls in
wsk's order against a running standalone platform with real containers: ``trigger create --feed``
(PUT the trigger with the ``feed`` annotation, then invoke the feed action blocking with
``lifecycleEvent: CREATE``), a rule, two fires of a two-second interval running the action, and
``trigger delete`` (GET the trigger, invoke the feed with ``DELETE``, DELETE the trigger); and a
failed CREATE (bad cron), after which wsk deletes the trigger it had created."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ECHO = "def main(args):\n    return args\n"
FEED = "/whisk.system/alarms/interval"


def invoke_feed(ns, feed: str, event: str, trigger: str, **params):
    """wsk's ``configureFeed``: a blocking invoke of the feed action in its own namespace."""
    body = {"lifecycleEvent": event, "triggerName": trigger, "authKey": ns.auth, **params}
    return ns.api(
        "POST", f"/api/v1/namespaces/whisk.system/actions/alarms/{feed}?blocking=true", json=body
    )


def trigger_fires(ns, trigger: str, at_least: int, timeout: float = 90.0) -> list[dict]:
    deadline = time.time() + timeout
    fired: list[dict] = []
    while time.time() < deadline:
        fired = ns.api("GET", f"/api/v1/namespaces/_/activations?name={trigger}&docs=true").json()
        if len(fired) >= at_least:
            return fired
        time.sleep(0.5)
    raise AssertionError(f"the alarm fired {len(fired)} times in {timeout}s, expected {at_least}")


def activation(ns, activation_id: str, timeout: float = 60.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = ns.api("GET", f"/api/v1/namespaces/_/activations/{activation_id}")
        if r.status_code == 200 and r.json()["response"]["status"] != "running":
            return r.json()
        time.sleep(0.3)
    raise AssertionError(f"no final record for activation {activation_id} within {timeout}s")


def test_wsk_feed_lifecycle_fires_the_rule_and_delete_stops_it(platform):
    ns = platform.in_new_namespace("feed")
    assert ns.api(
        "PUT",
        "/api/v1/namespaces/_/actions/tock",
        json={"exec": {"kind": "python:3", "code": ECHO}},
    ).ok
    # wsk trigger create wsktick --feed /whisk.system/alarms/interval -p seconds 2 -p trigger_payload ...
    r = ns.api(
        "PUT",
        "/api/v1/namespaces/_/triggers/wsktick?overwrite=false",
        json={"name": "wsktick", "annotations": [{"key": "feed", "value": FEED}]},
    )
    assert r.status_code == 200, r.text
    created = invoke_feed(
        ns, "interval", "CREATE", "/_/wsktick", seconds=2, trigger_payload={"tick": True}
    )
    assert created.status_code == 200, created.text
    assert created.json()["response"]["success"] is True
    rule = {"trigger": "/_/wsktick", "action": "/_/tock"}
    assert ns.api("PUT", "/api/v1/namespaces/_/rules/wskrule", json=rule).status_code == 200

    fired = trigger_fires(ns, "wsktick", at_least=2)
    first = fired[-1]
    assert first["response"]["result"] == {"tick": True}
    child = activation(ns, json.loads(first["logs"][0])["activationId"])
    assert child["cause"] == first["activationId"] and child["response"]["result"] == {"tick": True}

    # wsk trigger get (READ), then wsk trigger delete: GET, feed DELETE, DELETE
    read = invoke_feed(ns, "interval", "READ", "/_/wsktick").json()["response"]["result"]
    assert read["config"]["seconds"] == 2 and read["status"]["active"] is True
    trigger = ns.api("GET", "/api/v1/namespaces/_/triggers/wsktick").json()
    assert {"key": "feed", "value": FEED} in trigger["annotations"]
    deleted = invoke_feed(ns, "interval", "DELETE", "/_/wsktick")
    assert deleted.status_code == 200 and deleted.json()["response"]["success"] is True
    assert ns.api("DELETE", "/api/v1/namespaces/_/triggers/wsktick").status_code == 200
    gone = invoke_feed(ns, "interval", "READ", "/_/wsktick")
    assert gone.status_code == 502 and "has no alarm" in gone.json()["response"]["result"]["error"]
    assert ns.api("DELETE", "/api/v1/namespaces/_/rules/wskrule").status_code == 200


def test_wsk_feed_create_failure_is_reported_and_the_trigger_deleted(platform):
    ns = platform.in_new_namespace("feedbad")
    r = ns.api(
        "PUT",
        "/api/v1/namespaces/_/triggers/badcron?overwrite=false",
        json={
            "name": "badcron",
            "annotations": [{"key": "feed", "value": "/whisk.system/alarms/alarm"}],
        },
    )
    assert r.status_code == 200, r.text
    failed = invoke_feed(ns, "alarm", "CREATE", "/_/badcron", cron="61 * * * *")
    assert failed.status_code == 502
    record = failed.json()
    assert (
        record["statusCode"] == 1
        and "schedule is not valid" in record["response"]["result"]["error"]
    )
    assert (
        ns.api("DELETE", "/api/v1/namespaces/_/triggers/badcron").status_code == 200
    )  # wsk's clean-up
