"""The hint language of Tango's late-bound workflow sizing (Janus).

A hint file names a workflow's SLO, its size *options*, and per function the *rules* that map
the live state of a request (remaining budget, input size, upstream durations, live statistics)
to an option. The controller stores hint text; the adapter (`controller.adapter`) evaluates the
compiled form before every function of a workflow request. The profiler and synthesizer in this
package generate hints from measured latencies.

    parse(text, filename) -> HintFile          syntax tree; raises HintError on the first error
    check(text, workflow_functions) -> [Diagnostic]   every error and warning, never raises
    compile(hintfile, workflow_functions) -> CompiledHints
    format(hintfile) -> str                    canonical text; parse(format(h)) == h
"""

from __future__ import annotations

from collections.abc import Iterable

from . import ast
from .ast import HintFile
from .checker import check as _check_tree
from .compiler import CompiledHints, CompiledRule, compile_hints, interpret
from .errors import Diagnostic, HintError
from .parser import parse, parse_collecting
from .printer import format

__all__ = [
    "parse",
    "check",
    "compile",
    "format",
    "interpret",
    "HintFile",
    "HintError",
    "Diagnostic",
    "CompiledHints",
    "CompiledRule",
    "ast",
]


def check(
    text: str, workflow_functions: Iterable[str] | None = None, filename: str = "<hints>"
) -> list[Diagnostic]:
    """All syntax and validation problems of hint `text`, sorted by position."""
    tree, parser = parse_collecting(text, filename)
    return _check_tree(tree, workflow_functions, parser.errors, parser.extra_headers)


def compile(  # noqa: A001
    hints: HintFile | str, workflow_functions: Iterable[str] | None = None
) -> CompiledHints:
    """Compile a parsed (or textual) hint file for the adapter; raises HintError on errors."""
    if isinstance(hints, str):
        hints = parse(hints)
    return compile_hints(hints, workflow_functions)
