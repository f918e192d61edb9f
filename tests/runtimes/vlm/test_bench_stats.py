"""The Nova benchmark's statistics: paired per-seed ratios with 95 % CIs, verdicts only where the
CI excludes 1, deadline attainment, and the mixed-deadline workload's deadlines."""

import pytest

from bench.nova_bench import attainment, ci95, compare, verdict
from bench.nova_workload import make_workload, with_deadlines


def _row(policy, seed, max_ms, mean_ms=100.0, thr=1.0, att=None):
    row = {
        "policy": policy,
        "workload": "w",
        "seed": seed,
        "latency_ms": {"max": max_ms, "mean": mean_ms},
        "throughput_rps": thr,
        "tpot_ms": {"p99": 10.0},
        "decode_step_ms": {"p99": 10.0},
    }
    if att is not None:
        row["deadlines"] = {"attainment": att}
    return row


def test_ci95_uses_students_t_and_is_zero_for_one_value():
    c = ci95([1.0, 2.0, 3.0])
    assert c["mean"] == 2.0 and c["ci95"] == pytest.approx(4.303 * 1.0 / 3**0.5, rel=1e-3)
    assert ci95([5.0]) == {"mean": 5.0, "ci95": 0.0, "n": 1}


def test_a_cell_is_better_or_worse_only_when_its_ci_excludes_one():
    assert verdict({"mean": 0.9, "ci95": 0.05}) == "better"
    assert verdict({"mean": 1.1, "ci95": 0.05}) == "worse"
    assert verdict({"mean": 0.9, "ci95": 0.2}) == "tie"


def test_compare_pairs_seeds_and_names_the_best_baseline():
    runs = [
        _row("nova", 1, 90, att=0.8),
        _row("nova", 2, 180, att=0.9),
        _row("nova", 3, 270, att=0.7),
        _row("multi-stream", 1, 100, att=0.5),
        _row("multi-stream", 2, 200, att=0.6),
        _row("multi-stream", 3, 300, att=0.4),
        _row("pf-limit", 1, 400),
        _row("pf-limit", 2, 400),
        _row("pf-limit", 3, 400),
    ]
    out = compare({"runs": runs})["w"]
    assert out["best_baseline"] == "multi-stream"
    vs = out["nova_vs"]["multi-stream"]
    # 0.9 in every seed although the seeds' latencies differ 3x: paired ratios, CI 0.
    assert vs["max_ms_ratio"] == {"mean": 0.9, "ci95": 0.0, "n": 3}
    assert vs["max_ms_verdict"] == "better" and vs["mean_ms_verdict"] == "tie"
    assert vs["attainment_points"]["mean"] == pytest.approx(30.0)


def test_attainment_counts_met_missed_refused_and_expired_apart():
    items = with_deadlines(make_workload(20, 5.0, seed=3), lambda it: 0.5, 2.0, 10.0, seed=3)
    tight = [it for it in items if it.tight]
    assert 0 < len(tight) < 20
    assert all(it.deadline_s == (1.0 if it.tight else 5.0) for it in items)

    class Done:
        def __init__(self, ms):
            self.ms = ms

        def timings(self):
            return {"total_ms": self.ms}

    served = [(it, Done(900.0)) for it in items[2:]]  # 0.9 s: tight ones met, loose ones met
    out = attainment(items, served, refused=[items[0]], expired=[(items[1], None)])
    assert out["requests"] == 20 and out["met"]["all"] == 18
    assert out["refused"]["all"] == 1 and out["expired"]["all"] == 1 and out["missed"]["all"] == 0
    assert out["attainment"] == 0.9
