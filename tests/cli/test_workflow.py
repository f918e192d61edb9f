"""``tango workflow ...`` against the workflow extension of the REST API."""

import json

import pytest

from tests.cli.conftest import API

RUN = {
    "runId": "r1",
    "workflow": "thumbs",
    "namespace": "guest",
    "policy": "late",
    "start": 1,
    "end": 2101,
    "duration": 2100.0,
    "status": "success",
    "statusText": "success",
    "slo": {"latencyMs": 2500.0, "percentile": 99.0},
    "metSlo": True,
    "coreSeconds": 1.25,
    "gbSeconds": 0.5,
    "result": {"ok": True},
    "nodes": [
        {
            "id": "resize",
            "action": "resize",
            "status": "success",
            "duration": 900.0,
            "activationIds": ["a" * 32],
            "size": {"cpu": 2.0, "memory": 1024, "option": "large"},
            "remainingMs": 2450.5,
            "rule": "resize:1",
        },
        {
            "id": "tiles",
            "action": "tile",
            "status": "success",
            "duration": 700.0,
            "activationIds": ["b" * 32, "c" * 32],
            "size": None,
            "remainingMs": None,
        },
    ],
}


@pytest.fixture
def definition(tmp_path):
    path = tmp_path / "thumbs.yaml"
    path.write_text(
        "name: thumbs\nslo: {latency: 2500ms}\nnodes:\n  - {id: resize, action: resize}\n"
    )
    return path


def test_create_and_update_send_the_yaml_text(wsk, api, definition):
    api.on("PUT", f"{API}/workflows/thumbs", {"name": "thumbs"})
    run = wsk("workflow", "create", "thumbs", str(definition))
    assert run.out == "ok: created workflow thumbs\n"
    assert (api.last.query, api.last.body) == ({}, {"definition": definition.read_text()})
    assert (
        wsk("workflow", "update", "thumbs", str(definition)).out == "ok: updated workflow thumbs\n"
    )
    assert api.last.query == {"overwrite": "true"}


def test_create_reports_a_bad_definition(wsk, api, definition):
    api.on(
        "PUT",
        f"{API}/workflows/thumbs",
        {"error": "The workflow definition is not valid: nodes[0].action: unknown", "code": "t"},
        status=400,
    )
    run = wsk("workflow", "create", "thumbs", str(definition))
    assert run.code == 400 - 256
    assert "Unable to create workflow 'thumbs': The workflow definition is not valid" in run.err


def test_missing_file_is_a_local_error(wsk, api, tmp_path):
    run = wsk("workflow", "create", "thumbs", str(tmp_path / "nope.yaml"))
    assert run.code == 1 and "cannot read the file" in run.err and api.requests == []


def test_get_list_delete(wsk, api):
    api.on("GET", f"{API}/workflows/thumbs", {"name": "thumbs", "version": "0.0.1"})
    assert wsk("workflow", "get", "thumbs").out.startswith("ok: got workflow thumbs\n")
    api.on("GET", f"{API}/workflows", [{"namespace": "guest", "name": "thumbs"}])
    run = wsk("workflow", "list")
    assert run.out.splitlines()[0] == "workflows" and api.last.query == {"limit": "30"}
    api.on("DELETE", f"{API}/workflows/thumbs", {"name": "thumbs"})
    assert wsk("workflow", "delete", "thumbs").out == "ok: deleted workflow thumbs\n"


def test_invoke_non_blocking_with_policy(wsk, api):
    api.on("POST", f"{API}/workflows/thumbs", {"runId": "r9"}, status=202)
    run = wsk("workflow", "invoke", "thumbs", "-p", "url", "http://x", "--policy", "fixed:large")
    assert run.out == "ok: invoked workflow thumbs with run id r9\n"
    assert (api.last.query, api.last.body) == ({"policy": "fixed:large"}, {"url": "http://x"})


def test_invoke_blocking_and_result(wsk, api):
    api.on("POST", f"{API}/workflows/thumbs", RUN, headers={"x-tango-run-id": "r1"})
    run = wsk("workflow", "invoke", "thumbs", "-b")
    assert api.last.query == {"blocking": "true"}
    assert run.out.startswith("ok: invoked workflow thumbs with run id r1\n")
    api.on("POST", f"{API}/workflows/thumbs", {"ok": True})
    run = wsk("workflow", "invoke", "thumbs", "-r")
    assert api.last.query == {"blocking": "true", "result": "true"}
    assert json.loads(run.out) == {"ok": True}


def test_invoke_failed_run_exits_246(wsk, api):
    api.on("POST", f"{API}/workflows/thumbs", {"error": "failed at node resize"}, status=502)
    run = wsk("workflow", "invoke", "thumbs", "-r")
    assert run.code == 246 and json.loads(run.out) == {"error": "failed at node resize"}


def test_runs_table(wsk, api):
    api.on("GET", f"{API}/workflow-runs", [RUN])
    run = wsk("workflow", "runs", "thumbs", "-l", "5")
    assert api.last.query == {"name": "thumbs", "limit": "5"}
    header, row = run.out.splitlines()
    assert header.split() == ["Run", "ID", "Start", "Duration", "Policy", "Met", "SLO", "Core-s"]
    assert row.split()[0] == "r1" and row.split()[-4:] == ["2100ms", "late", "yes", "1.250"]


def test_run_get_shows_each_node_decision(wsk, api):
    api.on("GET", f"{API}/workflow-runs/r1", RUN)
    lines = wsk("workflow", "run-get", "r1").out.splitlines()
    assert lines[0] == (
        "run r1 of workflow thumbs: success, policy late, SLO 2500ms p99, duration 2100ms, "
        "met SLO yes, core-seconds 1.250, GB-seconds 0.500"
    )
    assert lines[1].split() == [
        "Node",
        "Status",
        "Activation",
        "Option",
        "CPU",
        "Memory",
        "Remaining",
        "Duration",
    ]
    assert lines[2].split() == [
        "resize",
        "success",
        "a" * 32,
        "large",
        "2.0",
        "1024MB",
        "2450ms",
        "900ms",
    ]
    assert lines[3].split() == ["tiles", "success", "2", "activations", "-", "-", "-", "-", "700ms"]


def test_report_per_policy(wsk, api):
    api.on(
        "GET",
        f"{API}/workflows/thumbs/report",
        {
            "workflow": "thumbs",
            "slo": {"latency": 2500.0, "percentile": 99.0},
            "policies": {
                "late": {
                    "runs": 20,
                    "succeeded": 20,
                    "sloAttainment": 0.95,
                    "latency": {"p50": 1800.0, "p95": 2400.0, "p99": 2600.0, "mean": 1900.0},
                    "coreSecondsPerRun": 2.5,
                    "gbSecondsPerRun": 1.0,
                    "atRiskRuns": 1,
                }
            },
        },
    )
    lines = wsk("workflow", "report", "thumbs").out.splitlines()
    assert lines[0] == "workflow thumbs, SLO 2500ms p99"
    assert lines[2].split() == [
        "late",
        "20",
        "95.0%",
        "1800ms",
        "2400ms",
        "2600ms",
        "2.500",
        "1.000",
    ]
