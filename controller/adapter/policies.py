"""Sizing policies: Tango's late-bound hints and the baselines it is compared against.

Each policy is a pure decider: `decide(NodeState) -> Decision` and `observe(function, option,
duration_ms)`. Built by `controller.adapter.make_policy`; used through `Adapter`.

- `early-max`     every function at the largest option (worst-case static sizing).
- `early-static`  one fixed option per function, chosen offline from the profiles: the cheapest
                  plan whose critical path of profiled tails meets the SLO (ORION-style).
- `stepwise`      per-step sub-SLOs proportional to each step's share of the critical path at
                  its most cost-effective option, re-scaled to the remaining budget at run time;
                  the cheapest option whose profiled tail fits (StepConf-style).
- `late`          Tango/Janus: compiled hints over the live state, with drift correction.
- `oracle`        knows this request's actual per-option durations: the cheapest plan that
                  meets the deadline (a lower bound on cost).
- `fixed:<name>`  every function at one named option (profiling, tests).
- `plan:<f>=<option>,...`  each named function at its option: a per-request plan made
                  elsewhere, e.g. the oracle's plan for this request, run live on the platform.
"""

from __future__ import annotations

import copy
import math
from typing import Protocol

from common.sizes import Size
from common.stats import percentile
from hint_dsl import dag
from hint_dsl.compiler import CompiledHints
from hint_dsl.profiles import Profiles

from .assignment import cheapest_assignment
from .decision import Decision
from .live_stats import LiveStats
from .state import NodeState


class Policy(Protocol):
    name: str

    def decide(self, state: NodeState) -> Decision: ...

    def observe(self, function: str, option: str | None, duration_ms: float) -> None: ...


def largest(options: list[Size]) -> Size:
    return max(options, key=lambda s: (s.cpu, s.memory))


def _tail_tables(workflow, profiles: Profiles, options: list[Size], p: float, margin: float):
    """durations/costs per node and option for the assignment search; an option never profiled
    for a node counts as infinitely slow and dear, so only profiled options are planned."""
    durations, costs = {}, {}
    for n in workflow.nodes:
        durations[n.id], costs[n.id] = {}, {}
        for o in options:
            tail = profiles.tail_ms(n.id, o.option, p, margin)
            durations[n.id][o.option] = math.inf if tail is None else tail
            costs[n.id][o.option] = profiles.cost(n.id, o.option)[0]
        if all(math.isinf(t) for t in durations[n.id].values()):  # unprofiled: largest
            durations[n.id] = {o.option: 0.0 for o in options}
            costs[n.id] = {o.option: (0.0 if o == largest(options) else 1.0) for o in options}
    return durations, costs


class _Base:
    name = ""

    def __init__(self, options: list[Size]):
        if not options:
            raise ValueError(f"policy '{self.name}' needs at least one size option")
        self.options = {o.option: o for o in options}
        self.largest = largest(options)

    def observe(self, function: str, option: str | None, duration_ms: float) -> None:
        pass

    def fallback(self, reason: str) -> Decision:
        return Decision(self.largest, reason, True, 0.0, self.name)


class FixedPolicy(_Base):
    def __init__(self, options: list[Size], option: str):
        self.name = f"fixed:{option}"
        super().__init__(options)
        if option not in self.options:
            raise ValueError(
                f"unknown option '{option}' for policy fixed:<option> "
                f"(options: {', '.join(self.options)})"
            )
        self._decision = Decision(
            self.options[option], f"fixed option {option}", False, 0.0, self.name
        )

    def decide(self, state: NodeState) -> Decision:
        d = self._decision
        return Decision(d.size, d.rule, False, 0.0, self.name)


class PlanPolicy(_Base):
    """A given option per function (functions the plan leaves out: largest, run at risk)."""

    def __init__(self, options: list[Size], spec: str):
        self.name = "plan"
        super().__init__(options)
        self.plan: dict[str, str] = {}
        for item in filter(None, (x.strip() for x in spec.split(","))):
            function, sep, option = item.partition("=")
            if not sep or not function.strip():
                raise ValueError(
                    f"policy plan:<function>=<option>,... has a malformed entry '{item}'"
                )
            if option.strip() not in self.options:
                raise ValueError(
                    f"unknown option '{option.strip()}' for function '{function.strip()}' in "
                    f"policy plan:... (options: {', '.join(self.options)})"
                )
            self.plan[function.strip()] = option.strip()
        if not self.plan:
            raise ValueError("policy plan:<function>=<option>,... names no function")

    def decide(self, state: NodeState) -> Decision:
        option = self.plan.get(state.function)
        if option is None:
            return self.fallback(f"the plan has no option for {state.function}")
        return Decision(self.options[option], f"planned option {option}", False, 0.0, self.name)


class EarlyMaxPolicy(_Base):
    name = "early-max"

    def decide(self, state: NodeState) -> Decision:
        return Decision(self.largest, "largest option for every function", False, 0.0, self.name)


class EarlyStaticPolicy(_Base):
    name = "early-static"

    def __init__(
        self,
        workflow,
        profiles: Profiles,
        options: list[Size],
        percentile_: float,
        slo_ms: float,
        margin: float = 0.0,
    ):
        super().__init__(options)
        durations, costs = _tail_tables(workflow, profiles, options, percentile_, margin)
        cores = {
            n.id: {o.option: profiles.held_cores(n.id, o.option) for o in options}
            for n in workflow.nodes
        }
        self.plan = cheapest_assignment(
            workflow, durations, costs, slo_ms, cores=cores, capacity=profiles.capacity_cores
        )
        self.rule = "static plan: " + ", ".join(f"{n}={o}" for n, o in self.plan.options.items())

    def decide(self, state: NodeState) -> Decision:
        option = self.plan.options.get(state.function)
        if option is None:
            return self.fallback(f"function '{state.function}' is not in the static plan")
        return Decision(self.options[option], self.rule, not self.plan.feasible, 0.0, self.name)


class StepwisePolicy(_Base):
    name = "stepwise"

    def __init__(
        self,
        workflow,
        profiles: Profiles,
        options: list[Size],
        percentile_: float,
        margin: float = 0.0,
    ):
        super().__init__(options)
        durations, costs = _tail_tables(workflow, profiles, options, percentile_, margin)
        # theta*: each step's most cost-effective option; its tail sets the step's share.
        ref = {n: min(costs[n], key=lambda o: (costs[n][o], durations[n][o])) for n in costs}
        weight = {n: durations[n][ref[n]] for n in costs}
        path_from = dag.longest_from(workflow, weight)
        self.share = {n: (weight[n] / path_from[n] if path_from[n] > 0 else 1.0) for n in costs}
        # Per step, options cheapest first with their tails.
        self.ladder = {
            n: sorted((costs[n][o], durations[n][o], o) for o in costs[n]) for n in costs
        }

    def decide(self, state: NodeState) -> Decision:
        ladder = self.ladder.get(state.function)
        if ladder is None:
            return self.fallback(f"function '{state.function}' was not profiled")
        sub_slo = self.share[state.function] * state.remaining_ms
        for _, tail, option in ladder:
            if tail <= sub_slo:
                return Decision(
                    self.options[option],
                    f"sub-SLO {sub_slo:.0f}ms >= tail {tail:.0f}ms",
                    False,
                    0.0,
                    self.name,
                )
        return self.fallback(f"no option fits the sub-SLO {sub_slo:.0f}ms")


class OraclePolicy(_Base):
    """Call `plan(durations)` with a request's actual {node: {option: ms}} before its run."""

    name = "oracle"

    def __init__(self, workflow, options: list[Size], slo_ms: float):
        super().__init__(options)
        self.workflow, self.slo_ms = workflow, slo_ms
        self.current = None

    def plan(self, durations: dict[str, dict[str, float]]):
        costs = {
            n: {o: self.options[o].cpu * d for o, d in per.items()} for n, per in durations.items()
        }
        self.current = cheapest_assignment(self.workflow, durations, costs, self.slo_ms)
        return self.current

    def decide(self, state: NodeState) -> Decision:
        if self.current is None or state.function not in self.current.options:
            return self.fallback("oracle has no plan for this request")
        option = self.current.options[state.function]
        return Decision(
            self.options[option],
            f"oracle plan: {option}",
            not self.current.feasible,
            0.0,
            self.name,
        )


class LatePolicy(_Base):
    """Tango: the first matching hint rule for the live state, after drift correction.

    Drift: for each function and option, live p50 over profiled p50 (and, with >= `p95_min`
    live samples, the smaller of that and the p95 ratio, so a noisy tail alone is not drift); a
    function's factor is the sample-weighted mean over its options. Before evaluating the rules
    of f the remaining budget is divided by the largest factor among f and the functions after
    it (ignored within `tolerance`), so a slower-than-profiled platform picks larger options. Faster-than-profiled never inflates the budget (factor >= 1) — that would trade SLO
    safety for savings the hints did not plan for.
    """

    name = "late"

    def __init__(
        self,
        workflow,
        hints: CompiledHints,
        profiles: Profiles | None = None,
        tolerance: float = 0.1,
        min_samples: int = 5,
        p95_min: int = 20,
    ):
        super().__init__(list(hints.options.values()))
        self.hints, self.profiles = hints, profiles
        self.tolerance, self.min_samples, self.p95_min = tolerance, min_samples, p95_min
        self.live = LiveStats()
        self.after = dag.descendants(workflow) if workflow is not None else {}
        self.functions_of_action: dict[str, list[str]] = {}
        for n in getattr(workflow, "nodes", []):
            self.functions_of_action.setdefault(n.action, []).append(n.id)
        self.drift: dict[str, float] = {}  # function -> own slowdown factor
        self.budget_scale: dict[str, float] = {}  # function -> divide remaining by this

    # -- live statistics -----------------------------------------------------------------
    def observe(self, function: str, option: str | None, duration_ms: float) -> None:
        self.live.observe(function, option, duration_ms)
        self._update_drift(function)

    def update_stats(self, entries: list[dict]) -> None:
        """Invoker heartbeat `stats` (docs/contracts.md); per (action, option)."""
        self.live.update_heartbeat(entries, self.functions_of_action)
        for fn in {f for e in entries for f in self.functions_of_action.get(e.get("action"), ())}:
            self._update_drift(fn)

    def _update_drift(self, function: str):
        if self.profiles is None:
            return
        weighted, total = 0.0, 0
        for option in self.live.options_of(function):
            live = self.live.summary(function, option, self.min_samples)
            profiled = self.profiles.latencies(function, option) if option else []
            if live is None or not profiled or not live["p50"]:
                continue
            ratio = live["p50"] / percentile(profiled, 50)
            if live["count"] >= self.p95_min and live["p95"]:
                # Both the middle and the tail must have moved: one noisy estimate is not drift.
                ratio = min(ratio, live["p95"] / percentile(profiled, 95))
            weighted += ratio * live["count"]
            total += live["count"]
        if total:
            self.drift[function] = weighted / total
            self._recompute_scales()

    def _recompute_scales(self):
        scales = {}
        for f, later in self.after.items():
            worst = max([self.drift.get(g, 1.0) for g in later | {f}])
            scales[f] = worst if worst > 1.0 + self.tolerance else 1.0
        self.budget_scale = scales

    # -- decision ------------------------------------------------------------------------
    def decide(self, state: NodeState) -> Decision:
        scale = self.budget_scale.get(state.function, 1.0)
        view = state
        if scale != 1.0:  # a copy: states are shared with the engine's threads
            view = copy.copy(state)
            view.remaining_ms = state.remaining_ms / scale
        if view.remaining_ms <= 0:
            return self.fallback(
                f"SLO budget exhausted ({view.remaining_ms:.0f}ms left"
                f"{_drift_note(scale)}): largest option"
            )
        rule = self.hints.decide(state.function, view)
        if rule is None:
            return self.fallback(f"no hint rule of '{state.function}' matched: largest option")
        return Decision(rule.size, rule.label + _drift_note(scale), False, 0.0, self.name)


def _drift_note(scale: float) -> str:
    return "" if scale == 1.0 else f" (budget / {scale:.2f} for drift)"
