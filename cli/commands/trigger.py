"""``tango trigger create|update|get|list|delete|fire`` — wsk's trigger commands.

Registered by ``cli.main``; talks to ``/namespaces/{ns}/triggers``. ``create --feed
/whisk.system/alarms/interval -p minutes 1`` sends the ``feed`` annotation and the feed's
parameters with the trigger; the controller runs the built-in alarm feed (registering the job on
create, removing it on delete), so no separate feed action is invoked as wsk would.
"""
from __future__ import annotations

import argparse

from cli import output
from cli.commands.common import (Context, add_annotation_flags, add_paging_flags, add_param_flags,
                                 annotations_of, as_key_value_list, done, failing, params_of)
from cli.commands.package import entity_request, show
from cli.errors import CliError
from cli.names import QualifiedName, parse_name


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("trigger", parents=[common], help="work with triggers")
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for verb in ("create", "update"):
        p = verbs.add_parser(verb, parents=[common], help=f"{verb} a trigger")
        p.add_argument("name", metavar="NAME")
        if verb == "create":
            p.add_argument("-f", "--feed", metavar="ACTION",
                           help="feed that fires the trigger, e.g. /whisk.system/alarms/interval")
        add_param_flags(p)
        add_annotation_flags(p)
        p.set_defaults(handler=create if verb == "create" else update)

    p = verbs.add_parser("get", parents=[common], help="get a trigger")
    p.add_argument("name", metavar="NAME")
    p.add_argument("-s", "--summary", action="store_true", help="print a summary")
    p.set_defaults(handler=get)

    p = verbs.add_parser("list", parents=[common], help="list triggers")
    p.add_argument("namespace", metavar="NAMESPACE", nargs="?")
    add_paging_flags(p, "triggers")
    p.add_argument("-n", "--name-sort", action="store_true", help="sort by name")
    p.set_defaults(handler=list_triggers)

    p = verbs.add_parser("delete", parents=[common], help="delete a trigger")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(handler=delete)

    p = verbs.add_parser("fire", parents=[common], help="fire a trigger with a payload")
    p.add_argument("name", metavar="NAME")
    add_param_flags(p)
    p.set_defaults(handler=fire)


def trigger_name(text: str) -> QualifiedName:
    qname = parse_name(text)
    if qname.package is not None:
        raise CliError(f"'{text}' is not a valid trigger name: triggers are not in packages "
                       "(use NAME or /NAMESPACE/NAME).")
    return qname


def build_trigger(args: argparse.Namespace) -> dict:
    entity: dict = {}
    params, annotations = params_of(args), annotations_of(args)
    feed = getattr(args, "feed", None)
    if feed:
        annotations["feed"] = str(parse_name(feed))
    if params:
        entity["parameters"] = as_key_value_list(params)
    if annotations:
        entity["annotations"] = as_key_value_list(annotations)
    return entity


def create(args: argparse.Namespace, ctx: Context) -> int:
    return _put(args, ctx, overwrite=False)


def update(args: argparse.Namespace, ctx: Context) -> int:
    return _put(args, ctx, overwrite=True)


def _put(args: argparse.Namespace, ctx: Context, overwrite: bool) -> int:
    verb = "update" if overwrite else "create"
    qname = trigger_name(args.name)
    with failing(f"{verb} trigger '{args.name}'"):
        saved = entity_request(ctx, "PUT", "triggers", qname, {"overwrite": True} if overwrite else None,
                               build_trigger(args)).body
    done(ctx, saved, f"{verb}d trigger {args.name}")
    return 0


def get(args: argparse.Namespace, ctx: Context) -> int:
    with failing(f"get trigger '{args.name}'"):
        trigger = entity_request(ctx, "GET", "triggers", trigger_name(args.name)).body
    if args.summary and not ctx.json:
        output.emit(format_trigger_summary(trigger))
    else:
        show(ctx, trigger, f"got trigger {args.name}")
    return 0


def format_trigger_summary(trigger: dict) -> str:
    fqn = f"/{trigger.get('namespace', '')}/{trigger.get('name', '')}"
    params = ", ".join(p.get("key", "") for p in trigger.get("parameters") or []) or "none defined"
    lines = [f"trigger {fqn}", f"   (parameters: {params})"]
    for rule, entry in (trigger.get("rules") or {}).items():
        action = entry.get("action") or {}
        lines.append(f" rule /{rule} -> /{action.get('path', '')}/{action.get('name', '')} ({entry.get('status')})")
    return "\n".join(lines)


def list_triggers(args: argparse.Namespace, ctx: Context) -> int:
    with failing("obtain the list of triggers"):
        triggers = ctx.client().list_entities("triggers", args.namespace.strip("/") if args.namespace else None,
                                              limit=args.limit, skip=args.skip or None)
    if args.name_sort:
        triggers = sorted(triggers, key=lambda t: t.get("name", ""))
    output.emit(output.pretty(triggers) if ctx.json else output.format_entity_list("triggers", triggers))
    return 0


def delete(args: argparse.Namespace, ctx: Context) -> int:
    with failing(f"delete trigger '{args.name}'"):
        deleted = entity_request(ctx, "DELETE", "triggers", trigger_name(args.name)).body
    done(ctx, deleted, f"deleted trigger {args.name}")
    return 0


def fire(args: argparse.Namespace, ctx: Context) -> int:
    qname = trigger_name(args.name)
    with failing(f"fire trigger '{args.name}'"):
        response = entity_request(ctx, "POST", "triggers", qname, None, params_of(args), accept=(202, 204))
    if ctx.json:
        output.emit(output.pretty(response.body or {}))
    elif response.status == 204:
        output.ok(f"triggered {qname}, but it has no active rule, so nothing ran (no activation)")
    else:
        output.ok(f"triggered {qname} with id {response.body['activationId']}")
    return 0
