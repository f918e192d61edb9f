"""Triggers and rules REST API against a fresh store and the fake invoker: CRUD, the trigger's
``rules`` map, enable/disable, fire (202 + trigger activation whose logs list the rules, child
activations with ``cause``; 204 without an active rule), the firesPerMinute throttle, and
responses checked against OpenWhisk's API spec."""

from __future__ import annotations

import json
import time

from tests.controller.conftest import basic
from tests.swagger import validate

CODE = {"exec": {"kind": "python:3", "code": "def main(args):\n    return args\n"}}
API = "/api/v1/namespaces/_"


def setup_trigger_rule(client, guest, trigger="t", rule="r", action="a", params=None):
    client.put(f"{API}/actions/{action}", json=CODE, headers=guest)
    client.put(f"{API}/triggers/{trigger}", json={"parameters": params or []}, headers=guest)
    return client.put(
        f"{API}/rules/{rule}",
        json={"trigger": f"/_/{trigger}", "action": f"/_/{action}"},
        headers=guest,
    )


def wait_for_activation(client, guest, activation_id, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = client.get(f"{API}/activations/{activation_id}", headers=guest)
        if r.status_code == 200 and r.json["response"]["status"] != "running":
            return r.json
        time.sleep(0.05)
    raise AssertionError(f"activation {activation_id} has no final record after {timeout}s")


def test_trigger_crud_and_shapes(platform, guest):
    client, _, _ = platform
    r = client.put(
        f"{API}/triggers/t", json={"parameters": [{"key": "p", "value": 1}]}, headers=guest
    )
    assert r.status_code == 200
    doc = r.json
    assert (doc["name"], doc["version"], doc["rules"], doc["limits"]) == ("t", "0.0.1", {}, {})
    validate(doc, "Trigger")
    assert client.put(f"{API}/triggers/t", json={}, headers=guest).status_code == 409
    r = client.put(f"{API}/triggers/t?overwrite=true", json={"publish": True}, headers=guest)
    assert r.json["version"] == "0.0.2" and r.json["parameters"] == [{"key": "p", "value": 1}]
    validate(client.get(f"{API}/triggers/t", headers=guest).json, "Trigger")
    listed = client.get(f"{API}/triggers", headers=guest).json
    assert [t["name"] for t in listed] == ["t"]
    validate(listed, "TriggerMeta", array=True)
    assert client.delete(f"{API}/triggers/t", headers=guest).json["name"] == "t"
    assert client.get(f"{API}/triggers/t", headers=guest).status_code == 404
    # names are unique across collections
    client.put(f"{API}/actions/clash", json=CODE, headers=guest)
    r = client.put(f"{API}/triggers/clash", json={}, headers=guest)
    assert (
        r.status_code == 409
        and r.json["error"] == "Resource by this name exists but is not in this collection."
    )


def test_rule_crud_status_and_trigger_rules_map(platform, guest):
    client, _, _ = platform
    r = setup_trigger_rule(client, guest)
    assert r.status_code == 200 and r.json["status"] == "active"
    assert r.json["trigger"] == {"path": "guest", "name": "t"} and r.json["action"] == {
        "path": "guest",
        "name": "a",
    }
    validate(r.json, "Rule")
    trigger = client.get(f"{API}/triggers/t", headers=guest).json
    assert trigger["rules"] == {
        "guest/r": {"action": {"path": "guest", "name": "a"}, "status": "active"}
    }
    assert (
        client.post(f"{API}/rules/r", json={"status": "inactive"}, headers=guest).status_code == 200
    )
    got = client.get(f"{API}/rules/r", headers=guest).json
    assert got["status"] == "inactive"
    validate(got, "Rule")
    assert (
        client.get(f"{API}/triggers/t", headers=guest).json["rules"]["guest/r"]["status"]
        == "inactive"
    )
    r = client.post(f"{API}/rules/r", json={"status": "sleeping"}, headers=guest)
    assert r.status_code == 400 and "'status'" in r.json["error"]
    client.post(f"{API}/rules/r", json={"status": "active"}, headers=guest)
    listed = client.get(f"{API}/rules", headers=guest).json
    assert [(x["name"], x["status"]) for x in listed] == [("r", "active")]
    validate(listed, "RuleMeta", array=True)
    assert client.delete(f"{API}/rules/r", headers=guest).status_code == 200
    assert client.get(f"{API}/triggers/t", headers=guest).json["rules"] == {}


def test_rule_needs_existing_trigger_and_action_and_moves_on_update(platform, guest):
    client, _, _ = platform
    client.put(f"{API}/actions/a", json=CODE, headers=guest)
    r = client.put(f"{API}/rules/r", json={"trigger": "/_/nope", "action": "/_/a"}, headers=guest)
    assert r.status_code == 404 and "trigger '/guest/nope'" in r.json["error"]
    client.put(f"{API}/triggers/t1", json={}, headers=guest)
    client.put(f"{API}/triggers/t2", json={}, headers=guest)
    r = client.put(
        f"{API}/rules/r", json={"trigger": "/_/t1", "action": "/_/missing"}, headers=guest
    )
    assert r.status_code == 404 and "action '/guest/missing'" in r.json["error"]
    r = client.put(f"{API}/rules/r", json={"trigger": "t1"}, headers=guest)
    assert r.status_code == 400 and "'action'" in r.json["error"]
    assert (
        client.put(
            f"{API}/rules/r", json={"trigger": "/_/t1", "action": "/_/a"}, headers=guest
        ).status_code
        == 200
    )
    assert (
        client.put(
            f"{API}/rules/r", json={"trigger": "/_/t1", "action": "/_/a"}, headers=guest
        ).status_code
        == 409
    )
    r = client.put(f"{API}/rules/r?overwrite=true", json={"trigger": "/_/t2"}, headers=guest)
    assert (
        r.status_code == 200 and r.json["trigger"]["name"] == "t2" and r.json["version"] == "0.0.2"
    )
    assert client.get(f"{API}/triggers/t1", headers=guest).json["rules"] == {}
    assert "guest/r" in client.get(f"{API}/triggers/t2", headers=guest).json["rules"]
    r = client.put(f"{API}/rules/x", json={"trigger": "/other/t1", "action": "/_/a"}, headers=guest)
    assert r.status_code == 400 and "namespace" in r.json["error"]


def test_fire_without_active_rule_is_204_and_stores_nothing(platform, guest):
    client, _, fake = platform
    client.put(f"{API}/triggers/lonely", json={}, headers=guest)
    r = client.post(f"{API}/triggers/lonely", json={"x": 1}, headers=guest)
    assert r.status_code == 204 and r.data == b""
    setup_trigger_rule(client, guest, trigger="t", rule="r")
    client.post(f"{API}/rules/r", json={"status": "inactive"}, headers=guest)
    assert client.post(f"{API}/triggers/t", json={}, headers=guest).status_code == 204
    assert client.get(f"{API}/activations", headers=guest).json == []
    assert fake.requests == []
    assert client.post(f"{API}/triggers/missing", json={}, headers=guest).status_code == 404


def test_fire_records_rule_results_and_invokes_actions_with_cause(platform, guest):
    client, _, fake = platform
    setup_trigger_rule(
        client, guest, params=[{"key": "p", "value": "trigger"}, {"key": "q", "value": 0}]
    )
    client.put(f"{API}/actions/b", json=CODE, headers=guest)
    client.put(f"{API}/rules/r2", json={"trigger": "/_/t", "action": "/_/b"}, headers=guest)
    r = client.post(f"{API}/triggers/t", json={"q": 1}, headers=guest)
    assert r.status_code == 202
    validate(r.json, "ActivationId")
    trigger_id = r.json["activationId"]
    assert r.headers["x-openwhisk-activation-id"] == trigger_id
    record = wait_for_activation(client, guest, trigger_id)
    assert record["name"] == "t" and record["response"]["result"] == {"p": "trigger", "q": 1}
    assert record["statusCode"] == 0 and record["response"]["success"] is True
    validate(record, "Activation")
    logs = sorted((json.loads(line) for line in record["logs"]), key=lambda e: e["rule"])
    assert [(e["rule"], e["action"], e["statusCode"], e["success"]) for e in logs] == [
        ("guest/r", "guest/a", 0, True),
        ("guest/r2", "guest/b", 0, True),
    ]
    for entry in logs:
        child = wait_for_activation(client, guest, entry["activationId"])
        assert child["cause"] == trigger_id and child["response"]["result"] == {
            "p": "trigger",
            "q": 1,
        }
    assert sorted(req["cause"] for req in fake.requests) == [trigger_id, trigger_id]


def test_fire_logs_a_rule_whose_action_is_gone(platform, guest):
    client, _, _ = platform
    setup_trigger_rule(client, guest)
    client.delete(f"{API}/actions/a", headers=guest)
    r = client.post(f"{API}/triggers/t", json={}, headers=guest)
    assert r.status_code == 202
    record = wait_for_activation(client, guest, r.json["activationId"])
    entry = json.loads(record["logs"][0])
    assert entry["success"] is False and entry["rule"] == "guest/r" and "error" in entry
    # the trigger activation says so too (statusCode of the worst rule), as OpenWhisk's does
    assert record["statusCode"] == entry["statusCode"] == 1
    assert record["response"]["success"] is False


def test_rule_action_in_a_package(platform, guest):
    client, _, fake = platform
    client.put(
        f"{API}/packages/pkg", json={"parameters": [{"key": "from", "value": "pkg"}]}, headers=guest
    )
    client.put(f"{API}/actions/pkg/a", json=CODE, headers=guest)
    client.put(f"{API}/triggers/t", json={}, headers=guest)
    r = client.put(f"{API}/rules/r", json={"trigger": "/_/t", "action": "/_/pkg/a"}, headers=guest)
    assert r.status_code == 200 and r.json["action"] == {"path": "guest/pkg", "name": "a"}
    fired = client.post(f"{API}/triggers/t", json={"x": 1}, headers=guest).json["activationId"]
    entry = json.loads(wait_for_activation(client, guest, fired)["logs"][0])
    assert entry["action"] == "guest/pkg/a"
    child = wait_for_activation(client, guest, entry["activationId"])
    assert child["response"]["result"] == {"from": "pkg", "x": 1}


def test_fires_per_minute_throttle(platform, guest):
    client, services, _ = platform
    services.subjects.set_limits("guest", {"firesPerMinute": 2})
    client.put(f"{API}/triggers/t", json={}, headers=guest)
    assert client.post(f"{API}/triggers/t", json={}, headers=guest).status_code == 204
    assert client.post(f"{API}/triggers/t", json={}, headers=guest).status_code == 204
    r = client.post(f"{API}/triggers/t", json={}, headers=guest)
    assert r.status_code == 429
    assert r.json["error"] == "Too many requests in the last minute (count: 2, allowed: 2)."


def test_other_namespaces_cannot_fire(platform, guest):
    client, services, _ = platform
    alice = basic(services.subjects.create("alice").api_key)
    client.put(f"{API}/triggers/t", json={}, headers=guest)
    assert (
        client.post("/api/v1/namespaces/guest/triggers/t", json={}, headers=alice).status_code
        == 403
    )
    assert client.get(f"{API}/triggers/t", headers=alice).status_code == 404
