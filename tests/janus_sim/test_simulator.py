"""The simulator runs the platform's own decision code on a simulated clock; these check its
cluster model (start costs, the pool's admission, CPU sharing) and that policies are the real
ones (late reads the remaining budget through the hints, the oracle plans each request)."""

from __future__ import annotations

import random

import pytest

from janus_sim import (
    Arrival,
    ClusterSpec,
    StartCosts,
    Tenant,
    fair_shares,
    poisson,
    shapes_from_profiles,
    simulate,
    with_slo,
)

from .conftest import OPTIONS, make_profiles

NO_START = StartCosts(cold_ms=0.0, prewarm_ms=0.0, warm_ms=0.0, resume_ms=0.0)


def one_request(tenant, shape, cluster, costs=NO_START, at=0.0):
    return simulate([tenant], [Arrival(at, 0, shape)], cluster, costs).runs[0][0]


def test_fair_shares_cap_each_activation_at_its_quota():
    assert fair_shares([1.0, 0.5], 2.0) == [1.0, 0.5]
    assert fair_shares([2.0, 2.0], 2.0) == [1.0, 1.0]
    # water-filling: the small one keeps its quota, the others split what is left
    assert fair_shares([0.5, 2.0, 2.0], 2.0) == pytest.approx([0.5, 0.75, 0.75])
    # CFS weights (the invoker's cpu shares follow memory): twice the memory, twice the CPU
    assert fair_shares([2.0, 2.0], 1.5, [2048, 1024]) == pytest.approx([1.0, 0.5])
    assert fair_shares([0.25, 2.0], 1.5, [2048, 1024]) == pytest.approx([0.25, 1.25])


def test_a_chain_takes_the_sum_of_its_run_times_plus_start_costs(chain):
    prof = make_profiles(chain, {"a": 200, "b": 300})
    shape = shapes_from_profiles(chain, prof)[0]
    tenant = Tenant(chain, "fixed:medium", options=list(OPTIONS))
    costs = StartCosts(cold_ms=100.0, prewarm_ms=10.0, warm_ms=1.0, resume_ms=0.0)
    run = one_request(tenant, shape, ClusterSpec(cores=2, prewarm=0), costs)
    assert run["duration"] == pytest.approx(100 + 200 + 100 + 300)  # two cold starts
    assert run["coreSeconds"] == pytest.approx(0.5)  # 1 core x 0.5 s
    assert run["nodes"] == {"a": "medium", "b": "medium"}
    # a stem cell of the action's memory makes the first start a prewarm hit
    run = one_request(
        Tenant(chain, "fixed:medium", options=list(OPTIONS)),
        shape,
        ClusterSpec(cores=2, prewarm=1),
        costs,
        at=1000.0,
    )
    assert run["duration"] == pytest.approx(10 + 200 + 100 + 300)


def test_parallel_branches_wait_for_cores_the_pool_reserves(fork):
    prof = make_profiles(fork, {"a": 100, "b": 400, "c": 400})
    shape = shapes_from_profiles(fork, prof)[0]
    # 2-core options on a 2-core invoker: the pool buffers one branch until the other ends
    run = one_request(
        Tenant(fork, "fixed:large", options=list(OPTIONS)), shape, ClusterSpec(cores=2)
    )
    assert run["duration"] == pytest.approx(50 + 200 + 200)
    # at 1 core each they run side by side
    run = one_request(
        Tenant(fork, "fixed:medium", options=list(OPTIONS)), shape, ClusterSpec(cores=2)
    )
    assert run["duration"] == pytest.approx(100 + 400)


def test_oversubscribed_cores_stretch_run_times_by_processor_sharing(fork):
    prof = make_profiles(fork, {"a": 100, "b": 400, "c": 400})
    shape = shapes_from_profiles(fork, prof)[0]
    # the invoker admits 8 "cores" of quota on 2 real ones: both branches run at half speed
    cluster = ClusterSpec(cores=2, reserve_cpus=8)
    run = one_request(Tenant(fork, "fixed:large", options=list(OPTIONS)), shape, cluster)
    assert run["duration"] == pytest.approx(50 + 400)
    assert run["coreSeconds"] == pytest.approx(2 * 0.05 + 2 * 2 * 0.4)  # billed wall time


HINTS = """workflow chain slo 1000ms p99

option small  cpu 0.5 memory 512MB
option medium cpu 1   memory 1GB
option large  cpu 2   memory 2GB

function a
  otherwise use small
function b
  when remaining < 700ms use large
  otherwise use small
"""


def test_late_sizes_from_the_remaining_budget_through_the_hints(chain):
    prof = make_profiles(chain, {"a": 200, "b": 300}, runs=2)
    shapes = shapes_from_profiles(chain, prof)
    # input 0: a takes 400 ms at small, 600 ms left -> b large; input 1: a takes 800 ms.
    # Without profiles (nothing observed yet) late's rules decide as written.
    late = Tenant(chain, "late", HINTS)
    fast, slow = (
        one_request(late, s, ClusterSpec(cores=4), at=10_000.0 * i) for i, s in enumerate(shapes)
    )
    assert fast["nodes"] == {"a": "small", "b": "large"}
    assert slow["nodes"] == {"a": "small", "b": "large"}
    roomy = Tenant(with_slo(chain, 3000), "late", HINTS)
    assert one_request(roomy, shapes[0], ClusterSpec(cores=4))["nodes"] == {
        "a": "small",
        "b": "small",
    }


def test_the_oracle_plans_each_request_on_its_own_draws_and_costs_least(chain):
    prof = make_profiles(chain, {"a": 200, "b": 300}, runs=3, repeats=3, jitter=0.1)
    shapes = shapes_from_profiles(chain, prof)
    arrivals = poisson(0.2, 60, shapes, random.Random(3))
    cluster = ClusterSpec(cores=4)
    results = {}
    for policy in ("oracle", "early-max", "early-static", "fixed:small"):
        tenant = Tenant(with_slo(chain, 900), policy, profiles=prof, options=list(OPTIONS))
        results[policy] = simulate([tenant], arrivals, cluster, NO_START, seed=5).summary(0)
    feasible = [p for p in results if results[p]["sloAttainment"] == 1.0]
    assert "oracle" in feasible and "fixed:small" not in feasible
    assert all(
        results["oracle"]["coreSecondsPerRun"] <= results[p]["coreSecondsPerRun"] + 1e-9
        for p in feasible
    )


def test_policies_see_the_same_draws_so_comparisons_are_paired(chain):
    prof = make_profiles(chain, {"a": 200, "b": 300}, runs=2, repeats=5, jitter=0.2)
    shapes = shapes_from_profiles(chain, prof)
    arrivals = poisson(1, 30, shapes, random.Random(1))
    a = simulate(
        [Tenant(chain, "fixed:small", options=list(OPTIONS))],
        arrivals,
        ClusterSpec(cores=8),
        NO_START,
        seed=9,
    )
    b = simulate(
        [Tenant(chain, "fixed:small", options=list(OPTIONS))],
        arrivals,
        ClusterSpec(cores=8),
        NO_START,
        seed=9,
    )
    c = simulate(
        [Tenant(chain, "fixed:small", options=list(OPTIONS))],
        arrivals,
        ClusterSpec(cores=8),
        NO_START,
        seed=10,
    )
    assert [r["duration"] for r in a.runs[0]] == [r["duration"] for r in b.runs[0]]
    assert [r["duration"] for r in a.runs[0]] != [r["duration"] for r in c.runs[0]]


def test_a_size_larger_than_any_invoker_fails_the_request(chain):
    prof = make_profiles(chain, {"a": 200, "b": 300})
    shape = shapes_from_profiles(chain, prof)[0]
    run = one_request(
        Tenant(chain, "fixed:large", options=list(OPTIONS)), shape, ClusterSpec(cores=1)
    )
    assert run["status"] == "failed" and not run["metSlo"] and "exceeds" in run["error"]


def test_several_workflows_share_the_cluster(chain, fork):
    pc = make_profiles(chain, {"a": 200, "b": 300})
    pf = make_profiles(fork, {"a": 100, "b": 400, "c": 400})
    sc, sf = shapes_from_profiles(chain, pc)[0], shapes_from_profiles(fork, pf)[0]
    tenants = [
        Tenant(chain, "fixed:large", options=list(OPTIONS)),
        Tenant(fork, "fixed:large", options=list(OPTIONS)),
    ]
    alone = simulate(tenants[:1], [Arrival(0, 0, sc)], ClusterSpec(cores=2), NO_START).runs[0][0]
    tenants = [
        Tenant(chain, "fixed:large", options=list(OPTIONS)),
        Tenant(fork, "fixed:large", options=list(OPTIONS)),
    ]
    shared = simulate(
        tenants, [Arrival(0, 1, sf), Arrival(1, 0, sc)], ClusterSpec(cores=2), NO_START
    )
    assert shared.runs[0][0]["duration"] > alone["duration"]  # waited behind the fork's work
    assert len(shared.runs[1]) == 1


def test_a_closed_loop_starts_each_request_its_gap_after_the_previous_ends(chain):
    prof = make_profiles(chain, {"a": 200, "b": 300})
    shape = shapes_from_profiles(chain, prof)[0]
    tenant = Tenant(chain, "fixed:medium", options=list(OPTIONS))
    arrivals = [Arrival(0.0, 0, shape), Arrival(100.0, 0, shape, after_previous=True)]
    runs = simulate([tenant], arrivals, ClusterSpec(cores=2), NO_START).runs[0]
    assert runs[1]["arrival"] == pytest.approx(runs[0]["duration"] + 100.0)
