"""The profiler: run every function of a workflow at every size option on representative
inputs and record latencies (`Profiles`).

Called by the controller's `POST .../workflows/{name}/profile` job, which passes `invoke`, a
callable that runs one activation on the real platform at a given size
(`invoke(action_path, params, size) -> activation record`). This module only decides what to
run in which order and records what comes back.

Downstream functions must see realistic inputs, so for each profiling input the workflow is first
walked in topological order: each node runs at the reference option (largest by default) and its
result becomes upstream output for later nodes; then the same node input is replayed at every
other option. Foreach nodes are profiled per item.
"""
from __future__ import annotations

import json
from typing import Callable

from common.sizes import Size

from .profiles import Profiles, Sample


class ProfilingError(RuntimeError):
    """An activation failed while profiling; says which node, option and input."""


def _build_node_input():
    """The workflow engine's node-input builder, or the local fallback while it is absent."""
    try:
        from workflows.engine import build_node_input
        return build_node_input
    except ImportError:
        return fallback_build_node_input


def fallback_build_node_input(workflow, node, run_input, outputs_by_node):
    """Inputs as the engine is expected to build them: a root node gets the request input, a
    node with one dependency its output, several dependencies `{dep: output}`. A foreach node's
    expression (`$.items`, `items`, `$.resize.items`) picks a list from those params; each item
    becomes the params of one activation (dict items as they are, others as `{"item": x}`)."""
    deps = list(node.depends)
    if not deps:
        params = run_input
    elif len(deps) == 1:
        params = outputs_by_node[deps[0]]
    else:
        params = {d: outputs_by_node[d] for d in deps}
    if not node.foreach:
        return params
    value = params
    for key in [k for k in str(node.foreach).lstrip("$").strip(".").split(".") if k]:
        value = value[key]
    if not isinstance(value, list):
        raise ProfilingError(f"foreach expression '{node.foreach}' of node '{node.id}' does not "
                             f"select a list (got {type(value).__name__})")
    return [item if isinstance(item, dict) else {"item": item} for item in value]


def input_bytes(params) -> int:
    """The size the adapter sees as `input.bytes`: the JSON length of the params."""
    return len(json.dumps(params, separators=(",", ":")))


def _result(record: dict, node, option: str, run: int):
    response = record.get("response") or {}
    if not response.get("success", response.get("status") == "success"):
        raise ProfilingError(f"node '{node.id}' (action {node.action}) failed at option '{option}' "
                             f"on profiling input #{run}: {response.get('result')}")
    return response.get("result")


def profile(workflow, inputs: list, options: list[Size], repeats: int,
            invoke: Callable, progress: Callable | None = None,
            reference: Size | None = None, build_node_input: Callable | None = None) -> Profiles:
    """Profile `workflow` on `inputs` at every option, `repeats` times each."""
    if not options or repeats < 1 or not inputs:
        raise ValueError("profile needs at least one input, one option and repeats >= 1")
    build = build_node_input or _build_node_input()
    reference = reference or max(options, key=lambda s: (s.cpu, s.memory))
    ordered = [reference] + [o for o in options if o != reference]
    profiles = Profiles(workflow.name, {o.option or f"{o.cpu}c{o.memory}m": o for o in options})
    name = {id(o): (o.option or f"{o.cpu}c{o.memory}m") for o in ordered}
    total = len(inputs) * len(workflow.nodes) * len(ordered) * repeats
    done = 0
    for run, run_input in enumerate(inputs):
        outputs: dict[str, object] = {}
        for node in workflow.nodes:
            params = build(workflow, node, run_input, outputs)
            items = params if node.foreach else [params]
            total += (len(items) - 1) * len(ordered) * repeats
            results = []
            for item_index, item in enumerate(items):
                for size in ordered:
                    for repeat in range(repeats):
                        record = invoke(node.action, item, size)
                        result = _result(record, node, name[id(size)], run)
                        if size is reference and repeat == 0:
                            results.append(result)
                        profiles.add(Sample(node.id, name[id(size)], float(record["duration"]),
                                            input_bytes(item), run, repeat,
                                            item_index if node.foreach else None))
                        done += 1
                        if progress:
                            progress(done, total)
            outputs[node.id] = results if node.foreach else results[0]
    return profiles
