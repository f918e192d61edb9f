"""``tango activation ...``: list table, get/logs/result with ID or --last, and poll."""

import json
from datetime import datetime

import pytest

from cli.commands import activation as activation_cmd
from tests.cli.conftest import API


def record(aid, name="hello", start=1723000000123, cold=False, status=0, logs=()):
    annotations = [{"key": "kind", "value": "python:3.11"}, {"key": "waitTime", "value": 5}]
    if cold:
        annotations.append({"key": "initTime", "value": 400})
    return {
        "namespace": "guest",
        "name": name,
        "version": "0.0.2",
        "activationId": aid,
        "start": start,
        "end": start + 42,
        "duration": 42,
        "statusCode": status,
        "response": {
            "status": "success" if status == 0 else "application error",
            "statusCode": status,
            "success": status == 0,
            "result": {"n": 1},
        },
        "logs": list(logs),
        "annotations": annotations,
    }


def test_list_prints_the_wsk_table(wsk, api):
    api.on("GET", f"{API}/activations", [record("a" * 32, cold=True), record("b" * 32, status=1)])
    run = wsk("activation", "list", "hello", "-l", "2", "--since", "5", "--upto", "9")
    assert api.last.query == {"name": "hello", "limit": "2", "since": "5", "upto": "9"}
    header, first, second = run.out.splitlines()
    assert header.split() == [
        "Datetime",
        "Activation",
        "ID",
        "Kind",
        "Start",
        "Duration",
        "Status",
        "Entity",
    ]
    when = datetime.fromtimestamp(1723000000.123).strftime("%Y-%m-%d %H:%M:%S")
    assert first.split() == [
        *when.split(),
        "a" * 32,
        "python:3.11",
        "cold",
        "42ms",
        "success",
        "guest/hello:0.0.2",
    ]
    assert second.split()[4:] == ["warm", "42ms", "application", "error", "guest/hello:0.0.2"]
    # columns line up under their headers
    assert first.index("a" * 32) == header.index("Activation ID")
    assert second.index("warm") == header.index("Start")


def test_list_full_asks_for_docs(wsk, api):
    api.on("GET", f"{API}/activations", [record("a" * 32, logs=["2024 stdout: hi"])])
    run = wsk("activation", "list", "-f")
    assert api.last.query == {"limit": "30", "docs": "true"}
    assert run.out.startswith("activation result for '/guest/hello' (success at ")
    assert "2024 stdout: hi" in run.out


def test_get_by_id_field_summary(wsk, api):
    rec = record("a" * 32)
    api.on("GET", f"{API}/activations/{'a' * 32}", rec)
    run = wsk("activation", "get", "a" * 32)
    assert run.out.startswith(f"ok: got activation {'a' * 32}\n")
    assert json.loads(run.out.split("\n", 1)[1]) == rec
    run = wsk("activation", "get", "a" * 32, "response")
    assert run.out.startswith(f"ok: got activation {'a' * 32}, displaying field response\n")
    assert (
        wsk("activation", "get", "a" * 32, "-s")
        .out.splitlines()[0]
        .startswith("activation result for '/guest/hello' (success at ")
    )


def test_get_last_uses_the_newest_activation(wsk, api):
    api.on("GET", f"{API}/activations", [record("c" * 32)])
    api.on("GET", f"{API}/activations/{'c' * 32}", record("c" * 32, logs=["l1"]))
    run = wsk("activation", "get", "--last", "logs")
    assert api.requests[0].query == {"limit": "1"}
    assert json.loads(run.out.split("\n", 1)[1]) == ["l1"]


def test_last_with_no_activations(wsk, api):
    api.on("GET", f"{API}/activations", [])
    run = wsk("activation", "result", "--last")
    assert run.code == 1 and "does not contain any activations" in run.err


def test_id_and_last_arguments_are_checked(wsk, api):
    assert wsk("activation", "get").code == 1
    assert wsk("activation", "logs", "--last", "extra").code == 1
    assert api.requests == []


def test_logs_and_strip(wsk, api):
    lines = ["2024-08-07T10:00:00.123456Z  stdout: Hello", "2024-08-07T10:00:00.2Z stderr: oops"]
    api.on("GET", f"{API}/activations/{'a' * 32}/logs", {"logs": lines})
    assert wsk("activation", "logs", "a" * 32).out.splitlines() == lines
    assert wsk("activation", "logs", "a" * 32, "-r").out.splitlines() == ["Hello", "oops"]


def test_result_prints_only_the_result(wsk, api):
    api.on(
        "GET",
        f"{API}/activations/{'a' * 32}/result",
        {"status": "success", "success": True, "result": {"greeting": "hi"}},
    )
    assert json.loads(wsk("activation", "result", "a" * 32).out) == {"greeting": "hi"}


def test_get_missing_activation_exit_code(wsk, api):
    run = wsk("activation", "get", "f" * 32)
    assert run.code == 148
    assert run.err.startswith(
        f"error: Unable to get activation '{'f' * 32}': The requested resource"
    )


def test_poll_prints_each_new_activation_once_and_exits(wsk, api, monkeypatch):
    monkeypatch.setattr(activation_cmd, "POLL_INTERVAL_S", 0.01)
    first = record("a" * 32, start=2_000_000_000_000, logs=["x stdout: one"])
    second = record("b" * 32, start=2_000_000_000_500, logs=["x stdout: two"])
    api.on("GET", f"{API}/activations", [first], [first, second], [second])
    run = wsk("activation", "poll", "hello", "-e", "1", "--since-minutes", "2")
    assert run.code == 0
    assert run.out.count(f"Activation: 'hello' ({'a' * 32})") == 1
    assert run.out.count(f"Activation: 'hello' ({'b' * 32})") == 1
    assert run.out.index("one") < run.out.index("two")
    queries = [r.query for r in api.requests]
    assert all(q["name"] == "hello" and q["docs"] == "true" for q in queries)
    assert int(queries[1]["since"]) == first["start"]  # later polls start at the newest seen
    assert "Polling for activation logs" in run.err


@pytest.mark.parametrize(
    "target, scope",
    [
        (None, (None, None)),
        ("/other", ("other", None)),
        ("pkg/act", ("_", "pkg/act")),
        ("/ns/act", ("ns", "act")),
    ],
)
def test_poll_scope(target, scope):
    assert activation_cmd.poll_scope(target) == scope
