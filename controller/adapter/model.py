"""The late policy's model of a workflow: what each function takes at each option for each input
size, corrected by every live activation, and what that means for the rest of the DAG.

Built by `LatePolicy` from the profiles (`hint_dsl.profiles`); fed by the workflow engine's
`Observation` of every finished activation (function, option, input features, duration, memory
peak, host load, out-of-memory). Pure: no clock, no I/O; `BudgetTable.build` is numpy over
arrays, run when the model changes (in `observe`), never inside a decision.

- **Durations.** Per (function, option, size class) the last `window` node-run latencies: the
  profiled ones until `min_samples` live ones have come, then the live ones only (the latest
  `window`), so thin or stale profiles are replaced by use. A function's *drift* (live median over profiled median, over the cells that
  have live samples) scales its cells that have none yet, foreach nodes included (their live
  samples are per item, their cells per node run).
- **Host load** comes with each observation but the model does not condition on it: contention
  shows up as slower recent samples in the window, which is what the tables plan with.
- **Memory.** An option that ran out of memory for an input of class k (profiling failure or
  live OOM) is banned for class k and every larger class: never chosen for them.
- **Thin cells** (fewer than `min_samples` samples) are widened by `thin_margin` until live runs
  calibrate the function (its drift), and are listed in `warnings`; an empty cell borrows the next larger class's samples (conservative), else the
  option is not planned for that class.
- **Tail-aware budget tables** (`BudgetTable`): backwards over the DAG, for every remaining-budget
  level b on a grid and size class k, each option o's probability of finishing the node and
  everything after it within b, S_o(b) = E_t[prod_children S_child(b - t)] over the empirical
  distribution of t (the children's own choices at budget b - t: a distribution of the rest of
  the DAG, not a sum of tails), and its expected price (own + children's at b - t). The chosen
  option is the cheapest with S_o(b) >= the SLO percentile; when none reaches it, the one with
  the highest S_o(b) (the chance of meeting the SLO is maximised, and the decision says so).
  Choices are monotone: with more budget never a faster option, with a larger input never a
  slower one; a cheaper option must save `min_saving` to displace the one below it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from common.sizes import Size
from hint_dsl import dag
from hint_dsl.profiles import Profiles, size_class


@dataclass(frozen=True, slots=True)
class Price:
    """What one second of a size costs: per allocated core and per allocated GB. Defaults: AWS
    Fargate (Linux/x86, us-east-1) $0.04048 per vCPU-hour and $0.004445 per GB-hour."""

    per_core_s: float = 0.04048 / 3600
    per_gb_s: float = 0.004445 / 3600

    def of(self, size: Size, duration_ms: float) -> float:
        return (size.cpu * self.per_core_s + size.memory / 1024 * self.per_gb_s) * duration_ms / 1e3


@dataclass(frozen=True, slots=True)
class Observation:
    """One finished live activation of a workflow node, as the engine saw it."""

    function: str
    option: str | None
    duration_ms: float
    input_bytes: int = 0
    features: dict = field(default_factory=dict)
    memory_peak_mb: float | None = None
    host_load: float | None = None
    oom: bool = False  # ran out of memory at this option


def speed_order(options: list[Size]) -> list[str]:
    """Option names slowest first (fewer cores, then less memory)."""
    return [o.option for o in sorted(options, key=lambda s: (s.cpu, s.memory))]


class DurationModel:
    def __init__(
        self,
        workflow,
        profiles: Profiles | None,
        options: list[Size],
        window: int = 32,
        min_samples: int = 5,
        thin_margin: float = 0.25,
        drift_bounds: tuple[float, float] = (0.5, 4.0),
    ):
        self.workflow, self.profiles = workflow, profiles
        self.options = {o.option: o for o in options}
        self.order = speed_order(options)
        self.window, self.min_samples, self.thin_margin = window, min_samples, thin_margin
        self.drift_bounds = drift_bounds
        self.foreach = {n.id for n in workflow.nodes if getattr(n, "foreach", None)}
        self.keys = {
            n.id: (profiles.size_key(n.id) if profiles else "bytes") for n in workflow.nodes
        }
        # (function, option, class) -> deque[(latency ms, work ms, live?)]
        self.cells: dict[tuple[str, str, int], deque] = {}
        self.profiled_median: dict[tuple[str, str, int], float] = {}
        self.live: dict[tuple[str, str, int], deque] = {}  # per activation
        self.banned: dict[tuple[str, str], int] = {}  # (function, option) -> smallest OOM class
        self.drift: dict[str, float] = {}
        self.version = 0  # bumped by every change that can move a decision
        self.run_classes: dict[str, dict[int, int]] = {}  # function -> profiling run -> class
        if profiles is not None:
            self._load(profiles)

    # -- input ---------------------------------------------------------------------------
    def _load(self, profiles: Profiles) -> None:
        for n in self.workflow.nodes:
            for o in self.options:
                if o not in profiles.options:
                    continue
                for r in profiles._node_run_index().get((n.id, o), []):
                    cell = self.cells.setdefault((n.id, o, r.size_class), deque(maxlen=self.window))
                    cell.append((r.latency_ms, r.work_ms, False))
            for f in profiles.failures:
                if f["function"] == n.id and f["option"] in self.options:
                    self._ban(n.id, f["option"], profiles.class_of(n.id, f))
        for key, cell in self.cells.items():
            self.profiled_median[key] = float(np.median([t for t, _, _ in cell]))
        self.run_classes = {n.id: profiles.run_classes(n.id) for n in self.workflow.nodes}

    def linked(self, parent: str, k: int, child: str, known: list[int]) -> list[int]:
        """The child's size classes to expect when the parent's input is of class k: those seen
        in the profiling runs where the parent's was (the two may be keyed on different input
        fields); without such runs, the child's largest known class (conservative)."""
        runs_p = self.run_classes.get(parent, {})
        runs_c = self.run_classes.get(child, {})
        seen = {runs_c[r] for r, c in runs_p.items() if c == k and r in runs_c}
        return [c for c in known if c in seen] or known[-1:]

    def class_of(self, function: str, input_bytes: int, features: dict) -> int:
        key = self.keys.get(function, "bytes")
        return size_class(input_bytes if key == "bytes" else features.get(key, 0))

    def _ban(self, function: str, option: str, k: int) -> None:
        self.banned[(function, option)] = min(k, self.banned.get((function, option), k))

    def is_banned(self, function: str, option: str, k: int) -> bool:
        first = self.banned.get((function, option))
        return first is not None and k >= first

    def observe(self, obs: Observation) -> None:
        if obs.option not in self.options:
            return
        k = self.class_of(obs.function, obs.input_bytes, obs.features)
        if obs.oom:
            self._ban(obs.function, obs.option, k)
            self.version += 1
            return
        ring = self.live.setdefault((obs.function, obs.option, k), deque(maxlen=self.window))
        ring.append(obs.duration_ms)
        if obs.function not in self.foreach:
            key = (obs.function, obs.option, k)
            if len(ring) >= self.min_samples:  # enough live samples: they replace the profile's
                self.cells[key] = deque(((t, t, True) for t in ring), maxlen=self.window)
            else:
                self.cells.setdefault(key, deque(maxlen=self.window)).append(
                    (obs.duration_ms, obs.duration_ms, True)
                )
        self._update_drift(obs.function)
        self.version += 1

    def _update_drift(self, function: str) -> None:
        ratios, weights = [], []
        for (f, o, k), ring in self.live.items():
            base = self.profiled_median.get((f, o, k))
            if f != function or base is None or base <= 0 or len(ring) < self.min_samples:
                continue
            per_item = (self._profiled_item_median(f, o, k) if f in self.foreach else base) or base
            ratios.append(float(np.median(ring)) / per_item)
            weights.append(len(ring))
        if ratios:
            low, high = self.drift_bounds
            self.drift[function] = min(high, max(low, float(np.average(ratios, weights=weights))))

    def _profiled_item_median(self, function: str, option: str, k: int) -> float | None:
        if self.profiles is None:
            return None
        xs = self.profiles.latencies(function, option, k)
        return float(np.median(xs)) if xs else None

    # -- queries -------------------------------------------------------------------------
    def samples(self, function: str, option: str, k: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """(latencies, work) of a node run at `option` for class k, and whether it is thin.
        Empty arrays: no data (nor in a larger class) or banned."""
        if self.is_banned(function, option, k):
            return np.empty(0), np.empty(0), True
        classes = sorted(c for (f, o, c) in self.cells if f == function and o == option)
        source = next((c for c in classes if c >= k), None)
        if source is None:
            return np.empty(0), np.empty(0), True
        cell = self.cells[(function, option, source)]
        lat = np.fromiter((t for t, _, _ in cell), float, len(cell))
        work = np.fromiter((w for _, w, _ in cell), float, len(cell))
        drift = self.drift.get(function, 1.0)
        if drift != 1.0:  # profiled samples (all of a foreach node's) follow the live drift
            profiled = np.fromiter(
                (function in self.foreach or not live for _, _, live in cell), bool, len(cell)
            )
            scale = np.where(profiled, drift, 1.0)
            lat, work = lat * scale, work * scale
        thin = len(cell) < self.min_samples
        if thin and function not in self.drift:  # not yet calibrated by live runs either
            lat, work = lat * (1 + self.thin_margin), work * (1 + self.thin_margin)
        return lat, work, thin

    def classes(self, function: str) -> list[int]:
        return sorted({c for (f, _, c) in self.cells if f == function}) or [0]

    def warnings(self) -> list[str]:
        out = []
        for (f, o, k), cell in sorted(self.cells.items()):
            if len(cell) < self.min_samples:
                out.append(
                    f"{f} at {o}, input class {k}: {len(cell)} sample(s) < {self.min_samples}; "
                    f"planned {100 * self.thin_margin:.0f} % slower until live runs fill it"
                )
        return out


@dataclass(slots=True)
class Choice:
    option: str
    probability: float  # of finishing this node and the rest of the DAG within the budget
    price: float  # expected, this node and the rest
    reachable: bool  # probability >= target


class BudgetTable:
    """Per node and size class, the choice at every budget level (module doc)."""

    def __init__(self, grid_ms: float, levels: int, target: float):
        self.grid_ms, self.levels, self.target = grid_ms, levels, target
        self.choices: dict[str, dict[int, list[Choice]]] = {}
        self.success: dict[str, dict[int, np.ndarray]] = {}  # S(b) per level, chosen option
        self.price: dict[str, dict[int, np.ndarray]] = {}
        self.time: dict[str, dict[int, np.ndarray]] = {}  # expected ms to finish the rest

    def level(self, budget_ms: float) -> int:
        if budget_ms <= 0:
            return 0
        return min(int(budget_ms // self.grid_ms), self.levels - 1)

    @classmethod
    def build(
        cls,
        model: DurationModel,
        slo_ms: float,
        percentile: float,
        price: Price,
        grid_ms: float | None = None,
        min_saving: float = 0.03,
    ) -> BudgetTable:
        grid = grid_ms or max(10.0, slo_ms / 200.0)
        levels = int(math.ceil(1.25 * slo_ms / grid)) + 1
        table = cls(grid, levels, percentile / 100.0)
        budgets = np.arange(levels) * grid
        kids = dag.children(model.workflow)
        rank = {o: i for i, o in enumerate(model.order)}
        for node in reversed(model.workflow.nodes):
            f = node.id
            table.choices[f], table.success[f], table.price[f], table.time[f] = {}, {}, {}, {}
            previous_row: list[Choice] | None = None
            for k in model.classes(f):
                per_option = {}
                for o in model.order:
                    lat, work, _ = model.samples(f, o, k)
                    if not len(lat):
                        continue
                    own = (
                        float(np.mean(work))
                        / 1e3
                        * (
                            model.options[o].cpu * price.per_core_s
                            + model.options[o].memory / 1024 * price.per_gb_s
                        )
                    )
                    rest = budgets[:, None] - lat[None, :]  # levels x samples
                    ok = (rest >= 0).astype(float)
                    cost = np.full(rest.shape, own)
                    after = np.zeros(rest.shape)
                    idx = np.clip((rest // grid).astype(int), 0, levels - 1)
                    for c in kids[f]:
                        s_c, p_c, t_c = table._child(model, f, k, c)
                        ok = ok * s_c[idx]
                        cost = cost + p_c[idx]
                        after = np.maximum(after, t_c[idx])
                    per_option[o] = (
                        ok.mean(axis=1),
                        cost.mean(axis=1),
                        (lat[None, :] + after).mean(axis=1),
                    )
                if not per_option:  # never profiled: the largest, taking no time we know of
                    largest = model.order[-1]
                    per_option[largest] = (np.ones(levels), np.zeros(levels), np.zeros(levels))
                row: list[Choice] = []
                for i in range(levels):
                    row.append(
                        _choose(
                            per_option,
                            i,
                            table.target,
                            rank,
                            row[-1] if row else None,
                            previous_row[i] if previous_row else None,
                            min_saving,
                        )
                    )
                table.choices[f][k] = row
                for store, j in ((table.success, 0), (table.price, 1), (table.time, 2)):
                    store[f][k] = np.array([per_option[c.option][j][i] for i, c in enumerate(row)])
                previous_row = row
        return table

    def _child(self, model: DurationModel, parent: str, k: int, child: str):
        """The child's S, price and expected time per level for a parent input of class k, the
        worst over the child's classes linked to k (`DurationModel.linked`)."""
        classes = model.linked(parent, k, child, sorted(self.success[child]))
        return (
            np.minimum.reduce([self.success[child][c] for c in classes]),
            np.maximum.reduce([self.price[child][c] for c in classes]),
            np.maximum.reduce([self.time[child][c] for c in classes]),
        )

    def decide(self, function: str, k: int, budget_ms: float) -> Choice | None:
        per = self.choices.get(function)
        if not per:
            return None
        classes = sorted(per)
        c = next((x for x in classes if x >= k), classes[-1])
        return per[c][self.level(budget_ms)]


def _choose(
    per_option, i, target, rank, below: Choice | None, smaller: Choice | None, min_saving
) -> Choice:
    """One cell: cheapest option reaching `target`, else the most likely; monotone (module doc)."""
    cands = {o: (float(s[i]), float(p[i]), float(t[i])) for o, (s, p, t) in per_option.items()}
    floor = 0
    if smaller is not None and smaller.option in rank:  # a larger input: never slower
        floor = rank[smaller.option]
    allowed = {o: v for o, v in cands.items() if rank[o] >= floor} or cands
    reach = {o: v for o, v in allowed.items() if v[0] >= target}
    if not reach:
        # the best chance; among equal chances the soonest expected end (least lateness)
        o = max(allowed, key=lambda x: (round(allowed[x][0], 3), -allowed[x][2], -allowed[x][1]))
        return Choice(o, allowed[o][0], allowed[o][1], False)
    best = min(reach, key=lambda x: (reach[x][1], -rank[x]))
    if below is not None and below.reachable and below.option in reach:
        # more budget: never a faster option; a slower one only for a real saving
        if rank[best] > rank[below.option]:
            best = below.option
        elif best != below.option and reach[best][1] > reach[below.option][1] * (1 - min_saving):
            best = below.option
    return Choice(best, reach[best][0], reach[best][1], True)
