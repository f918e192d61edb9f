"""Tango's API description is served where OpenWhisk serves its own, describes every route the
controller has, and real responses of a tour through the whole API match it."""

from __future__ import annotations

import re

import pytest
import schemathesis

from controller.openapi import PATH, document
from tests.controller.conftest import basic
from tests.swagger import operation, validate_response

API = "/api/v1/namespaces/_"
CODE = {"exec": {"kind": "python:3.11", "code": "def main(a):\n    return a\n"}}
WORKFLOW = "name: wf\nslo: {latency: 5000ms, percentile: 99}\nnodes:\n  - {id: n, action: a}\n"
HINTS = "workflow wf slo 5000ms p99\n\noption small cpu 0.5 memory 256MB\n\nfunction n\n  otherwise use small\n"
# Routes that are not the REST API: invokers' channel, Prometheus, the console, API gateway.
UNDOCUMENTED = (
    "/internal",
    "/metrics",
    "/console",
    "/static",
    "/favicon.ico",
    "/api/<",
    "/invokers/",
    "/activation/",
)


def test_the_document_is_served_where_openwhisk_serves_its_own_and_is_valid(platform):
    client, _, _ = platform
    served = client.get(PATH)
    assert served.status_code == 200 and served.json == document()
    assert client.get("/api/v1").json["swagger_paths"]["api-docs"] == "/api-docs"
    schema = schemathesis.openapi.from_dict(served.json)  # raises on an invalid document
    assert len(list(schema.get_all_operations())) >= 40


def test_every_route_of_the_controller_is_documented(platform):
    client, _, _ = platform
    app = client.application
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(UNDOCUMENTED):
            continue
        sample = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"x\1", rule.rule).rstrip("/") or "/"
        if sample.startswith("/api/v1/web/"):
            sample = "/api/v1/web/ns/pkg/name.json"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if rule.rule.startswith("/api/v1/web/") and method == "PATCH":
                continue  # OpenWhisk's description has no PATCH for web actions
            try:
                operation(method, sample)
            except KeyError:
                missing.append(f"{method} {rule.rule}")
    assert missing == []


def test_real_responses_of_a_tour_match_the_document(platform, guest):
    client, services, _ = platform
    admin = basic(services.subjects.create("ops", admin=True).api_key)
    tour = [
        ("GET", "/", None, None),
        ("GET", "/api/v1", None, None),
        ("GET", "/invokers", None, None),
        ("GET", "/api/v1/namespaces", None, guest),
        ("PUT", f"{API}/actions/a", CODE, guest),
        ("PUT", f"{API}/actions/a", CODE, guest),  # 409
        ("GET", f"{API}/actions/a", None, guest),
        ("GET", f"{API}/actions", None, guest),
        ("POST", f"{API}/actions/a", {}, guest),
        ("POST", f"{API}/actions/a?blocking=true&cpu=0.5&memory=256", {"x": 1}, guest),
        ("POST", f"{API}/actions/a?blocking=true&result=true", {"x": 1}, guest),
        ("POST", f"{API}/actions/a?cpu=nan", {}, guest),
        ("GET", f"{API}/actions/nothing", None, guest),
        ("GET", f"{API}/actions/a", None, None),
        ("PUT", f"{API}/packages/p", {"publish": True}, guest),
        ("PUT", f"{API}/actions/p/b", CODE, guest),
        ("GET", f"{API}/packages/p", None, guest),
        ("GET", f"{API}/packages", None, guest),
        ("PUT", f"{API}/packages/bp", {"binding": {"name": "p"}}, guest),
        ("POST", f"{API}/actions/bp/b?blocking=true", {}, guest),
        ("PUT", f"{API}/triggers/t", {}, guest),
        ("PUT", f"{API}/rules/r", {"trigger": "/_/t", "action": "/_/a"}, guest),
        ("GET", f"{API}/rules/r", None, guest),
        ("GET", f"{API}/rules", None, guest),
        ("POST", f"{API}/rules/r", {"status": "inactive"}, guest),
        ("POST", f"{API}/rules/r", {"status": "active"}, guest),
        ("GET", f"{API}/triggers/t", None, guest),
        ("GET", f"{API}/triggers", None, guest),
        ("POST", f"{API}/triggers/t", {"y": 2}, guest),
        ("GET", f"{API}/activations?skip=99999999999999999999", None, guest),
        ("GET", f"{API}/limits", None, guest),
        ("PUT", f"{API}/workflows/wf", {"definition": WORKFLOW}, guest),
        ("GET", f"{API}/workflows/wf", None, guest),
        ("GET", f"{API}/workflows", None, guest),
        ("PUT", f"{API}/workflows/wf/hints", {"hints": HINTS}, guest),
        ("GET", f"{API}/workflows/wf/hints", None, guest),
        ("POST", f"{API}/workflows/wf?blocking=true&policy=late", {}, guest),
        ("GET", f"{API}/workflow-runs", None, guest),
        ("GET", f"{API}/workflows/wf/report", None, guest),
        ("GET", f"{API}/workflows/wf/profile", None, guest),
        ("POST", f"{API}/workflows/wf/synthesize", {}, guest),  # 409: no profiles yet
        ("GET", "/api/v1/admin/invokers", None, admin),
        ("GET", "/api/v1/admin/invokers", None, guest),
        ("DELETE", f"{API}/rules/r", None, guest),
        ("DELETE", f"{API}/triggers/t", None, guest),
        ("DELETE", f"{API}/packages/bp", None, guest),
        ("DELETE", f"{API}/packages/p?force=true", None, guest),
        ("DELETE", f"{API}/workflows/wf", None, guest),
        ("DELETE", f"{API}/actions/a", None, guest),
    ]
    seen = set()
    for method, path, body, headers in tour:
        r = client.open(path, method=method, json=body, headers=headers or {})
        assert r.status_code < 500, (method, path, r.json)
        payload = r.json if r.is_json else r.get_data(as_text=True)
        seen.add(validate_response(method, path, r.status_code, payload))
    activations = client.get(f"{API}/activations?docs=true", headers=guest)
    validate_response("GET", f"{API}/activations", 200, activations.json)
    aid = activations.json[0]["activationId"]
    for suffix in ("", "/logs", "/result"):
        r = client.get(f"{API}/activations/{aid}{suffix}", headers=guest)
        seen.add(validate_response("GET", f"{API}/activations/x{suffix}", r.status_code, r.json))
    run = client.get(f"{API}/workflow-runs", headers=guest).json[0]["runId"]
    r = client.get(f"{API}/workflow-runs/{run}", headers=guest)
    seen.add(validate_response("GET", f"{API}/workflow-runs/x", r.status_code, r.json))
    assert len(seen) >= 25


def test_a_wrong_body_fails_validation():
    with pytest.raises(Exception):  # noqa: B017 - jsonschema.ValidationError
        validate_response("GET", "/api/v1/namespaces/_/actions/a", 200, {"name": 1})
    with pytest.raises(AssertionError):
        validate_response("GET", "/api/v1/namespaces/_/actions/a", 418, {})
