"""End to end: a shipped workflow with late-bound sizing on real containers, from the CLI alone.

Drives the real ``tango`` CLI against a standalone platform (``platform`` fixture): deploy the
shipped ``ml-pipeline`` bundle (small inputs keep it to seconds), profile it at two options,
synthesize hints, check and set them, run it under ``late`` and ``early-max``, then read the
run records, the activation records and the report. Each node must have run at the size the
adapter chose: the activation's ``size`` annotation equals the run record's decision, and the
function saw that CPU quota from inside its container (its ``workers`` = quota rounded up).
Bad definitions and bad hint files must fail with precise errors through the CLI.
"""

from __future__ import annotations

import json
import math
import re

import pytest
import requests

from controller.config import SYSTEM_KEY
from workflows.packaging import WORKFLOWS_DIR

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(300)]

WORKFLOW = "ml-pipeline"
# Small tables: every activation takes well under a second even at half a core.
INPUTS = [
    {"seed": 3100, "rows": 4200, "features": 16, "classes": 2},
    {"seed": 3101, "rows": 5200, "features": 20, "classes": 3},
]
WORKER_NODES = ("preprocess", "evaluate")  # functions that report the workers they sized to


@pytest.fixture(scope="module")
def deployed(platform, tmp_path_factory):
    """The workflow deployed, profiled, with synthesized hints set; yields the hint file."""
    tmp = tmp_path_factory.mktemp("janus")
    out = platform.tango("workflow", "deploy", WORKFLOW)
    assert f"deployed workflow {WORKFLOW}" in out.stdout
    inputs = tmp / "inputs.jsonl"
    inputs.write_text("".join(json.dumps(i) + "\n" for i in INPUTS))
    profiled = platform.tango(
        "hints",
        "profile",
        WORKFLOW,
        "--inputs",
        str(inputs),
        "--options",
        "small,large",
        "--repeats",
        "1",
        timeout=240,
    )
    for node in ("preprocess", "train_linear", "train_mlp", "evaluate"):
        assert re.search(rf"{node}\s+small\s+2\s", profiled.stdout), profiled.stdout
        assert re.search(rf"{node}\s+large\s+2\s", profiled.stdout), profiled.stdout
    # The profile records the CPU the invokers hold (foreach items share it when the workflow runs).
    user, _, key = SYSTEM_KEY.partition(":")
    invokers = requests.get(
        platform.apihost + "/api/v1/admin/invokers", auth=(user, key), timeout=30
    ).json()
    status = platform.api("GET", f"/api/v1/namespaces/_/workflows/{WORKFLOW}/profile").json()
    assert status["capacityCores"] == sum(i["cpus"] for i in invokers if i["state"] == "up") > 0
    hints = tmp / "ml.hints"
    synthesized = platform.tango("hints", "synthesize", WORKFLOW, "-o", str(hints))
    assert "before condensing" in synthesized.stderr
    text = hints.read_text()
    assert text.startswith(f"workflow {WORKFLOW} slo 5000ms")
    assert all(f"function {n}" in text for n in WORKER_NODES)
    checked = platform.tango(
        "hints", "check", str(hints), "--workflow", str(WORKFLOWS_DIR / WORKFLOW / "workflow.yaml")
    )
    assert "has no errors" in checked.stdout + checked.stderr
    platform.tango("hints", "set", WORKFLOW, str(hints))
    assert platform.tango("hints", "get", WORKFLOW).stdout.strip() == text.strip()
    return hints


def run_under(platform, policy: str) -> dict:
    """Invoke blocking under `policy`, then read the run back with ``workflow run-get``."""
    invoked = platform.tango_json(
        "workflow",
        "invoke",
        WORKFLOW,
        "-P",
        _input_file(platform),
        "-b",
        "--policy",
        policy,
        timeout=120,
    )
    assert invoked["status"] == "success", invoked
    run = platform.tango_json("workflow", "run-get", invoked["runId"])
    assert run["policy"] == policy and run["runId"] == invoked["runId"]
    return run


def _input_file(platform) -> str:
    path = platform.wskprops.parent / "ml-input.json"
    path.write_text(json.dumps(INPUTS[0]))
    return str(path)


def check_bound_sizes(platform, run: dict) -> dict[str, dict]:
    """Every node's activation ran at the decided size, and its function saw that quota."""
    sizes = {}
    for node in run["nodes"]:
        assert node["status"] == "success", node
        (activation_id,) = node["activationIds"]
        record = platform.tango_json("activation", "get", activation_id)
        annotations = {a["key"]: a["value"] for a in record["annotations"]}
        bound = annotations["size"]
        assert (bound["cpu"], bound["memory"]) == (node["size"]["cpu"], node["size"]["memory"]), (
            node["id"]
        )
        assert node["decisionUs"] is not None and node["rule"]
        assert isinstance(annotations["resizeTime"], (int, float))
        if node["id"] in WORKER_NODES:
            assert record["response"]["result"]["workers"] == min(2, math.ceil(bound["cpu"])), node[
                "id"
            ]
        sizes[node["id"]] = bound
    return sizes


def test_late_binding_runs_each_node_at_the_adapters_size(platform, deployed):
    options = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^option (\w+)\s+cpu ([\d.]+)", deployed.read_text(), re.M)
    }
    late = run_under(platform, "late")
    late_sizes = check_bound_sizes(platform, late)
    for node in late["nodes"]:
        # the option named by the hint rule the adapter took, with the budget it saw
        assert node["size"]["option"] in options and not node["atRisk"], node
        assert late_sizes[node["id"]]["cpu"] == options[node["size"]["option"]]
        assert node["remainingMs"] <= 5000

    early = run_under(platform, "early-max")
    assert {s["cpu"] for s in check_bound_sizes(platform, early).values()} == {
        max(options.values())
    }

    # A per-request plan (what the evaluation's oracle runs live): each node at its planned size.
    plan = {
        "preprocess": "small",
        "train_linear": "large",
        "train_mlp": "small",
        "evaluate": "large",
    }
    invoked = platform.tango_json(
        "workflow",
        "invoke",
        WORKFLOW,
        "-P",
        _input_file(platform),
        "-b",
        "--policy",
        "plan:" + ",".join(f"{n}={o}" for n, o in plan.items()),
        timeout=120,
    )
    planned = platform.tango_json("workflow", "run-get", invoked["runId"])
    assert planned["policy"] == "plan" and planned["plan"].startswith("preprocess=small")
    assert {n: s["cpu"] for n, s in check_bound_sizes(platform, planned).items()} == {
        n: options[o] for n, o in plan.items()
    }

    report = platform.tango("workflow", "report", WORKFLOW).stdout
    assert f"workflow {WORKFLOW}, SLO" in report
    for policy in ("late", "early-max"):
        assert re.search(rf"^{policy}\s+1\s+\d+\.\d%", report, re.M), report
    body = platform.tango_json("workflow", "report", WORKFLOW)
    for policy, run in (("late", late), ("early-max", early)):
        assert body["policies"][policy]["coreSecondsPerRun"] == pytest.approx(
            run["coreSeconds"], rel=1e-3
        )


def test_bad_definition_is_rejected_with_its_path(platform, tmp_path):
    bad = tmp_path / "cyclic.yaml"
    bad.write_text(
        "name: cyclic\nslo: {latency: 2s}\nnodes:\n"
        f"  - {{id: a, action: {WORKFLOW}/preprocess, after: [b]}}\n"
        f"  - {{id: b, action: {WORKFLOW}/evaluate, after: [a]}}\n"
    )
    cp = platform.tango("workflow", "create", "cyclic", str(bad), check=False)
    assert cp.returncode != 0
    assert "cycle: a -> b -> a" in cp.stderr and "nodes[" in cp.stderr, cp.stderr

    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(
        "name: unknown\nslo: {latency: 2s}\nnodes:\n  - {id: a, action: nowhere/x}\n"
    )
    cp = platform.tango("workflow", "create", "unknown", str(unknown), check=False)
    assert cp.returncode != 0 and "nodes[0].action" in cp.stderr and "nowhere/x" in cp.stderr, (
        cp.stderr
    )

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "deploy.json").write_text((WORKFLOWS_DIR / WORKFLOW / "deploy.json").read_text())
    (bundle / "workflow.yaml").write_text("name: b\nslo: {latency: fast}\nnodes: []\n")
    cp = platform.tango("workflow", "deploy", str(bundle), check=False)
    assert cp.returncode != 0 and "slo.latency" in cp.stderr, cp.stderr


def test_bad_hint_file_gets_line_and_column(platform, deployed, tmp_path):
    bad = tmp_path / "bad.hints"
    bad.write_text(
        f"workflow {WORKFLOW} slo 5000ms p99\n\n"
        "option small cpu 0.5 memory 256MB\n\n"
        "function preprocess\n"
        "  when remaining < 900 use small\n"  # line 6: a time without a unit
        "  otherwise use huge\n"
    )  # line 7: unknown option
    cp = platform.tango("hints", "check", str(bad), check=False)
    assert cp.returncode != 0
    assert re.search(rf"{re.escape(str(bad))}:6:\d+: ", cp.stdout + cp.stderr), (
        cp.stdout + cp.stderr
    )
    assert re.search(rf"{re.escape(str(bad))}:7:\d+: .*huge", cp.stdout + cp.stderr), (
        cp.stdout + cp.stderr
    )
    cp = platform.tango("hints", "set", WORKFLOW, str(bad), check=False)
    assert cp.returncode != 0
    assert re.search(rf"{re.escape(str(bad))}:7:\d+: .*huge", cp.stderr), cp.stderr
    # the good hints are still in place
    assert platform.tango("hints", "get", WORKFLOW).stdout.strip() == deployed.read_text().strip()
