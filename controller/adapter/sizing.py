"""Sizing policies: Tango's late-bound hints and the baselines it is compared against.

Each policy is a pure decider: `decide(NodeState) -> Decision` and `observe(function, option,
duration_ms)`. Built by `controller.adapter.make_sizing_policy`; used through `Adapter`.

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

import math
import threading
from typing import Protocol

from common.sizes import Size
from hint_dsl import dag
from hint_dsl.compiler import CompiledHints
from hint_dsl.profiles import Profiles

from .assignment import cheapest_assignment
from .decision import Decision
from .live_stats import LiveStats
from .model import BudgetTable, DurationModel, Observation, Price
from .state import NodeState
from .static_plans import RunTable, StaticPlan, orion_plan, power_tuning_plan


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
    """One option per function for every request, fixed offline ORION-style: the cheapest plan
    whose end-to-end latency over the profiled inputs meets the SLO at its percentile
    (`static_plans.orion_plan`; latencies inflated by `margin`)."""

    name = "early-static"

    def __init__(
        self,
        workflow,
        profiles: Profiles,
        options: list[Size],
        percentile_: float,
        slo_ms: float,
        margin: float = 0.0,
        price: Price | None = None,
    ):
        super().__init__(options)
        table = RunTable.from_profiles(workflow, profiles)
        self.plan = orion_plan(
            workflow,
            table,
            options,
            slo_ms / (1.0 + margin),
            percentile_,
            price or Price(),
            capacity=profiles.capacity_cores,
        )
        self.rule = "static plan: " + ", ".join(f"{n}={o}" for n, o in self.plan.options.items())

    def decide(self, state: NodeState) -> Decision:
        option = self.plan.options.get(state.function)
        if option is None:
            return self.fallback(f"function '{state.function}' is not in the static plan")
        return Decision(self.options[option], self.rule, not self.plan.feasible, 0.0, self.name)


class ClassStaticPolicy(_Base):
    """One static plan per size class of the workflow input, each chosen offline ORION-style on
    the profiled inputs of that class (what a careful developer writes by hand: "big inputs get
    the big size"). A node finds its request's class through its own input's class, linked to
    the workflow input's class by the profiling runs (the largest class seen with it)."""

    name = "class-static"

    def __init__(
        self,
        workflow,
        profiles: Profiles,
        options: list[Size],
        percentile_: float,
        slo_ms: float,
        margin: float = 0.0,
        price: Price | None = None,
    ):
        super().__init__(options)
        self.profiles = profiles
        table = RunTable.from_profiles(workflow, profiles)
        self.plans: dict[int, StaticPlan] = {}
        for k in sorted(set(table.root_class.values())):
            runs = [r for r, c in table.root_class.items() if c == k]
            self.plans[k] = orion_plan(
                workflow,
                table,
                options,
                slo_ms / (1.0 + margin),
                percentile_,
                price or Price(),
                runs,
                profiles.capacity_cores,
            )
        self.root_of: dict[str, dict[int, int]] = {}
        for n in workflow.nodes:
            own = profiles.run_classes(n.id)
            per: dict[int, int] = {}
            for run, k in own.items():
                per[k] = max(per.get(k, 0), table.root_class.get(run, 0))
            self.root_of[n.id] = per

    def decide(self, state: NodeState) -> Decision:
        if not self.plans:
            return self.fallback("no profiled input: no class plan")
        k = self.profiles.size_class_of_input(state.function, state.input_bytes, state.input)
        per = self.root_of.get(state.function, {})
        known = sorted(per)
        own = next((c for c in known if c >= k), known[-1] if known else None)
        root = per.get(own, max(self.plans)) if own is not None else max(self.plans)
        plan = self.plans.get(root) or self.plans[max(self.plans)]
        option = plan.options.get(state.function)
        if option is None:
            return self.fallback(f"function '{state.function}' is not in the class plan")
        return Decision(
            self.options[option],
            f"class {root} plan: {state.function}={option}",
            not plan.feasible,
            0.0,
            self.name,
        )


class PowerTuningPolicy(_Base):
    """Per function the cheapest option whose median latency is within `tolerance` of its fastest
    (aws-lambda-power-tuning run on the profiles); one plan for every request, not SLO-aware."""

    name = "power-tuning"

    def __init__(
        self,
        workflow,
        profiles: Profiles,
        options: list[Size],
        tolerance: float = 0.2,
        price: Price | None = None,
    ):
        super().__init__(options)
        table = RunTable.from_profiles(workflow, profiles)
        self.plan = power_tuning_plan(workflow, table, options, price or Price(), tolerance)
        self.rule = f"power tuning (within {100 * tolerance:.0f} % of fastest): " + ", ".join(
            f"{n}={o}" for n, o in self.plan.items()
        )

    def decide(self, state: NodeState) -> Decision:
        option = self.plan.get(state.function)
        if option is None:
            return self.fallback(f"function '{state.function}' was not tuned")
        return Decision(self.options[option], self.rule, False, 0.0, self.name)


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
    """Tango: sizes each function right before it runs, from its input, the remaining budget and
    a model corrected by every live activation (`model.DurationModel`).

    With profiles (corrected by live activations as they come), the choice is the model's
    tail-aware budget table (`model.BudgetTable`): the cheapest option whose chance of finishing
    this function and the rest of the DAG within the remaining budget reaches the SLO
    percentile; an option that ran out of memory on an input this large is never chosen; when
    no option reaches the percentile the one with the best chance is chosen, marked at risk,
    and the rule says so. Without profiles the hint rules decide, as written (live data alone
    corrects nothing: there is no prior to correct), except that an option that ran out of
    memory is replaced by the next larger one. The table is rebuilt after every
    `rebuild_every` observations, at least one per function of the workflow (about once per
    request), and at once after an out-of-memory, in the observing thread: a decision only
    reads it.
    """

    name = "late"

    def __init__(
        self,
        workflow,
        hints: CompiledHints,
        profiles: Profiles | None = None,
        price: Price | None = None,
        window: int = 32,
        min_samples: int = 5,
        rebuild_every: int = 4,
    ):
        super().__init__(list(hints.options.values()))
        self.hints, self.profiles = hints, profiles
        self.price = price or Price()
        # about once per request (a rebuild is tens of ms of numpy; decisions never wait for it)
        self.rebuild_every = max(rebuild_every, len(getattr(workflow, "nodes", [])))
        self.live = LiveStats()
        self.functions_of_action: dict[str, list[str]] = {}
        for n in getattr(workflow, "nodes", []):
            self.functions_of_action.setdefault(n.action, []).append(n.id)
        self.slo_ms, self.percentile = hints.slo_ms, hints.percentile
        self.model = (
            DurationModel(workflow, profiles, list(self.options.values()), window, min_samples)
            if workflow is not None
            else None
        )
        self.table: BudgetTable | None = None
        self._built = -1
        self._lock = threading.Lock()
        self._rebuild()

    @property
    def warnings(self) -> list[str]:
        """Thin profile cells (fewer samples than the model trusts), for the user to read."""
        return self.model.warnings() if self.model else []

    # -- live statistics -----------------------------------------------------------------
    def observe(self, function: str, option: str | None, duration_ms: float) -> None:
        self.observe_activation(Observation(function, option, duration_ms))

    def observe_activation(self, obs: Observation) -> None:
        """Every finished live activation: feeds the stats view and the model."""
        if not obs.oom:
            self.live.observe(obs.function, obs.option, obs.duration_ms)
        if self.model is None:
            return
        with self._lock:
            self.model.observe(obs)
            if obs.oom or self.model.version - self._built >= self.rebuild_every:
                self._rebuild()

    def update_stats(self, entries: list[dict]) -> None:
        """Invoker heartbeat `stats` (docs/contracts.md): the per-function view hints read."""
        self.live.update_heartbeat(entries, self.functions_of_action)

    def _rebuild(self) -> None:
        if self.model is None or self.profiles is None or not self.model.cells:
            return  # live data corrects profiles; without them the hints are the prior
        self.table = BudgetTable.build(self.model, self.slo_ms, self.percentile, self.price)
        self._built = self.model.version

    # -- decision ------------------------------------------------------------------------
    def decide(self, state: NodeState) -> Decision:
        if state.remaining_ms <= 0:
            return self.fallback(
                f"SLO budget exhausted ({state.remaining_ms:.0f}ms left): largest option"
            )
        table, model = self.table, self.model
        if table is not None and model is not None and state.function in table.choices:
            k = model.class_of(state.function, state.input_bytes, state.input)
            c = table.decide(state.function, k, state.remaining_ms)
            if c is not None:
                guarded = self._memory_guard(state.function, c.option, k)
                if guarded is None:
                    return self.fallback(f"{c.option} ran out of memory here: largest option")
                if guarded != c.option:
                    return Decision(
                        self.options[guarded],
                        f"model chose {c.option}, which ran out of memory on class {k}: {guarded}",
                        not c.reachable,
                        0.0,
                        self.name,
                    )
                if c.reachable:
                    why = (
                        f"model: {c.option} meets {state.remaining_ms:.0f}ms for the rest "
                        f"with p={c.probability:.3f} (class {k})"
                    )
                else:
                    why = (
                        f"SLO out of reach: {c.option} gives the best chance, "
                        f"p={c.probability:.3f} < {table.target:.3f} "
                        f"at {state.remaining_ms:.0f}ms left (class {k})"
                    )
                return Decision(self.options[c.option], why, not c.reachable, 0.0, self.name)
        rule = self.hints.decide(state.function, state)
        if rule is None:
            return self.fallback(f"no hint rule of '{state.function}' matched: largest option")
        size = rule.size
        if model is not None and size.option in self.options:
            k = model.class_of(state.function, state.input_bytes, state.input)
            guarded = self._memory_guard(state.function, size.option, k)
            if guarded is None:
                return self.fallback(f"{size.option} ran out of memory here: largest option")
            if guarded != size.option:
                return Decision(
                    self.options[guarded],
                    f"{rule.label}, but {size.option} ran out of memory on class {k}: {guarded}",
                    False,
                    0.0,
                    self.name,
                )
        return Decision(size, rule.label, False, 0.0, self.name)

    def _memory_guard(self, function: str, option: str, k: int) -> str | None:
        """`option`, or the next larger one that never ran out of memory on class k (None: none)."""
        model = self.model
        if model is None or not model.is_banned(function, option, k):
            return option
        larger = model.order[model.order.index(option) + 1 :]
        return next((o for o in larger if not model.is_banned(function, o, k)), None)
