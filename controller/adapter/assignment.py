"""Cheapest per-node option assignment whose critical path meets a deadline.

Shared by the `early-static` policy (durations = profiled tails) and the `oracle` policy
(durations = one request's actual per-option durations). Branch and bound over nodes in
topological order, options cheapest first; a partial plan is pruned when its cost plus the
cheapest completion cannot beat the best plan, or when even the fastest completion misses the
deadline. The search is exact up to `max_expansions`, then returns the best plan found.

With `cores` and `capacity` (the platform's CPU), a plan's makespan also counts CPU contention as
the invoker causes it: each node holds its cores for its whole run and starts, not before its
predecessors end, at the first time they are free (the invoker admits activations by CPU
reservation), so two parallel branches at 2 cores each on 2 cores run one after the other. The
contention-free critical path stays the pruning bound (contention only delays).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hint_dsl.dag import Graph, GraphNode


@dataclass
class Assignment:
    options: dict[str, str]  # node id -> option name
    cost: float
    makespan_ms: float
    feasible: bool


def _makespan(
    nodes: Sequence[GraphNode],
    durations: dict[str, dict[str, float]],
    chosen: dict[str, str],
    fastest: dict[str, float],
) -> float:
    finish: dict[str, float] = {}
    for n in nodes:
        d = durations[n.id][chosen[n.id]] if n.id in chosen else fastest[n.id]
        finish[n.id] = d + max((finish[p] for p in n.depends), default=0.0)
    return max(finish.values(), default=0.0)


def _reserved_makespan(
    nodes: Sequence[GraphNode],
    durations: dict[str, dict[str, float]],
    chosen: dict[str, str],
    cores: dict[str, dict[str, float]],
    capacity: float,
) -> float:
    """Makespan when each node holds its cores for its run (module doc); nodes in topological order."""
    placed: list[tuple[float, float, float]] = []  # (start, end, cores)
    finish: dict[str, float] = {}
    for n in nodes:
        option = chosen[n.id]
        d, c = durations[n.id][option], min(cores[n.id][option], capacity)
        ready = max((finish[p] for p in n.depends), default=0.0)
        start = ready
        for t in sorted({ready, *(e for _, e, _ in placed if e > ready)}):
            points = [t, *(s0 for s0, _, _ in placed if t < s0 < t + d)]
            if all(
                sum(k for s0, e, k in placed if s0 <= x < e) + c <= capacity + 1e-9 for x in points
            ):
                start = t
                break
        placed.append((start, start + d, c))
        finish[n.id] = start + d
    return max(finish.values(), default=0.0)


def cheapest_assignment(
    workflow: Graph,
    durations: dict[str, dict[str, float]],
    costs: dict[str, dict[str, float]],
    deadline_ms: float,
    max_expansions: int = 200_000,
    cores: dict[str, dict[str, float]] | None = None,
    capacity: float | None = None,
) -> Assignment:
    """durations/costs (and cores): node id -> option -> value (every node, the same options)."""
    nodes = list(workflow.nodes)
    fastest_opt = {
        n.id: min(durations[n.id], key=lambda o: (durations[n.id][o], costs[n.id][o]))
        for n in nodes
    }
    fastest = {n: durations[n][o] for n, o in fastest_opt.items()}
    cheapest = {n.id: min(costs[n.id].values()) for n in nodes}
    by_cost = {
        n.id: sorted(costs[n.id], key=lambda o: (costs[n.id][o], durations[n.id][o])) for n in nodes
    }

    def span(plan: dict[str, str]) -> float:
        if cores is not None and capacity:
            return _reserved_makespan(nodes, durations, plan, cores, capacity)
        return _makespan(nodes, durations, plan, fastest)

    fast_span = span(fastest_opt)
    fallback = Assignment(
        dict(fastest_opt),
        sum(costs[n][o] for n, o in fastest_opt.items()),
        fast_span,
        fast_span <= deadline_ms,
    )
    if _makespan(nodes, durations, fastest_opt, fastest) > deadline_ms:
        return fallback  # not even without contention: no plan meets it
    best = fallback if fallback.feasible else None
    rest_min = [sum(cheapest[n.id] for n in nodes[i:]) for i in range(len(nodes) + 1)]
    chosen: dict[str, str] = {}
    expansions = 0

    def search(i: int, cost: float) -> None:
        nonlocal best, expansions
        if i == len(nodes):
            s = span(chosen)
            if s <= deadline_ms:
                best = Assignment(dict(chosen), cost, s, True)
            return
        node = nodes[i]
        for option in by_cost[node.id]:
            expansions += 1
            if expansions > max_expansions:
                return
            c = cost + costs[node.id][option]
            if best is not None and c + rest_min[i + 1] >= best.cost:
                break  # options are sorted by cost: the rest are dearer
            chosen[node.id] = option
            if _makespan(nodes, durations, chosen, fastest) <= deadline_ms:
                search(i + 1, c)
            del chosen[node.id]

    search(0, 0.0)
    return best or fallback
