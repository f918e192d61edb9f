"""Small graph helpers over a workflow's nodes (duck-typed: `.nodes` in topological order, each
with `.id` and `.depends`). Used by the synthesizer and by the adapter's policies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class GraphNode(Protocol):
    """What these helpers read of a node (`workflows.definition.Node` is one)."""

    @property
    def id(self) -> str: ...
    @property
    def depends(self) -> Sequence[str]: ...


class Graph(Protocol):
    """What these helpers read of a workflow (`workflows.definition.Workflow` is one)."""

    @property
    def nodes(self) -> Sequence[GraphNode]: ...


def children(workflow: Graph) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {n.id: [] for n in workflow.nodes}
    for n in workflow.nodes:
        for d in n.depends:
            out[d].append(n.id)
    return out


def descendants(workflow: Graph) -> dict[str, set[str]]:
    kids = children(workflow)
    out: dict[str, set[str]] = {}
    for n in reversed(workflow.nodes):
        out[n.id] = set(kids[n.id]).union(*(out[c] for c in kids[n.id]))
    return out


def longest_from(workflow: Graph, weight: dict[str, float]) -> dict[str, float]:
    """Per node: the heaviest path from the node (included) to a sink."""
    kids = children(workflow)
    out: dict[str, float] = {}
    for n in reversed(workflow.nodes):
        out[n.id] = weight[n.id] + max((out[c] for c in kids[n.id]), default=0.0)
    return out


def longest_path(workflow: Graph, weight: dict[str, float]) -> float:
    """Weight of the critical path: the end-to-end time when nodes take `weight` each."""
    return max(longest_from(workflow, weight).values(), default=0.0)
