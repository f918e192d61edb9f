"""Each sizing policy on constructed states, with profiles whose right answers are worked out
by hand (chain a -> b; cost = cpu x latency)."""

import itertools
import random
from types import SimpleNamespace as NS

import pytest

from common.sizes import Size
from controller.adapter import Adapter, NodeState, Observation, Price, make_sizing_policy
from controller.adapter.assignment import cheapest_assignment
from controller.adapter.static_plans import oracle_plan
from hint_dsl.profiles import Profiles, Sample

SMALL, MEDIUM, LARGE = Size(0.5, 256, "small"), Size(1, 512, "medium"), Size(2, 1024, "large")
OPTIONS = [SMALL, MEDIUM, LARGE]
# costs: a small 200 / medium 250 / large 400; b small 300 / medium 350 / large 600
CHAIN = {
    "a": {"small": 400, "medium": 250, "large": 200},
    "b": {"small": 600, "medium": 350, "large": 300},
}
HINTS = """workflow wf slo 1000ms p99
option small  cpu 0.5 memory 256MB
option medium cpu 1   memory 512MB
option large  cpu 2   memory 1GB
function a
  when remaining < 600ms use large
  when remaining < 750ms use medium
  otherwise use small
function b
  when remaining < 350ms use large
  when remaining < 600ms use medium
  otherwise use small
"""


def chain(slo_ms=1000):
    return NS(
        name="wf",
        slo_ms=slo_ms,
        percentile=99,
        nodes=[
            NS(id="a", action="guest/a", depends=[], foreach=None),
            NS(id="b", action="guest/b", depends=["a"], foreach=None),
        ],
    )


def profiles():
    p = Profiles("wf", {o.option: o for o in OPTIONS})
    for fn, per in CHAIN.items():
        for opt, ms in per.items():
            for r in range(5):
                p.add(Sample(fn, opt, ms, 1000, r, 0))
    return p


def state(function, remaining):
    return NodeState(
        workflow="wf",
        function=function,
        action=f"guest/{function}",
        slo_ms=1000.0,
        remaining_ms=float(remaining),
        elapsed_ms=1000.0 - remaining,
    )


def test_early_max_and_fixed():
    p = make_sizing_policy("early-max", chain(), options=OPTIONS)
    assert p.decide(state("a", 1000)).size == LARGE
    f = make_sizing_policy("fixed:medium", chain(), options=OPTIONS)
    d = f.decide(state("b", 10))
    assert d.size == MEDIUM and d.policy == "fixed:medium" and not d.at_risk
    with pytest.raises(ValueError, match="unknown option 'huge'.*small, medium, large"):
        make_sizing_policy("fixed:huge", chain(), options=OPTIONS)


def test_plan_policy_runs_a_given_option_per_function():
    p = make_sizing_policy("plan:a=small,b=large", chain(), options=OPTIONS)
    assert p.decide(state("a", 10)).size == SMALL and p.decide(state("b", 1000)).size == LARGE
    assert not p.decide(state("a", 10)).at_risk
    partial = make_sizing_policy("plan:a=medium", chain(), options=OPTIONS).decide(state("b", 500))
    assert partial.size == LARGE and partial.at_risk  # left out of the plan: largest, at risk
    with pytest.raises(ValueError, match="unknown option 'huge' for function 'b'"):
        make_sizing_policy("plan:a=small,b=huge", chain(), options=OPTIONS)
    with pytest.raises(ValueError, match="malformed entry 'a'"):
        make_sizing_policy("plan:a", chain(), options=OPTIONS)


@pytest.mark.parametrize(
    "slo, plan, at_risk",
    [
        (1000, {"a": SMALL, "b": SMALL}, False),  # 400 + 600 fits, cost 500: the cheapest
        (
            800,
            {"a": SMALL, "b": MEDIUM},
            False,
        ),  # 750ms, cost 550 (medium+medium 600, large+small 700)
        (400, {"a": LARGE, "b": LARGE}, True),  # nothing fits: fastest plan, flagged
    ],
)
def test_early_static_picks_cheapest_plan_meeting_slo(slo, plan, at_risk):
    p = make_sizing_policy(
        "early-static", chain(slo), profiles=profiles(), options=OPTIONS, margin=0.0
    )
    for fn, size in plan.items():
        d = p.decide(state(fn, 1000))
        assert d.size == size and d.at_risk is at_risk
    # static: the live budget does not matter
    assert p.decide(state("a", 10)).size == plan["a"]


def test_early_static_plans_parallel_branches_within_the_profiled_cpu():
    # b and c run in parallel: large (2 cores) 300 ms each, medium (1 core) 350 ms, small 600 ms.
    wf = NS(
        name="wf",
        slo_ms=400,
        percentile=99,
        nodes=[
            NS(id="b", action="guest/b", depends=[], foreach=None),
            NS(id="c", action="guest/c", depends=[], foreach=None),
        ],
    )

    def prof(capacity):
        p = Profiles("wf", {o.option: o for o in OPTIONS}, capacity_cores=capacity)
        for fn in ("b", "c"):
            for opt, ms in {"small": 600, "medium": 350, "large": 300}.items():
                for r in range(5):
                    p.add(Sample(fn, opt, ms, 1000, r, 0))
        return p

    # Unbounded CPU: medium for both (cost 700 < large's 1200); at 320 ms only large fits.
    # On 2 cores, two large branches queue (600 ms): medium+medium (both fit, 350 ms) is the plan.
    for capacity, slo, want in ((None, 400, MEDIUM), (2.0, 400, MEDIUM), (None, 320, LARGE)):
        wf.slo_ms = slo
        p = make_sizing_policy(
            "early-static", wf, profiles=prof(capacity), options=OPTIONS, margin=0.0
        )
        assert p.decide(state("b", slo)).size == want and not p.decide(state("b", slo)).at_risk
    wf.slo_ms = 320
    p = make_sizing_policy("early-static", wf, profiles=prof(2.0), options=OPTIONS, margin=0.0)
    assert p.decide(state("b", 320)).at_risk  # nothing fits on 2 cores


def test_stepwise_sub_slo_scales_with_remaining_budget():
    # theta* = cheapest: a small (400ms), b small (600ms): a's share 0.4, b's 1.0 of what is left
    p = make_sizing_policy("stepwise", chain(), profiles=profiles(), options=OPTIONS, margin=0.0)
    assert p.decide(state("a", 1000)).size == SMALL  # sub-SLO 400 >= small's 400
    assert p.decide(state("a", 800)).size == MEDIUM  # 320: medium 250 fits
    assert p.decide(state("a", 520)).size == LARGE  # 208: large 200 fits
    assert p.decide(state("b", 500)).size == MEDIUM
    d = p.decide(state("b", 250))
    assert d.size == LARGE and d.at_risk


CASES = [
    ("a", 1000, SMALL),
    ("a", 749, MEDIUM),
    ("a", 599, LARGE),
    ("b", 600, SMALL),
    ("b", 349, LARGE),
]


@pytest.mark.parametrize("fn, remaining, size", CASES)
def test_late_without_profiles_follows_hint_rules(fn, remaining, size):
    p = make_sizing_policy("late", chain(), hints=HINTS)
    d = p.decide(state(fn, remaining))
    assert d.size == size and not d.at_risk and d.policy == "late"
    assert d.rule.startswith(f"{fn}:")


@pytest.mark.parametrize("fn, remaining, size", CASES)
def test_late_with_profiles_takes_the_cheapest_option_for_the_rest_of_the_dag(fn, remaining, size):
    # Worked by hand: at a=749, small leaves b 349 (large: 200 + 600 = 800 core-ms), medium
    # leaves 499 (b medium: 250 + 350 = 600), large leaves 549 (b medium: 400 + 350): medium.
    p = make_sizing_policy("late", chain(), hints=HINTS, profiles=profiles())
    d = p.decide(state(fn, remaining))
    assert d.size == size and not d.at_risk and d.rule.startswith("model:")


def test_late_falls_back_to_largest_at_risk():
    p = make_sizing_policy("late", chain(), hints=HINTS.replace("  otherwise use small\n", ""))
    d = p.decide(state("a", 900))
    assert d.size == LARGE and d.at_risk and "no hint rule" in d.rule
    d = p.decide(state("b", -5))
    assert d.size == LARGE and d.at_risk and "budget exhausted" in d.rule


def test_live_activations_correct_a_stale_profile():
    p = make_sizing_policy("late", chain(), hints=HINTS, profiles=profiles())
    assert p.decide(state("b", 600)).size == SMALL
    for _ in range(8):
        p.observe_activation(Observation("b", "small", 960.0, 1000))  # b got slower than profiled
    assert p.decide(state("b", 600)).size == MEDIUM
    assert p.decide(state("b", 1000)).size == SMALL  # 960 still fits a whole second


def test_late_combines_distributions_instead_of_adding_tails():
    # p90 target. a and b at small: 100 ms nine times in ten, 400 ms once. The sum of the p90s
    # (200 ms) fits 300 ms, but both are fast together only 81 % of the time: not small.
    tails = {"small": [100] * 9 + [400], "large": [50] * 10}
    prof = Profiles("wf", {o.option: o for o in (SMALL, LARGE)})
    for fn in ("a", "b"):
        for opt, xs in tails.items():
            for r, ms in enumerate(xs):
                prof.add(Sample(fn, opt, ms, 1000, r, 0))
    hints = HINTS.replace("p99", "p90").replace("option medium cpu 1   memory 512MB\n", "")
    hints = hints.replace("use medium", "use large")
    p = make_sizing_policy("late", chain(), hints=hints, profiles=prof)
    d = p.decide(state("a", 300))
    assert d.size == LARGE and not d.at_risk  # b then gets 250 ms: small reaches 90 %
    assert p.decide(state("a", 800)).size == SMALL  # 400 + 400 fits: certain


def test_late_out_of_reach_maximises_the_chance_and_says_why():
    p = make_sizing_policy("late", chain(), hints=HINTS, profiles=profiles())
    d = p.decide(state("a", 450))  # large 200 + b large 300 = 500: no option can make it
    assert d.at_risk and "out of reach" in d.rule and d.size == LARGE


def test_late_never_picks_an_option_that_ran_out_of_memory_for_that_input_size():
    prof = profiles()
    big = 1 << 20  # input class 20; the profiled inputs are of class 9 (1000 bytes)
    for opt, ms in CHAIN["b"].items():
        prof.add(Sample("b", opt, ms, big, 9, 0))
    prof.add_failure("b", "small", big, 9, "The action exhausted its memory and was aborted.")
    p = make_sizing_policy("late", chain(), hints=HINTS, profiles=prof)
    s = state("b", 1000)
    assert p.decide(s).size == SMALL
    s.input_bytes = big
    assert p.decide(s).size == MEDIUM  # small would be cheaper, but it ran out of memory
    # live: medium runs out of memory on an even larger input -> never medium for it
    p.observe_activation(Observation("b", "medium", 10.0, 1 << 24, oom=True))
    s.input_bytes = 1 << 24
    assert p.decide(s).size == LARGE
    s.input_bytes = big
    assert p.decide(s).size == MEDIUM  # a smaller input is not affected


def test_thin_profiles_warn_instead_of_deciding_on_noise():
    prof = Profiles("wf", {o.option: o for o in OPTIONS})
    for fn, per in CHAIN.items():
        for opt, ms in per.items():
            prof.add(Sample(fn, opt, ms, 1000, 0, 0))  # one input, one repeat
    p = make_sizing_policy("late", chain(), hints=HINTS, profiles=prof)
    assert len(p.warnings) == 6 and "1 sample(s)" in p.warnings[0]
    # planned 25 % slower while thin: b small (600 -> 750) no longer fits 700 ms
    assert p.decide(state("b", 700)).size == MEDIUM
    for _ in range(5):
        p.observe_activation(Observation("b", "small", 600.0, 1000))
    assert p.decide(state("b", 700)).size == SMALL  # filled by use
    assert not any(w.startswith("b at small") for w in p.warnings)


def test_class_static_plans_each_input_class_apart():
    prof = Profiles("wf", {o.option: o for o in OPTIONS})
    for r, (nbytes, scale) in enumerate([(1000, 1.0)] * 5 + [(1 << 20, 3.0)] * 5):
        for fn, per in CHAIN.items():
            for opt, ms in per.items():
                prof.add(Sample(fn, opt, ms * scale, nbytes, r, 0))
    p = make_sizing_policy("class-static", chain(1000), profiles=prof, options=OPTIONS, margin=0.0)
    s = state("a", 1000)
    assert p.decide(s).size == SMALL  # small inputs: small + small = 1000 ms
    s.input_bytes = 1 << 20  # large inputs: 3x slower; large + large = 1500 ms > SLO
    d = p.decide(s)
    assert d.size == LARGE and d.at_risk
    static = make_sizing_policy(
        "early-static", chain(1000), profiles=prof, options=OPTIONS, margin=0.0
    )
    assert static.decide(state("a", 1000)).size == LARGE  # one plan for both: the p99 is large


def test_power_tuning_takes_the_cheapest_option_within_the_speed_tolerance():
    p = make_sizing_policy("power-tuning", chain(), profiles=profiles(), options=OPTIONS)
    # a: fastest 200 (large); medium 250 is 25 % slower (> 20 %): large. b: medium 350 vs 300:
    # 17 % slower and cheaper: medium.
    assert p.decide(state("a", 5)).size == LARGE and p.decide(state("b", 5)).size == MEDIUM


def test_oracle_plan_is_the_cheapest_meeting_the_slo_on_measured_durations():
    measured = {n: {o: (float(ms), float(ms)) for o, ms in per.items()} for n, per in CHAIN.items()}
    plan = oracle_plan(chain(), measured, OPTIONS, 800, Price())
    assert plan.options == {"a": "small", "b": "medium"} and plan.feasible
    assert plan.tail_ms == 750
    del measured["b"]["medium"]  # medium ran out of memory on this request
    plan = oracle_plan(chain(), measured, OPTIONS, 800, Price())
    assert plan.options["b"] != "medium" and plan.feasible


def test_oracle_takes_cheapest_plan_for_actual_durations():
    p = make_sizing_policy("oracle", chain(800), options=OPTIONS)
    assert p.decide(state("a", 800)).at_risk  # no plan yet
    plan = p.plan({"a": dict(CHAIN["a"]), "b": dict(CHAIN["b"])})
    assert plan.options == {"a": "small", "b": "medium"} and plan.feasible
    assert p.decide(state("b", 100)).size == MEDIUM


def test_make_policy_errors_are_actionable():
    with pytest.raises(ValueError, match="unknown policy 'eager'.*early-max.*late"):
        make_sizing_policy("eager", chain(), options=OPTIONS)
    with pytest.raises(ValueError, match="'late' needs size options"):
        make_sizing_policy("late", chain())
    with pytest.raises(ValueError, match="'stepwise' needs profiles"):
        make_sizing_policy("stepwise", chain(), options=OPTIONS)


def test_adapter_times_decisions_and_exposes_live_stats():
    a = Adapter(make_sizing_policy("late", chain(), hints=HINTS, profiles=profiles()))
    assert a.policy == "late"
    decisions = [a.decide(state("a", r)) for r in range(0, 1000, 10)]
    assert all(d.decision_us > 0 for d in decisions)
    summary = a.histogram.summary()
    assert (
        summary["count"] == 100
        and 0 < summary["p50_us"] <= summary["p99_us"] <= summary["max_us"] * 1.26
    )
    a.observe("b", "small", 500.0)
    assert a.stats_view()["b"]["p50"] == 500.0
    assert Adapter(make_sizing_policy("early-max", chain(), options=OPTIONS)).stats_view() == {}


def brute_force(workflow, durations, costs, deadline):
    ids = [n.id for n in workflow.nodes]
    best = None
    for combo in itertools.product(*(sorted(durations[i]) for i in ids)):
        plan = dict(zip(ids, combo, strict=True))
        finish = {}
        for n in workflow.nodes:
            finish[n.id] = durations[n.id][plan[n.id]] + max(
                (finish[d] for d in n.depends), default=0
            )
        if max(finish.values()) <= deadline:
            cost = sum(costs[i][plan[i]] for i in ids)
            best = cost if best is None else min(best, cost)
    return best


def test_parallel_branches_that_do_not_fit_the_cpu_together_run_one_after_the_other():
    # a -> (b, c) -> d on 2 cores. b and c at "large" (2 cores) take 100 ms each, at "medium"
    # (1 core) 150 ms. Without contention large+large is 100 ms for the pair; with it, 200 ms,
    # and medium+medium (both fit: 150 ms) is faster and no dearer.
    nodes = [
        NS(id="a", depends=[]),
        NS(id="b", depends=["a"]),
        NS(id="c", depends=["a"]),
        NS(id="d", depends=["b", "c"]),
    ]
    wf = NS(nodes=nodes)
    durations = {n.id: {"medium": 150.0, "large": 100.0} for n in nodes}
    durations["a"] = durations["d"] = {"medium": 10.0, "large": 10.0}
    cores = {n.id: {"medium": 1.0, "large": 2.0} for n in nodes}
    costs = {n: {o: cores[n][o] * durations[n][o] for o in durations[n]} for n in durations}
    free = cheapest_assignment(wf, durations, costs, 150.0)
    assert (
        free.feasible
        and free.options["b"] == free.options["c"] == "large"
        and free.makespan_ms == 120
    )
    held = cheapest_assignment(wf, durations, costs, 150.0, cores=cores, capacity=2.0)
    assert not held.feasible and held.makespan_ms == 220  # large+large, serialized
    held = cheapest_assignment(wf, durations, costs, 180.0, cores=cores, capacity=2.0)
    assert (
        held.feasible
        and held.options["b"] == held.options["c"] == "medium"
        and held.makespan_ms == 170
    )
    # Mixed: one branch at large and one at medium need 3 cores: they queue as well.
    mixed = {"a": "large", "b": "large", "c": "medium", "d": "large"}
    assert reserved_makespan(wf, durations, mixed, cores, 2.0) == 10 + 100 + 150 + 10


def reserved_makespan(workflow, durations, plan, cores, capacity):
    """Reference: event by event, start every ready node (in order) whose cores are free."""
    pending, running, finish, t = [n for n in workflow.nodes], [], {}, 0.0
    while pending or running:
        for n in list(pending):
            ready = all(d in finish and finish[d] <= t for d in n.depends)
            used = sum(c for _, c in running)
            if ready and used + min(cores[n.id][plan[n.id]], capacity) <= capacity + 1e-9:
                running.append(
                    (t + durations[n.id][plan[n.id]], min(cores[n.id][plan[n.id]], capacity))
                )
                finish[n.id] = t + durations[n.id][plan[n.id]]
                pending.remove(n)
        t = min(e for e, _ in running)
        running = [(e, c) for e, c in running if e > t]
    return max(finish.values(), default=0.0)


def test_assignment_with_cpu_contention_matches_brute_force_on_random_dags():
    rng = random.Random(5)
    for _ in range(60):
        n = rng.randint(1, 5)
        nodes = [
            NS(
                id=f"n{i}",
                depends=rng.sample([f"n{j}" for j in range(i)], k=min(i, rng.randint(0, 1))),
            )
            for i in range(n)
        ]
        wf = NS(nodes=nodes)
        cores = {x.id: {"a": 0.5, "b": 1.0, "c": 2.0} for x in nodes}
        durations = {x.id: {o: rng.randint(10, 200) for o in "abc"} for x in nodes}
        costs = {x.id: {o: cores[x.id][o] * durations[x.id][o] for o in "abc"} for x in nodes}
        deadline = rng.randint(50, 600)
        got = cheapest_assignment(wf, durations, costs, deadline, cores=cores, capacity=2.0)
        best = None
        for combo in itertools.product("abc", repeat=n):
            plan = dict(zip((x.id for x in nodes), combo, strict=True))
            if reserved_makespan(wf, durations, plan, cores, 2.0) <= deadline:
                cost = sum(costs[i][o] for i, o in plan.items())
                best = cost if best is None else min(best, cost)
        assert got.feasible == (best is not None)
        if best is not None:
            assert got.cost == pytest.approx(best) and got.makespan_ms <= deadline


def test_assignment_search_matches_brute_force_on_random_dags():
    rng = random.Random(11)
    for _ in range(60):
        n = rng.randint(1, 6)
        nodes = [
            NS(
                id=f"n{i}",
                depends=rng.sample([f"n{j}" for j in range(i)], k=min(i, rng.randint(0, 2))),
            )
            for i in range(n)
        ]
        wf = NS(nodes=nodes)
        durations = {x.id: {o: rng.randint(10, 200) for o in "abc"} for x in nodes}
        costs = {x.id: {o: rng.randint(1, 50) for o in "abc"} for x in nodes}
        deadline = rng.randint(50, 600)
        got = cheapest_assignment(wf, durations, costs, deadline)
        expected = brute_force(wf, durations, costs, deadline)
        assert got.feasible == (expected is not None)
        if expected is not None:
            assert got.cost == expected and got.makespan_ms <= deadline


def test_a_function_never_profiled_does_not_put_the_whole_workflow_at_risk():
    prof = Profiles("wf", {o.option: o for o in OPTIONS})
    for opt, ms in CHAIN["a"].items():
        for r in range(5):
            prof.add(Sample("a", opt, ms, 1000, r, 0))  # b was never profiled
    p = make_sizing_policy("late", chain(), hints=HINTS, profiles=prof)
    d = p.decide(state("a", 1000))
    assert d.size == SMALL and not d.at_risk


def test_late_links_a_functions_size_class_to_its_successors_through_the_profiled_runs():
    # a's inputs of 1 KB came with b inputs of 8 bytes (fast), a's 4 KB ones with 32 KB b
    # inputs (slow): the two are keyed on different sizes, so classes are linked by run.
    prof = Profiles("wf", {o.option: o for o in OPTIONS})
    for r in range(10):
        big = r >= 5
        for opt, ms in {"small": 400, "medium": 300, "large": 200}.items():
            prof.add(Sample("a", opt, ms, 4096 if big else 1024, r, 0))
        b = (
            {"small": 900, "medium": 800, "large": 700}
            if big
            else {"small": 100, "medium": 90, "large": 80}
        )
        for opt, ms in b.items():
            prof.add(Sample("b", opt, ms, 32768 if big else 8, r, 0))
    p = make_sizing_policy("late", chain(), hints=HINTS, profiles=prof)
    s = state("a", 1000)
    s.input_bytes = 1024
    assert p.decide(s).size == SMALL  # b will be fast: 400 + 100
    s.input_bytes = 4096
    assert p.decide(s).size == LARGE  # b is slow: a large leaves it 800 ms, room for medium


def test_thin_stale_profiles_are_corrected_by_fifty_live_requests():
    # Profiled on one input, once, on a day everything ran 40 % slower; live runs are as CHAIN
    # (+-5 %). After 50 requests the decisions match a policy profiled thoroughly (20 repeats).
    rng = random.Random(1)

    def prof(repeats, scale):
        p = Profiles("wf", {o.option: o for o in OPTIONS})
        for fn, per in CHAIN.items():
            for opt, ms in per.items():
                for r in range(repeats):
                    p.add(Sample(fn, opt, ms * scale * rng.uniform(0.95, 1.05), 1000, r, 0))
        return p

    thorough = make_sizing_policy("late", chain(), hints=HINTS, profiles=prof(20, 1.0))
    thin = make_sizing_policy("late", chain(), hints=HINTS, profiles=prof(1, 1.4))

    def differ():
        cells = [(f, b) for f in "ab" for b in range(300, 1001, 25)]
        return sum(
            thorough.decide(state(f, b)).size != thin.decide(state(f, b)).size for f, b in cells
        ) / len(cells)

    assert differ() > 0.5
    for _ in range(50):
        budget = rng.uniform(700, 1000)
        d = thin.decide(state("a", budget))
        took = CHAIN["a"][d.size.option] * rng.uniform(0.95, 1.05)
        thin.observe_activation(Observation("a", d.size.option, took, 1000))
        d = thin.decide(state("b", budget - took))
        took_b = CHAIN["b"][d.size.option] * rng.uniform(0.95, 1.05)
        thin.observe_activation(Observation("b", d.size.option, took_b, 1000))
    thin._rebuild()
    assert differ() < 0.1
