"""Profiler and profile data model, with a fake `invoke` that computes latency from params."""

import json

import pytest

from common.sizes import Size
from hint_dsl.profiler import ProfilingError, profile
from hint_dsl.profiles import Profiles, Sample, class_bounds, percentile, size_class
from workflows.definition import load

WORKFLOW = """
name: pipeline
slo: {latency: 2s, percentile: 95}
nodes:
  - {id: split, action: guest/split}
  - {id: work, action: guest/work, after: [split], foreach: split.parts}
  - {id: merge, action: guest/merge, after: [work]}
"""
SMALL, LARGE = Size(1, 256, "small"), Size(2, 512, "large")


class FakePlatform:
    """Latency = base / cpu; results carry realistic outputs downstream nodes depend on."""

    def __init__(self):
        self.calls = []

    def __call__(self, action, params, size):
        self.calls.append((action, json.loads(json.dumps(params)), size.option))
        if action == "guest/split":
            result = {"parts": [{"n": i} for i in range(params["count"])]}
            base = 100
        elif action == "guest/work":
            result = {"done": params["item"]["n"]}
            base = 50 * (params["item"]["n"] + 1)
        else:
            result = {"total": len(params["work"])}
            base = 80
        return {"duration": base / size.cpu, "response": {"success": True, "result": result}}


def test_profile_walks_the_dag_and_profiles_foreach_items():
    wf = load(WORKFLOW)
    fake = FakePlatform()
    seen = []
    prof = profile(
        wf,
        [{"count": 2}, {"count": 3}],
        [SMALL, LARGE],
        repeats=2,
        invoke=fake,
        progress=lambda done, total: seen.append((done, total)),
    )
    # per input: split 1 + work n + merge 1 activations, x 2 options x 2 repeats
    assert len(fake.calls) == (1 + 2 + 1) * 4 + (1 + 3 + 1) * 4
    assert seen[-1][0] == seen[-1][1] == len(fake.calls)
    # the reference (largest) option runs first and feeds downstream nodes
    assert fake.calls[0][2] == "large"
    merge_params = [c[1] for c in fake.calls if c[0] == "guest/merge"]
    assert all(len(p["work"]) in (2, 3) for p in merge_params)
    assert prof.latencies("split", "small") == [100.0] * 4
    # work: items 0..n-1 at small take 50, 100, (150); a node run lasts its slowest item
    assert sorted(prof.node_latencies("work", "small")) == [100.0, 100.0, 150.0, 150.0]
    assert prof.node_latencies("work", "large") == [50.0, 50.0, 75.0, 75.0]
    assert prof.cost("work", "small")[0] == pytest.approx((150 + 150 + 300 + 300) / 4)
    items = [s for s in prof.samples if s.function == "work"]
    assert {s.item for s in items} == {0, 1, 2}
    assert Profiles.from_json(json.loads(json.dumps(prof.to_json()))).samples == prof.samples


def test_failed_activation_names_node_option_and_input():
    wf = load(WORKFLOW)

    def failing(action, params, size):
        ok = action != "guest/merge"
        return {
            "duration": 1,
            "response": {
                "success": ok,
                "result": {"parts": [{"n": 0}]} if ok else {"error": "boom"},
            },
        }

    with pytest.raises(ProfilingError, match="node 'merge' .*option 'large'.*input #0.*boom"):
        profile(wf, [{"count": 1}], [SMALL, LARGE], 1, failing)


def test_an_option_that_fails_is_recorded_as_infeasible_and_profiling_goes_on():
    wf = load(WORKFLOW)
    fake = FakePlatform()

    def out_of_memory_at_small_for_big_items(action, params, size):
        if action == "guest/work" and size.option == "small" and params["item"]["n"] >= 2:
            return {
                "duration": 5,
                "response": {
                    "success": False,
                    "result": {"error": "The action exhausted its memory and was aborted."},
                },
            }
        return fake(action, params, size)

    prof = profile(
        wf, [{"count": 2}, {"count": 3}], [SMALL, LARGE], 2, out_of_memory_at_small_for_big_items
    )
    assert [(f["function"], f["option"], f["run"]) for f in prof.failures] == [("work", "small", 1)]
    assert "exhausted its memory" in prof.failures[0]["error"]
    assert prof.node_latencies("work", "small") == []  # never planned: it cannot run everything
    assert prof.node_latencies("work", "large") and prof.node_latencies("merge", "small")
    assert Profiles.from_json(json.loads(json.dumps(prof.to_json()))).failures == prof.failures


def test_percentile_interpolates_and_size_classes_are_log2_buckets():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 99) == 10 and percentile([], 50) is None
    assert size_class(0) == 0 and size_class(1023) == 9 and size_class(1024) == 10
    assert class_bounds(10) == (1024, 2048)
    p = Profiles("w", {"s": SMALL})
    for i, ms in enumerate([100, 200, 300, 400]):
        p.add(Sample("f", "s", ms, 1024 if i < 2 else 4096, i))
    assert p.size_classes("f") == [10, 12]
    assert p.tail_ms("f", "s", 50, size_class=12) == 350
    assert p.tail_ms("f", "s", 100, margin=0.1) == pytest.approx(440)
