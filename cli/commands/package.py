"""``tango package create|update|bind|get|list|delete`` — wsk's package commands.

Registered by ``cli.main``; builds package entities (parameters, annotations, ``--shared``,
``binding``) and talks to ``/namespaces/{ns}/packages`` through ``cli.client.Client``.
``entity_request`` is also what the trigger and rule commands use to reach their collections.
Tango adds ``delete --force`` (the API's ``?force=true``: delete the package's actions too).
"""
from __future__ import annotations

import argparse
from typing import Any, Iterable
from urllib.parse import quote

from cli import output
from cli.client import Response
from cli.commands.common import (Context, add_annotation_flags, add_paging_flags, add_param_flags,
                                 annotations_of, as_key_value_list, done, failing, params_of)
from cli.errors import CliError
from cli.names import QualifiedName, parse_name

SHARED_VALUES = {"yes": True, "true": True, "no": False, "false": False}


def entity_request(ctx: Context, method: str, collection: str, qname: QualifiedName,
                   query: dict | None = None, body: Any = None, accept: Iterable[int] = (200,)) -> Response:
    """One request on ``/namespaces/{ns}/{collection}/{name}``."""
    path = f"/namespaces/{quote(qname.namespace, safe='')}/{collection}/{quote(qname.entity, safe='/')}"
    return ctx.client().request(method, path, query, body, accept=accept)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("package", parents=[common], help="work with packages")
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for verb in ("create", "update"):
        p = verbs.add_parser(verb, parents=[common], help=f"{verb} a package")
        p.add_argument("name", metavar="NAME")
        add_param_flags(p)
        add_annotation_flags(p)
        p.add_argument("--shared", metavar="yes|no", help="publish the package so other namespaces can bind it")
        p.set_defaults(handler=create if verb == "create" else update)

    p = verbs.add_parser("bind", parents=[common], help="bind parameters to a package: bind PACKAGE BINDING")
    p.add_argument("package", metavar="PACKAGE", help="the package to bind, e.g. /whisk.system/utils")
    p.add_argument("name", metavar="BINDING", help="name of the new binding")
    add_param_flags(p)
    add_annotation_flags(p)
    p.set_defaults(handler=bind)

    p = verbs.add_parser("get", parents=[common], help="get a package")
    p.add_argument("name", metavar="NAME")
    p.add_argument("-s", "--summary", action="store_true", help="print a summary")
    p.set_defaults(handler=get)

    p = verbs.add_parser("list", parents=[common], help="list packages")
    p.add_argument("namespace", metavar="NAMESPACE", nargs="?", help="list this namespace's shared packages")
    add_paging_flags(p, "packages")
    p.add_argument("-n", "--name-sort", action="store_true", help="sort by name")
    p.set_defaults(handler=list_packages)

    p = verbs.add_parser("delete", parents=[common], help="delete a package")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--force", action="store_true", help="also delete the actions in the package")
    p.set_defaults(handler=delete)


def package_name(text: str) -> QualifiedName:
    qname = parse_name(text)
    if qname.package is not None:
        raise CliError(f"'{text}' is not a valid package name: packages cannot be nested "
                       "(use NAME or /NAMESPACE/NAME).")
    return qname


def build_package(args: argparse.Namespace) -> dict[str, Any]:
    """The PUT body from the flags (only what was given, so an update changes only that)."""
    entity: dict[str, Any] = {}
    params, annotations = params_of(args), annotations_of(args)
    if params:
        entity["parameters"] = as_key_value_list(params)
    if annotations:
        entity["annotations"] = as_key_value_list(annotations)
    shared = getattr(args, "shared", None)
    if shared is not None:
        if shared.lower() not in SHARED_VALUES:
            raise CliError(f"Invalid argument '{shared}' for --shared: use yes or no.")
        entity["publish"] = SHARED_VALUES[shared.lower()]
    return entity


def create(args: argparse.Namespace, ctx: Context) -> int:
    return _put(args, ctx, overwrite=False)


def update(args: argparse.Namespace, ctx: Context) -> int:
    return _put(args, ctx, overwrite=True)


def _put(args: argparse.Namespace, ctx: Context, overwrite: bool) -> int:
    verb = "update" if overwrite else "create"
    qname = package_name(args.name)
    body = build_package(args)
    with failing(f"{verb} package '{args.name}'"):
        saved = entity_request(ctx, "PUT", "packages", qname, {"overwrite": True} if overwrite else None, body).body
    done(ctx, saved, f"{verb}d package {args.name}")
    return 0


def bind(args: argparse.Namespace, ctx: Context) -> int:
    target = package_name(args.package)
    qname = package_name(args.name)
    body = {**build_package(args), "binding": {"namespace": target.namespace, "name": target.entity}}
    with failing(f"bind package '{args.package}' as '{args.name}'"):
        saved = entity_request(ctx, "PUT", "packages", qname, None, body).body
    done(ctx, saved, f"created binding {args.name}")
    return 0


def get(args: argparse.Namespace, ctx: Context) -> int:
    with failing(f"get package '{args.name}'"):
        package = entity_request(ctx, "GET", "packages", package_name(args.name)).body
    if args.summary and not ctx.json:
        output.emit(format_package_summary(package))
    else:
        show(ctx, package, f"got package {args.name}")
    return 0


def show(ctx: Context, entity: Any, message: str) -> None:
    """``ok: got ...`` then the entity's JSON (just the JSON with ``--json``)."""
    if not ctx.json:
        output.ok(message)
    output.emit(output.pretty(entity))


def format_package_summary(package: dict) -> str:
    fqn = f"/{package.get('namespace', '')}/{package.get('name', '')}"
    params = ", ".join(p.get("key", "") for p in package.get("parameters") or []) or "none defined"
    lines = [f"package {fqn}", f"   (parameters: {params})"]
    for action in package.get("actions") or []:
        lines.append(f" action {fqn}/{action.get('name', '')}")
    for feed in package.get("feeds") or []:
        lines.append(f" feed   {fqn}/{feed.get('name', '')}")
    return "\n".join(lines)


def list_packages(args: argparse.Namespace, ctx: Context) -> int:
    namespace = args.namespace.strip("/") if args.namespace else None
    with failing("obtain the list of packages"):
        query = {"limit": args.limit, "skip": args.skip or None, "public": True if namespace else None}
        path = f"/namespaces/{quote(namespace or '_', safe='')}/packages"
        packages = ctx.client().request("GET", path, query).body
    if args.name_sort:
        packages = sorted(packages, key=lambda p: p.get("name", ""))
    output.emit(output.pretty(packages) if ctx.json else output.format_entity_list("packages", packages))
    return 0


def delete(args: argparse.Namespace, ctx: Context) -> int:
    with failing(f"delete package '{args.name}'"):
        deleted = entity_request(ctx, "DELETE", "packages", package_name(args.name),
                                 {"force": True} if args.force else None).body
    done(ctx, deleted, f"deleted package {args.name}")
    return 0
