"""Cheapest per-node option assignment whose critical path meets a deadline.

Shared by the `early-static` policy (durations = profiled tails) and the `oracle` policy
(durations = one request's actual per-option durations). Branch and bound over nodes in
topological order, options cheapest first; a partial plan is pruned when its cost plus the
cheapest completion cannot beat the best plan, or when even the fastest completion misses the
deadline. The search is exact up to `max_expansions`, then returns the best plan found.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Assignment:
    options: dict[str, str]        # node id -> option name
    cost: float
    makespan_ms: float
    feasible: bool


def _makespan(nodes, durations, chosen: dict[str, str], fastest: dict[str, float]) -> float:
    finish: dict[str, float] = {}
    for n in nodes:
        d = durations[n.id][chosen[n.id]] if n.id in chosen else fastest[n.id]
        finish[n.id] = d + max((finish[p] for p in n.depends), default=0.0)
    return max(finish.values(), default=0.0)


def cheapest_assignment(workflow, durations: dict[str, dict[str, float]],
                        costs: dict[str, dict[str, float]], deadline_ms: float,
                        max_expansions: int = 200_000) -> Assignment:
    """durations/costs: node id -> option -> value (every node, the same options)."""
    nodes = list(workflow.nodes)
    fastest_opt = {n.id: min(durations[n.id], key=lambda o: (durations[n.id][o], costs[n.id][o]))
                   for n in nodes}
    fastest = {n: durations[n][o] for n, o in fastest_opt.items()}
    cheapest = {n.id: min(costs[n.id].values()) for n in nodes}
    by_cost = {n.id: sorted(costs[n.id], key=lambda o: (costs[n.id][o], durations[n.id][o]))
               for n in nodes}
    span = _makespan(nodes, durations, fastest_opt, fastest)
    best = Assignment(dict(fastest_opt), sum(costs[n][o] for n, o in fastest_opt.items()), span,
                      span <= deadline_ms)
    if not best.feasible:
        return best
    rest_min = [sum(cheapest[n.id] for n in nodes[i:]) for i in range(len(nodes) + 1)]
    chosen: dict[str, str] = {}
    expansions = 0

    def search(i: int, cost: float):
        nonlocal best, expansions
        if i == len(nodes):
            best = Assignment(dict(chosen), cost, _makespan(nodes, durations, chosen, fastest), True)
            return
        node = nodes[i]
        for option in by_cost[node.id]:
            expansions += 1
            if expansions > max_expansions:
                return
            c = cost + costs[node.id][option]
            if c + rest_min[i + 1] >= best.cost:
                break                    # options are sorted by cost: the rest are dearer
            chosen[node.id] = option
            if _makespan(nodes, durations, chosen, fastest) <= deadline_ms:
                search(i + 1, c)
            del chosen[node.id]

    search(0, 0.0)
    return best
