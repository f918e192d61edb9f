"""Responses of the actions, activations, namespaces and limits API validate against the
definitions of Tango's API description (OpenWhisk's, controller.openapi)."""

from __future__ import annotations

import time

import jsonschema
import pytest

from tests.swagger import validate

CODE = {
    "exec": {"kind": "python:3.11", "code": "def main(a):\n    return a\n"},
    "parameters": [{"key": "p", "value": 1}],
    "annotations": [{"key": "a", "value": "b"}],
}


def test_action_and_activation_shapes(platform, guest):
    client, _, _ = platform
    doc = client.put("/api/v1/namespaces/_/actions/shape", json=CODE, headers=guest).json
    validate(doc, "Action")
    validate(client.get("/api/v1/namespaces/_/actions/shape", headers=guest).json, "Action")
    validate(
        client.get("/api/v1/namespaces/_/actions", headers=guest).json, "EntityBrief", array=True
    )
    validate(
        client.post("/api/v1/namespaces/_/actions/shape", json={}, headers=guest).json,
        "ActivationId",
    )
    rec = client.post(
        "/api/v1/namespaces/_/actions/shape?blocking=true", json={"x": 1}, headers=guest
    ).json
    validate(rec, "Activation")
    aid = rec["activationId"]
    validate(
        client.get(f"/api/v1/namespaces/_/activations/{aid}", headers=guest).json, "Activation"
    )
    validate(
        client.get(f"/api/v1/namespaces/_/activations/{aid}/logs", headers=guest).json,
        "ActivationLogs",
    )
    validate(
        client.get(f"/api/v1/namespaces/_/activations/{aid}/result", headers=guest).json,
        "ActivationResult",
    )
    time.sleep(0.1)
    validate(
        client.get("/api/v1/namespaces/_/activations", headers=guest).json,
        "ActivationBrief",
        array=True,
    )
    validate(client.get("/api/v1/namespaces/_/limits", headers=guest).json, "UserLimits")
    validate(client.get("/api/v1/namespaces/_/actions/nope", headers=guest).json, "ErrorMessage")


def test_the_validator_rejects_a_wrong_shape():
    with pytest.raises(jsonschema.ValidationError):
        validate({"namespace": "guest", "name": "x"}, "Action")
