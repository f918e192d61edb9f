"""The workflow engine driving the late adapter (fake dispatch): sizes follow the hints and the
live remaining budget, observations reach the adapter, decisions land in the run record."""

import time

from common.sizes import Size
from controller.adapter import Adapter, make_policy
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
    adapter = Adapter(make_policy("late", wf, hints=HINTS))
    sent = []

    def dispatch(action, params, size, cause):
        sent.append((action, size))
        duration = 150 if size.option == "small" else 50
        # upstream.<fn>.duration is the node's wall time as the engine saw it: sleeping
        # guarantees it is at least this long.
        time.sleep(duration / 1000.0)
        return {
            "activationId": "0" * 32,
            "duration": duration,
            "response": {"success": True, "status": "success", "result": dict(params)},
            "annotations": [{"key": "size", "value": size.to_json()}],
        }

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
