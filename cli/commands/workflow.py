"""``tango workflow create|update|get|list|delete|invoke|runs|run-get|report|deploy`` — Tango's workflows.

Registered by ``cli.main``; talks to the workflow extension of the REST API (docs/contracts.md).
Runs and reports are read in the shapes ``controller/workflow_engine.py`` and
``controller/workflow_service.py`` write (a missing field prints ``-``):

* run: ``runId, workflow, policy, start, duration, status, statusText, slo {latencyMs,
  percentile}, metSlo, coreSeconds, gbSeconds, result, nodes``;
* node of a run: ``id, status, activationIds, size {cpu, memory, option}, remainingMs`` (SLO
  budget left when the adapter decided), ``rule``, ``duration``;
* report: ``{"workflow", "slo" {latency, percentile}, "policies": {policy: {"runs",
  "sloAttainment" (0..1), "latency" {p50, p95, p99, mean}, "coreSecondsPerRun",
  "gbSecondsPerRun"}}}``.
"""

from __future__ import annotations

import argparse
import functools
from typing import Any

from cli import output
from cli.commands import workflow_deploy
from cli.commands.common import (
    RUN_ID,
    Context,
    add_invoke_flags,
    add_paging_flags,
    done,
    failing,
    params_of,
    read_text,
    report_invocation,
)
from cli.names import parse_name


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser(
        "workflow", parents=[common], help="work with workflows (DAGs with an SLO)"
    )
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for verb in ("create", "update"):
        p = verbs.add_parser(verb, parents=[common], help=f"{verb} a workflow from a YAML file")
        p.add_argument("name", metavar="NAME")
        p.add_argument("file", metavar="FILE", help="workflow definition (YAML)")
        p.set_defaults(handler=functools.partial(_put, overwrite=verb == "update"))

    p = verbs.add_parser("get", parents=[common], help="get a workflow")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(handler=get)

    p = verbs.add_parser("list", parents=[common], help="list workflows")
    add_paging_flags(p, "workflows")
    p.set_defaults(handler=list_workflows)

    p = verbs.add_parser("delete", parents=[common], help="delete a workflow")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(handler=delete)

    p = verbs.add_parser("invoke", parents=[common], help="run a workflow")
    p.add_argument("name", metavar="NAME")
    add_invoke_flags(p, "the run to finish")
    p.add_argument("--policy", help="sizing policy for this run (e.g. late)")
    p.set_defaults(handler=invoke)

    p = verbs.add_parser("runs", parents=[common], help="list a workflow's runs")
    p.add_argument("name", metavar="NAME")
    add_paging_flags(p, "runs")
    p.set_defaults(handler=runs)

    p = verbs.add_parser("run-get", parents=[common], help="one run, node by node")
    p.add_argument("run_id", metavar="RUNID")
    p.set_defaults(handler=run_get)

    p = verbs.add_parser(
        "report", parents=[common], help="SLO attainment, latency and cost per policy"
    )
    p.add_argument("name", metavar="NAME")
    p.set_defaults(handler=report)

    workflow_deploy.register(verbs, common)


def _put(args: argparse.Namespace, ctx: Context, overwrite: bool) -> int:
    verb = "update" if overwrite else "create"
    definition = read_text(args.file, "workflow file")
    with failing(f"{verb} workflow '{args.name}'"):
        saved = ctx.client().put_workflow(parse_name(args.name), definition, overwrite=overwrite)
    done(ctx, saved, f"{verb}d workflow {args.name}")
    return 0


def get(args: argparse.Namespace, ctx: Context) -> int:
    with failing(f"get workflow '{args.name}'"):
        workflow = ctx.client().get_workflow(parse_name(args.name))
    if not ctx.json:
        output.ok(f"got workflow {args.name}")
    output.emit(output.pretty(workflow))
    return 0


def list_workflows(args: argparse.Namespace, ctx: Context) -> int:
    with failing("obtain the list of workflows"):
        workflows = ctx.client().list_entities(
            "workflows", limit=args.limit, skip=args.skip or None
        )
    output.emit(
        output.pretty(workflows) if ctx.json else output.format_entity_list("workflows", workflows)
    )
    return 0


def delete(args: argparse.Namespace, ctx: Context) -> int:
    with failing(f"delete workflow '{args.name}'"):
        deleted = ctx.client().delete_workflow(parse_name(args.name))
    done(ctx, deleted, f"deleted workflow {args.name}")
    return 0


def invoke(args: argparse.Namespace, ctx: Context) -> int:
    blocking = args.blocking or args.result
    with failing(f"invoke workflow '{args.name}'"):
        response = ctx.client().invoke_workflow(
            parse_name(args.name),
            params_of(args),
            blocking=blocking,
            result=args.result,
            policy=args.policy,
        )
    return report_invocation(ctx, f"workflow {args.name}", response, RUN_ID, blocking, args.result)


def runs(args: argparse.Namespace, ctx: Context) -> int:
    with failing(f"obtain the runs of workflow '{args.name}'"):
        records = ctx.client().list_runs(
            parse_name(args.name), limit=args.limit, skip=args.skip or None
        )
    output.emit(output.pretty(records) if ctx.json else format_runs(records))
    return 0


def run_get(args: argparse.Namespace, ctx: Context) -> int:
    with failing(f"get workflow run '{args.run_id}'"):
        run = ctx.client().get_run(args.run_id)
    output.emit(output.pretty(run) if ctx.json else format_run(run))
    return 0


def report(args: argparse.Namespace, ctx: Context) -> int:
    with failing(f"get the report of workflow '{args.name}'"):
        body = ctx.client().workflow_report(parse_name(args.name))
    output.emit(output.pretty(body) if ctx.json else format_report(body))
    return 0


# ---- rendering (pure) -----------------------------------------------------------------------


def _num(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _met(value: Any) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _slo(slo: dict | None) -> str:
    """``2500ms p99`` from a run's ``{latencyMs, percentile}`` or a report's ``{latency, percentile}``."""
    if not slo:
        return "-"
    latency = slo.get("latencyMs", slo.get("latency"))
    percentile = slo.get("percentile")
    return output.ms_text(latency) + ("" if percentile is None else f" p{percentile:g}")


def format_runs(records: list[dict]) -> str:
    rows = [
        (
            r.get("runId", ""),
            output.datetime_text(r.get("start")),
            output.ms_text(r.get("duration")),
            r.get("policy") or "-",
            _met(r.get("metSlo")),
            _num(r.get("coreSeconds"), 3),
        )
        for r in records
    ]
    return output.table(["Run ID", "Start", "Duration", "Policy", "Met SLO", "Core-s"], rows)


def format_run(run: dict) -> str:
    """A run's summary line, then one row per node: the size the adapter chose and why."""
    head = (
        f"run {run.get('runId', '')} of workflow {run.get('workflow', '-')}: "
        f"{run.get('statusText') or run.get('status') or '-'}, policy {run.get('policy') or '-'}, "
        f"SLO {_slo(run.get('slo'))}, duration {output.ms_text(run.get('duration'))}, "
        f"met SLO {_met(run.get('metSlo'))}, core-seconds {_num(run.get('coreSeconds'), 3)}, "
        f"GB-seconds {_num(run.get('gbSeconds'), 3)}"
    )
    rows = []
    for node in run.get("nodes") or []:
        size = node.get("size") or {}
        activations = node.get("activationIds") or []
        activation = (
            activations[0]
            if len(activations) == 1
            else (f"{len(activations)} activations" if activations else "-")
        )
        rows.append(
            (
                node.get("id", ""),
                node.get("status", "-"),
                activation,
                size.get("option") or "-",
                size.get("cpu", "-"),
                f"{size['memory']}MB" if "memory" in size else "-",
                output.ms_text(node.get("remainingMs")),
                output.ms_text(node.get("duration")),
            )
        )
    nodes = output.table(
        ["Node", "Status", "Activation", "Option", "CPU", "Memory", "Remaining", "Duration"], rows
    )
    return f"{head}\n{nodes}"


def format_report(body: dict) -> str:
    """Per policy: SLO attainment, latency percentiles, mean cost per run."""
    rows = []
    for policy, p in (body.get("policies") or {}).items():
        latency = p.get("latency") or {}
        attainment = p.get("sloAttainment")
        rows.append(
            (
                policy,
                p.get("runs", "-"),
                "-" if attainment is None else f"{100 * attainment:.1f}%",
                output.ms_text(latency.get("p50")),
                output.ms_text(latency.get("p95")),
                output.ms_text(latency.get("p99")),
                _num(p.get("coreSecondsPerRun"), 3),
                _num(p.get("gbSecondsPerRun"), 3),
            )
        )
    head = f"workflow {body.get('workflow', '-')}, SLO {_slo(body.get('slo'))}"
    table = output.table(
        ["Policy", "Runs", "SLO met", "p50", "p95", "p99", "Core-s/run", "GB-s/run"], rows
    )
    return f"{head}\n{table}"
