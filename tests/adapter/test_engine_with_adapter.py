"""The workflow engine driving the late adapter (fake dispatch): sizes follow the hints and the
live remaining budget, observations reach the adapter, decisions land in the run record."""

import time

from common.activation import Activation
from common.sizes import Size
from controller.adapter import Adapter, Decision, make_sizing_policy
from controller.workflow_engine import WorkflowEngine
from workflows.definition import load

WORKFLOW = """
name: wf
slo: {latency: 1000ms, percentile: 99}
nodes:
  - {id: a, action: guest/a}
  - {id: b, action: guest/b, after: [a]}
"""
HINTS = """workflow wf slo 1000ms p99
option small cpu 0.5 memory 256MB
option large cpu 2 memory 1GB
function a
  when input.n > 10 use large
  otherwise use small
function b
  when upstream.a.duration > 100ms use large
  otherwise use small
"""


def test_engine_sizes_each_node_with_the_late_adapter():
    wf = load(WORKFLOW)
    adapter = Adapter(make_sizing_policy("late", wf, hints=HINTS))
    sent = []

    def dispatch(action, params, size, cause, **_):  # deadline_ms= and later keywords
        sent.append((action, size))
        duration = 150 if size.option == "small" else 50
        # upstream.<fn>.duration is the node's wall time as the engine saw it: sleeping
        # guarantees it is at least this long.
        time.sleep(duration / 1000.0)
        return Activation.from_json(
            {
                "activationId": "0" * 32,
                "duration": duration,
                "response": {"success": True, "status": "success", "result": dict(params)},
                "annotations": [{"key": "size", "value": size.to_json()}],
            }
        )

    engine = WorkflowEngine(dispatch, adapter, stats=adapter.stats_view)
    record = engine.run(wf, {"n": 3})
    assert record.status == "success", record.error
    assert [(a, s.option) for a, s in sent] == [("guest/a", "small"), ("guest/b", "large")]
    assert adapter.stats_view()["a"]["p50"] == 150.0
    assert adapter.histogram.total == 2
    sent.clear()
    engine.run(wf, {"n": 30})
    assert [s.option for _, s in sent] == ["large", "small"]
    assert sent[0][1] == Size(2.0, 1024, "large")


def test_every_activation_reaches_the_model_with_its_features_memory_and_oom():
    wf = load(WORKFLOW)
    seen = []

    class Recording:
        policy = "recording"

        def decide(self, state):
            return Decision(Size(0.5, 256, "small"), "r", False, 1.0, "recording")

        def observe_activation(self, obs):
            seen.append(obs)

    def dispatch(action, params, size, cause, **_):  # deadline_ms= and later keywords
        oom = action == "guest/b"
        return Activation.from_json(
            {
                "activationId": action,
                "duration": 42,
                "response": {
                    "success": not oom,
                    "status": "action developer error" if oom else "success",
                    "result": (
                        {"error": "The action exhausted its memory and was aborted."} if oom else {}
                    ),
                },
                "annotations": [
                    {"key": "size", "value": size.to_json()},
                    {"key": "usage", "value": {"cpuTime": 10, "maxMemory": 64 * 1024 * 1024}},
                ],
            }
        )

    record = WorkflowEngine(dispatch, Recording()).run(wf, {"n": 7})
    assert record.status == "failed"
    a, b = seen
    assert (a.function, a.option, a.duration_ms, a.oom) == ("a", "small", 42.0, False)
    assert a.features == {"n": 7.0} and a.memory_peak_mb == 64.0 and a.host_load is not None
    assert b.function == "b" and b.oom
