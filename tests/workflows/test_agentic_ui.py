"""The agentic-ui workflow (screenshot -> VLM plan -> parse -> VLM verify -> decide) and the
deadline path it relies on: the workflow engine passes each node's remaining SLO budget as the
activation's deadline, the invoker hands the earlier of it and the timeout to /run, and the
activation record says whether it was met."""

import io
import json
import time
import uuid
import zipfile
from typing import Any

from common.activation import Activation
from controller.invoke import with_deadline
from controller.workflow_engine import WorkflowEngine, build_node_input
from invoker.service import deadline
from workflows.definition import load
from workflows.packaging import load_bundle, load_function

BUNDLE = "agentic-ui"


def test_bundle_deploys_python_and_vlm_actions():
    bundle = load_bundle(BUNDLE)
    assert [n.id for n in bundle.workflow.nodes] == [
        "screenshot",
        "plan",
        "parse",
        "verify",
        "decide",
    ]
    assert bundle.workflow.slo_ms == 60_000 and len(bundle.inputs()) == 20
    plan = bundle.action("plan")
    exec_ = plan.exec_json()
    assert exec_["kind"] == "vlm" and exec_["binary"] is False
    assert json.loads(exec_["code"])["preset"] == "tiny"  # the runtime's /init configuration
    assert plan.limits()["concurrency"] == 8  # concurrent runs reach one container to batch
    shot = bundle.action("screenshot")
    assert shot.exec_json()["kind"] == "python:3.11" and "concurrency" not in shot.limits()
    assert "__main__.py" in zipfile.ZipFile(io.BytesIO(shot.zip_bytes())).namelist()


def _python(name):
    return load_function(load_bundle(BUNDLE).action(name)).main


def _local_run(plan_text: str, verify_text: str) -> dict:
    """The DAG walked locally, the two VLM nodes answered with the given texts."""
    bundle = load_bundle(BUNDLE)
    request = bundle.inputs()[0]
    outputs: dict[str, Any] = {}
    for node in bundle.workflow.nodes:
        params: Any = build_node_input(bundle.workflow, node, request, outputs)
        if node.id in ("plan", "verify"):
            assert params["image"] and params["prompt"] and params["max_tokens"] >= 1
            outputs[node.id] = {"text": plan_text if node.id == "plan" else verify_text}
        else:
            outputs[node.id] = _python(node.id)(params)
    return outputs


def test_a_plan_naming_a_button_becomes_a_tap_on_its_centre():
    out = _local_run("I would tap(Settings) now", "yes, that opens them")
    settings = next(e for e in out["screenshot"]["elements"] if e["label"] == "Settings")
    assert out["decide"]["action"] == {
        "type": "tap",
        "label": "Settings",
        "x": settings["x"],
        "y": settings["y"],
    }
    assert out["decide"]["from_model"] is True and out["decide"]["verified"] is True
    assert "tap(Settings)" in out["parse"]["prompt"]


def test_a_plan_naming_nothing_falls_back_to_the_task_and_says_so():
    out = _local_run("zq xv 17 ##", "no")
    task_words = set(out["screenshot"]["task"].split())
    assert out["decide"]["from_model"] is False and out["decide"]["verified"] is False
    assert out["decide"]["action"]["label"].lower() in task_words


def test_screenshot_is_a_png_with_its_buttons():
    import base64

    shot = _python("screenshot")({"task": "open the settings", "screen": "desktop", "seed": 4})
    assert base64.b64decode(shot["image"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(shot["elements"]) == 6 and all(e["x"] < 960 for e in shot["elements"])


# ---------------------------------------------------------------------------------- deadlines
def _activation(result, annotations=()):
    return Activation.from_json(
        {
            "activationId": uuid.uuid4().hex,
            "duration": 5,
            "annotations": list(annotations),
            "response": {"success": True, "status": "success", "result": result},
        }
    )


def test_engine_passes_each_nodes_remaining_slo_budget_as_its_deadline():
    flow = load(
        "name: t\nslo: {latency: 2s, percentile: 99}\nnodes:\n"
        "  - {id: a, action: p/a}\n  - {id: b, action: p/b, after: [a]}"
    )
    seen = []

    def dispatch(action, params, size, cause, deadline_ms=None):
        seen.append((action, time.time() * 1000, deadline_ms))
        time.sleep(0.05)
        met = {"key": "deadlineMet", "value": action == "p/a"}
        return _activation({}, [{"key": "deadline", "value": deadline_ms}, met])

    rec = WorkflowEngine(dispatch).run(flow, {})
    start = rec.start_ms
    (_, _, da), (_, tb, db) = seen
    assert abs(da - (start + 2000)) < 20  # the whole SLO for the first node
    assert abs(db - (start + 2000)) < 20  # later, with less left: the same end
    assert tb - start >= 50
    nodes = {n["id"]: n for n in rec.to_json()["nodes"]}
    a, b = nodes["a"]["activations"][0], nodes["b"]["activations"][0]
    assert a["deadline"] == round(da) and a["deadlineMet"] is True and b["deadlineMet"] is False


def test_the_chosen_options_node_parameters_reach_the_activation():
    """A hint option `with max_tokens 8 max_pixels 6272` late-binds the VLM node's request."""
    from types import SimpleNamespace

    from common.sizes import Size

    quick = Size(1.0, 2048, "quick", (("max_pixels", 6272), ("max_tokens", 8)))

    class Adapter:
        def decide(self, state):
            return SimpleNamespace(size=quick, rule="plan:quick", at_risk=False, decision_us=1.0)

    flow = load(
        "name: t\nslo: {latency: 2s, percentile: 99}\nnodes:\n  - {id: plan, action: p/plan}"
    )
    seen = []

    def dispatch(action, params, size, cause, deadline_ms=None):
        seen.append((params, size))
        return _activation({})

    WorkflowEngine(dispatch, Adapter()).run(flow, {"prompt": "go", "max_tokens": 64})
    ((params, size),) = seen
    assert params == {"prompt": "go", "max_tokens": 8, "max_pixels": 6272} and size == quick


def test_activation_record_says_whether_its_deadline_was_met():
    rec = {"end": 1_000, "annotations": [{"key": "waitTime", "value": 1}]}
    ok = with_deadline({**rec, "response": {"success": True}}, 1_000.4)
    late = with_deadline({**rec, "response": {"success": True}}, 999)
    failed = with_deadline({**rec, "response": {"success": False}}, 5_000)
    notes = {a["key"]: a["value"] for a in ok["annotations"]}
    assert notes == {"waitTime": 1, "deadline": 1000, "deadlineMet": True}
    assert {a["key"]: a["value"] for a in late["annotations"]}["deadlineMet"] is False
    assert {a["key"]: a["value"] for a in failed["annotations"]}["deadlineMet"] is False


def test_invoker_sends_the_earlier_of_the_callers_deadline_and_the_timeout():
    limits = {"timeout": 60_000}
    now = time.time() * 1000
    assert abs(deadline({}, limits) - (now + 60_000)) < 1000
    assert deadline({"deadline": now + 2_000}, limits) == int(now + 2_000)
    assert abs(deadline({"deadline": now + 600_000}, limits) - (now + 60_000)) < 1000
