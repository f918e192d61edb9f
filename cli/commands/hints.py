"""``tango hints check|set|get|profile|synthesize`` — write, upload and generate a workflow's hints.

Registered by ``cli.main``. ``check`` runs locally through ``hint_dsl.check(text,
workflow_functions=None) -> [Diagnostic(line, column, message, severity)]`` (with the
workflow's function names from ``workflows.definition.load(text).functions`` when
``--workflow`` is given); the others call the hints/profile/synthesize endpoints of
docs/contracts.md. Fields read from the server (all optional):

* profile progress: ``{"jobId", "state": "running|done|failed", "completed", "total", "error",
  "profiles": [{"function", "option", "cpu", "memory", "count", "p50", "p95", "p99"}]}``;
* synthesis: ``{"hints": text, "report": {"before": {...}, "after": {...}}}`` where before/after
  hold the same size measures (e.g. ``rules``, ``thresholds``, ``bytes``).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from cli import output
from cli.client import ApiError
from cli.commands.common import Context, done, failing, non_negative_int, read_text
from cli.errors import CliError
from cli.names import parse_name

PROFILE_POLL_S = 0.5
FINISHED_STATES = {"done": True, "completed": True, "failed": False, "error": False}
PROGRESS_WIDTH = 30
# "3:7: message" or "line 3, column 7: message" at the start of a server error
LOCATION = re.compile(r"^(?:line\s+)?(\d+)(?::|,\s*column\s+)(\d+):\s*", re.IGNORECASE)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("hints", parents=[common], help="work with a workflow's sizing hints")
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

    p = verbs.add_parser("check", parents=[common], help="check a hint file locally")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--workflow", metavar="WFFILE", help="also check function names against this workflow")
    p.set_defaults(handler=check)

    p = verbs.add_parser("set", parents=[common], help="upload hints for a workflow")
    p.add_argument("workflow", metavar="WORKFLOW")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(handler=set_hints)

    p = verbs.add_parser("get", parents=[common], help="print a workflow's hints")
    p.add_argument("workflow", metavar="WORKFLOW")
    p.set_defaults(handler=get_hints)

    p = verbs.add_parser("profile", parents=[common], help="profile each function at each option")
    p.add_argument("workflow", metavar="WORKFLOW")
    p.add_argument("--inputs", required=True, metavar="FILE.jsonl", help="one JSON input per line")
    p.add_argument("--options", metavar="A,B,C", help="only these options (default: all)")
    p.add_argument("--repeats", type=non_negative_int, metavar="N", help="runs per input and option")
    p.set_defaults(handler=profile)

    p = verbs.add_parser("synthesize", parents=[common], help="generate hints from the profiles")
    p.add_argument("workflow", metavar="WORKFLOW")
    p.add_argument("--percentile", type=float, metavar="P", help="SLO percentile to keep (e.g. 99)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the hints here instead of stdout")
    p.set_defaults(handler=synthesize)


# ---- check (local) --------------------------------------------------------------------------

def check(args: argparse.Namespace, ctx: Context) -> int:
    text = read_text(args.file, "hint file")
    functions = workflow_functions(args.workflow) if args.workflow else None
    diagnostics = _hint_dsl().check(text, workflow_functions=functions)
    if ctx.json:
        output.emit(output.pretty([{"line": d.line, "column": d.column, "severity": _severity(d),
                                    "message": d.message} for d in diagnostics]))
    else:
        for d in diagnostics:
            output.emit(f"{args.file}:{d.line}:{d.column}: {_severity(d)}: {d.message}")
    errors = sum(_severity(d) == "error" for d in diagnostics)
    if errors:
        output.note(f"{args.file}: {errors} error(s), {len(diagnostics) - errors} warning(s)")
        return 1
    if not ctx.json:
        output.ok(f"{args.file} has no errors" + (f" ({len(diagnostics)} warning(s))" if diagnostics else ""))
    return 0


def _severity(diagnostic: Any) -> str:
    return getattr(diagnostic, "severity", None) or "error"


def _hint_dsl():
    try:
        import hint_dsl
    except ImportError as exc:
        raise CliError(f"'tango hints check' needs the hint_dsl package, which failed to import: {exc}") from exc
    if not hasattr(hint_dsl, "check"):
        raise CliError("'tango hints check' needs hint_dsl.check(text, workflow_functions), which this "
                       "installation of hint_dsl does not provide.")
    return hint_dsl


def workflow_functions(path: str) -> list[str]:
    """The function names of a workflow definition file (for checking ``function`` blocks)."""
    text = read_text(path, "workflow file")
    try:
        from workflows.definition import load
    except ImportError as exc:
        raise CliError(f"--workflow needs the workflows package, which failed to import: {exc}") from exc
    try:
        workflow = load(text)
    except Exception as exc:  # WorkflowError(path, message), or a YAML error
        raise CliError(f"{path}: not a valid workflow definition: {exc}") from exc
    return list(workflow.functions)


# ---- set / get ------------------------------------------------------------------------------

def set_hints(args: argparse.Namespace, ctx: Context) -> int:
    text = read_text(args.file, "hint file")
    with failing(f"set hints for workflow '{args.workflow}'"):
        try:
            saved = ctx.client().put_hints(parse_name(args.workflow), text)
        except ApiError as err:
            raise located(err, args.file) from err
    done(ctx, saved, f"set hints for workflow {args.workflow}")
    return 0


def located(err: ApiError, file: str) -> ApiError:
    """The server's hint error with ``FILE:line:col:`` in front, so editors can jump to it.

    The position comes from ``line``/``column`` fields of the error body, or from a leading
    ``3:7:`` / ``line 3, column 7:`` in the message; otherwise the error is returned as is.
    """
    body = err.body if isinstance(err.body, dict) else {}
    message = err.error
    line, column = body.get("line"), body.get("column")
    match = LOCATION.match(message)
    if line is None and match:
        line, column = match.group(1), match.group(2)
        message = message[match.end():]
    if line is None:
        return err
    return ApiError(err.status, f"{file}:{line}:{column if column is not None else 1}: {message}",
                    err.code, err.body)


def get_hints(args: argparse.Namespace, ctx: Context) -> int:
    with failing(f"get hints for workflow '{args.workflow}'"):
        body = ctx.client().get_hints(parse_name(args.workflow))
    output.emit(output.pretty(body) if ctx.json else (body.get("hints") or "").rstrip("\n"))
    return 0


# ---- profile --------------------------------------------------------------------------------

def profile(args: argparse.Namespace, ctx: Context) -> int:
    qname = parse_name(args.workflow)
    inputs = read_jsonl(args.inputs)
    options = [o.strip() for o in args.options.split(",") if o.strip()] if args.options else None
    client = ctx.client()
    with failing(f"start profiling workflow '{args.workflow}'"):
        job = client.start_profile(qname, inputs, options, args.repeats)
    output.note(f"profiling workflow {args.workflow} (job {job.get('jobId', '?')}, {len(inputs)} input(s))")
    with failing(f"follow profiling of workflow '{args.workflow}'"):
        status = client.profile_status(qname)
        while status.get("state") not in FINISHED_STATES:
            _progress(status)
            time.sleep(PROFILE_POLL_S)
            status = client.profile_status(qname)
    _progress(status)
    print(file=sys.stderr)
    if not FINISHED_STATES[status["state"]]:
        raise CliError(f"profiling workflow '{args.workflow}' failed: {status.get('error', 'no reason given')}")
    output.emit(output.pretty(status) if ctx.json else format_profiles(status.get("profiles") or []))
    return 0


def read_jsonl(path: str) -> list[Any]:
    """One JSON value per non-blank line; errors name the line."""
    values = []
    for number, line in enumerate(read_text(path, "--inputs").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(json.loads(line))
        except ValueError as exc:
            raise CliError(f"{path}:{number}: not valid JSON ({exc.msg}); --inputs expects one JSON "
                           "input object per line.") from exc
    if not values:
        raise CliError(f"{path}: no inputs; --inputs expects one JSON input object per line.")
    return values


def progress_bar(completed: int, total: int) -> str:
    filled = PROGRESS_WIDTH * completed // total if total else 0
    return f"[{'#' * filled}{'-' * (PROGRESS_WIDTH - filled)}] {completed}/{total} runs"


def _progress(status: dict) -> None:
    bar = progress_bar(int(status.get("completed") or 0), int(status.get("total") or 0))
    print(f"\r{bar}", end="", file=sys.stderr, flush=True)


def format_profiles(profiles: list[dict]) -> str:
    rows = [(p.get("function", "-"), p.get("option", "-"), p.get("cpu", "-"),
             f"{p['memory']}MB" if "memory" in p else "-", p.get("count", "-"),
             output.ms_text(p.get("p50")), output.ms_text(p.get("p95")), output.ms_text(p.get("p99")))
            for p in profiles]
    return output.table(["Function", "Option", "CPU", "Memory", "Runs", "p50", "p95", "p99"], rows)


# ---- synthesize -----------------------------------------------------------------------------

def synthesize(args: argparse.Namespace, ctx: Context) -> int:
    with failing(f"synthesize hints for workflow '{args.workflow}'"):
        body = ctx.client().synthesize(parse_name(args.workflow), args.percentile)
    report = body.get("report") or {}
    if report:
        output.note(format_size_report(report))
    if args.output:
        Path(args.output).write_text(body.get("hints", ""), encoding="utf-8")
        output.ok(f"wrote hints for workflow {args.workflow} to {args.output}")
    else:
        output.emit(output.pretty(body) if ctx.json else body.get("hints", "").rstrip("\n"))
    return 0


def format_size_report(report: dict) -> str:
    """``rules: 24 -> 6`` per measure present in the report's ``before``/``after``."""
    before, after = report.get("before"), report.get("after")
    if not isinstance(before, dict) or not isinstance(after, dict):
        return "synthesis report: " + json.dumps(report)
    keys = list(dict.fromkeys([*before, *after]))
    return "\n".join(f"{key}: {before.get(key, '-')} -> {after.get(key, '-')}" for key in keys)
