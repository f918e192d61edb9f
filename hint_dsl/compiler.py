"""Compiled decision form of a hint file, evaluated by the adapter on every dispatch.

`compile_hints` turns each function's rules into one chain of closures. Each condition becomes a
closure over constants already converted to ms/bytes that reads attributes of the adapter's
preallocated state object (`controller.adapter.state.NodeState`: `remaining_ms`, `elapsed_ms`,
`input_bytes`, `input` {field: number}, `upstream` {node id: ms}, `stats` {node id: {"p50"|
"p95"|"p99"|"mean": ms}}); no dicts, strings or iterators are built per
decision, so after warm-up a decision allocates nothing (tests/hint_dsl/test_hint_compiler.py).

A variable that has no value (an input field the request lacks, an upstream function that has not
run, no live statistics yet) makes its comparison false.

`interpret` evaluates the syntax tree directly; it is the reference the compiled form is tested
against and the baseline of bench/adapter_decision.py.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from common.sizes import Size

from . import ast
from .checker import check
from .errors import HintError
from .printer import format_rule


class State(Protocol):
    """What rules read of the adapter's `NodeState` (hint_dsl may not import the controller)."""

    remaining_ms: float
    elapsed_ms: float
    input_bytes: int
    input: Mapping[str, float]
    upstream: Mapping[str, float]
    stats: Mapping[str, Mapping[str, float]] | None


Reader = Callable[[State], float | None]
Predicate = Callable[[State], bool]

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class CompiledRule:
    function: str
    index: int  # position within the function's rules, 0-based
    option: str
    size: Size
    text: str  # "when remaining < 900ms use large"
    line: int

    @property
    def label(self) -> str:
        return f"{self.function}:{self.line}: {self.text}"


Decider = Callable[[State], CompiledRule | None]


@dataclass
class CompiledHints:
    workflow: str
    slo_ms: float
    percentile: float
    options: dict[str, Size]  # declaration order
    deciders: dict[str, Decider]  # function -> decide(state) -> CompiledRule | None
    rules: dict[str, list[CompiledRule]]

    def decide(self, function: str, state: State) -> CompiledRule | None:
        """First matching rule of `function` for `state`, or None (no rule / unknown function)."""
        decider = self.deciders.get(function)
        return decider(state) if decider is not None else None

    @property
    def largest(self) -> Size:
        return max(self.options.values(), key=lambda s: (s.cpu, s.memory))

    def rule_count(self) -> int:
        return sum(len(r) for r in self.rules.values())


# -- variable readers: state -> value or None -----------------------------------------------
def _reader(var: ast.Variable) -> Reader:
    head = var.path[0]
    if head == "remaining":
        return lambda s: s.remaining_ms
    if head == "elapsed":
        return lambda s: s.elapsed_ms
    if head == "input":
        if var.path == ("input", "bytes"):
            return lambda s: s.input_bytes
        field = var.field
        return lambda s: s.input.get(field)
    if head == "upstream":
        fn = var.path[1]
        return lambda s: s.upstream.get(fn)
    fn, metric = var.path[1], var.path[2]

    def stat(s: State) -> float | None:
        stats = s.stats
        by_metric = None if stats is None else stats.get(fn)
        return None if by_metric is None else by_metric.get(metric)

    return stat


def _compile_compare(c: ast.Compare) -> Predicate:
    op = OPS[c.op]
    left, right = c.left, c.right
    if isinstance(left, ast.Variable) and isinstance(right, ast.Quantity):
        if left.path == ("remaining",):  # the hot case: no reader call
            k = right.canonical
            return lambda s: op(s.remaining_ms, k)
        read, k = _reader(left), right.canonical

        def var_const(s: State) -> bool:
            v = read(s)
            return v is not None and op(v, k)

        return var_const
    if isinstance(left, ast.Quantity) and isinstance(right, ast.Variable):
        read, k = _reader(right), left.canonical

        def const_var(s: State) -> bool:
            v = read(s)
            return v is not None and op(k, v)

        return const_var
    assert isinstance(left, ast.Variable) and isinstance(right, ast.Variable)  # checked
    read_l, read_r = _reader(left), _reader(right)

    def var_var(s: State) -> bool:
        a = read_l(s)
        if a is None:
            return False
        b = read_r(s)
        return b is not None and op(a, b)

    return var_var


def compile_condition(c: ast.Condition) -> Predicate:
    if isinstance(c, ast.Compare):
        return _compile_compare(c)
    if isinstance(c, ast.Not):
        inner = compile_condition(c.operand)
        return lambda s: not inner(s)
    parts = [compile_condition(o) for o in c.operands]
    # Fold into a binary tree of closures: no iterator is created at evaluation time.
    pred: Predicate = parts[-1]
    for p in reversed(parts[:-1]):
        if c.op == "and":
            pred = (lambda a, b: lambda s: a(s) and b(s))(p, pred)
        else:
            pred = (lambda a, b: lambda s: a(s) or b(s))(p, pred)
    return pred


def _chain(preds_and_rules: list[tuple[Predicate | None, CompiledRule]]) -> Decider:
    """decide(state): the first rule whose predicate holds (None predicate = otherwise)."""

    def no_match(s: State) -> CompiledRule | None:
        return None

    decide: Decider = no_match
    for pred, rule in reversed(preds_and_rules):
        if pred is None:
            decide = (lambda r: lambda s: r)(rule)
        else:
            decide = (lambda p, r, nxt: lambda s: r if p(s) else nxt(s))(pred, rule, decide)
    return decide


def compile_hints(
    hints: ast.HintFile, workflow_functions: Iterable[str] | None = None
) -> CompiledHints:
    """Validate then compile; raises `HintError` (with all diagnostics) if there is any error."""
    diagnostics = check(hints, workflow_functions)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        raise HintError.from_diagnostic(errors[0], diagnostics)
    options = {o.name: o.size for o in hints.options}
    deciders: dict[str, Decider] = {}
    rules: dict[str, list[CompiledRule]] = {}
    for fn in hints.functions:
        compiled = [
            CompiledRule(fn.name, i, r.option, options[r.option], format_rule(r), r.line)
            for i, r in enumerate(fn.rules)
        ]
        preds: list[Predicate | None] = [
            None if r.condition is None else compile_condition(r.condition) for r in fn.rules
        ]
        deciders[fn.name] = _chain(list(zip(preds, compiled, strict=True)))
        rules[fn.name] = compiled
    h = hints.header
    assert h is not None  # check() reports a missing workflow line as an error
    return CompiledHints(h.name, h.slo_ms, h.percentile, options, deciders, rules)


# -- reference interpreter --------------------------------------------------------------
def _value(o: ast.Operand, state: State) -> float | None:
    if isinstance(o, ast.Quantity):
        return o.canonical
    p = o.path
    if p == ("remaining",):
        return state.remaining_ms
    if p == ("elapsed",):
        return state.elapsed_ms
    if p == ("input", "bytes"):
        return state.input_bytes
    if p[0] == "input":
        return state.input.get(o.field)
    if p[0] == "upstream":
        return state.upstream.get(p[1])
    by_metric = (state.stats or {}).get(p[1])
    return None if by_metric is None else by_metric.get(p[2])


def evaluate(c: ast.Condition, state: State) -> bool:
    if isinstance(c, ast.Compare):
        a, b = _value(c.left, state), _value(c.right, state)
        return a is not None and b is not None and OPS[c.op](a, b)
    if isinstance(c, ast.Not):
        return not evaluate(c.operand, state)
    results = (evaluate(o, state) for o in c.operands)
    return all(results) if c.op == "and" else any(results)


def interpret(hints: ast.HintFile, function: str, state: State) -> ast.Rule | None:
    """The first rule of `function` that matches `state`, straight from the syntax tree."""
    fn = hints.function(function)
    if fn is None:
        return None
    for rule in fn.rules:
        if rule.condition is None or evaluate(rule.condition, state):
            return rule
    return None
