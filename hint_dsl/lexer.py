"""Tokenizer of the hint language, used only by `hint_dsl.parser`.

Line oriented: every line ends with a NEWLINE token (the parser ignores those inside
parentheses, so long conditions can be wrapped). `#` starts a comment.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Diagnostic

IDENT, NUMBER, OP, LPAREN, RPAREN, DOT, NEWLINE, EOF = (
    "ident",
    "number",
    "op",
    "(",
    ")",
    ".",
    "newline",
    "eof",
)
COMPARISONS = ("<=", ">=", "==", "!=", "<", ">")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    line: int
    column: int
    unit: str | None = None  # NUMBER only: letters written right after the digits

    def describe(self) -> str:
        if self.kind == NEWLINE:
            return "end of line"
        if self.kind == EOF:
            return "end of file"
        return f"'{self.text}'"


def _is_ident_start(c: str) -> bool:
    return c.isalpha() or c == "_"


def _is_ident_char(c: str) -> bool:
    return c.isalnum() or c in "_-"


def tokenize(text: str, filename: str = "<hints>") -> tuple[list[Token], list[Diagnostic]]:
    """Split `text` into tokens; unknown characters become diagnostics and are skipped."""
    tokens: list[Token] = []
    errors: list[Diagnostic] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        i, n = 0, len(line)
        while i < n:
            c = line[i]
            col = i + 1
            if c in " \t\r":
                i += 1
            elif c == "#":
                break
            elif c.isdigit() or (c == "." and i + 1 < n and line[i + 1].isdigit()):
                j = i
                while j < n and (line[j].isdigit() or line[j] == "."):
                    j += 1
                k = j
                while k < n and line[k].isalpha():
                    k += 1
                number = line[i:j]
                if number.count(".") > 1:
                    errors.append(
                        Diagnostic(lineno, col, f"malformed number '{number}'", filename=filename)
                    )
                    number = number[: number.index(".", number.index(".") + 1)]
                tokens.append(Token(NUMBER, line[i:k], lineno, col, line[j:k] or None))
                i = k
            elif _is_ident_start(c):
                j = i
                while j < n and _is_ident_char(line[j]):
                    j += 1
                tokens.append(Token(IDENT, line[i:j], lineno, col))
                i = j
            elif line.startswith(COMPARISONS, i):
                op = next(o for o in COMPARISONS if line.startswith(o, i))
                tokens.append(Token(OP, op, lineno, col))
                i += len(op)
            elif c in "().":
                tokens.append(Token(c, c, lineno, col))
                i += 1
            else:
                hint = " (use '==' to compare)" if c == "=" else ""
                errors.append(
                    Diagnostic(lineno, col, f"unexpected character '{c}'{hint}", filename=filename)
                )
                i += 1
        tokens.append(Token(NEWLINE, "", lineno, len(line) + 1))
    last = len(text.splitlines()) or 1
    tokens.append(Token(NEWLINE, "", last, 1))
    tokens.append(Token(EOF, "", last + 1, 1))
    return tokens, errors
