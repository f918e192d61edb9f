"""``tango rule create|update|enable|disable|status|get|list|delete`` — wsk's rule commands.

Registered by ``cli.main``; talks to ``/namespaces/{ns}/rules``. A rule links a trigger to an
action (``rule create NAME TRIGGER ACTION``, both sent fully qualified as ``/_/name``); enable and
disable post ``{"status": "active"|"inactive"}``.
"""
from __future__ import annotations

import argparse

from cli import output
from cli.commands.common import Context, add_paging_flags, done, failing
from cli.commands.package import entity_request, show
from cli.errors import CliError
from cli.names import QualifiedName, parse_name


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("rule", parents=[common], help="work with rules")
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for verb in ("create", "update"):
        p = verbs.add_parser(verb, parents=[common], help=f"{verb} a rule: {verb} NAME TRIGGER ACTION")
        p.add_argument("name", metavar="NAME")
        p.add_argument("trigger", metavar="TRIGGER")
        p.add_argument("action", metavar="ACTION")
        p.set_defaults(handler=create if verb == "create" else update)

    for verb, handler, text in (("enable", enable, "activate a rule"), ("disable", disable, "deactivate a rule"),
                                ("status", status, "print whether a rule is active"),):
        p = verbs.add_parser(verb, parents=[common], help=text)
        p.add_argument("name", metavar="NAME")
        p.set_defaults(handler=handler)

    p = verbs.add_parser("get", parents=[common], help="get a rule")
    p.add_argument("name", metavar="NAME")
    p.add_argument("-s", "--summary", action="store_true", help="print a summary")
    p.set_defaults(handler=get)

    p = verbs.add_parser("list", parents=[common], help="list rules")
    p.add_argument("namespace", metavar="NAMESPACE", nargs="?")
    add_paging_flags(p, "rules")
    p.add_argument("-n", "--name-sort", action="store_true", help="sort by name")
    p.set_defaults(handler=list_rules)

    p = verbs.add_parser("delete", parents=[common], help="delete a rule")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--disable", action="store_true", help="disable the rule before deleting it")
    p.set_defaults(handler=delete)


def rule_name(text: str) -> QualifiedName:
    qname = parse_name(text)
    if qname.package is not None:
        raise CliError(f"'{text}' is not a valid rule name: rules are not in packages "
                       "(use NAME or /NAMESPACE/NAME).")
    return qname


def create(args: argparse.Namespace, ctx: Context) -> int:
    return _put(args, ctx, overwrite=False)


def update(args: argparse.Namespace, ctx: Context) -> int:
    return _put(args, ctx, overwrite=True)


def _put(args: argparse.Namespace, ctx: Context, overwrite: bool) -> int:
    verb = "update" if overwrite else "create"
    body = {"trigger": str(parse_name(args.trigger)), "action": str(parse_name(args.action))}
    with failing(f"{verb} rule '{args.name}'"):
        saved = entity_request(ctx, "PUT", "rules", rule_name(args.name),
                               {"overwrite": True} if overwrite else None, body).body
    done(ctx, saved, f"{verb}d rule {args.name}")
    return 0


def _set_status(ctx: Context, name: str, active: bool) -> None:
    verb = "enable" if active else "disable"
    with failing(f"{verb} rule '{name}'"):
        entity_request(ctx, "POST", "rules", rule_name(name), None,
                       {"status": "active" if active else "inactive"}, accept=(200, 202))


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
    with failing(f"get rule '{args.name}'"):
        rule = entity_request(ctx, "GET", "rules", rule_name(args.name)).body
    if args.summary and not ctx.json:
        output.emit(format_rule_summary(rule))
    else:
        show(ctx, rule, f"got rule {args.name}")
    return 0


def _path_name(ref: dict | None) -> str:
    ref = ref or {}
    return f"/{ref.get('path', '')}/{ref.get('name', '')}"


def format_rule_summary(rule: dict) -> str:
    fqn = f"/{rule.get('namespace', '')}/{rule.get('name', '')}"
    return (f"rule {fqn} ({rule.get('status')})\n"
            f"   (trigger: {_path_name(rule.get('trigger'))}, action: {_path_name(rule.get('action'))})")


def format_rule_list(rules: list[dict]) -> str:
    """wsk's rule list: ``/ns/name  private|shared  active|inactive``."""
    lines = ["rules"]
    for r in rules:
        fqn = f"/{r.get('namespace', '')}/{r.get('name', '')}"
        lines.append(f"{fqn:<70} {'shared' if r.get('publish') else 'private'} {r.get('status', '')}".rstrip())
    return "\n".join(lines)


def list_rules(args: argparse.Namespace, ctx: Context) -> int:
    with failing("obtain the list of rules"):
        rules = ctx.client().list_entities("rules", args.namespace.strip("/") if args.namespace else None,
                                           limit=args.limit, skip=args.skip or None)
    if args.name_sort:
        rules = sorted(rules, key=lambda r: r.get("name", ""))
    output.emit(output.pretty(rules) if ctx.json else format_rule_list(rules))
    return 0


def delete(args: argparse.Namespace, ctx: Context) -> int:
    qname = rule_name(args.name)
    if args.disable:
        _set_status(ctx, args.name, False)
    with failing(f"delete rule '{args.name}'"):
        deleted = entity_request(ctx, "DELETE", "rules", qname).body
    done(ctx, deleted, f"deleted rule {args.name}")
    return 0
