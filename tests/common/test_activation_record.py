"""``common.activation``: the typed activation record converts to and from OpenWhisk's JSON
without changing it (annotations as ``[{key, value}]`` on the wire, a mapping in Python)."""

from __future__ import annotations

import copy

import pytest

from common.activation import (
    Activation,
    ActivationResponse,
    annotations_from_json,
    annotations_to_json,
)
from controller.invoke import base_record, finish_with_error, with_deadline
from invoker import activation as invoker_activation
from tests.swagger import validate

ACTION = {
    "namespace": "guest/pkg",
    "name": "hello",
    "version": "0.0.3",
    "exec": {"kind": "python:3", "code": "def main(a): return a"},
    "limits": {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1},
}


def _invoker_record() -> dict:
    msg = {
        "activationId": "a" * 32,
        "namespace": "guest",
        "subject": "guest",
        "cause": "c" * 32,
        "action": {"namespace": "guest/pkg", "name": "hello", "version": "0.0.3"},
    }
    return invoker_activation.build_record(
        msg,
        invoker_activation.Outcome(0, {"ok": [1, {"deep": None}]}),
        start=10,
        end=25,
        logs=["2026-12-06T07:00:00Z stdout: hi"],
        annotations={
            "path": "guest/pkg/hello",
            "kind": "python:3",
            "limits": ACTION["limits"],
            "waitTime": 3,
            "timeout": False,
            "initTime": 120,
            "size": {"cpu": 1.5, "memory": 256},
            "usage": {"cpuTime": 0.01, "maxMemory": 1 << 20},
            "startKind": "cold",
            "invoker": "invoker0",
        },
    )


def _records() -> list[dict]:
    running = base_record("guest", ACTION, "guest", "b" * 32, 1_000, None)
    caused = base_record("guest", ACTION, "guest", "d" * 32, 1_000, "e" * 32)
    failed = finish_with_error(running, "No invokers available.")
    developer = finish_with_error(caused, "bad code", 2)
    deadline = with_deadline(_invoker_record(), 10_000)
    list_result = {**_invoker_record(), "response": ActivationResponse.of(0, [1, 2]).to_json()}
    with_extra = {**_invoker_record(), "somethingNew": {"x": 1}}
    return [
        running,
        caused,
        failed,
        developer,
        _invoker_record(),
        deadline,
        list_result,
        with_extra,
    ]


@pytest.mark.parametrize("index", range(len(_records())))
def test_round_trip_gives_the_same_json(index):
    record = _records()[index]
    before = copy.deepcopy(record)
    again = Activation.from_json(record).to_json()
    assert again == before
    assert list(again) == list(before)  # the same key order as the record it came from
    assert record == before  # the input is not changed


# The last record has an unknown key; the third is a whisk internal error (3), which Tango's
# document lists though OpenWhisk's (0..2) does not.
@pytest.mark.parametrize("index", range(len(_records()) - 1))
def test_round_tripped_records_match_the_openapi_document(index):
    validate(Activation.from_json(_records()[index]).to_json(), "Activation")


def test_annotations_are_a_mapping_in_python():
    activation = Activation.from_json(_invoker_record())
    assert activation.annotations["waitTime"] == 3
    assert activation.annotations["size"] == {"cpu": 1.5, "memory": 256}
    assert activation.path == "guest/pkg/hello"
    assert activation.status_code == 0 and activation.response.success
    assert activation.cause == "c" * 32


def test_annotated_adds_and_replaces_in_order():
    activation = Activation.from_json(_invoker_record()).annotated(waitTime=9, deadlineMet=True)
    pairs = activation.to_json()["annotations"]
    assert pairs[3] == {"key": "waitTime", "value": 9}
    assert pairs[-1] == {"key": "deadlineMet", "value": True}


def test_annotation_conversion_skips_entries_without_a_key():
    pairs = [{"key": "a", "value": 1}, {"value": 2}, "junk", {"key": 3, "value": 4}]
    assert annotations_from_json(pairs) == {"a": 1}
    assert annotations_to_json({"a": 1, "b": None}) == [
        {"key": "a", "value": 1},
        {"key": "b", "value": None},
    ]
    assert annotations_from_json(None) == {}


@pytest.mark.parametrize(
    ("code", "status", "success"),
    [
        (0, "success", True),
        (1, "application error", False),
        (2, "action developer error", False),
        (3, "whisk internal error", False),
    ],
)
def test_response_of_a_status_code(code, status, success):
    response = ActivationResponse.of(code, {"error": "x"})
    assert (response.status, response.status_code, response.success) == (status, code, success)
    assert response.error == "x"


def test_running_response_and_a_response_without_fields():
    assert ActivationResponse.running().to_json() == {
        "status": "running",
        "statusCode": 0,
        "success": False,
        "result": {},
    }
    broken = ActivationResponse.from_json({"statusCode": 7})
    assert (broken.status_code, broken.status, broken.success) == (
        3,
        "whisk internal error",
        False,
    )
    assert broken.error is None
