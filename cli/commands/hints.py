"""``tango hints check|set|get|profile|synthesize`` — write, upload and generate a workflow's hints.

Registered by ``cli.main``. ``check`` runs locally through ``hint_dsl.check(text,
workflow_functions=None) -> [Diagnostic(line, column, message, severity)]`` (with the
workflow's node ids from ``workflows.definition.load(text).node_ids`` when ``--workflow`` is
given, as the controller does); the others call the hints/profile/synthesize endpoints of
docs/contracts.md, whose answers are read as ``controller/workflow_service.py`` writes them:

* rejected hints: 400 with header ``X-Tango-Diagnostics`` = JSON ``[{line, column, message,
  severity}]``;
* profile progress: ``{"job": {"jobId", "state": "running|done|failed", "done", "total",
  "error"}, "profiles": {function: {option: {"samples", "p50", "p99"}}}}``;
* synthesis: ``{"hints": text, "report": {"rules_before", "rules_after", "hint_bytes",
  "predicted_tail_ms", "feasible_at_slo", "slo_ms", "percentile", "functions": {id: {"rules",
  "min_feasible_budget_ms"}}, "diagnostics": [text]}}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cli import output
from cli.client import ApiError
from cli.commands.common import Context, done, failing, non_negative_int, read_text
from cli.errors import CliError
from cli.names import parse_name

PROFILE_POLL_S = 0.5
FINISHED_STATES = {"done": True, "failed": False}  # state -> succeeded
PROGRESS_WIDTH = 30
DIAGNOSTICS_HEADER = "x-tango-diagnostics"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("hints", parents=[common], help="work with a workflow's sizing hints")
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

    p = verbs.add_parser("check", parents=[common], help="check a hint file locally")
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "--workflow", metavar="WFFILE", help="also check function names against this workflow"
    )
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
    p.add_argument(
        "--repeats", type=non_negative_int, metavar="N", help="runs per input and option"
    )
    p.add_argument(
        "--capacity-cores",
        type=float,
        metavar="C",
        help="CPU cores foreach items share when the workflow runs (default: the healthy invokers')",
    )
    p.set_defaults(handler=profile)

    p = verbs.add_parser("synthesize", parents=[common], help="generate hints from the profiles")
    p.add_argument("workflow", metavar="WORKFLOW")
    p.add_argument("--percentile", type=float, metavar="P", help="SLO percentile to keep (e.g. 99)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the hints here instead of stdout")
    p.set_defaults(handler=synthesize)

    p = verbs.add_parser(
        "simulate", parents=[common], help="predict each policy's price and latency (what-if)"
    )
    p.add_argument("workflow", metavar="WORKFLOW")
    p.add_argument("--slo", type=float, metavar="MS", help="SLO latency (default: the workflow's)")
    p.add_argument("--rate", type=float, default=1.0, metavar="R", help="requests per second")
    p.add_argument("--cores", type=float, default=2.0, metavar="N", help="cluster CPU cores")
    p.add_argument("--requests", type=int, default=1000, metavar="N", help="requests simulated")
    p.add_argument(
        "--inputs", metavar="FILE.jsonl", help="request inputs (default: the profiled inputs)"
    )
    p.add_argument("--policies", metavar="A,B", help="only these policies (default: all)")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--plot", metavar="FILE.png", help="draw price vs SLO per policy (an SLO sweep)")
    p.set_defaults(handler=simulate)


# ---- check (local) --------------------------------------------------------------------------


def check(args: argparse.Namespace, ctx: Context) -> int:
    text = read_text(args.file, "hint file")
    functions = workflow_functions(args.workflow) if args.workflow else None
    diagnostics = _hint_dsl().check(text, workflow_functions=functions)
    if ctx.json:
        output.emit(
            output.pretty(
                [
                    {
                        "line": d.line,
                        "column": d.column,
                        "severity": _severity(d),
                        "message": d.message,
                    }
                    for d in diagnostics
                ]
            )
        )
    else:
        for d in diagnostics:
            output.emit(diagnostic_line(args.file, d.line, d.column, d.message, _severity(d)))
    errors = sum(_severity(d) == "error" for d in diagnostics)
    if errors:
        output.note(f"{args.file}: {errors} error(s), {len(diagnostics) - errors} warning(s)")
        return 1
    if not ctx.json:
        output.ok(
            f"{args.file} has no errors"
            + (f" ({len(diagnostics)} warning(s))" if diagnostics else "")
        )
    return 0


def diagnostic_line(
    file: str, line: Any, column: Any, message: str, severity: str = "error"
) -> str:
    """``FILE:line:col: message`` (``warning: `` before warnings), as hint_dsl prints them."""
    return f"{file}:{line}:{column}: {'' if severity == 'error' else 'warning: '}{message}"


def _severity(diagnostic: Any) -> str:
    return getattr(diagnostic, "severity", None) or "error"


def _hint_dsl():
    try:
        import hint_dsl
    except ImportError as exc:
        raise CliError(
            f"'tango hints check' needs the hint_dsl package, which failed to import: {exc}"
        ) from exc
    if not hasattr(hint_dsl, "check"):
        raise CliError(
            "'tango hints check' needs hint_dsl.check(text, workflow_functions), which this "
            "installation of hint_dsl does not provide."
        )
    return hint_dsl


def workflow_functions(path: str) -> list[str]:
    """The function names of a workflow definition file (for checking ``function`` blocks)."""
    text = read_text(path, "workflow file")
    try:
        from workflows.definition import load
    except ImportError as exc:
        raise CliError(
            f"--workflow needs the workflows package, which failed to import: {exc}"
        ) from exc
    try:
        workflow = load(text)
    except Exception as exc:  # WorkflowError(path, message), or a YAML error
        raise CliError(f"{path}: not a valid workflow definition: {exc}") from exc
    return list(workflow.node_ids)


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
    """The server's rejection of hints re-pointed at the user's FILE (``FILE:line:col: message``
    per diagnostic, so editors can jump to it); other errors are returned as they are."""
    try:
        diagnostics = json.loads(err.headers.get(DIAGNOSTICS_HEADER, ""))
    except ValueError:
        return err
    lines = [
        diagnostic_line(
            file, d.get("line"), d.get("column"), d.get("message"), d.get("severity", "error")
        )
        for d in diagnostics
    ]
    if not lines:
        return err
    return ApiError(
        err.status, "The hints are not valid:\n" + "\n".join(lines), err.code, err.body, err.headers
    )


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
        job = client.start_profile(qname, inputs, options, args.repeats, args.capacity_cores)
    output.note(
        f"profiling workflow {args.workflow} (job {job.get('jobId', '?')}, {len(inputs)} input(s))"
    )
    with failing(f"follow profiling of workflow '{args.workflow}'"):
        status = client.profile_status(qname)
        while (status.get("job") or {}).get("state") not in FINISHED_STATES:
            _progress(status["job"] or {})
            time.sleep(PROFILE_POLL_S)
            status = client.profile_status(qname)
    job = status["job"]
    _progress(job)
    print(file=sys.stderr)
    if not FINISHED_STATES[job["state"]]:
        raise CliError(
            f"profiling workflow '{args.workflow}' failed: {job.get('error') or 'no reason given'}"
        )
    output.emit(
        output.pretty(status)
        if ctx.json
        else format_profiles(status.get("profiles") or {}, status.get("infeasible") or [])
    )
    return 0


def read_jsonl(path: str) -> list[Any]:
    """One JSON value per non-blank line; errors name the line."""
    values = []
    for number, line in enumerate(read_text(path, "--inputs").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise CliError(
                f"{path}:{number}: not valid JSON ({exc.msg}); --inputs expects one JSON "
                "input object per line."
            ) from exc
    if not values:
        raise CliError(f"{path}: no inputs; --inputs expects one JSON input object per line.")
    return values


def progress_bar(
    completed: int, total: int, elapsed_s: float | None = None, finished: bool = False
) -> str:
    """``[###---] 3/10 runs, about 14s left`` (the time left from the pace so far; ``took``
    once the job has finished, which may be before every run: an option that fails on an
    input is not repeated)."""
    if not total:
        return "[" + "-" * PROGRESS_WIDTH + "] starting"
    filled = PROGRESS_WIDTH * completed // total
    bar = f"[{'#' * filled}{'-' * (PROGRESS_WIDTH - filled)}] {completed}/{total} runs"
    if elapsed_s is None:
        return bar
    if finished or completed >= total:
        return f"{bar}, took {duration_text(elapsed_s)}"
    left = time_left_s(elapsed_s, completed, total)
    return f"{bar}, " + (
        "estimating time left" if left is None else f"about {duration_text(left)} left"
    )


def time_left_s(elapsed_s: float, completed: int, total: int) -> float | None:
    """Seconds left at the pace so far (None before the first run is done)."""
    if completed <= 0 or total <= completed:
        return None if completed <= 0 else 0.0
    return elapsed_s / completed * (total - completed)


def duration_text(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def job_elapsed_s(job: dict) -> float | None:
    """Seconds since the job started (its ``started``, epoch ms), up to its ``finished``."""
    started = job.get("started")
    if not started:
        return None
    end = job.get("finished") or time.time() * 1000
    return max(0.0, (end - started) / 1000)


def _progress(job: dict) -> None:
    bar = progress_bar(
        int(job.get("done") or 0),
        int(job.get("total") or 0),
        job_elapsed_s(job),
        finished=job.get("state") in FINISHED_STATES,
    )
    print(f"\r{bar}", end="", file=sys.stderr, flush=True)


def format_profiles(profiles: dict[str, dict[str, dict]], infeasible: Sequence[dict] = ()) -> str:
    """Latency per function and option: ``{function: {option: {samples, p50, p99}}}``, then
    why an option shows ``-``: the profile's ``infeasible`` runs ``{function, option, run,
    error}`` (the first failure of each function and option, and how many inputs failed)."""
    table = _profile_table(profiles)
    reasons = infeasible_lines(infeasible)
    return "\n".join([table, *reasons]) if reasons else table


def infeasible_lines(infeasible: Sequence[dict]) -> list[str]:
    first: dict[tuple[str, str], dict] = {}
    counts: dict[tuple[str, str], int] = {}
    for failure in infeasible:
        key = (str(failure.get("function")), str(failure.get("option")))
        first.setdefault(key, failure)
        counts[key] = counts.get(key, 0) + 1
    lines = []
    for (function, option), failure in first.items():
        more = counts[(function, option)] - 1
        lines.append(
            f"infeasible: {function} at option '{option}' failed on profiling input "
            f"#{failure.get('run', '?')}: {failure.get('error') or 'no reason given'}"
            + (f" (and {more} more run(s))" if more else "")
        )
    return lines


def _profile_table(profiles: dict[str, dict[str, dict]]) -> str:
    rows = [
        (
            function,
            option,
            stats.get("samples", "-"),
            output.ms_text(stats.get("p50")),
            output.ms_text(stats.get("p99")),
        )
        for function, by_option in profiles.items()
        for option, stats in by_option.items()
    ]
    return output.table(["Function", "Option", "Samples", "p50", "p99"], rows)


# ---- synthesize -----------------------------------------------------------------------------


def synthesize(args: argparse.Namespace, ctx: Context) -> int:
    qname = parse_name(args.workflow)
    with failing(f"synthesize hints for workflow '{args.workflow}'"):
        try:
            body = ctx.client().synthesize(qname, args.percentile)
        except ApiError as err:
            raise while_profiling(ctx, qname, args.workflow, err) from err
    report = body.get("report") or {}
    if report:
        output.note(format_size_report(report))
    if args.output:
        Path(args.output).write_text(body.get("hints", ""), encoding="utf-8")
        output.ok(f"wrote hints for workflow {args.workflow} to {args.output}")
    else:
        output.emit(output.pretty(body) if ctx.json else body.get("hints", "").rstrip("\n"))
    return 0


def while_profiling(ctx: Context, qname: Any, workflow: str, err: ApiError) -> ApiError:
    """A refused synthesis (409: no profiles) while a profiling job runs says so, with its
    progress, instead of "no profiles yet"; any other error is returned as it is."""
    if err.status != 409:
        return err
    try:
        job = ctx.client().profile_status(qname).get("job") or {}
    except ApiError:
        return err
    if job.get("state") != "running":
        return err
    bar = progress_bar(int(job.get("done") or 0), int(job.get("total") or 0), job_elapsed_s(job))
    return ApiError(
        err.status,
        f"profiling of workflow '{workflow}' is still running ({bar.split('] ', 1)[-1]}); "
        "synthesize once it has finished (tango hints profile prints its progress).",
        err.code,
        err.body,
        err.headers,
    )


def format_size_report(report: dict) -> str:
    """How much condensing saved, what the hints predict, and each function's rule count."""
    feasible = report.get("feasible_at_slo")
    percentile = report.get("percentile")
    at = "-" if percentile is None else f"{percentile:g}"
    verdict = "-" if feasible is None else ("yes" if feasible else "NO")
    lines = [
        f"rules: {report.get('rules_before', '-')} before condensing, {report.get('rules_after', '-')} "
        f"after ({report.get('hint_bytes', '-')} bytes)",
        f"SLO {output.ms_text(report.get('slo_ms'))} at p{at}: predicted tail "
        f"{output.ms_text(report.get('predicted_tail_ms'))}, feasible {verdict}",
    ]
    rows = [
        (name, f.get("rules", "-"), output.ms_text(f.get("min_feasible_budget_ms")))
        for name, f in (report.get("functions") or {}).items()
    ]
    if rows:
        lines.append(output.table(["Function", "Rules", "Min feasible budget"], rows))
    if feasible is False:
        lines.append(
            "note: by the profiles even the fastest options miss this SLO at this percentile; "
            "a run whose budget is gone takes the largest option and is marked at risk. Loosen "
            "the SLO (tango workflow update) or profile more inputs and repeats."
        )
    lines += [f"warning: {d}" for d in report.get("diagnostics") or []]
    lines += [f"warning: {w}" for w in report.get("warnings") or []]  # thin size classes
    return "\n".join(lines)


# ---- simulate -------------------------------------------------------------------------------

SLO_SWEEP = (0.5, 0.75, 1.0, 1.5, 2.0)  # --plot: SLOs as multiples of the one simulated


def simulate(args: argparse.Namespace, ctx: Context) -> int:
    """One ``POST .../workflows/{name}/simulate`` per policy (and per SLO of the sweep with
    --plot), so the progress bar moves; the answer is ``janus_sim.whatif.predict``'s."""
    qname = parse_name(args.workflow)
    client = ctx.client()
    path = client._entity_path("workflows", qname) + "/simulate"
    body: dict[str, Any] = {
        "ratePerS": args.rate,
        "cores": args.cores,
        "requests": args.requests,
        "seed": args.seed,
    }
    if args.slo is not None:
        body["sloMs"] = args.slo
    if args.inputs:
        body["inputs"] = read_jsonl(args.inputs)
    what = f"simulate workflow '{args.workflow}'"
    with failing(what):
        if args.policies:
            policies = [x.strip() for x in args.policies.split(",") if x.strip()]
        else:  # one request simulated to learn the policy names and check the workflow
            policies = list(
                client.request("POST", path, None, {**body, "requests": 1}).body["policies"]
            )
        base_slo = (
            body.get("sloMs")
            or client.request(
                "POST", path, None, {**body, "requests": 1, "policies": policies[:1]}
            ).body["sloMs"]
        )
        slos = [base_slo * f for f in SLO_SWEEP] if args.plot else [base_slo]
        total = len(slos) * len(policies)
        results: dict[float, Any] = {}
        for k, (slo, policy) in enumerate((s, p) for s in slos for p in policies):
            print(
                f"\r{progress_bar(k, total).replace('runs', 'simulations')}",
                end="",
                file=sys.stderr,
                flush=True,
            )
            answer = client.request(
                "POST", path, None, {**body, "sloMs": slo, "policies": [policy]}
            ).body
            results.setdefault(slo, answer | {"policies": {}})["policies"].update(
                answer["policies"]
            )
        print(f"\r{progress_bar(total, total).replace('runs', 'simulations')}", file=sys.stderr)
    main = results[base_slo]
    if args.plot:
        plot_price_vs_slo(results, args.plot, args.workflow)
        output.note(f"wrote {args.plot}")
    output.emit(
        output.pretty(main if not args.plot else {"sweep": list(results.values())})
        if ctx.json
        else format_simulation(main)
    )
    return 0


def format_simulation(result: dict) -> str:
    cluster = result.get("cluster") or {}
    head = (
        f"workflow {result.get('workflow')}: SLO {output.ms_text(result.get('sloMs'))}, "
        f"{result.get('ratePerS'):g} requests/s, {result.get('requests')} requests, "
        f"{cluster.get('cores'):g} cores on {cluster.get('invokers')} invoker(s) (simulated)"
    )
    rows = []
    for name, s in result.get("policies", {}).items():
        if "error" in s:
            rows.append((name, "-", "-", "-", "-", "-", s["error"][:60]))
            continue
        rows.append(
            (
                name,
                f"{s['pricePerRun'] * 1e6:.2f}",
                output.ms_text(s["p50_ms"]),
                output.ms_text(s["p99_ms"]),
                f"{100 * s['sloAttainment']:.1f}%",
                f"{s['coreSecondsPerRun']:.3f}",
                f"{s['gbSecondsPerRun']:.3f}",
            )
        )
    extra = result.get("extrapolated") or []
    note = f"\nextrapolated (speed-up fit, not measured): {', '.join(extra)}" if extra else ""
    return (
        head
        + "\n"
        + output.table(
            ["Policy", "Price/run (µ$)", "p50", "p99", "SLO met", "core-s/run", "GB-s/run"], rows
        )
        + note
    )


def plot_price_vs_slo(results: dict[float, dict], path: str, workflow: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise CliError("--plot needs matplotlib (pip install matplotlib)") from exc
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    slos = sorted(results)
    names = list(results[slos[0]]["policies"])
    for name in names:
        points = [
            (slo, results[slo]["policies"][name]["pricePerRun"] * 1e6)
            for slo in slos
            if "pricePerRun" in results[slo]["policies"].get(name, {})
        ]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=name)
    ax.set_xlabel("SLO (ms)")
    ax.set_ylabel("price per request (µ$, simulated)")
    ax.set_title(f"{workflow}: price vs SLO per policy (janus_sim)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
