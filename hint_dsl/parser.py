"""Recursive-descent parser of hint files: text -> `HintFile`.

Called through `hint_dsl.parse` (raises the first syntax error) and `hint_dsl.check` (collects
every error: after a bad statement the parser skips to the next line and goes on).

Grammar (one statement per line; line breaks inside parentheses are ignored):

    file      := { statement NEWLINE }
    statement := 'workflow' NAME 'slo' TIME [ 'p' NUMBER ]
               | 'option' NAME 'cpu' NUMBER 'memory' BYTES [ 'with' PARAM INT { PARAM INT } ]
               | 'function' NAME
               | 'when' condition 'use' NAME
               | 'otherwise' 'use' NAME
    condition := conj { 'or' conj }
    conj      := unary { 'and' unary }
    unary     := 'not' unary | '(' condition ')' | operand CMP operand
    operand   := NUMBER[unit] | 'remaining' | 'elapsed'
               | 'input' '.' FIELD { '.' FIELD }
               | 'upstream' '.' FN '.' 'duration' | 'stats' '.' FN '.' ('p50'|'p95'|'p99'|'mean')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from . import ast
from .errors import Diagnostic, HintError
from .lexer import DOT, EOF, IDENT, LPAREN, NEWLINE, NUMBER, OP, RPAREN, Token, tokenize

KEYWORDS = {
    "workflow",
    "slo",
    "option",
    "cpu",
    "memory",
    "function",
    "when",
    "otherwise",
    "use",
    "with",
    "and",
    "or",
    "not",
}
STATEMENTS = "'workflow', 'option', 'function', 'when' or 'otherwise'"
# Node parameters an option may set (`with`): what a `vlm` action reads per request.
OPTION_PARAMS = ("max_tokens", "max_pixels")


class _SyntaxError(Exception):
    def __init__(self, token: Token, message: str):
        self.token, self.message = token, message


class Parser:
    def __init__(self, text: str, filename: str = "<hints>"):
        self.filename = filename
        self.tokens, lex_errors = tokenize(text, filename)
        self.errors: list[Diagnostic] = list(lex_errors)
        self.pos = 0
        self.depth = 0  # open parentheses: line breaks inside them are ignored
        self.header: ast.WorkflowHeader | None = None
        self.extra_headers: list[ast.WorkflowHeader] = []
        self.options: list[ast.OptionDecl] = []
        self.functions: list[ast.FunctionHints] = []

    # -- token helpers -------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        while self.depth and self.tokens[self.pos].kind == NEWLINE:
            self.pos += 1
        return self.tokens[self.pos]

    def advance(self) -> Token:
        t = self.tok
        if t.kind != EOF:
            self.pos += 1
        return t

    def at_word(self, word: str) -> bool:
        return self.tok.kind == IDENT and self.tok.text == word

    def fail(self, expected: str, token: Token | None = None) -> NoReturn:
        token = token or self.tok
        raise _SyntaxError(token, f"expected {expected}, got {token.describe()}")

    def expect_word(self, word: str, context: str) -> Token:
        if not self.at_word(word):
            self.fail(f"'{word}' {context}")
        return self.advance()

    def expect_name(self, what: str) -> Token:
        if self.tok.kind != IDENT or self.tok.text in KEYWORDS:
            self.fail(what)
        return self.advance()

    def expect_number(self, what: str) -> ast.Quantity:
        if self.tok.kind != NUMBER:
            self.fail(what)
        return self.quantity(self.advance())

    def quantity(self, t: Token) -> ast.Quantity:
        digits = t.text[: len(t.text) - len(t.unit or "")]
        return ast.Quantity(float(digits), t.unit, t.line, t.column)

    def end_of_statement(self, after: str) -> None:
        if self.tok.kind != NEWLINE:
            self.fail(f"end of line after {after}")
        self.advance()

    # -- statements ----------------------------------------------------------------------
    def parse(self) -> ast.HintFile:
        while self.tok.kind != EOF:
            if self.tok.kind == NEWLINE:
                self.advance()
                continue
            self.depth = 0
            try:
                self.statement()
            except _SyntaxError as e:
                self.errors.append(
                    Diagnostic(e.token.line, e.token.column, e.message, filename=self.filename)
                )
                self.depth = 0
                self.skip_line()
        return ast.HintFile(self.header, self.options, self.functions, self.filename)

    def skip_line(self) -> None:
        while self.tok.kind not in (NEWLINE, EOF):
            self.advance()

    def statement(self) -> None:
        word = self.tok.text if self.tok.kind == IDENT else ""
        handlers: dict[str, Callable[[], None]] = {
            "workflow": self.workflow,
            "option": self.option,
            "function": self.function,
            "when": self.rule,
            "otherwise": self.rule,
        }
        handler = handlers.get(word)
        if handler is None:
            self.fail(f"a statement ({STATEMENTS})")
        handler()

    def workflow(self) -> None:
        start = self.advance()
        name = self.expect_name("a workflow name after 'workflow'")
        self.expect_word("slo", f"after the workflow name '{name.text}'")
        slo = self.expect_number("an SLO time after 'slo' (e.g. 2500ms or 2.5s)")
        percentile = 99.0
        if self.tok.kind == IDENT and self.tok.text[:1] == "p" and _is_number(self.tok.text[1:]):
            digits = self.advance().text[1:]
            t = self.tok  # p99.9 lexes as 'p99' then '.9'
            if t.kind == NUMBER and t.text.startswith(".") and t.unit is None:
                digits += self.advance().text
            percentile = float(digits)
        elif self.tok.kind != NEWLINE:
            self.fail("a percentile like p99 or end of line after the SLO")
        self.end_of_statement("the SLO percentile")
        header = ast.WorkflowHeader(name.text, slo, percentile, start.line, start.column)
        if self.header is None:
            self.header = header
        else:
            self.extra_headers.append(header)

    def option(self) -> None:
        start = self.advance()
        name = self.expect_name("an option name after 'option'")
        self.expect_word("cpu", f"after the option name '{name.text}'")
        cpu = self.expect_number("a number of cores after 'cpu' (e.g. 0.5)")
        self.expect_word("memory", "after the cpu count")
        memory = self.expect_number("a memory size after 'memory' (e.g. 256MB or 1GB)")
        params: dict[str, int] = {}
        if self.at_word("with"):
            self.advance()
            while True:
                params.update([self.option_param(params)])
                if self.tok.kind == NEWLINE:
                    break
        self.end_of_statement("the option's parameters" if params else "the memory size")
        self.options.append(
            ast.OptionDecl(name.text, cpu, memory, start.line, start.column, name.column, params)
        )

    def option_param(self, seen: dict[str, int]) -> tuple[str, int]:
        """`max_tokens 16`: a node parameter the option sets, a positive whole number."""
        accepted = " or ".join(f"'{p}'" for p in OPTION_PARAMS)
        if self.tok.kind != IDENT or self.tok.text not in OPTION_PARAMS:
            self.fail(f"a node parameter ({accepted})")
        key = self.advance()
        if key.text in seen:
            raise _SyntaxError(key, f"'{key.text}' is set twice in this option")
        value = self.tok
        if value.kind != NUMBER or value.unit is not None or not value.text.isdigit():
            self.fail(f"a whole number after '{key.text}' (e.g. {key.text} 16)")
        if int(self.advance().text) < 1:
            raise _SyntaxError(value, f"'{key.text}' must be at least 1")
        return key.text, int(value.text)

    def function(self) -> None:
        start = self.advance()
        name = self.expect_name("a function name after 'function'")
        self.end_of_statement(f"the function name '{name.text}'")
        self.functions.append(
            ast.FunctionHints(name.text, [], start.line, start.column, name.column)
        )

    def rule(self) -> None:
        start = self.advance()
        if not self.functions:
            raise _SyntaxError(
                start,
                f"'{start.text}' rule outside a function block: "
                "add a 'function NAME' line above it",
            )
        condition: ast.Condition | None = None
        if start.text == "when":
            condition = self.condition()
            self.expect_word("use", "after the condition")
        else:
            self.expect_word("use", "after 'otherwise'")
        option = self.expect_name("an option name after 'use'")
        self.end_of_statement(f"the option name '{option.text}'")
        self.functions[-1].rules.append(
            ast.Rule(condition, option.text, start.line, start.column, option.column)
        )

    # -- conditions ----------------------------------------------------------------------
    def condition(self) -> ast.Condition:
        return self.boolop("or", self.conjunction)

    def conjunction(self) -> ast.Condition:
        return self.boolop("and", self.unary)

    def boolop(self, op: str, operand: Callable[[], ast.Condition]) -> ast.Condition:
        first = operand()
        operands = [first]
        while self.at_word(op):
            self.advance()
            operands.append(operand())
        if len(operands) == 1:
            return first
        return ast.BoolOp(op, operands, first.line, first.column)

    def unary(self) -> ast.Condition:
        t = self.tok
        if self.at_word("not"):
            self.advance()
            return ast.Not(self.unary(), t.line, t.column)
        if t.kind == LPAREN:
            self.advance()
            self.depth += 1
            inner = self.condition()
            if self.tok.kind != RPAREN:
                self.fail(f"')' to close the '(' at line {t.line}, column {t.column}")
            self.depth -= 1
            self.advance()
            return inner
        left = self.operand()
        if self.tok.kind != OP:
            self.fail(f"a comparison (<, <=, >, >=, ==, !=) after '{_operand_text(left)}'")
        op = self.advance().text
        right = self.operand()
        return ast.Compare(left, op, right, t.line, t.column)

    def operand(self) -> ast.Operand:
        t = self.tok
        if t.kind == NUMBER:
            return self.quantity(self.advance())
        if t.kind != IDENT or t.text not in ("remaining", "elapsed", "input", "upstream", "stats"):
            self.fail(
                "a variable (remaining, elapsed, input.<field>, upstream.<fn>.duration, "
                "stats.<fn>.p50|p95|p99|mean) or a number"
            )
        self.advance()
        if t.text in ("remaining", "elapsed"):
            return ast.Variable((t.text,), t.line, t.column)
        if t.text == "input":
            fields = [self.dotted("an input field after 'input.' (e.g. input.bytes)")]
            while self.tok.kind == DOT:  # nested numeric fields: input.item.frames
                fields.append(self.dotted(f"a field name after 'input.{'.'.join(fields)}.'"))
            return ast.Variable(("input", *fields), t.line, t.column)
        fn = self.dotted(f"a function name after '{t.text}.'")
        if t.text == "upstream":
            metric = self.dotted(f"'duration' after 'upstream.{fn}.'")
            if metric != "duration":
                self.fail(f"'duration' after 'upstream.{fn}.'", self.tokens[self.pos - 1])
        else:
            metric = self.dotted(f"a statistic (p50, p95, p99, mean) after 'stats.{fn}.'")
            if metric not in ast.STAT_METRICS:
                self.fail(
                    f"a statistic (p50, p95, p99, mean) after 'stats.{fn}.'",
                    self.tokens[self.pos - 1],
                )
        return ast.Variable((t.text, fn, metric), t.line, t.column)

    def dotted(self, what: str) -> str:
        if self.tok.kind != DOT:
            self.fail(f"'.' then {what}")
        self.advance()
        if self.tok.kind != IDENT:
            self.fail(what)
        return self.advance().text


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _operand_text(o: ast.Operand) -> str:
    if isinstance(o, ast.Variable):
        return str(o)
    from .printer import format_quantity

    return format_quantity(o)


def parse_collecting(text: str, filename: str = "<hints>") -> tuple[ast.HintFile, Parser]:
    """Parse and keep going after errors; the checker reads `parser.errors`."""
    p = Parser(text, filename)
    return p.parse(), p


def parse(text: str, filename: str = "<hints>") -> ast.HintFile:
    """Parse hint text; raise `HintError` for the first syntax error."""
    tree, p = parse_collecting(text, filename)
    if p.errors:
        first = min(p.errors, key=lambda d: (d.line, d.column))
        raise HintError.from_diagnostic(first, sorted(p.errors, key=lambda d: (d.line, d.column)))
    return tree
