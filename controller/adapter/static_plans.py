"""Offline plans for the static baselines and the oracle, from per-input measurements.

- `orion_plan`: the cheapest per-function option plan whose end-to-end latency, over the training
  inputs, meets the SLO at its percentile. As ORION (OSDI '22) does, per-function latency
  *distributions* are combined along the DAG rather than tails added: each training input's
  node latencies (mean over repeats) are put on the DAG together (longest path, or with
  `capacity` the invoker's CPU reservation of `assignment._reserved_makespan`), so the
  end-to-end distribution keeps the correlation between one input's nodes. A plan that ran out
  of memory on any training input is never chosen. Used by `early-static` and, per input-size
  class, by `class-static`.
- `power_tuning_plan`: per function, the cheapest option whose median latency is within
  `tolerance` of the fastest option's (aws-lambda-power-tuning's cost strategy with a speed
  bound); not SLO-aware, as the tool is not.
- `oracle_plan`: one request's cheapest plan meeting its SLO, priced from that request's measured
  durations at every option: a lower bound on any policy's price by construction.

Pure: tables in, plan out.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from common.sizes import Size
from hint_dsl import dag
from hint_dsl.profiles import Profiles, percentile

from .assignment import _reserved_makespan
from .model import Price


@dataclass(frozen=True)
class RunTable:
    """Per training input (profiling run): node -> option -> (latency ms, work ms); absent where
    the option failed (out of memory) for that input."""

    runs: dict[int, dict[str, dict[str, tuple[float, float]]]]
    root_class: dict[int, int]  # run -> size class of the workflow input (first node's key)

    @classmethod
    def from_profiles(cls, workflow, profiles: Profiles) -> RunTable:
        acc: dict[int, dict[str, dict[str, list]]] = {}
        for (fn, opt), runs in profiles._node_run_index().items():
            for r in runs:
                acc.setdefault(r.run, {}).setdefault(fn, {}).setdefault(opt, []).append(r)
        failed = {(f["function"], f["option"], f["run"]) for f in profiles.failures}
        table: dict[int, dict[str, dict[str, tuple[float, float]]]] = {}
        for run, per in acc.items():
            table[run] = {
                fn: {
                    opt: (
                        sum(r.latency_ms for r in rs) / len(rs),
                        sum(r.work_ms for r in rs) / len(rs),
                    )
                    for opt, rs in opts.items()
                    if (fn, opt, run) not in failed
                }
                for fn, opts in per.items()
            }
        root = workflow.nodes[0].id
        classes = profiles.run_classes(root)
        return cls(table, {r: classes.get(r, 0) for r in table})


@dataclass(frozen=True)
class StaticPlan:
    options: dict[str, str]
    tail_ms: float  # end-to-end latency at the percentile over the inputs planned on
    price: float  # mean per request
    feasible: bool


def plan_price(plan, run, options: dict[str, Size], price: Price) -> float:
    return sum(price.of(options[o], run[n][o][1]) for n, o in plan.items())


def _makespan(workflow, plan, run, capacity, options) -> float:
    if any(o not in run.get(n, {}) for n, o in plan.items()):
        return math.inf  # ran out of memory (or never measured) at that option
    if capacity:
        durations = {n: {o: run[n][o][0]} for n, o in plan.items()}
        cores = {n: {o: options[o].cpu} for n, o in plan.items()}
        return _reserved_makespan(list(workflow.nodes), durations, plan, cores, capacity)
    return dag.longest_path(workflow, {n: run[n][o][0] for n, o in plan.items()})


def orion_plan(
    workflow,
    table: RunTable,
    options: list[Size],
    slo_ms: float,
    p: float,
    price: Price,
    runs: list[int] | None = None,
    capacity: float | None = None,
    max_plans: int = 20_000,
) -> StaticPlan:
    named = {o.option: o for o in options}
    chosen = [r for r in (runs if runs is not None else table.runs) if r in table.runs]
    nodes = [n.id for n in workflow.nodes]
    measured = {
        n: [o for o in named if any(o in table.runs[r].get(n, {}) for r in chosen)] for n in nodes
    }
    if not chosen or any(not measured[n] for n in nodes):
        largest = max(options, key=lambda s: (s.cpu, s.memory)).option
        return StaticPlan({n: largest for n in nodes}, math.inf, math.inf, False)
    combos = math.prod(len(measured[n]) for n in nodes)
    if combos > max_plans:
        raise ValueError(f"{combos} plans exceed max_plans={max_plans}")
    scored = []
    for combo in itertools.product(*(measured[n] for n in nodes)):
        plan = dict(zip(nodes, combo, strict=True))
        spans = [_makespan(workflow, plan, table.runs[r], capacity, named) for r in chosen]
        tail = percentile(spans, p)
        if all(math.isfinite(s) for s in spans):
            mean = sum(plan_price(plan, table.runs[r], named, price) for r in chosen) / len(chosen)
        else:  # out of memory on some input: never planned
            mean, tail = math.inf, math.inf
        scored.append((mean, tail, plan))
    feasible = [s for s in scored if s[1] <= slo_ms and math.isfinite(s[0])]
    if feasible:
        mean, tail, plan = min(feasible, key=lambda s: (s[0], s[1]))
        return StaticPlan(plan, tail, mean, True)
    mean, tail, plan = min(scored, key=lambda s: (s[1], s[0]))
    return StaticPlan(plan, tail, mean, False)


def power_tuning_plan(
    workflow, table: RunTable, options: list[Size], price: Price, tolerance: float = 0.2
) -> dict[str, str]:
    named = {o.option: o for o in options}
    plan = {}
    for n in workflow.nodes:
        med, cost = {}, {}
        for o in named:
            rows = [r[n.id][o] for r in table.runs.values() if o in r.get(n.id, {})]
            if len(rows) < len([r for r in table.runs.values() if n.id in r]):
                continue  # failed on some input: not a candidate
            if rows:
                med[o] = percentile([lat for lat, _ in rows], 50)
                cost[o] = sum(price.of(named[o], w) for _, w in rows) / len(rows)
        if not med:
            plan[n.id] = max(options, key=lambda s: (s.cpu, s.memory)).option
            continue
        fastest = min(med.values())
        within = [o for o in med if med[o] <= fastest * (1 + tolerance)]
        plan[n.id] = min(within, key=lambda o: (cost[o], med[o]))
    return plan


def oracle_plan(
    workflow,
    measured: dict[str, dict[str, tuple[float, float]]],
    options: list[Size],
    slo_ms: float,
    price: Price,
    capacity: float | None = None,
) -> StaticPlan:
    """measured: node -> option -> (latency ms, work ms) of one request (absent: failed)."""
    table = RunTable({0: measured}, {0: 0})
    return orion_plan(workflow, table, options, slo_ms, 100.0, price, [0], capacity)
