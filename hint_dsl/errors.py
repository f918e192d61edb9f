"""Errors and diagnostics of the hint language.

`HintError` is raised by `hint_dsl.parse` (first syntax error) and `hint_dsl.compile` (first
validation error, with every diagnostic attached); `hint_dsl.check` returns `Diagnostic`s instead
of raising so editors, the CLI and the controller's `PUT .../hints` can show all problems at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Diagnostic:
    line: int
    column: int
    message: str
    severity: str = "error"  # "error" | "warning"
    filename: str = "<hints>"

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else "warning: "
        return f"{self.filename}:{self.line}:{self.column}: {prefix}{self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "severity": self.severity,
        }


class HintError(ValueError):
    """A hint file that cannot be used; `str()` is `file:line:col: message`."""

    def __init__(
        self,
        line: int,
        column: int,
        message: str,
        filename: str = "<hints>",
        diagnostics: list[Diagnostic] | None = None,
    ):
        self.line, self.column, self.message, self.filename = line, column, message, filename
        self.diagnostics = diagnostics or [Diagnostic(line, column, message, "error", filename)]
        super().__init__(f"{filename}:{line}:{column}: {message}")

    @classmethod
    def from_diagnostic(cls, d: Diagnostic, all_diagnostics: list[Diagnostic]) -> HintError:
        return cls(d.line, d.column, d.message, d.filename, all_diagnostics)
