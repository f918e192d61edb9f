"""``tango package create|update|bind|get|list|delete`` — wsk's package commands.

Registered by ``cli.main``; builds package entities (parameters, annotations, ``--shared``,
``binding``) and talks to ``/namespaces/{ns}/packages`` through ``cli.client.Client``; the
verbs every collection has alike come from ``cli.commands.common``. Tango adds ``delete --force``
(the API's ``?force=true``: delete the package's actions too).
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from cli import output
from cli.commands.common import (
    Context,
    add_annotation_flags,
    add_get_list_delete,
    add_param_flags,
    annotations_of,
    delete_entity,
    done,
    entity_request,
    failing,
    get_entity,
    key_value_fields,
    params_of,
    print_entity_list,
    put_entity,
    top_level_name,
)
from cli.errors import CliError
from cli.names import QualifiedName

SHARED_VALUES = {"yes": True, "true": True, "no": False, "false": False}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("package", parents=[common], help="work with packages")
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for verb in ("create", "update"):
        p = verbs.add_parser(verb, parents=[common], help=f"{verb} a package")
        p.add_argument("name", metavar="NAME")
        add_param_flags(p)
        add_annotation_flags(p)
        p.add_argument(
            "--shared", metavar="yes|no", help="publish the package so other namespaces can bind it"
        )
        p.set_defaults(handler=create if verb == "create" else update)

    p = verbs.add_parser(
        "bind", parents=[common], help="bind parameters to a package: bind PACKAGE BINDING"
    )
    p.add_argument(
        "package", metavar="PACKAGE", help="the package to bind, e.g. /whisk.system/utils"
    )
    p.add_argument("name", metavar="BINDING", help="name of the new binding")
    add_param_flags(p)
    add_annotation_flags(p)
    p.set_defaults(handler=bind)

    _, _, delete_p = add_get_list_delete(
        verbs,
        common,
        "a package",
        "packages",
        get,
        list_packages,
        delete,
        list_help="list this namespace's shared packages",
    )
    delete_p.add_argument(
        "--force", action="store_true", help="also delete the actions in the package"
    )


def package_name(text: str) -> QualifiedName:
    return top_level_name(text, "package", "packages cannot be nested")


def build_package(args: argparse.Namespace) -> dict[str, Any]:
    """The PUT body from the flags (only what was given, so an update changes only that)."""
    entity: dict[str, Any] = key_value_fields(params_of(args), annotations_of(args))
    shared = getattr(args, "shared", None)
    if shared is not None:
        if shared.lower() not in SHARED_VALUES:
            raise CliError(f"Invalid argument '{shared}' for --shared: use yes or no.")
        entity["publish"] = SHARED_VALUES[shared.lower()]
    return entity


def create(args: argparse.Namespace, ctx: Context) -> int:
    return put_entity(args, ctx, "packages", package_name, build_package, overwrite=False)


def update(args: argparse.Namespace, ctx: Context) -> int:
    return put_entity(args, ctx, "packages", package_name, build_package, overwrite=True)


def bind(args: argparse.Namespace, ctx: Context) -> int:
    target = package_name(args.package)
    qname = package_name(args.name)
    body = {
        **build_package(args),
        "binding": {"namespace": target.namespace, "name": target.entity},
    }
    with failing(f"bind package '{args.package}' as '{args.name}'"):
        saved = entity_request(ctx, "PUT", "packages", qname, None, body).body
    done(ctx, saved, f"created binding {args.name}")
    return 0


def get(args: argparse.Namespace, ctx: Context) -> int:
    return get_entity(args, ctx, "packages", package_name, format_package_summary)


def format_package_summary(package: dict) -> str:
    fqn = output.entity_fqn(package)
    lines = [f"package {fqn}", f"   (parameters: {output.parameter_names(package)})"]
    for action in package.get("actions") or []:
        lines.append(f" action {fqn}/{action.get('name', '')}")
    for feed in package.get("feeds") or []:
        lines.append(f" feed   {fqn}/{feed.get('name', '')}")
    return "\n".join(lines)


def list_packages(args: argparse.Namespace, ctx: Context) -> int:
    namespace = args.namespace.strip("/") if args.namespace else None
    with failing("obtain the list of packages"):
        query = {
            "limit": args.limit,
            "skip": args.skip or None,
            "public": True if namespace else None,
        }
        path = f"/namespaces/{quote(namespace or '_', safe='')}/packages"
        packages = ctx.client().request("GET", path, query).body
    print_entity_list(args, ctx, "packages", packages)
    return 0


def delete(args: argparse.Namespace, ctx: Context) -> int:
    return delete_entity(
        args, ctx, "packages", package_name, {"force": True} if args.force else None
    )
