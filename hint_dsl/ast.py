"""Syntax tree of a hint file, produced by `hint_dsl.parser` and read by the checker, compiler,
pretty printer and synthesizer.

Positions (`line`, `column`, 1-based) are excluded from equality so that a tree re-parsed from
`hint_dsl.format(tree)` compares equal to the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.sizes import Size

# Units accepted after a number. Bytes are binary (1KB = 1024B) so that `memory 1GB` is the
# same 1024 MB that the invoker binds.
TIME_UNITS = {"ms": 1.0, "s": 1000.0}
BYTE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
STAT_METRICS = ("p50", "p95", "p99", "mean")

TIME, BYTES, NUMBER = "time", "bytes", "number"


def _pos() -> int:
    return field(default=0, compare=False, repr=False)


@dataclass
class Quantity:
    """A number with an optional unit, e.g. `900ms`, `4MB`, `0.5`."""

    number: float
    unit: str | None = None  # as written ("MB", "ms"); None for a plain number
    line: int = _pos()
    column: int = _pos()

    @property
    def dimension(self) -> str | None:
        """TIME, BYTES, NUMBER, or None for a unit we do not know."""
        if self.unit is None:
            return NUMBER
        if self.unit in TIME_UNITS:
            return TIME
        if self.unit.lower() in BYTE_UNITS:
            return BYTES
        return None

    @property
    def canonical(self) -> float:
        """Value in the unit the state uses: ms for time, bytes for sizes, as is for numbers."""
        unit = self.unit
        if unit is None:
            return self.number
        if unit in TIME_UNITS:
            return self.number * TIME_UNITS[unit]
        if unit.lower() in BYTE_UNITS:
            return self.number * BYTE_UNITS[unit.lower()]
        return self.number


@dataclass
class Variable:
    """A runtime variable: ("remaining",), ("input", "bytes"), ("upstream", fn, "duration"), ..."""

    path: tuple[str, ...]
    line: int = _pos()
    column: int = _pos()

    @property
    def field(self) -> str:
        """For `input.<field>`: the dotted field name (`width`, `item.frames`)."""
        return ".".join(self.path[1:])

    @property
    def dimension(self) -> str:
        head = self.path[0]
        if head == "input":
            return BYTES if self.path == ("input", "bytes") else NUMBER
        return TIME  # remaining, elapsed, upstream.<fn>.duration, stats.<fn>.<metric>

    @property
    def function(self) -> str | None:
        """The workflow function an `upstream.`/`stats.` variable names."""
        return self.path[1] if self.path[0] in ("upstream", "stats") else None

    def __str__(self) -> str:
        return ".".join(self.path)


Operand = Variable | Quantity


@dataclass
class Compare:
    left: Operand
    op: str  # < <= > >= == !=
    right: Operand
    line: int = _pos()
    column: int = _pos()


@dataclass
class Not:
    operand: Condition
    line: int = _pos()
    column: int = _pos()


@dataclass
class BoolOp:
    op: str  # "and" | "or"
    operands: list[Condition]
    line: int = _pos()
    column: int = _pos()


Condition = Compare | Not | BoolOp


@dataclass
class Rule:
    """`when <condition> use <option>`, or `otherwise use <option>` when condition is None."""

    condition: Condition | None
    option: str
    line: int = _pos()
    column: int = _pos()
    option_column: int = _pos()


@dataclass
class FunctionHints:
    name: str
    rules: list[Rule]
    line: int = _pos()
    column: int = _pos()
    name_column: int = _pos()


@dataclass
class OptionDecl:
    name: str
    cpu: Quantity
    memory: Quantity
    line: int = _pos()
    column: int = _pos()
    name_column: int = _pos()
    params: dict[str, int] = field(default_factory=dict)  # `with max_tokens 16 ...`

    @property
    def size(self) -> Size:
        return Size(
            cpu=float(self.cpu.number),
            memory=int(round(self.memory.canonical / 1024**2)),
            option=self.name,
            params=tuple(sorted(self.params.items())),
        )


@dataclass
class WorkflowHeader:
    name: str
    slo: Quantity
    percentile: float = 99.0
    line: int = _pos()
    column: int = _pos()

    @property
    def slo_ms(self) -> float:
        return self.slo.canonical


@dataclass
class HintFile:
    header: WorkflowHeader | None
    options: list[OptionDecl]
    functions: list[FunctionHints]
    filename: str = field(default="<hints>", compare=False)

    def option(self, name: str) -> OptionDecl | None:
        return next((o for o in self.options if o.name == name), None)

    def function(self, name: str) -> FunctionHints | None:
        return next((f for f in self.functions if f.name == name), None)
