"""Actions and activations REST API against a fresh store and a fake invoker: OpenWhisk's
paths, status codes, error bodies and shapes."""

from __future__ import annotations

import time

from tests.controller.conftest import FakeInvoker, basic

CODE = {"exec": {"kind": "python:3", "code": "def main(args):\n    return args\n"}}


def put(client, guest, name, body=CODE, overwrite=False):
    q = "?overwrite=true" if overwrite else ""
    return client.put(f"/api/v1/namespaces/_/actions/{name}{q}", json=body, headers=guest)


def test_discovery_endpoints(platform):
    client, _, _ = platform
    root = client.get("/").json
    assert root["description"] == "OpenWhisk" and root["api_paths"] == ["/api/v1"]
    assert root["limits"]["max_action_memory"] == 512 * 1048576
    assert "python" in root["runtimes"]
    assert client.get("/api/v1").json["api_version"] == "1.0.0"
    assert client.get("/ping").data == b"pong"
    assert client.get("/invokers").json == {"invoker0": "up"}


def test_auth_is_required_and_checked(platform, guest):
    client, _, _ = platform
    r = client.get("/api/v1/namespaces/_/actions")
    assert r.status_code == 401 and set(r.json) == {"error", "code"}
    bad = basic("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:wrong")
    assert client.get("/api/v1/namespaces/_/actions", headers=bad).status_code == 401
    assert client.get("/api/v1/namespaces", headers=guest).json == ["guest"]


def test_create_get_update_version_bump_and_conflict(platform, guest):
    client, _, _ = platform
    r = put(client, guest, "hello")
    assert r.status_code == 200
    doc = r.json
    assert doc["version"] == "0.0.1" and doc["exec"]["kind"] == "python:3.11"
    assert {"key": "exec", "value": "python:3.11"} in doc["annotations"]
    assert {"key": "provide-api-key", "value": False} in doc["annotations"]
    assert doc["limits"] == {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1}
    r = put(client, guest, "hello")
    assert r.status_code == 409 and r.json["error"] == "resource already exists"
    r = put(client, guest, "hello", {"limits": {"memory": 512}}, overwrite=True)
    assert (
        r.status_code == 200 and r.json["version"] == "0.0.2" and r.json["limits"]["memory"] == 512
    )
    got = client.get("/api/v1/namespaces/_/actions/hello?code=false", headers=guest).json
    assert "code" not in got["exec"] and got["version"] == "0.0.2"
    listed = client.get("/api/v1/namespaces/_/actions", headers=guest).json
    assert [a["name"] for a in listed] == ["hello"] and listed[0]["exec"] == {"binary": False}


def test_limit_violations_use_openwhisk_messages(platform, guest):
    client, _, _ = platform
    r = put(client, guest, "big", {**CODE, "limits": {"memory": 1024}})
    assert r.status_code == 400
    assert r.json["error"] == (
        "The request content was malformed:\nrequirement failed: memory 1024 MB "
        "exceeds allowed threshold of 512 MB"
    )
    r = put(client, guest, "slow", {**CODE, "limits": {"timeout": 400000}})
    assert (
        "duration 400000 milliseconds exceeds allowed threshold of 300000 milliseconds"
        in r.json["error"]
    )
    r = put(client, guest, "nokind", {"exec": {"kind": "cobol:1", "code": "x"}})
    assert r.status_code == 400 and "cobol:1" in r.json["error"]
    r = client.put("/api/v1/namespaces/_/actions/bad", data="{not json", headers=guest)
    assert r.status_code == 400 and r.json["error"].startswith("The request content was malformed:")
    r = put(client, guest, " bad name")
    assert r.status_code == 400


def test_delete_and_not_found(platform, guest):
    client, _, _ = platform
    put(client, guest, "gone")
    assert client.delete("/api/v1/namespaces/_/actions/gone", headers=guest).json["name"] == "gone"
    r = client.get("/api/v1/namespaces/_/actions/gone", headers=guest)
    assert r.status_code == 404 and r.json["error"] == "The requested resource does not exist."


def test_namespaces_are_isolated(platform, guest):
    client, services, _ = platform
    other = services.subjects.create("alice")
    alice = basic(other.api_key)
    put(client, guest, "secret")
    assert client.get("/api/v1/namespaces/_/actions/secret", headers=alice).status_code == 404
    assert client.get("/api/v1/namespaces/guest/actions/secret", headers=alice).status_code == 403
    assert client.post("/api/v1/namespaces/guest/actions/secret", headers=alice).status_code == 403
    rec = client.post(
        "/api/v1/namespaces/_/actions/secret?blocking=true", json={}, headers=guest
    ).json
    aid = rec["activationId"]
    assert client.get(f"/api/v1/namespaces/_/activations/{aid}", headers=alice).status_code == 404
    assert client.get("/api/v1/namespaces/_/activations", headers=alice).json == []


def test_blocking_invoke_returns_record_and_header(platform, guest):
    client, _, fake = platform
    put(client, guest, "echo")
    r = client.post("/api/v1/namespaces/_/actions/echo?blocking=true", json={"x": 1}, headers=guest)
    assert r.status_code == 200
    assert r.headers["x-openwhisk-activation-id"] == r.json["activationId"]
    assert r.json["response"]["result"] == {"x": 1}
    sent = fake.requests[-1]
    assert (
        sent["action"]["path"] == "guest/echo"
        and sent["params"] == {"x": 1}
        and sent["size"] is None
    )
    r = client.post(
        "/api/v1/namespaces/_/actions/echo?blocking=true&result=true", json={"y": 2}, headers=guest
    )
    assert r.status_code == 200 and r.json == {"y": 2}


def test_default_parameters_merge_and_size_binding(platform, guest):
    client, _, fake = platform
    put(
        client,
        guest,
        "p",
        {**CODE, "parameters": [{"key": "a", "value": 1}, {"key": "b", "value": 2}]},
    )
    r = client.post(
        "/api/v1/namespaces/_/actions/p?blocking=true&result=true&cpu=1.5&memory=512",
        json={"b": 3},
        headers=guest,
    )
    assert r.json == {"a": 1, "b": 3}
    assert fake.requests[-1]["size"] == {"cpu": 1.5, "memory": 512}
    r = client.post("/api/v1/namespaces/_/actions/p?cpu=fast", json={}, headers=guest)
    assert r.status_code == 400 and "cpu" in r.json["error"]


def test_application_and_developer_errors_are_502_and_whisk_errors_500(platform, guest):
    client, _, fake = platform
    put(client, guest, "fails")
    fake.behaviour = lambda b: (200, FakeInvoker.record(b, {"error": "boom"}, 1))
    r = client.post(
        "/api/v1/namespaces/_/actions/fails?blocking=true&result=true", json={}, headers=guest
    )
    assert r.status_code == 502 and r.json == {"error": "boom"}
    fake.behaviour = lambda b: (200, FakeInvoker.record(b, {"error": "crash"}, 2))
    assert (
        client.post("/api/v1/namespaces/_/actions/fails?blocking=true", headers=guest).status_code
        == 502
    )


def test_invoker_dying_mid_activation_still_stores_a_record(platform, guest):
    client, _, fake = platform
    put(client, guest, "doomed")
    fake.behaviour = lambda b: (200, None)
    r = client.post("/api/v1/namespaces/_/actions/doomed?blocking=true", json={}, headers=guest)
    assert r.status_code == 502  # the upstream failed; at most once: not run again
    assert r.json["response"]["status"] == "whisk internal error"
    aid = r.json["activationId"]
    stored = client.get(f"/api/v1/namespaces/_/activations/{aid}", headers=guest).json
    assert stored["statusCode"] == 3 and "invoker0" in stored["response"]["result"]["error"]


def test_blocking_wait_downgrades_to_202(platform, guest):
    client, _, fake = platform
    put(client, guest, "slow")

    def slow(body):
        time.sleep(0.5)
        return 200, FakeInvoker.record(body, {"done": True})

    fake.behaviour = slow
    r = client.post(
        "/api/v1/namespaces/_/actions/slow?blocking=true&timeout=50", json={}, headers=guest
    )
    assert r.status_code == 202 and set(r.json) == {"activationId"}
    aid = r.json["activationId"]
    running = client.get(f"/api/v1/namespaces/_/activations/{aid}", headers=guest)
    assert running.status_code == 200 and running.json["response"]["status"] == "running"
    for _ in range(50):
        got = client.get(f"/api/v1/namespaces/_/activations/{aid}/result", headers=guest)
        if got.status_code == 200:
            break
        time.sleep(0.05)
    assert got.json["result"] == {"done": True}


def test_blocking_wait_runs_out_while_the_activation_waits_at_a_full_invoker(platform, guest):
    # The action's timeout is within the caller's wait, but every invoker is full: the activation
    # may sit in an invoker's buffer, so the wait still bounds the reply (202, then the result).
    client, services, fake = platform
    put(client, guest, "queued", {**CODE, "limits": {"timeout": 200}})
    held = services.registry.reserve("another/action", 2048)  # the only invoker is full

    def buffered(body):
        time.sleep(0.6)
        return 200, FakeInvoker.record(body, {"done": True})

    fake.behaviour = buffered
    try:
        r = client.post(
            "/api/v1/namespaces/_/actions/queued?blocking=true&timeout=300", json={}, headers=guest
        )
        assert r.status_code == 202 and set(r.json) == {"activationId"}
    finally:
        services.registry.release(held, 2048)
    aid = r.json["activationId"]
    for _ in range(100):
        got = client.get(f"/api/v1/namespaces/_/activations/{aid}/result", headers=guest)
        if got.status_code == 200:
            break
        time.sleep(0.05)
    assert got.json["result"] == {"done": True}
    # With room again, the same call waits for its result.
    fake.behaviour = lambda b: (200, FakeInvoker.record(b, {"done": True}))
    r = client.post(
        "/api/v1/namespaces/_/actions/queued?blocking=true&timeout=300", json={}, headers=guest
    )
    assert r.status_code == 200 and r.json["response"]["result"] == {"done": True}


def test_non_blocking_invoke_and_activation_listing(platform, guest):
    client, _, _ = platform
    put(client, guest, "a1")
    put(client, guest, "a2")
    ids = [
        client.post(f"/api/v1/namespaces/_/actions/{n}", json={}, headers=guest).json[
            "activationId"
        ]
        for n in ("a1", "a2", "a1")
    ]
    for _ in range(50):
        if (
            client.get("/api/v1/namespaces/_/activations?count=true", headers=guest).json[
                "activations"
            ]
            == 3
        ):
            break
        time.sleep(0.05)
    listed = client.get("/api/v1/namespaces/_/activations", headers=guest).json
    assert {a["activationId"] for a in listed} == set(ids)
    assert "response" not in listed[0]
    assert len(client.get("/api/v1/namespaces/_/activations?name=a1", headers=guest).json) == 2
    docs = client.get("/api/v1/namespaces/_/activations?docs=true&limit=1", headers=guest).json
    assert len(docs) == 1 and "response" in docs[0]
    assert (
        client.get(
            "/api/v1/namespaces/_/activations?count=true&docs=true", headers=guest
        ).status_code
        == 400
    )
    assert client.get("/api/v1/namespaces/_/activations/nothex", headers=guest).status_code == 400
    logs = client.get(f"/api/v1/namespaces/_/activations/{ids[0]}/logs", headers=guest).json
    assert logs == {"logs": []}


def test_sequence_runs_components_and_stops_at_first_failure(platform, guest):
    client, _, fake = platform
    put(client, guest, "inc")
    put(client, guest, "bad")

    def behave(body):
        if body["action"]["name"] == "bad":
            return 200, FakeInvoker.record(body, {"error": "no"}, 1)
        return 200, FakeInvoker.record(body, {"n": body["params"].get("n", 0) + 1})

    fake.behaviour = behave
    put(
        client,
        guest,
        "seq",
        {"exec": {"kind": "sequence", "components": ["/_/inc", "/guest/inc", "/_/inc"]}},
    )
    r = client.post("/api/v1/namespaces/_/actions/seq?blocking=true", json={"n": 1}, headers=guest)
    rec = r.json
    assert r.status_code == 200 and rec["response"]["result"] == {"n": 4}
    assert len(rec["logs"]) == 3 and {"key": "topmost", "value": True} in rec["annotations"]
    child = client.get(f"/api/v1/namespaces/_/activations/{rec['logs'][0]}", headers=guest).json
    assert child["cause"] == rec["activationId"]
    put(
        client,
        guest,
        "seq2",
        {"exec": {"kind": "sequence", "components": ["/_/inc", "/_/bad", "/_/inc"]}},
    )
    r = client.post("/api/v1/namespaces/_/actions/seq2?blocking=true", json={"n": 1}, headers=guest)
    assert r.status_code == 502 and len(r.json["logs"]) == 2
    # as in OpenWhisk: a missing component is refused at create, and ends a run that finds it gone
    r = put(client, guest, "seq3", {"exec": {"kind": "sequence", "components": ["/_/missing"]}})
    assert r.status_code == 400 and r.json["error"] == "Sequence component does not exist."
    put(client, guest, "gone")
    put(client, guest, "seq3", {"exec": {"kind": "sequence", "components": ["/_/gone"]}})
    client.delete("/api/v1/namespaces/_/actions/gone", headers=guest)
    r = client.post("/api/v1/namespaces/_/actions/seq3?blocking=true", json={}, headers=guest)
    assert r.json["response"]["result"]["error"] == "Sequence component does not exist."


def test_throttles_return_429(platform, guest):
    client, services, fake = platform
    services.subjects.set_limits("guest", {"invocationsPerMinute": 2})
    put(client, guest, "t")
    assert client.post("/api/v1/namespaces/_/actions/t", headers=guest).status_code == 202
    assert client.post("/api/v1/namespaces/_/actions/t", headers=guest).status_code == 202
    r = client.post("/api/v1/namespaces/_/actions/t", headers=guest)
    assert r.status_code == 429
    assert r.json["error"] == "Too many requests in the last minute (count: 2, allowed: 2)."
    limits = client.get("/api/v1/namespaces/_/limits", headers=guest).json
    assert limits["invocationsPerMinute"] == 2


def test_payload_too_large_is_413(platform, guest):
    client, _, _ = platform
    put(client, guest, "big")
    r = client.post(
        "/api/v1/namespaces/_/actions/big",
        data=b'{"x": "' + b"a" * 1_100_000 + b'"}',
        headers={**guest, "Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_no_invokers_is_503(platform, guest):
    client, services, _ = platform
    services.registry.mark_down("invoker0")
    put(client, guest, "x")
    r = client.post("/api/v1/namespaces/_/actions/x", headers=guest)
    assert r.status_code == 503
