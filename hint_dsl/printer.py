"""Pretty printer: `HintFile` -> canonical hint text (`hint_dsl.format`).

Used by the synthesizer to emit hints and by the console to show them; `parse(format(h)) == h`.
Rules of a function are aligned on `use` so the options read as a column.
"""

from __future__ import annotations

from . import ast

_PRECEDENCE = {"or": 1, "and": 2}


def format_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def format_quantity(q: ast.Quantity) -> str:
    return format_number(q.number) + (q.unit or "")


def format_operand(o: ast.Operand) -> str:
    return str(o) if isinstance(o, ast.Variable) else format_quantity(o)


def format_condition(c: ast.Condition, parent: int = 0) -> str:
    if isinstance(c, ast.Compare):
        return f"{format_operand(c.left)} {c.op} {format_operand(c.right)}"
    if isinstance(c, ast.Not):
        return "not " + format_condition(c.operand, 3)
    prec = _PRECEDENCE[c.op]
    text = f" {c.op} ".join(format_condition(o, prec) for o in c.operands)
    # Same-precedence nesting keeps its parentheses so the tree shape round-trips.
    return f"({text})" if prec <= parent else text


def format_rule_head(rule: ast.Rule) -> str:
    return "otherwise" if rule.condition is None else "when " + format_condition(rule.condition)


def format_rule(rule: ast.Rule) -> str:
    return f"{format_rule_head(rule)} use {rule.option}"


def format(hints: ast.HintFile) -> str:  # noqa: A001 - public name mirrors hint_dsl.format
    lines: list[str] = []
    if hints.header is not None:
        h = hints.header
        lines += [
            f"workflow {h.name} slo {format_quantity(h.slo)} p{format_number(h.percentile)}",
            "",
        ]
    if hints.options:
        width = max(len(o.name) for o in hints.options)
        cpu_width = max(len(format_quantity(o.cpu)) for o in hints.options)
        for o in hints.options:
            params = "".join(f" {k} {v}" for k, v in o.params.items())
            lines.append(
                f"option {o.name.ljust(width)} cpu {format_quantity(o.cpu).ljust(cpu_width)}"
                f" memory {format_quantity(o.memory)}" + (f" with{params}" if params else "")
            )
        lines.append("")
    for fn in hints.functions:
        lines.append(f"function {fn.name}")
        heads = [format_rule_head(r) for r in fn.rules]
        width = max((len(h) for h in heads), default=0)
        lines += [
            f"  {head.ljust(width)}  use {r.option}"
            for head, r in zip(heads, fn.rules, strict=True)
        ]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
