"""``tango namespace list|get`` and ``tango list`` — what namespaces the key sees and what is in one.

Registered by ``cli.main``. ``namespace get`` and ``list`` print every collection of a namespace
under ``Entities in namespace: <ns>`` (wsk's layout), plus Tango's workflows.
"""

from __future__ import annotations

import argparse

from cli import output
from cli.client import ApiError
from cli.commands.common import Context, failing
from cli.names import DEFAULT_NAMESPACE

# OpenWhisk's collections in wsk's order, then Tango's own.
COLLECTIONS = ("packages", "actions", "triggers", "rules", "workflows")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("namespace", parents=[common], help="work with namespaces")
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    p = verbs.add_parser("list", parents=[common], help="list the namespaces of this key")
    p.set_defaults(handler=list_namespaces)
    p = verbs.add_parser("get", parents=[common], help="list the entities of a namespace")
    p.add_argument("namespace", metavar="NAMESPACE", nargs="?")
    p.set_defaults(handler=list_entities)

    p = sub.add_parser("list", parents=[common], help="list the entities of a namespace")
    p.add_argument("namespace", metavar="NAMESPACE", nargs="?")
    p.set_defaults(handler=list_entities)


def list_namespaces(args: argparse.Namespace, ctx: Context) -> int:
    with failing("obtain the list of available namespaces"):
        names = ctx.client().namespaces()
    output.emit(output.pretty(names) if ctx.json else "\n".join(["namespaces", *names]))
    return 0


def list_entities(args: argparse.Namespace, ctx: Context) -> int:
    namespace = (args.namespace or DEFAULT_NAMESPACE).strip("/")
    client = ctx.client()
    with failing(f"obtain the list of entities for namespace '{namespace}'"):
        if namespace == DEFAULT_NAMESPACE:
            namespace = (client.namespaces() or [DEFAULT_NAMESPACE])[0]
        entities = {
            collection: _list_or_empty(ctx, collection, namespace) for collection in COLLECTIONS
        }
    if ctx.json:
        output.emit(output.pretty(entities))
        return 0
    output.emit(f"Entities in namespace: {namespace}")
    for collection, items in entities.items():
        output.emit(
            output.format_entity_list(collection, sorted(items, key=lambda e: e.get("name", "")))
        )
    return 0


def _list_or_empty(ctx: Context, collection: str, namespace: str) -> list[dict]:
    """A collection's entities; one the controller does not serve (404) lists as empty."""
    try:
        return ctx.client().list_entities(collection, namespace, limit=0)
    except ApiError as err:
        if err.status == 404:
            return []
        raise
