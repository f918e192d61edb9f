"""The synthesizer: profiles + SLO -> hint text keyed on remaining budget.

Called by the controller's `POST .../workflows/{name}/synthesize` and by benchmarks.

Method (our reconstruction of Janus, see docs/design.md §8.1):
1. Per function, option and input-size class, a *tail* latency: the profiled node latency at the
   target percentile, times (1 + margin). The margin absorbs drift between profiling and serving
   and the additive combination of percentiles; the adapter corrects larger drift live.
2. Backwards over the DAG, for every remaining-budget level b on a grid (every `grid_ms`) and
   size class k, an option o with tail(o) + D(b - tail(o)) <= b, where D(x) is the time the
   downstream nodes need when they start with budget x and follow their own tables: the maximum
   over children, so parallel branches each get the whole remaining budget of the critical
   path. A child's table is read at the grid level at or below x, exactly as its condensed rules
   will be evaluated. Among the options that fit, the cheapest for the rest of the workflow:
   this node's mean core-ms at o (memory breaks ties) plus what the downstream nodes' own
   choices at budget b - tail(o) cost. Two rules keep each table a short staircase: with more
   budget never a faster option than at the level below, and a slower option only when it saves
   at least `min_saving` (3 %) of that cost. When no option fits, the fastest one is chosen and
   the level is reported infeasible. Size classes link along edges through the profiling runs:
   when sizing node f for an input of class k, a child's time and cost are the worst over the
   child's classes seen in the runs where f's input was of class k (all of them if unknown).
   Tables are monotone in input size too: at the same budget a larger input class never gets a
   slower option than a smaller one. A class profiled on fewer than `min_class_runs` node runs at
   some option is too thin to tell options apart: it takes the next larger class's choices and
   the report lists it under `warnings` (profile more inputs of that size), instead of rules
   that follow one noisy run.
3. Condensation: adjacent budget levels with the same option merge into one
   `when remaining < X use O` rule, the last run becomes `otherwise use O` (the cheapest safe
   option); size classes whose tables are identical merge, and a split on `input.bytes` is kept
   only where tables differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from common.sizes import Size

from . import (
    ast,
    check,  # text-level check (hint_dsl.check)
    dag,
)
from .printer import format
from .profiles import Profiles, class_bounds


@dataclass
class Synthesis:
    text: str
    report: dict


@dataclass
class _Choice:
    option: str
    time_ms: float  # this node's tail + downstream time from its end
    cost: float  # this node's mean cost + the downstream nodes' cost at their budgets
    feasible: bool


def _levels(slo_ms: float, grid_ms: float) -> list[float]:
    return [i * grid_ms for i in range(int(math.ceil(slo_ms / grid_ms)) + 1)]


def _bytes_quantity(n: int) -> ast.Quantity:
    for unit in ("GB", "MB", "KB"):
        scale = ast.BYTE_UNITS[unit.lower()]
        if n % scale == 0:
            return ast.Quantity(n // scale, unit)
    return ast.Quantity(n, "B")


class _Table:
    """Per node: choices[class][level], each with the time and cost from the node's start."""

    def __init__(self, levels, grid_ms):
        self.levels, self.grid_ms = levels, grid_ms
        self.choices: dict[int | None, list[_Choice]] = {}

    def level(self, budget: float) -> int:
        """The grid level whose rule applies at `budget` (rules are `remaining < X`)."""
        i = int(budget // self.grid_ms) if budget > 0 else 0
        return min(i, len(self.levels) - 1)

    def time(self, classes, i: int) -> float:
        return max(self.choices[k][i].time_ms for k in classes)

    def cost(self, classes, i: int) -> float:
        return max(self.choices[k][i].cost for k in classes)


def _evaluate(budget, own, tail, name, kids) -> _Choice:
    """`kids` = [(child table, child classes to expect)]."""
    rest = budget - tail
    at = [(t, classes, t.level(rest)) for t, classes in kids]
    total = tail + max((t.time(c, i) for t, c, i in at), default=0.0)
    # Parallel children are all paid for; a shared grandchild is counted once per path.
    return _Choice(name, total, own + sum(t.cost(c, i) for t, c, i in at), total <= budget)


def _choose(
    budget, candidates, kids, previous: _Choice | None, tails: dict, min_saving: float
) -> _Choice:
    """The option for one budget level; `candidates` = [(own cost, tail, name)].

    Cheapest feasible for the rest of the workflow, else the fastest. Two rules keep the table
    a short staircase: with more budget than the level below, never a faster option than the one
    chosen there (so each option holds one range of budgets), and move to a slower one only
    when it saves at least `min_saving` of the cost (profile noise does not flip choices)."""
    options = [_evaluate(budget, own, tail, name, kids) for own, tail, name in candidates]
    feasible = [c for c in options if c.feasible]
    if not feasible:
        return min(options, key=lambda c: (c.time_ms, c.cost))
    if previous is not None and previous.feasible:
        feasible = [c for c in feasible if tails[c.option] >= tails[previous.option]]
        stay = next(c for c in feasible if c.option == previous.option)
        best = min(feasible, key=lambda c: (c.cost, c.time_ms))
        return best if best.cost < stay.cost * (1.0 - min_saving) else stay
    return min(feasible, key=lambda c: (c.cost, c.time_ms))


def _child_classes(profiles, parent: str, parent_class, child: str, table: _Table) -> list:
    """The child's size classes to plan for when the parent's input is of `parent_class`."""
    every = list(table.choices)
    if every == [None] or parent_class is None:
        return every
    parent_runs = profiles.run_classes(parent)
    child_runs = profiles.run_classes(child)
    linked = {
        child_runs[r] for r, k in parent_runs.items() if k == parent_class and r in child_runs
    }
    return [k for k in every if k in linked] or every


def _own_cost(profiles, function, option, k) -> float:
    core_ms, mb_ms = profiles.cost(function, option, k)
    return core_ms + mb_ms * 1e-9  # memory only breaks ties


def _node_table(
    node, kids, tables, profiles, options, p, margin, levels, grid_ms, min_saving, thin=()
) -> _Table:
    table = _Table(levels, grid_ms)
    classes = profiles.size_classes(node.id) or [None]
    if len(classes) == 1:
        classes = [None]
    largest = max(options, key=lambda s: (s.cpu, s.memory)).option
    speed = {o.option: i for i, o in enumerate(sorted(options, key=lambda s: (s.cpu, s.memory)))}
    previous = None
    # A thin class follows the next larger class that is not thin; the largest thin classes,
    # with none such above them, are planned on their own runs (and still warned about).
    solid = [k for k in classes if k is not None and (node.id, k) not in thin]
    thin_classes = [k for k in classes if (node.id, k) in thin and any(c > k for c in solid)]
    for k in classes:
        if k in thin_classes:
            continue  # filled below from the next larger class

        candidates = [
            (
                _own_cost(profiles, node.id, o.option, k),
                profiles.tail_ms(node.id, o.option, p, margin, k),
                o.option,
            )
            for o in options
            if profiles.node_latencies(node.id, o.option, k)
        ]
        # Never profiled: always the largest option, taking no time we know of.
        candidates = candidates or [(0.0, 0.0, largest)]
        tails = {name: tail for _, tail, name in candidates}
        expect = [(tables[c], _child_classes(profiles, node.id, k, c, tables[c])) for c in kids]
        row: list[_Choice] = []
        for b in levels:
            row.append(_choose(b, candidates, expect, row[-1] if row else None, tails, min_saving))
        smaller = table.choices.get(previous) if previous is not None else None
        if smaller is not None:  # a larger input never gets a slower option at the same budget
            by_name = {name: (own, tail) for own, tail, name in candidates}
            for i, b in enumerate(levels):
                o = smaller[i].option
                if o in by_name and speed[row[i].option] < speed[o]:
                    own, tail = by_name[o]
                    row[i] = _evaluate(b, own, tail, o, expect)
        table.choices[k] = row
        previous = k
    for k in thin_classes:  # too few runs to tell options apart: as the next larger class
        table.choices[k] = list(table.choices[min(c for c in solid if c > k)])
    return table


def thin_cells(profiles: Profiles, workflow, options: list[Size], min_runs: int) -> dict:
    """{(function, class): runs} for size classes profiled on fewer than `min_runs` node runs at
    some option: too few to tell options apart, so they take the next larger class's choices."""
    out = {}
    for n in workflow.nodes:
        classes = profiles.size_classes(n.id)
        if len(classes) < 2:
            continue
        for k in classes:
            runs = min(len(profiles.node_runs(n.id, o.option, k)) for o in options)
            if runs < min_runs and any(profiles.node_runs(n.id, o.option, k) for o in options):
                out[(n.id, k)] = runs
    return out


def _runs(choices: list[_Choice]) -> list[tuple[int, int, str]]:
    """[(first level, last level, option)] of consecutive equal choices."""
    runs: list[tuple[int, int, str]] = []
    for i, c in enumerate(choices):
        if runs and runs[-1][2] == c.option:
            runs[-1] = (runs[-1][0], i, c.option)
        else:
            runs.append((i, i, c.option))
    return runs


def _remaining_below(ms: float) -> ast.Compare:
    return ast.Compare(ast.Variable(("remaining",)), "<", ast.Quantity(ms, "ms"))


def _size_below(key: str, bound: int) -> ast.Compare:
    """`input.bytes < 2MB`, or `input.<field> < N` for a numeric size key."""
    if key == "bytes":
        return ast.Compare(ast.Variable(("input", "bytes")), "<", _bytes_quantity(bound))
    return ast.Compare(ast.Variable(("input", *key.split("."))), "<", ast.Quantity(bound))


def _condense(table: _Table, key: str = "bytes") -> list[ast.Rule]:
    """Rules for one node: class groups ascending, each a run of remaining-budget thresholds."""
    groups: list[tuple[list[int | None], list[_Choice]]] = []
    for k in sorted(table.choices, key=lambda k: -1 if k is None else k):
        options = [c.option for c in table.choices[k]]
        if groups and [c.option for c in groups[-1][1]] == options:
            groups[-1][0].append(k)
        else:
            groups.append(([k], table.choices[k]))
    rules: list[ast.Rule] = []
    for g, (classes, choices) in enumerate(groups):
        last_group = g == len(groups) - 1
        size_cond = None if last_group else _size_below(key, class_bounds(max(classes))[1])
        runs = _runs(choices)
        for j, (_, end, option) in enumerate(runs):
            conds = [] if size_cond is None else [size_cond]
            if j < len(runs) - 1:
                conds.append(_remaining_below(table.levels[end + 1]))
            cond = None if not conds else conds[0] if len(conds) == 1 else ast.BoolOp("and", conds)
            rules.append(ast.Rule(cond, option))
    return rules


def synthesize(
    workflow,
    profiles: Profiles,
    options: list[Size],
    percentile: float | None = None,
    slo_ms: float | None = None,
    grid_ms: float = 50.0,
    margin: float = 0.1,
    min_saving: float = 0.03,
    min_class_runs: int = 3,
) -> Synthesis:
    """Hint text for `workflow` from `profiles`; see the module docstring for the method."""
    p = percentile if percentile is not None else getattr(workflow, "percentile", 99) or 99
    slo = slo_ms if slo_ms is not None else workflow.slo_ms
    if not options or any(o.option is None for o in options):
        raise ValueError("synthesize needs named options (Size(..., option='small'))")
    levels = _levels(slo, grid_ms)
    kids = dag.children(workflow)
    thin = thin_cells(profiles, workflow, options, min_class_runs)
    tables: dict[str, _Table] = {}
    for node in reversed(workflow.nodes):
        tables[node.id] = _node_table(
            node,
            kids[node.id],
            tables,
            profiles,
            options,
            p,
            margin,
            levels,
            grid_ms,
            min_saving,
            thin,
        )
    functions = [
        ast.FunctionHints(n.id, _condense(tables[n.id], profiles.size_key(n.id)))
        for n in workflow.nodes
    ]
    hint = ast.HintFile(
        ast.WorkflowHeader(workflow.name, ast.Quantity(slo, "ms"), float(p)),
        [
            ast.OptionDecl(
                o.option, ast.Quantity(o.cpu), ast.Quantity(o.memory, "MB"), params=dict(o.params)
            )
            for o in options
        ],  # all of them: the adapter's fallback is the largest
        functions,
    )
    text = format(hint)
    report = _report(workflow, tables, functions, levels, slo, p, grid_ms, margin, text)
    report["warnings"] = [
        f"{f}: input class {k} has {runs} profiled run(s) at some option (< {min_class_runs}): "
        "it follows the next larger class; profile more inputs of that size to split it"
        for (f, k), runs in sorted(thin.items(), key=lambda x: (x[0][0], x[0][1]))
    ]
    return Synthesis(text, report)


def _report(workflow, tables, functions, levels, slo, p, grid_ms, margin, text) -> dict:
    roots = [n.id for n in workflow.nodes if not n.depends]
    per_function = {}
    for n in workflow.nodes:
        t = tables[n.id]
        feasible = [
            levels[i]
            for i in range(len(levels))
            if all(t.choices[k][i].feasible for k in t.choices)
        ]
        per_function[n.id] = {
            "classes": {
                str(k): [
                    [levels[i], c.option, round(c.time_ms, 3), c.feasible]
                    for i, c in enumerate(t.choices[k])
                ]
                for k in t.choices
            },
            "min_feasible_budget_ms": feasible[0] if feasible else None,
            "rules": len(next(f.rules for f in functions if f.name == n.id)),
        }
    return {
        "slo_ms": slo,
        "percentile": p,
        "grid_ms": grid_ms,
        "margin": margin,
        "rules_before": sum(len(levels) * len(tables[n.id].choices) for n in workflow.nodes),
        "rules_after": sum(len(f.rules) for f in functions),
        "hint_bytes": len(text.encode()),
        "predicted_tail_ms": max(
            (tables[r].time(list(tables[r].choices), -1) for r in roots), default=0.0
        ),
        "feasible_at_slo": all(
            tables[r].choices[k][-1].feasible for r in roots for k in tables[r].choices
        ),
        "functions": per_function,
        "diagnostics": [str(d) for d in check(text, [n.id for n in workflow.nodes])],
    }
