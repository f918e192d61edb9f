"""The workflow engine against a fake dispatch and a fake adapter (pure orchestration logic)."""

import threading
import time
import uuid
from types import SimpleNamespace

from common.activation import Activation
from common.sizes import Size
from controller.workflow_engine import WorkflowEngine
from workflows.definition import load

SMALL = Size(cpu=0.5, memory=256, option="small")
LARGE = Size(cpu=2.0, memory=1024, option="large")


def activation(result, success=True, duration=10, size=None):
    annotations = [{"key": "waitTime", "value": 3}]
    if size is not None:
        annotations.append({"key": "size", "value": size.to_json()})
    return Activation.from_json(
        {
            "activationId": uuid.uuid4().hex,
            "duration": duration,
            "annotations": annotations,
            "response": {
                "success": success,
                "status": "success" if success else "application error",
                "result": result,
            },
        }
    )


class FakeAdapter:
    policy = "late"

    def __init__(self, size=SMALL):
        self.size = size
        self.states, self.observed = [], []
        self.lock = threading.Lock()

    def decide(self, state):
        with self.lock:
            self.states.append(state)
        return SimpleNamespace(
            size=self.size,
            rule=f"{state.function}:otherwise",
            at_risk=state.remaining_ms < 0,
            decision_us=4.5,
            policy="late",
        )

    def observe(self, function, option, duration_ms):
        with self.lock:
            self.observed.append((function, option, duration_ms))


def wf(nodes: str, slo="10s"):
    return load(f"name: t\nslo: {{latency: {slo}, percentile: 99}}\nnodes:\n{nodes}")


DIAMOND = wf(
    "  - {id: a, action: p/a}\n  - {id: b, action: p/b, after: [a]}\n"
    "  - {id: c, action: p/c, after: [a]}\n  - {id: d, action: p/d, after: [b, c]}"
)


def test_chain_passes_outputs_and_records_everything():
    calls = []

    def dispatch(action, params, size, cause, deadline_ms=None):
        calls.append((action, params, size, cause))
        return activation({"n": params.get("n", 0) + 1}, duration=500, size=size)

    adapter = FakeAdapter(size=LARGE)
    flow = wf("  - {id: a, action: p/a}\n  - {id: b, action: p/b, after: [a]}")
    rec = WorkflowEngine(dispatch, adapter).run(flow, {"n": 1})
    assert rec.status == "success" and rec.result == {"n": 3}
    assert [c[0] for c in calls] == ["p/a", "p/b"]
    assert calls[1][1] == {"n": 2} and calls[1][2] == LARGE and calls[1][3] == rec.run_id
    assert len(rec.run_id) == 32 and int(rec.run_id, 16) >= 0
    assert rec.core_seconds == 2 * 2.0 * 0.5  # two activations, 2 cores, 0.5 s
    assert rec.gb_seconds == 2 * 1.0 * 0.5
    assert rec.policy == "late" and rec.met_slo
    assert adapter.observed == [("a", "large", 500.0), ("b", "large", 500.0)]
    j = rec.to_json()
    assert j["status"] == "success" and j["statusText"] == "success"
    node_b = j["nodes"][1]
    assert node_b["id"] == "b" and node_b["size"] == LARGE.to_json()
    assert node_b["rule"] == "b:otherwise" and node_b["decisionUs"] == 4.5
    assert node_b["activationIds"] == [node_b["activations"][0]["activationId"]]
    assert node_b["activations"][0]["waitTime"] == 3


def test_parallel_branches_run_concurrently():
    both_inside = threading.Barrier(2, timeout=5)

    def dispatch(action, params, size, cause, deadline_ms=None):
        if action in ("p/b", "p/c"):
            both_inside.wait()  # breaks (and fails the run) if b and c were sequential
        return activation({action: True})

    rec = WorkflowEngine(dispatch).run(DIAMOND, {})
    assert rec.status == "success", rec.error
    assert rec.result == {"p/d": True}


def test_foreach_items_run_concurrently_and_gather_in_order():
    flow = wf(
        "  - {id: split, action: p/split}\n"
        "  - {id: work, action: p/work, after: [split], foreach: split.chunks}\n"
        "  - {id: agg, action: p/agg, after: [work]}"
    )
    release = {i: threading.Event() for i in range(3)}
    seen = []

    def dispatch(action, params, size, cause, deadline_ms=None):
        if action == "p/split":
            return activation({"chunks": [10, 20, 30], "fps": 5})
        if action == "p/work":
            i = params["index"]
            if i < 2:  # finish in reverse order: 2, then 1, then 0
                assert release[i].wait(5), "items were not dispatched concurrently"
            release.get(i - 1, threading.Event()).set()
            return activation({"v": params["item"] * params["fps"]})
        seen.append(params)
        return activation({"total": sum(x["v"] for x in params["work"])})

    adapter = FakeAdapter()
    rec = WorkflowEngine(dispatch, adapter).run(flow, {"video": "x"})
    assert rec.status == "success", rec.error
    assert seen[0]["work"] == [{"v": 50}, {"v": 100}, {"v": 150}]
    assert seen[0]["_input"] == {"video": "x"}
    work = rec.to_json()["nodes"][1]
    assert work["foreach"] and len(work["activationIds"]) == 3
    assert [a["index"] for a in work["activations"]] == [0, 1, 2]
    states = [s for s in adapter.states if s.function == "work"]
    assert sorted(s.input["item"] for s in states) == [10.0, 20.0, 30.0]


def test_empty_foreach_completes_without_activations():
    flow = wf(
        "  - {id: a, action: p/a}\n  - {id: b, action: p/b, after: [a], foreach: a.xs}\n"
        "  - {id: c, action: p/c, after: [b]}"
    )

    def dispatch(action, params, size, cause, deadline_ms=None):
        return activation({"xs": []} if action == "p/a" else {"got": params["b"]})

    rec = WorkflowEngine(dispatch).run(flow, {})
    assert rec.status == "success" and rec.result == {"got": []}


def test_remaining_budget_shrinks_by_the_time_spent_upstream():
    def dispatch(action, params, size, cause, deadline_ms=None):
        if action == "p/a":
            time.sleep(0.05)
        return activation({"bytes": "x" * 100})

    adapter = FakeAdapter()
    flow = wf("  - {id: a, action: p/a}\n  - {id: b, action: p/b, after: [a]}", slo="2s")
    rec = WorkflowEngine(dispatch, adapter).run(flow, {"w": 3})
    a, b = adapter.states
    assert a.remaining_ms == 2000 - a.elapsed_ms and b.remaining_ms == 2000 - b.elapsed_ms
    assert b.remaining_ms <= a.remaining_ms - 50
    assert b.upstream == {"a": rec.nodes[0].duration_ms} and b.upstream["a"] >= 50
    assert a.input == {"w": 3.0} and a.slo_ms == 2000 and a.workflow == "t"
    assert b.input_bytes > 100 and b.action == "p/b"
    assert rec.to_json()["nodes"][1]["remainingMs"] == round(b.remaining_ms, 3)


def test_failed_node_stops_the_run_and_in_flight_branch_finishes():
    c_started = threading.Event()

    def dispatch(action, params, size, cause, deadline_ms=None):
        if action == "p/b":
            assert c_started.wait(5)
            return activation({"error": "boom"}, success=False)
        if action == "p/c":
            c_started.set()
            time.sleep(0.05)
        return activation({})

    adapter = FakeAdapter()
    rec = WorkflowEngine(dispatch, adapter).run(DIAMOND, {})
    assert rec.status == "failed" and rec.failed_node == "b"
    assert "boom" in rec.error and rec.result is None and not rec.met_slo
    status = {n.id: n.status for n in rec.nodes}
    assert status == {"a": "success", "b": "failed", "c": "success", "d": "skipped"}
    assert rec.to_json()["statusText"] == "failed at node b"
    assert ("b", "small", 10.0) not in adapter.observed  # failures are not learned from


def test_dispatch_and_adapter_exceptions_end_in_failed_records():
    def broken_dispatch(action, params, size, cause, deadline_ms=None):
        raise ConnectionError("no invoker is healthy")

    rec = WorkflowEngine(broken_dispatch).run(DIAMOND, {})
    assert rec.status == "failed" and rec.failed_node == "a"
    assert "ConnectionError: no invoker is healthy" in rec.error

    class BrokenAdapter(FakeAdapter):
        def decide(self, state):
            raise RuntimeError("hints not compiled")

    rec = WorkflowEngine(lambda *a, **k: activation({}), BrokenAdapter()).run(DIAMOND, {})
    assert rec.status == "failed" and "hints not compiled" in rec.error


def test_bad_foreach_field_fails_the_node():
    flow = wf("  - {id: a, action: p/a}\n  - {id: b, action: p/b, after: [a], foreach: a.xs}")
    rec = WorkflowEngine(lambda *a, **k: activation({"xs": 5})).run(flow, {})
    assert rec.status == "failed" and rec.failed_node == "b"
    assert "expected a list, got int" in rec.error


def test_foreach_item_failure_skips_queued_items():
    flow = wf("  - {id: a, action: p/a}\n  - {id: b, action: p/b, after: [a], foreach: a.xs}")

    def dispatch(action, params, size, cause, deadline_ms=None):
        if action == "p/a":
            return activation({"xs": list(range(20))})
        return activation({}, success=params["index"] != 0)

    rec = WorkflowEngine(dispatch, max_parallel=1).run(flow, {})
    assert rec.status == "failed" and rec.failed_node == "b"
    assert len(rec.nodes[1].activations) < 20  # queued items were not dispatched


def test_multiple_sinks_give_a_keyed_result():
    flow = wf(
        "  - {id: a, action: p/a}\n  - {id: b, action: p/b, after: [a]}\n"
        "  - {id: c, action: p/c, after: [a]}"
    )
    rec = WorkflowEngine(lambda action, *r, **k: activation({"from": action})).run(flow, {})
    assert rec.result == {"b": {"from": "p/b"}, "c": {"from": "p/c"}}


def test_real_adapter_with_late_hints_sizes_by_remaining_budget():
    from controller.adapter.adapter import Adapter, make_sizing_policy

    hints = """workflow t slo 10s p99

option small cpu 0.5 memory 256MB
option large cpu 2 memory 1GB

function a
  when remaining < 1ms use large
  otherwise use small

function b
  when remaining < 1ms use large
  otherwise use small
"""
    flow = wf("  - {id: a, action: p/a}\n  - {id: b, action: p/b, after: [a]}")
    adapter = Adapter(make_sizing_policy("late", flow, hints=hints))
    chosen = []

    def dispatch(action, params, size, cause, deadline_ms=None):
        chosen.append(size)
        return activation({}, size=size)

    rec = WorkflowEngine(dispatch, adapter, stats=adapter.stats_view).run(flow, {})
    assert rec.status == "success", rec.error
    assert [s.option for s in chosen] == ["small", "small"]
    assert rec.policy == adapter.policy and rec.nodes[1].activations[0].decision_us > 0
