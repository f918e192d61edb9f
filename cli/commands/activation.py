"""``tango activation list|get|logs|result|poll`` — wsk's activation commands.

Registered by ``cli.main``; reads ``/namespaces/{ns}/activations`` through ``cli.client``.
``--last`` everywhere means the newest activation of the namespace (``?limit=1``).
"""

from __future__ import annotations

import argparse
import re
import time

from cli import output
from cli.commands.common import Context, add_paging_flags, failing, non_negative_int
from cli.errors import CliError
from cli.names import parse_name
from common.clock import now_ms

POLL_INTERVAL_S = 2.0  # wsk polls every 2 s; tests shorten it
# "<RFC3339 timestamp> stdout: text" -> "text" (activation logs -r)
LOG_PREFIX = re.compile(r"^\S+\s+(?:stdout|stderr):\s?")
LOOKBACK_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("activation", parents=[common], help="work with activations")
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

    p = verbs.add_parser("list", parents=[common], help="list activations")
    p.add_argument("name", metavar="ACTION", nargs="?", help="only activations of this action")
    add_paging_flags(p, "activations")
    p.add_argument("-f", "--full", action="store_true", help="show results and logs, not a table")
    p.add_argument(
        "--since", type=non_negative_int, metavar="EPOCH_MS", help="started at or after this time"
    )
    p.add_argument(
        "--upto", type=non_negative_int, metavar="EPOCH_MS", help="started at or before this time"
    )
    p.set_defaults(handler=list_activations)

    p = verbs.add_parser(
        "get", parents=[common], help="get an activation: get (ID | --last) [FIELD]"
    )
    _add_id_arguments(p, with_field=True)
    p.add_argument("-s", "--summary", action="store_true", help="status line and result only")
    p.add_argument("-g", "--logs", action="store_true", help="the logs only")
    p.set_defaults(handler=get)

    p = verbs.add_parser("logs", parents=[common], help="print an activation's logs")
    _add_id_arguments(p, with_field=False)
    p.add_argument(
        "-r", "--strip", action="store_true", help="drop each line's timestamp and stream"
    )
    p.set_defaults(handler=logs)

    p = verbs.add_parser("result", parents=[common], help="print an activation's result")
    _add_id_arguments(p, with_field=False)
    p.set_defaults(handler=result)

    p = verbs.add_parser("poll", parents=[common], help="print new activations' logs as they come")
    p.add_argument("target", metavar="/NAMESPACE|ACTION", nargs="?")
    p.add_argument(
        "-e",
        "--exit",
        type=non_negative_int,
        default=0,
        metavar="SECONDS",
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    for unit in LOOKBACK_UNITS:
        p.add_argument(
            f"--since-{unit}",
            type=non_negative_int,
            default=0,
            metavar="N",
            help=f"also show activations from the last N {unit}",
        )
    p.set_defaults(handler=poll)


def _add_id_arguments(p: argparse.ArgumentParser, with_field: bool) -> None:
    p.add_argument("words", metavar="ID [FIELD]" if with_field else "ID", nargs="*")
    p.add_argument("-l", "--last", action="store_true", help="use the most recent activation")
    p.set_defaults(allows_field=with_field)


def target_of(args: argparse.Namespace, ctx: Context) -> tuple[str, str | None]:
    """(activation id, field) from ``ID [FIELD]`` or ``--last [FIELD]``."""
    words = list(args.words)
    max_words = (1 if args.last else 2) if args.allows_field else (0 if args.last else 1)
    if len(words) > max_words or (not args.last and not words):
        usage = "(ID | --last) [FIELD]" if args.allows_field else "(ID | --last)"
        raise CliError(f"expected {usage}, got {' '.join(words) or 'nothing'}.")
    activation_id = last_activation_id(ctx) if args.last else words.pop(0)
    return activation_id, (words[0] if words else None)


def last_activation_id(ctx: Context) -> str:
    with failing("obtain the most recent activation"):
        records = ctx.client().list_activations(limit=1)
    if not records:
        raise CliError("Activation list does not contain any activations.")
    return records[0]["activationId"]


# ---- handlers -------------------------------------------------------------------------------


def list_activations(args: argparse.Namespace, ctx: Context) -> int:
    qname = parse_name(args.name) if args.name else None
    with failing("obtain the list of activations"):
        records = ctx.client().list_activations(
            qname.namespace if qname else None,
            qname.entity if qname else None,
            limit=args.limit,
            skip=args.skip or None,
            since=args.since,
            upto=args.upto,
            docs=args.full,
        )
    if ctx.json:
        output.emit(output.pretty(records))
    elif args.full:
        for record in records:
            output.emit(output.format_activation_summary(record))
            output.emit(output.pretty(record.get("logs", [])))
    else:
        output.emit(output.format_activation_table(records))
    return 0


def get(args: argparse.Namespace, ctx: Context) -> int:
    activation_id, field = target_of(args, ctx)
    with failing(f"get activation '{activation_id}'"):
        record = ctx.client().get_activation(activation_id)
    if args.logs:
        field = "logs"
    if field is not None and field not in record:
        raise CliError(f"Invalid field filter '{field}' (fields: {', '.join(sorted(record))}).")
    if ctx.json:
        output.emit(output.pretty(record if field is None else record[field]))
    elif args.summary:
        output.emit(output.format_activation_summary(record))
    elif field is not None:
        output.ok(f"got activation {activation_id}, displaying field {field}")
        output.emit(output.pretty(record[field]))
    else:
        output.ok(f"got activation {activation_id}")
        output.emit(output.pretty(record))
    return 0


def logs(args: argparse.Namespace, ctx: Context) -> int:
    activation_id, _ = target_of(args, ctx)
    with failing(f"get logs for activation '{activation_id}'"):
        body = ctx.client().get_activation(activation_id, part="logs")
    if ctx.json:
        output.emit(output.pretty(body))
        return 0
    for line in body.get("logs", []):
        output.emit(strip_log_line(line) if args.strip else line)
    return 0


def strip_log_line(line: str) -> str:
    return LOG_PREFIX.sub("", line, count=1)


def result(args: argparse.Namespace, ctx: Context) -> int:
    activation_id, _ = target_of(args, ctx)
    with failing(f"get the result of activation '{activation_id}'"):
        response = ctx.client().get_activation(activation_id, part="result")
    shown = response if ctx.json or not isinstance(response, dict) else response.get("result", {})
    output.emit(output.pretty(shown))
    return 0


# ---- poll -----------------------------------------------------------------------------------


def poll(args: argparse.Namespace, ctx: Context) -> int:
    namespace, name = poll_scope(args.target)
    lookback_s = sum(
        getattr(args, f"since_{unit}") * seconds for unit, seconds in LOOKBACK_UNITS.items()
    )
    since = now_ms() - lookback_s * 1000
    deadline = time.monotonic() + args.exit if args.exit else None
    seen: dict[str, int] = {}  # activation id -> start, for records at the `since` boundary
    running: dict[str, int] = {}  # listed but not finished: printed once they are, with logs
    output.note("Enter Ctrl-c to exit.\nPolling for activation logs\n")
    try:
        while True:
            with failing("poll for activations"):
                records = ctx.client().list_activations(
                    namespace, name, limit=200, since=min([since, *running.values()]), docs=True
                )
            for record in sorted(records, key=lambda r: r.get("start", 0)):
                activation_id = record["activationId"]
                if activation_id in seen:
                    continue
                if is_running(record):
                    running[activation_id] = record.get("start", 0)
                    continue
                running.pop(activation_id, None)
                seen[activation_id] = record.get("start", 0)
                print_polled(record)
                since = max(since, record.get("start", 0))
            seen = {i: s for i, s in seen.items() if s >= min([since, *running.values()])}
            if deadline is not None and time.monotonic() >= deadline:
                return 0
            time.sleep(POLL_INTERVAL_S)
    except KeyboardInterrupt:
        return 0


def is_running(record: dict) -> bool:
    """Accepted but not finished: the stored ``running`` record (its ``end`` is still 0)."""
    return (record.get("response") or {}).get("status") == "running" or record.get("end") == 0


def poll_scope(target: str | None) -> tuple[str | None, str | None]:
    """``/ns`` polls a namespace; anything else names an action (``name``, ``pkg/name``, ``/ns/name``)."""
    if not target:
        return None, None
    if target.startswith("/") and target.strip("/").count("/") == 0:
        return target.strip("/"), None
    qname = parse_name(target)
    return qname.namespace, qname.entity


def print_polled(record: dict) -> None:
    output.emit(f"\nActivation: '{record.get('name', '')}' ({record.get('activationId')})")
    output.emit(output.pretty(record.get("logs", [])))
