"""``tango rule create|update|enable|disable|status|get|list|delete`` — wsk's rule commands.

Registered by ``cli.main``; talks to ``/namespaces/{ns}/rules``. A rule links a trigger to an
action (``rule create NAME TRIGGER ACTION``, both sent fully qualified as ``/_/name``); enable and
disable post ``{"status": "active"|"inactive"}``.
"""

from __future__ import annotations

import argparse

from cli.commands.common import (
    Context,
    add_get_list_delete,
    delete_entity,
    done,
    entity_request,
    failing,
    get_entity,
    list_collection,
    put_entity,
    top_level_name,
)
from cli.names import QualifiedName, parse_name


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("rule", parents=[common], help="work with rules")
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for verb in ("create", "update"):
        p = verbs.add_parser(
            verb, parents=[common], help=f"{verb} a rule: {verb} NAME TRIGGER ACTION"
        )
        p.add_argument("name", metavar="NAME")
        p.add_argument("trigger", metavar="TRIGGER")
        p.add_argument("action", metavar="ACTION")
        p.set_defaults(handler=create if verb == "create" else update)

    for verb, handler, text in (
        ("enable", enable, "activate a rule"),
        ("disable", disable, "deactivate a rule"),
        ("status", status, "print whether a rule is active"),
    ):
        p = verbs.add_parser(verb, parents=[common], help=text)
        p.add_argument("name", metavar="NAME")
        p.set_defaults(handler=handler)

    _, _, delete_p = add_get_list_delete(verbs, common, "a rule", "rules", get, list_rules, delete)
    delete_p.add_argument(
        "--disable", action="store_true", help="disable the rule before deleting it"
    )


def rule_name(text: str) -> QualifiedName:
    return top_level_name(text, "rule", "rules are not in packages")


def build_rule(args: argparse.Namespace) -> dict:
    """The trigger and the action, both sent fully qualified (``/_/name``)."""
    return {"trigger": str(parse_name(args.trigger)), "action": str(parse_name(args.action))}


def create(args: argparse.Namespace, ctx: Context) -> int:
    return put_entity(args, ctx, "rules", rule_name, build_rule, overwrite=False)


def update(args: argparse.Namespace, ctx: Context) -> int:
    return put_entity(args, ctx, "rules", rule_name, build_rule, overwrite=True)


def _set_status(ctx: Context, name: str, active: bool) -> None:
    verb = "enable" if active else "disable"
    with failing(f"{verb} rule '{name}'"):
        entity_request(
            ctx,
            "POST",
            "rules",
            rule_name(name),
            None,
            {"status": "active" if active else "inactive"},
            accept=(200, 202),
        )


def enable(args: argparse.Namespace, ctx: Context) -> int:
    _set_status(ctx, args.name, True)
    done(ctx, {"status": "active"}, f"enabled rule {args.name}")
    return 0


def disable(args: argparse.Namespace, ctx: Context) -> int:
    _set_status(ctx, args.name, False)
    done(ctx, {"status": "inactive"}, f"disabled rule {args.name}")
    return 0


def status(args: argparse.Namespace, ctx: Context) -> int:
    with failing(f"get status of rule '{args.name}'"):
        rule = entity_request(ctx, "GET", "rules", rule_name(args.name)).body
    done(ctx, {"status": rule.get("status")}, f"rule {args.name} is {rule.get('status')}")
    return 0


def get(args: argparse.Namespace, ctx: Context) -> int:
    return get_entity(args, ctx, "rules", rule_name, format_rule_summary)


def _path_name(ref: dict | None) -> str:
    ref = ref or {}
    return f"/{ref.get('path', '')}/{ref.get('name', '')}"


def format_rule_summary(rule: dict) -> str:
    fqn = f"/{rule.get('namespace', '')}/{rule.get('name', '')}"
    return (
        f"rule {fqn} ({rule.get('status')})\n"
        f"   (trigger: {_path_name(rule.get('trigger'))}, action: {_path_name(rule.get('action'))})"
    )


def format_rule_list(rules: list[dict]) -> str:
    """wsk's rule list: ``/ns/name  private|shared  active|inactive``."""
    lines = ["rules"]
    for r in rules:
        fqn = f"/{r.get('namespace', '')}/{r.get('name', '')}"
        lines.append(
            f"{fqn:<70} {'shared' if r.get('publish') else 'private'} {r.get('status', '')}".rstrip()
        )
    return "\n".join(lines)


def list_rules(args: argparse.Namespace, ctx: Context) -> int:
    return list_collection(args, ctx, "rules", args.namespace, render=format_rule_list)


def delete(args: argparse.Namespace, ctx: Context) -> int:
    if args.disable:
        _set_status(ctx, args.name, False)
    return delete_entity(args, ctx, "rules", rule_name)
