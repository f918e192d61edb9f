"""``tango trigger create|update|get|list|delete|fire`` — wsk's trigger commands.

Registered by ``cli.main``; talks to ``/namespaces/{ns}/triggers``. ``create --feed
/whisk.system/alarms/interval -p minutes 1`` sends the ``feed`` annotation and the feed's
parameters with the trigger in one step and the controller registers the alarm job (removing it
on delete). The real ``wsk`` takes two steps — PUT the trigger, then invoke the feed action
``/whisk.system/alarms/*`` with ``lifecycleEvent`` — which the controller also serves
(``controller/feeds.py``).
"""

from __future__ import annotations

import argparse

from cli import output
from cli.commands.common import (
    Context,
    add_annotation_flags,
    add_get_list_delete,
    add_param_flags,
    annotations_of,
    delete_entity,
    entity_request,
    failing,
    get_entity,
    key_value_fields,
    list_collection,
    params_of,
    parse_value,
    put_entity,
    top_level_name,
)
from cli.names import QualifiedName, parse_name


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("trigger", parents=[common], help="work with triggers")
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for verb in ("create", "update"):
        p = verbs.add_parser(verb, parents=[common], help=f"{verb} a trigger")
        p.add_argument("name", metavar="NAME")
        if verb == "create":
            p.add_argument(
                "-f",
                "--feed",
                metavar="ACTION",
                help="feed that fires the trigger, e.g. /whisk.system/alarms/interval",
            )
        for short, flag, what in (
            ("-F", "--feed-param", "a parameter for the feed, e.g. -F minutes 1 (as wsk's)"),
            ("-T", "--trigger-param", "a parameter bound to the trigger itself (as wsk's)"),
        ):
            p.add_argument(
                short,
                flag,
                nargs=2,
                action="append",
                default=[],
                metavar=("KEY", "VALUE"),
                help=what,
            )
        add_param_flags(p)
        add_annotation_flags(p)
        p.set_defaults(handler=create if verb == "create" else update)

    add_get_list_delete(verbs, common, "a trigger", "triggers", get, list_triggers, delete)

    p = verbs.add_parser("fire", parents=[common], help="fire a trigger with a payload")
    p.add_argument("name", metavar="NAME")
    add_param_flags(p)
    p.set_defaults(handler=fire)


def trigger_name(text: str) -> QualifiedName:
    return top_level_name(text, "trigger", "triggers are not in packages")


def build_trigger(args: argparse.Namespace) -> dict:
    """The PUT body. ``-F`` (feed) and ``-T`` (trigger) parameters travel with ``-p``'s: the
    controller hands the feed's own parameters (``cron``, ``minutes``...) to the alarm and
    binds the rest to the trigger."""
    annotations = annotations_of(args)
    feed = getattr(args, "feed", None)
    if feed:
        annotations["feed"] = str(parse_name(feed))
    params = params_of(args)
    for key, value in [*getattr(args, "feed_param", []), *getattr(args, "trigger_param", [])]:
        params[key] = parse_value(value)
    return key_value_fields(params, annotations)


def create(args: argparse.Namespace, ctx: Context) -> int:
    return put_entity(args, ctx, "triggers", trigger_name, build_trigger, overwrite=False)


def update(args: argparse.Namespace, ctx: Context) -> int:
    return put_entity(args, ctx, "triggers", trigger_name, build_trigger, overwrite=True)


def get(args: argparse.Namespace, ctx: Context) -> int:
    return get_entity(args, ctx, "triggers", trigger_name, format_trigger_summary)


def format_trigger_summary(trigger: dict) -> str:
    fqn = output.entity_fqn(trigger)
    lines = [f"trigger {fqn}", f"   (parameters: {output.parameter_names(trigger)})"]
    for rule, entry in (trigger.get("rules") or {}).items():
        action = entry.get("action") or {}
        lines.append(
            f" rule /{rule} -> /{action.get('path', '')}/{action.get('name', '')} ({entry.get('status')})"
        )
    return "\n".join(lines)


def list_triggers(args: argparse.Namespace, ctx: Context) -> int:
    return list_collection(args, ctx, "triggers", args.namespace)


def delete(args: argparse.Namespace, ctx: Context) -> int:
    return delete_entity(args, ctx, "triggers", trigger_name)


def fire(args: argparse.Namespace, ctx: Context) -> int:
    qname = trigger_name(args.name)
    with failing(f"fire trigger '{args.name}'"):
        response = entity_request(
            ctx, "POST", "triggers", qname, None, params_of(args), accept=(202, 204)
        )
    if ctx.json:
        output.emit(output.pretty(response.body or {}))
    elif response.status == 204:
        output.ok(f"triggered {qname}, but it has no active rule, so nothing ran (no activation)")
    else:
        output.ok(f"triggered {qname} with id {response.body['activationId']}")
    return 0
