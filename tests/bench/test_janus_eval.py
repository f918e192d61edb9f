"""The pure parts of bench/janus_eval.py: the train/held-out split, SLO levels, arrivals, costs,
paired bootstrap CIs and the comparison table's figures, on data worked out by hand."""

import math
import random
from types import SimpleNamespace as NS

import pytest

from bench.janus_eval import (
    capacity_rps,
    compare,
    node_measurements,
    oracle_share,
    paired_bootstrap,
    paired_difference,
    poisson_arrivals,
    request_cost,
    slo_levels,
    split_inputs,
)
from common.sizes import Size
from controller.adapter.model import Price
from controller.adapter.static_plans import RunTable

SMALL, LARGE = Size(0.5, 512, "small"), Size(2, 2048, "large")


def test_split_is_disjoint_covers_the_tail_and_is_seeded():
    inputs = [{"n": i} for i in range(40)]
    train, held = split_inputs(inputs, lambda x: x["n"], 5, 10, random.Random(1))
    assert [x["n"] for x in train] == [0, 10, 20, 29, 39]  # evenly spaced ranks, both ends
    assert len(held) == 10 and not {x["n"] for x in held} & {x["n"] for x in train}
    assert held == split_inputs(inputs, lambda x: x["n"], 5, 10, random.Random(1))[1]
    with pytest.raises(ValueError, match="none of 3 held out"):
        split_inputs(inputs[:3], lambda x: x["n"], 3, 1, random.Random(1))


def test_slo_levels_run_from_the_all_fastest_p99_to_the_all_cheapest():
    wf = NS(nodes=[NS(id="a", depends=[]), NS(id="b", depends=["a"])])
    runs = {
        r: {
            "a": {"small": (400.0, 400.0), "large": (150.0, 150.0)},
            "b": {"small": (600.0, 600.0), "large": (250.0, 250.0)},
        }
        for r in range(3)
    }
    levels = slo_levels(wf, RunTable(runs, {r: 0 for r in runs}), [SMALL, LARGE], None, 3)
    assert levels == [400, 700, 1000]  # 150 + 250 ... 400 + 600


def test_poisson_arrivals_are_increasing_and_average_the_rate():
    times = poisson_arrivals(4000, 2.0, random.Random(3))
    assert all(b > a for a, b in zip(times, times[1:], strict=False))
    assert times[-1] / len(times) == pytest.approx(0.5, rel=0.05)
    assert capacity_rps(2, 0.5) == 4.0


def test_request_cost_counts_every_activation_at_its_size():
    run = {
        "nodes": [
            {
                "id": "a",
                "status": "success",
                "duration": 900.0,
                "activations": [
                    {"size": LARGE.to_json(), "duration": 500.0},
                    {"size": SMALL.to_json(), "duration": 800.0},
                ],
            },
        ]
    }
    cost = request_cost(run, Price(per_core_s=1.0, per_gb_s=10.0))
    assert cost["coreSeconds"] == pytest.approx(2 * 0.5 + 0.5 * 0.8)
    assert cost["gbSeconds"] == pytest.approx(2 * 0.5 + 0.5 * 0.8)
    assert cost["price"] == pytest.approx(1.4 + 14.0)
    assert node_measurements(run) == {"a": (900.0, 1300.0)}


def test_paired_bootstrap_ci_brackets_the_estimate_and_excludes_zero_for_a_clear_saving():
    rng = random.Random(5)
    pairs = [(10.0 + rng.random(), 7.0 + rng.random()) for _ in range(60)]
    res = paired_bootstrap(pairs, random.Random(1))
    lo, hi = res["ci95"]
    assert lo <= res["estimate"] <= hi < 0
    noisy = [(10.0 + 5 * rng.random(), 10.0 + 5 * rng.random()) for _ in range(60)]
    lo, hi = paired_bootstrap(noisy, random.Random(1))["ci95"]
    assert lo < 0 < hi
    diff = paired_difference([(1.0, 1.0)] * 20 + [(0.0, 1.0)] * 5, random.Random(1))
    assert diff["estimate"] == pytest.approx(0.2) and diff["ci95"][0] > 0
    assert paired_bootstrap([], random.Random(1))["estimate"] is None


def test_compare_pairs_requests_and_measures_late_against_the_oracle():
    records = []
    for repeat in range(2):
        for i in range(4):
            for policy, price, met in (
                ("early-max", 4.0, True),
                ("early-static", 3.0, True),
                ("power-tuning", 1.0, False),  # cheap but misses: not the best static
                ("late", 2.0, True),
            ):
                records.append(
                    {
                        "policy": policy,
                        "label": "load 0.5",
                        "repeat": repeat,
                        "input": i,
                        "index": i,
                        "metSlo": met,
                        "coreSeconds": price,
                        "gbSeconds": price,
                        "price": price,
                        "duration": 100.0,
                    }
                )
    oracle = {i: {"price": 1.5, "feasible": True} for i in range(4)}
    c = compare(records, 1000, oracle, random.Random(1))["load 0.5"]
    assert c["bestStatic"] == "early-static"
    assert c["lateVersus"]["early-static"]["price"]["estimate"] == pytest.approx(2 / 3 - 1)
    assert c["lateVersus"]["power-tuning"]["sloAttainment"]["estimate"] == pytest.approx(1.0)
    assert c["oracle"]["lateCaptures"] == pytest.approx((3 - 2) / (3 - 1.5))
    assert oracle_share(3.0, 2.0, 3.0) is None and math.isclose(oracle_share(4, 3, 2), 0.5)
