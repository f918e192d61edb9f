"""Workflow definitions: the YAML format, its validation, and how a node's input is built.

A workflow is a DAG of actions with an end-to-end latency SLO. The controller's REST layer
calls `load` when a workflow is PUT (and passes `action_exists` so unknown actions are
rejected then, not at run time); the workflow engine (`controller/workflow_engine.py`) and the
hint profiler call `build_node_input` so that a node sees exactly the same parameters whether
it is profiled or served. The format and the input rules are documented in
`workflows/README.md`.

The shape of a definition is checked by a JSON Schema (`SCHEMA`, through `jsonschema`), whose
first error, in the order a reader goes through the file, becomes a `WorkflowError` with the
field's path and a message that says what is accepted; what a schema cannot say (a positive
duration, node references, cycles, existing actions) is checked in code after it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import yaml

RUN_INPUT_KEY = "_input"  # where a fan-in node finds the run's own input
ITEM_KEY = "item"  # where a foreach activation finds its element
INDEX_KEY = "index"  # ... and that element's position in the list

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$")
_NODE_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_ACTION_SEGMENT = r"[A-Za-z0-9_@.][A-Za-z0-9_@. -]{0,255}"
_ACTION_RE = re.compile(rf"^{_ACTION_SEGMENT}(/{_ACTION_SEGMENT})?$")
_FOREACH_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+)+)$")
_DURATION_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m)\s*$")
_UNIT_MS = {"ms": 1.0, "s": 1000.0, "m": 60000.0}

_TOP_KEYS = ("name", "description", "slo", "nodes")
_SLO_KEYS = ("latency", "percentile")
_NODE_KEYS = ("id", "action", "after", "foreach", "description")
DEFAULT_PERCENTILE = 99.0

_NULLABLE_STRING = {"type": ["string", "null"]}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "slo", "nodes"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": _NAME_RE.pattern},
        "description": _NULLABLE_STRING,
        "slo": {
            "type": "object",
            "required": ["latency"],
            "additionalProperties": False,
            "properties": {
                "latency": {"type": "string", "pattern": _DURATION_RE.pattern},
                "percentile": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
            },
        },
        "nodes": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "action"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "pattern": _NODE_ID_RE.pattern},
                    "action": {"type": "string", "pattern": _ACTION_RE.pattern},
                    "after": {
                        "anyOf": [
                            {"type": "string"},
                            {"type": "array", "items": {"type": "string"}},
                        ]
                    },
                    "foreach": {"type": ["string", "null"], "pattern": _FOREACH_RE.pattern},
                    "description": _NULLABLE_STRING,
                },
            },
        },
    },
}
_SCHEMA_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


class WorkflowError(ValueError):
    """A definition problem at `path` (e.g. `nodes[2].after[0]`), saying what is accepted."""

    def __init__(self, path: str, message: str, filename: str | None = None):
        self.path = path
        self.message = message
        self.filename = filename
        where = ": ".join(p for p in (filename, path) if p)
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Node:
    id: str
    action: str
    depends: list[str] = field(default_factory=list)
    foreach: str | None = None  # "<predecessor id>.<field>[.<field>...]"
    description: str | None = None

    @property
    def foreach_source(self) -> tuple[str, list[str]] | None:
        """(predecessor id, field path) of the fan-out list, or None."""
        if self.foreach is None:
            return None
        head, *rest = self.foreach.split(".")
        return head, rest

    def to_json(self) -> dict:
        d: dict[str, Any] = {"id": self.id, "action": self.action}
        if self.depends:
            d["after"] = list(self.depends)
        if self.foreach:
            d["foreach"] = self.foreach
        if self.description:
            d["description"] = self.description
        return d


@dataclass(frozen=True)
class CriticalPath:
    duration_ms: float
    nodes: list[str]


@dataclass(frozen=True)
class Workflow:
    name: str
    slo_ms: float
    percentile: float
    nodes: list[Node]  # topological order, ties broken by definition order
    description: str | None = None

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    @property
    def node_ids(self) -> list[str]:
        return [n.id for n in self.nodes]

    @property
    def sinks(self) -> list[str]:
        """Nodes no other node waits for; their outputs form the run's result."""
        used = {d for n in self.nodes for d in n.depends}
        return [n.id for n in self.nodes if n.id not in used]

    def ancestors(self, node_id: str) -> list[str]:
        """All transitive predecessors of a node, in topological order."""
        found: set[str] = set()
        stack = list(self.node(node_id).depends)
        while stack:
            d = stack.pop()
            if d not in found:
                found.add(d)
                stack.extend(self.node(d).depends)
        return [n.id for n in self.nodes if n.id in found]

    def critical_path(self, durations: dict[str, float]) -> CriticalPath:
        """Longest path through the DAG given each node's duration (ms; missing counts 0)."""
        finish: dict[str, float] = {}
        via: dict[str, str | None] = {}
        for n in self.nodes:
            prev = max(n.depends, key=lambda d: finish[d], default=None)
            finish[n.id] = (finish[prev] if prev else 0.0) + float(durations.get(n.id, 0.0))
            via[n.id] = prev
        if not finish:
            return CriticalPath(0.0, [])
        end = max(finish, key=lambda k: finish[k])
        total = finish[end]
        last: str | None = end
        path = []
        while last is not None:
            path.append(last)
            last = via[last]
        return CriticalPath(total, path[::-1])

    def to_json(self) -> dict:
        d: dict[str, Any] = {
            "name": self.name,
            "slo": {"latency": format_duration(self.slo_ms), "percentile": self.percentile},
            "nodes": [n.to_json() for n in self.nodes],
        }
        if self.description:
            d["description"] = self.description
        return d


def format_duration(ms: float) -> str:
    return f"{int(ms)}ms" if float(ms).is_integer() else f"{ms}ms"


def parse_duration(value: Any, path: str) -> float:
    """'2500ms' | '2.5s' | '1m' -> milliseconds (> 0)."""
    m = _DURATION_RE.match(value) if isinstance(value, str) else None
    if not m or float(m.group(1)) <= 0:
        raise WorkflowError(
            path,
            f"must be a positive duration with a unit (ms, s or m), "
            f"e.g. 2500ms or 2.5s; got {value!r}",
        )
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


# ---------------------------------------------------------------------------- loading


def load(
    text: str, filename: str | None = None, action_exists: Callable[[str], bool] | None = None
) -> Workflow:
    """Parse and validate a workflow definition (YAML, or JSON which is YAML too)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise WorkflowError(where, f"not valid YAML: {problem}", filename) from None
    return from_dict(data, filename=filename, action_exists=action_exists)


def from_dict(
    data: Any, filename: str | None = None, action_exists: Callable[[str], bool] | None = None
) -> Workflow:
    """Validate an already-parsed definition (e.g. the JSON body of a REST PUT)."""
    try:
        return _validate(data, action_exists)
    except WorkflowError as e:
        if filename and not e.filename:
            raise WorkflowError(e.path, e.message, filename) from None
        raise


def _validate(data: Any, action_exists: Callable[[str], bool] | None) -> Workflow:
    errors = sorted(_SCHEMA_VALIDATOR.iter_errors(data), key=_reading_order)
    if errors:
        raise _workflow_error(errors[0], data)
    name = data["name"]
    slo_ms = parse_duration(data["slo"]["latency"], "slo.latency")
    percentile = float(data["slo"].get("percentile", DEFAULT_PERCENTILE))
    nodes = [_node(raw) for raw in data["nodes"]]
    _check_references(nodes)
    ordered = _topological_order(nodes)
    if action_exists is not None:
        for i, n in enumerate(nodes):
            if not action_exists(n.action):
                raise WorkflowError(
                    f"nodes[{i}].action",
                    f"action {n.action!r} does not exist in this namespace; deploy it first",
                )
    return Workflow(
        name=name,
        slo_ms=slo_ms,
        percentile=percentile,
        nodes=ordered,
        description=data.get("description"),
    )


def _node(raw: dict) -> Node:
    after = raw.get("after", [])
    return Node(
        id=raw["id"],
        action=raw["action"],
        depends=[after] if isinstance(after, str) else list(after),
        foreach=raw.get("foreach"),
        description=raw.get("description"),
    )


_NODE_FIELDS = ("id", "action", "after", "foreach", "description")


def _reading_order(error: jsonschema.ValidationError) -> tuple:
    """Sort key: the order in which a reader (and the checks before the schema) meets fields."""
    path = list(error.absolute_path)
    if error.validator == "required":  # reported on the parent: rank it as the missing field
        missing = error.message.split("'")[1]
        path.append(missing)
    elif error.validator in ("type", "additionalProperties") and len(path) in (0, 1, 2):
        # the object itself, before its fields: its type first, then unknown keys
        return (*_field_rank(path), -2 if error.validator == "type" else -1)
    return _field_rank(path)


def _field_rank(path: list) -> tuple:
    top = ("", "name", "slo", "nodes", "description")
    if not path:
        return (0,)
    head = top.index(path[0]) if path[0] in top else len(top)
    if path[0] == "slo" and len(path) > 1:
        return (head, ("latency", "percentile").index(path[1]) if path[1] in _SLO_KEYS else 9)
    if path[0] == "nodes" and len(path) > 1:
        field_ = path[2] if len(path) > 2 else ""
        rank = _NODE_FIELDS.index(field_) if field_ in _NODE_FIELDS else -1
        return (head, path[1], rank)
    return (head,)


def _workflow_error(error: jsonschema.ValidationError, data: Any) -> WorkflowError:
    """Today's message for the field a schema error is about."""
    path = list(error.absolute_path)
    if error.validator == "required":
        path.append(error.message.split("'")[1])
    instance = data
    for step in path:
        instance = instance.get(step) if isinstance(instance, dict) else instance[step]
    if error.validator == "additionalProperties":
        allowed = _TOP_KEYS if not path else _SLO_KEYS if path == ["slo"] else _NODE_KEYS
        where = _path_text(path)
        k = next(k for k in error.instance if k not in allowed)
        return WorkflowError(
            f"{where}.{k}" if where else str(k),
            f"unknown key {k!r}; accepted: {', '.join(allowed)}",
        )
    if not path:
        return WorkflowError(
            "", "a workflow definition must be a mapping with keys " + ", ".join(_TOP_KEYS)
        )
    if path == ["name"]:
        return WorkflowError(
            "name",
            "required; letters, digits, '_', '.', '-' "
            f"(starting with a letter or digit); got {instance!r}",
        )
    if path == ["slo"]:
        return WorkflowError("slo", "required; a mapping like {latency: 2500ms, percentile: 99}")
    if path == ["slo", "latency"]:
        if error.validator == "required":
            return WorkflowError(
                "slo.latency", "required; a positive duration with a unit, e.g. 2500ms or 2.5s"
            )
        try:
            parse_duration(instance, "slo.latency")
        except WorkflowError as e:
            return e
    if path == ["slo", "percentile"]:
        return WorkflowError(
            "slo.percentile", f"must be a number in (0, 100], e.g. 99; got {instance!r}"
        )
    if path[0] == "description":
        return WorkflowError("description", "must be a string")
    if path == ["nodes"]:
        return WorkflowError(
            "nodes", "required; a non-empty list of nodes ({id, action, after?, foreach?})"
        )
    node = f"nodes[{path[1]}]"
    field_ = path[2] if len(path) > 2 else None
    if field_ is None:
        return WorkflowError(node, "a node must be a mapping {id, action, after?, foreach?}")
    value = data["nodes"][path[1]].get(field_)
    messages = {
        "id": f"required; a letter followed by letters, digits or '_' (at most 64); got {value!r}",
        "action": f"required; an action path 'action' or 'package/action'; got {value!r}",
        "after": "must be a list of node ids",
        "foreach": f"must be '<predecessor id>.<list field>', e.g. decode.tiles; got {value!r}",
        "description": "must be a string",
    }
    return WorkflowError(f"{node}.{field_}", messages[field_])


def _path_text(path: list) -> str:
    """`nodes[2].after` from ["nodes", 2, "after"]."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _check_references(nodes: list[Node]) -> None:
    seen: dict[str, int] = {}
    for i, n in enumerate(nodes):
        if n.id in seen:
            raise WorkflowError(
                f"nodes[{i}].id", f"duplicate node id {n.id!r} (first used at nodes[{seen[n.id]}])"
            )
        seen[n.id] = i
    for i, n in enumerate(nodes):
        for j, dep in enumerate(n.depends):
            if dep not in seen:
                raise WorkflowError(
                    f"nodes[{i}].after[{j}]",
                    f"unknown node {dep!r}; known nodes: {', '.join(seen)}",
                )
            if dep in n.depends[:j]:
                raise WorkflowError(f"nodes[{i}].after[{j}]", f"{dep!r} is listed twice")
        if n.foreach_source and n.foreach_source[0] not in n.depends:
            raise WorkflowError(
                f"nodes[{i}].foreach",
                f"{n.foreach_source[0]!r} is not a predecessor of {n.id!r}; "
                f"foreach must name a node in its 'after' list "
                f"({', '.join(n.depends) or 'none'})",
            )


def _topological_order(nodes: list[Node]) -> list[Node]:
    """Kahn's algorithm, keeping definition order among ready nodes; names a cycle if any."""
    index = {n.id: i for i, n in enumerate(nodes)}
    remaining = {n.id: set(n.depends) for n in nodes}
    ordered: list[Node] = []
    while remaining:
        ready = [n for n in nodes if n.id in remaining and not remaining[n.id]]
        if not ready:
            cycle = _find_cycle({k: nodes[index[k]].depends for k in remaining})
            first = cycle[0]
            dep_pos = nodes[index[first]].depends.index(cycle[1])
            raise WorkflowError(
                f"nodes[{index[first]}].after[{dep_pos}]",
                "cycle: " + " -> ".join(reversed(cycle)) + "; a workflow must be acyclic",
            )
        n = ready[0]
        ordered.append(n)
        del remaining[n.id]
        for deps in remaining.values():
            deps.discard(n.id)
    return ordered


def _find_cycle(depends: dict[str, list[str]]) -> list[str]:
    """A cycle in the 'waits for' graph, as [a, b, ..., a] where a waits for b."""
    for start in depends:
        path, node = [start], start
        while True:
            node = next(d for d in depends[node] if d in depends)
            if node in path:
                return path[path.index(node) :] + [node]
            path.append(node)
    raise AssertionError("no cycle among the remaining nodes")


# ---------------------------------------------------------------------------- node input


def build_node_input(
    workflow: Workflow, node: Node | str, run_input: dict, outputs_by_node: dict[str, Any]
) -> dict | list[dict]:
    """The parameters a node's activation(s) receive; a list (one per item) for foreach.

    - no predecessors: the run input;
    - one predecessor whose output is a dict: that output, passed through;
    - otherwise (fan-in, or a foreach predecessor whose output is a list):
      {"<pred id>": output, ..., "_input": run input};
    - foreach `p.field`: the list at that field of p's output is removed from the shared
      parameters above, and each element becomes one activation's parameters:
      {**shared, "item": element, "index": i}.
    """
    if isinstance(node, str):
        node = workflow.node(node)
    missing = [d for d in node.depends if d not in outputs_by_node]
    if missing:
        raise ValueError(f"node {node.id!r} is not ready: waiting for {', '.join(missing)}")
    shared = _shared_input(node, run_input, outputs_by_node)
    fan_out = node.foreach_source
    if fan_out is None:
        return shared
    source, field_path = fan_out
    items = _pop_field(
        shared, source if node_has_fan_in(node, outputs_by_node) else None, field_path, node
    )
    return [{**shared, ITEM_KEY: item, INDEX_KEY: i} for i, item in enumerate(items)]


def node_has_fan_in(node: Node, outputs_by_node: dict[str, Any]) -> bool:
    """True when the node sees its predecessors keyed by id rather than one passed-through dict."""
    return not (len(node.depends) == 1 and isinstance(outputs_by_node[node.depends[0]], dict))


def _shared_input(node: Node, run_input: dict, outputs: dict[str, Any]) -> dict:
    if not node.depends:
        return dict(run_input)
    if not node_has_fan_in(node, outputs):
        return dict(outputs[node.depends[0]])
    keyed = {d: outputs[d] for d in node.depends}
    keyed[RUN_INPUT_KEY] = run_input
    return keyed


def _pop_field(shared: dict, under: str | None, field_path: list[str], node: Node) -> list:
    """Remove and return the foreach list so it is not copied into every item's parameters."""
    holder: Any = shared
    if under is not None:
        holder = shared[under] = dict(shared[under])
    for key in field_path[:-1]:
        if not isinstance(holder, dict) or key not in holder:
            raise ValueError(f"foreach {node.foreach}: no field {key!r} in the output")
        holder[key] = dict(holder[key]) if isinstance(holder[key], dict) else holder[key]
        holder = holder[key]
    last = field_path[-1]
    if not isinstance(holder, dict) or last not in holder:
        raise ValueError(f"foreach {node.foreach}: no field {last!r} in the output")
    items = holder.pop(last)
    if not isinstance(items, list):
        raise ValueError(f"foreach {node.foreach}: expected a list, got {type(items).__name__}")
    return items


def input_bytes(params: Any) -> int:
    """Size of a node input as the controller would send it (compact JSON, UTF-8)."""
    return len(json.dumps(params, separators=(",", ":")).encode())


def numeric_fields(params: Any, prefix: str = "", depth: int = 3) -> dict[str, float]:
    """Numbers in a node input as dotted names (`width`, `item.frames`); lists give `<key>.length`.

    This is what hint rules see as `input.<name>`.
    """
    out: dict[str, float] = {}
    if not isinstance(params, dict) or depth == 0:
        return out
    for k, v in params.items():
        name = f"{prefix}{k}"
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            out[name] = float(v)
        elif isinstance(v, dict):
            out.update(numeric_fields(v, name + ".", depth - 1))
        elif isinstance(v, list):
            out[name + ".length"] = float(len(v))
    return out
