"""Validation of a parsed hint file (`hint_dsl.check`, and `hint_dsl.compile` before compiling).

Collects every problem, not just the first: syntax errors, a missing or repeated `workflow`
line, duplicate options/functions, unknown options and functions, unit mistakes
(`remaining > 4MB`, `memory 512`, `cpu 0`), unreachable rules (after `otherwise`, or implied by
earlier single-variable rules, found by interval reasoning) and conditions that can never hold.

A function without `otherwise` is a *warning*, not an error: the adapter always has a fallback
(the largest option, flagged at-risk), but the author should say what they want.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import ast, intervals
from .errors import Diagnostic
from .printer import format_operand, format_quantity

VarPath = tuple[str, ...]
Coverage = dict[VarPath, tuple[intervals.Set, list[int]]]

UNITS_ACCEPTED = {
    ast.TIME: "a time (ms, s)",
    ast.BYTES: "a size (B, KB, MB, GB)",
    ast.NUMBER: "a plain number",
}


class Checker:
    def __init__(self, hints: ast.HintFile, workflow_functions: Iterable[str] | None = None):
        self.hints = hints
        self.functions = set(workflow_functions) if workflow_functions is not None else None
        self.diagnostics: list[Diagnostic] = []

    def error(self, line: int, column: int, message: str, severity: str = "error") -> None:
        self.diagnostics.append(Diagnostic(line, column, message, severity, self.hints.filename))

    def warning(self, line: int, column: int, message: str) -> None:
        self.error(line, column, message, "warning")

    # -- whole file ----------------------------------------------------------------------
    def run(self, extra_headers: Iterable[ast.WorkflowHeader] = ()) -> list[Diagnostic]:
        self.check_header(extra_headers)
        self.check_options()
        seen: dict[str, int] = {}
        for fn in self.hints.functions:
            if fn.name in seen:
                self.error(
                    fn.line,
                    fn.name_column,
                    f"duplicate function '{fn.name}' (first defined on line {seen[fn.name]})",
                )
            seen.setdefault(fn.name, fn.line)
            self.check_function_name(fn.name, fn.line, fn.name_column)
            self.check_rules(fn)
        return self.diagnostics

    def check_header(self, extra_headers: Iterable[ast.WorkflowHeader]) -> None:
        h = self.hints.header
        if h is None:
            self.error(
                1,
                1,
                "expected a 'workflow NAME slo TIME [pNN]' line, e.g. "
                "'workflow thumbnails slo 2500ms p99'",
            )
            return
        for extra in extra_headers:
            self.error(
                extra.line,
                extra.column,
                f"duplicate 'workflow' line (first on line {h.line}); a hint file "
                "belongs to one workflow",
            )
        if h.slo.dimension != ast.TIME:
            self.error(
                h.slo.line,
                h.slo.column,
                f"the SLO must be a time (ms, s), got '{format_quantity(h.slo)}'",
            )
        elif h.slo.number <= 0:
            self.error(h.slo.line, h.slo.column, "the SLO must be greater than 0")
        if not 0 < h.percentile <= 100:
            self.error(
                h.line, h.column, f"the SLO percentile must be in (0, 100], got p{h.percentile:g}"
            )

    def check_options(self) -> None:
        seen: dict[str, int] = {}
        for o in self.hints.options:
            if o.name in seen:
                self.error(
                    o.line,
                    o.name_column,
                    f"duplicate option '{o.name}' (first defined on line {seen[o.name]})",
                )
            seen.setdefault(o.name, o.line)
            if o.cpu.unit is not None:
                self.error(
                    o.cpu.line,
                    o.cpu.column,
                    f"cpu is a plain number of cores (e.g. 0.5), got '{format_quantity(o.cpu)}'",
                )
            elif o.cpu.number <= 0:
                self.error(
                    o.cpu.line,
                    o.cpu.column,
                    f"cpu must be greater than 0 cores, got {format_quantity(o.cpu)}",
                )
            if o.memory.dimension != ast.BYTES:
                self.error(
                    o.memory.line,
                    o.memory.column,
                    f"memory needs a size unit (B, KB, MB, GB), e.g. "
                    f"'{format_quantity(o.memory)}MB', got '{format_quantity(o.memory)}'"
                    if o.memory.unit is None
                    else f"memory needs a size unit (B, KB, MB, GB), got '{format_quantity(o.memory)}'",
                )
            elif o.memory.canonical < 1024**2:
                self.error(
                    o.memory.line,
                    o.memory.column,
                    f"memory must be at least 1MB, got {format_quantity(o.memory)}",
                )

    def check_function_name(self, name: str, line: int, column: int) -> None:
        if self.functions is not None and name not in self.functions:
            known = ", ".join(sorted(self.functions)) or "none"
            self.error(line, column, f"unknown function '{name}' (workflow functions: {known})")

    # -- rules ---------------------------------------------------------------------------
    def check_rules(self, fn: ast.FunctionHints) -> None:
        options = list(dict.fromkeys(o.name for o in self.hints.options))
        covered: Coverage = {}
        otherwise_line = None
        for rule in fn.rules:
            if rule.option not in options:
                self.error(
                    rule.line,
                    rule.option_column,
                    f"unknown option '{rule.option}' (declared options: "
                    f"{', '.join(options) or 'none'})",
                )
            if otherwise_line is not None:
                self.error(
                    rule.line,
                    rule.column,
                    f"unreachable rule: it comes after 'otherwise' on line {otherwise_line}",
                )
                continue
            if rule.condition is None:
                otherwise_line = rule.line
                continue
            if not self.check_condition(rule.condition):
                continue
            self.check_reachable(rule, rule.condition, covered)
        if not fn.rules:
            self.warning(
                fn.line,
                fn.column,
                f"function '{fn.name}' has no rules; the adapter will use the largest option",
            )
        elif otherwise_line is None:
            self.warning(
                fn.line,
                fn.column,
                f"function '{fn.name}' has no 'otherwise' rule; when no rule matches the "
                "adapter uses the largest option and flags the request at-risk",
            )

    def check_reachable(self, rule: ast.Rule, condition: ast.Condition, covered: Coverage) -> None:
        own = conjunct_sets(condition)
        for var, values in own.items():
            if intervals.is_empty(values):
                self.error(
                    rule.line,
                    rule.column,
                    f"condition can never be true: no value of '{'.'.join(var)}' satisfies it",
                )
                return
            if var in covered and intervals.is_subset(values, covered[var][0]):
                lines = ", ".join(str(n) for n in covered[var][1])
                self.error(
                    rule.line,
                    rule.column,
                    f"unreachable rule: every value of '{'.'.join(var)}' it accepts is "
                    f"already taken by the rule(s) on line {lines}",
                )
                return
        single = single_variable_set(condition)
        if single is not None:
            var, values = single
            prior, prior_lines = covered.get(var, ((), []))
            covered[var] = (intervals.union(prior, values), prior_lines + [rule.line])

    def check_condition(self, c: ast.Condition) -> bool:
        """Report unit and name mistakes; True when the condition is sound."""
        if isinstance(c, ast.Not):
            return self.check_condition(c.operand)
        if isinstance(c, ast.BoolOp):
            return all([self.check_condition(o) for o in c.operands])
        ok = all([self.check_operand(c.left), self.check_operand(c.right)])
        if not ok:
            return False
        left, right = c.left, c.right
        if isinstance(left, ast.Quantity) and isinstance(right, ast.Quantity):
            self.error(
                c.line,
                c.column,
                "comparison of two constants; one side must be a variable "
                "(remaining, elapsed, input.<field>, upstream.<fn>.duration, "
                "stats.<fn>.<stat>)",
            )
            return False
        if left.dimension != right.dimension:
            var, other = (left, right) if isinstance(left, ast.Variable) else (right, left)
            assert isinstance(var, ast.Variable)  # two constants were refused above
            self.error(other.line, other.column, _unit_mismatch(var, other))
            return False
        return True

    def check_operand(self, o: ast.Operand) -> bool:
        if isinstance(o, ast.Quantity):
            if o.dimension is None:
                self.error(
                    o.line,
                    o.column,
                    f"unknown unit '{o.unit}' in '{format_quantity(o)}' "
                    "(time: ms, s; size: B, KB, MB, GB)",
                )
                return False
            return True
        if o.function is not None:
            before = len(self.diagnostics)
            self.check_function_name(o.function, o.line, o.column)
            return len(self.diagnostics) == before
        return True


def _unit_mismatch(var: ast.Variable, other: ast.Operand) -> str:
    expected = UNITS_ACCEPTED[var.dimension]
    assert other.dimension is not None  # unknown units were reported before
    got = UNITS_ACCEPTED[other.dimension]
    text = format_operand(other)
    if isinstance(other, ast.Quantity) and other.unit is None:
        example = {ast.TIME: f"{text}ms", ast.BYTES: f"{text}B"}.get(var.dimension, text)
        return f"'{var}' is {expected}: write a unit, e.g. {example}"
    return f"'{var}' is {expected} but '{text}' is {got}"


def _compare_set(c: ast.Compare) -> tuple[VarPath, intervals.Set] | None:
    """(variable path, set of values) for `var <op> const` or `const <op> var`."""
    flip = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
    if isinstance(c.left, ast.Variable) and isinstance(c.right, ast.Quantity):
        return c.left.path, intervals.from_comparison(c.op, c.right.canonical)
    if isinstance(c.right, ast.Variable) and isinstance(c.left, ast.Quantity):
        return c.right.path, intervals.from_comparison(flip[c.op], c.left.canonical)
    return None


def conjunct_sets(c: ast.Condition) -> dict[VarPath, intervals.Set]:
    """Per variable, the values the condition *requires* (from its top-level `and` parts)."""
    parts = c.operands if isinstance(c, ast.BoolOp) and c.op == "and" else [c]
    sets: dict[VarPath, intervals.Set] = {}
    for part in parts:
        single = single_variable_set(part)
        if single is not None:
            var, values = single
            sets[var] = intervals.intersect(sets.get(var, intervals.EVERYTHING), values)
    return sets


def single_variable_set(c: ast.Condition) -> tuple[VarPath, intervals.Set] | None:
    """(variable, exact set of values) when the condition tests one variable against constants."""
    if isinstance(c, ast.Compare):
        return _compare_set(c)
    if isinstance(c, ast.BoolOp):
        found = [single_variable_set(o) for o in c.operands]
        parts = [p for p in found if p is not None]
        if len(parts) != len(found) or len({p[0] for p in parts}) != 1:
            return None
        combine = intervals.intersect if c.op == "and" else intervals.union
        values = parts[0][1]
        for _, s in parts[1:]:
            values = combine(values, s)
        return parts[0][0], values
    return None


def check(
    hints: ast.HintFile,
    workflow_functions: Iterable[str] | None = None,
    syntax_errors: Iterable[Diagnostic] = (),
    extra_headers: Iterable[ast.WorkflowHeader] = (),
) -> list[Diagnostic]:
    diags = list(syntax_errors) + Checker(hints, workflow_functions).run(extra_headers)
    return sorted(diags, key=lambda d: (d.line, d.column))
