"""End to end: the shipped agentic-ui workflow on real containers, from the CLI alone.

A standalone platform whose action memory cap fits the VLM runtime (the CPU image
`tango/action-vlm:cpu`, tiny preset, nova policy): `tango workflow deploy agentic-ui`, a blocking
`workflow invoke`, then the run record and the VLM nodes' activation records: each VLM node ran
with the workflow's remaining SLO budget as its deadline, which the record shows with whether it
was met, and the agent step ends in a tap on one of the screen's buttons.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from common.platform_process import REPO
from tests.e2e.conftest import start_platform

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]

WORKFLOW = "agentic-ui"
VLM_NODES = ("plan", "verify")


@pytest.fixture(scope="module")
def vlm_platform(tmp_path_factory):
    built = subprocess.run(
        ["bash", str(REPO / "docker" / "build-images.sh"), "vlm"], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    p = start_platform(
        tmp_path_factory.mktemp("agentic"),
        extra=["--max-action-memory", "4096", "--user-memory", "8192"],
    )
    yield p
    p.process.stop()


def test_agentic_step_runs_with_the_slo_budget_as_each_vlm_deadline(vlm_platform):
    p = vlm_platform
    out = p.tango("workflow", "deploy", WORKFLOW)
    assert f"deployed workflow {WORKFLOW}" in out.stdout
    request = p.wskprops.parent / "agentic-input.json"
    request.write_text(json.dumps({"task": "open the settings", "screen": "phone", "seed": 1}))
    invoked = p.tango_json(
        "workflow",
        "invoke",
        WORKFLOW,
        "-P",
        str(request),
        "-b",
        "--policy",
        "early-max",
        timeout=300,
    )
    assert invoked["status"] == "success", invoked
    run = p.tango_json("workflow", "run-get", invoked["runId"])
    nodes = {n["id"]: n for n in run["nodes"]}
    assert all(n["status"] == "success" for n in nodes.values()), nodes
    labels = {e["label"] for e in _result(p, nodes["screenshot"])["elements"]}
    step = _result(p, nodes["decide"])
    assert step["action"]["type"] == "tap" and step["action"]["label"] in labels
    end_of_slo = run["start"] + run["slo"]["latencyMs"]
    for node_id in VLM_NODES:
        act = nodes[node_id]["activations"][0]
        record = p.tango_json("activation", "get", act["activationId"])
        notes = {a["key"]: a["value"] for a in record["annotations"]}
        assert abs(notes["deadline"] - end_of_slo) <= 2, (node_id, notes["deadline"], end_of_slo)
        assert notes["deadlineMet"] is True and act["deadlineMet"] is True
        assert record["end"] <= notes["deadline"]
        result = record["response"]["result"]
        assert result["token_ids"] and result["timings"]["total_ms"] > 0


def _result(p, node: dict) -> dict:
    (activation_id,) = node["activationIds"]
    return p.tango_json("activation", "get", activation_id)["response"]["result"]
