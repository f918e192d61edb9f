"""The profiler: run every function of a workflow at every size option on representative
inputs and record latencies (`Profiles`).

Called by the controller's `POST .../workflows/{name}/profile` job, which passes `invoke`, a
callable that runs one activation on the real platform at a given size
(`invoke(action_path, params, size) -> activation record`). This module only decides what to
run in which order and records what comes back.

Downstream functions must see realistic inputs, so for each profiling input the workflow is first
walked in topological order: each node runs at the reference option (largest by default) and its
result becomes upstream output for later nodes; then the same node input is replayed at every
other option. Node inputs are built by the workflow engine's own `build_node_input`, so they are
exactly what the engine will send. Foreach nodes are profiled per item; each item's
`input.bytes` is the JSON size of that item's params, as the adapter will see it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.sizes import Size
from workflows.definition import Node, Workflow, input_bytes, numeric_fields
from workflows.definition import build_node_input as engine_node_input

from .profiles import Profiles, Sample


class ProfilingError(RuntimeError):
    """An activation failed while profiling; says which node, option and input."""


def _result(record: dict[str, Any], node: Node, option: str, run: int) -> Any:
    response = record.get("response") or {}
    if not response.get("success", response.get("status") == "success"):
        raise ProfilingError(
            f"node '{node.id}' (action {node.action}) failed at option '{option}' "
            f"on profiling input #{run}: {response.get('result')}"
        )
    return response.get("result")


def profile(
    workflow: Workflow,
    inputs: list[Any],
    options: list[Size],
    repeats: int,
    invoke: Callable[[str, Any, Size], dict[str, Any]],
    progress: Callable[[int, int], object] | None = None,
    reference: Size | None = None,
    build_node_input: Callable[[Workflow, Node, Any, dict[str, Any]], Any] | None = None,
    capacity_cores: float | None = None,
) -> Profiles:
    """Profile `workflow` on `inputs` at every option (named `Size`s), `repeats` times each.

    `capacity_cores` is the platform's CPU for these functions: how many foreach items can run at
    once at each option (`Profiles.slots`); None leaves them unbounded.

    `reference` (default: the largest option) runs first and produces the outputs that feed
    downstream nodes; `progress(done, total)` is called after every activation (total grows
    when a foreach node turns out to have more than one item)."""
    if not options or repeats < 1 or not inputs:
        raise ValueError("profile needs at least one input, one option and repeats >= 1")
    build = build_node_input or engine_node_input
    reference = reference or max(options, key=lambda s: (s.cpu, s.memory))
    # (name, option), the reference first
    ordered = [(o.option, o) for o in [reference] + [o for o in options if o != reference]]
    named = [(name, o) for name, o in ordered if name is not None]
    if len(named) < len(ordered):
        raise ValueError("profile needs named options (Size(..., option='small'))")
    profiles = Profiles(workflow.name, dict(named), capacity_cores=capacity_cores)
    total = len(inputs) * len(workflow.nodes) * len(ordered) * repeats
    done = 0
    for run, run_input in enumerate(inputs):
        outputs: dict[str, Any] = {}
        for node in workflow.nodes:
            params = build(workflow, node, run_input, outputs)
            items = params if node.foreach else [params]
            total += (len(items) - 1) * len(ordered) * repeats
            results = []
            for item_index, item in enumerate(items):
                for option, size in named:
                    for repeat in range(repeats):
                        record = invoke(node.action, item, size)
                        try:
                            result = _result(record, node, option, run)
                        except ProfilingError as exc:
                            if size is reference:  # downstream nodes need its output: give up
                                raise
                            profiles.add_failure(
                                node.id,
                                option,
                                input_bytes(item),
                                run,
                                str(exc),
                                numeric_fields(item),
                            )
                            done += repeats - repeat
                            break  # infeasible here: no more repeats at this option
                        if size is reference and repeat == 0:
                            results.append(result)
                        profiles.add(
                            Sample(
                                node.id,
                                option,
                                float(record["duration"]),
                                input_bytes(item),
                                run,
                                repeat,
                                item_index if node.foreach else None,
                                numeric_fields(item),
                            )
                        )
                        done += 1
                        if progress:
                            progress(done, total)
            outputs[node.id] = results if node.foreach else results[0]
    return profiles
