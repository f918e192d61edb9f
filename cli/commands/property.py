"""``tango property set|get|unset`` — read and write the wskprops file (``cli.config``).

``set`` takes the global ``--apihost``/``-u --auth``/``--apiversion``/``--cert``/``--key``
values, as wsk does; ``get`` and ``unset`` take those names as switches. ``get --namespace``
and ``--apibuild`` ask the controller (``GET /namespaces``, ``GET /api/v1``).
"""

from __future__ import annotations

import argparse
from importlib import metadata

from cli import config, output
from cli.commands.common import Context, failing, global_flags, tls_file
from cli.errors import CliError

# property key -> (label printed by get/unset/set, wsk wording)
LABELS = {
    "APIHOST": "whisk API host",
    "AUTH": "whisk auth",
    "APIVERSION": "whisk API version",
    "CERT": "client cert",
    "KEY": "client key",
}
SWITCHES = {
    "apihost": "APIHOST",
    "auth": "AUTH",
    "apiversion": "APIVERSION",
    "cert": "CERT",
    "key": "KEY",
}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser(
        "property", parents=[common], help="work with CLI properties (~/.wskprops)"
    )
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

    p = verbs.add_parser(
        "set",
        parents=[common],
        help="set --apihost, --auth, --apiversion, --cert and/or --key in the properties file",
    )
    p.set_defaults(handler=set_props)

    display = global_flags(connection=False)
    p = verbs.add_parser("unset", parents=[display], help="remove properties")
    for flag in SWITCHES:
        p.add_argument(
            f"--{flag}", dest=f"unset_{flag}", action="store_true", help=f"unset the {flag}"
        )
    p.set_defaults(handler=unset_props)

    p = verbs.add_parser(
        "get", parents=[display], help="show properties (all when no switch is given)"
    )
    for flag, what in (
        ("all", "all properties"),
        ("apihost", "the API host"),
        ("auth", "the auth key"),
        ("cert", "the client certificate"),
        ("key", "the client key"),
        ("apiversion", "the API version"),
        ("namespace", "the namespace (asks the API)"),
        ("cliversion", "the CLI version"),
        ("apibuild", "the API build (asks the API)"),
        ("apibuildno", "the API build number (asks the API)"),
    ):
        p.add_argument(f"--{flag}", dest=f"show_{flag}", action="store_true", help=f"show {what}")
    p.add_argument(
        "-o",
        "--output",
        choices=("std", "raw"),
        default="std",
        help="raw: print only the values, one a line (for scripts), as wsk's -o raw",
    )
    p.set_defaults(handler=get_props)


def set_props(args: argparse.Namespace, ctx: Context) -> int:
    changes = {key: getattr(args, flag) for flag, key in SWITCHES.items() if getattr(args, flag)}
    if not changes:
        raise CliError(
            "Nothing to set: give --apihost HOST, --auth KEY, --apiversion VERSION, --cert FILE "
            "and/or --key FILE."
        )
    for flag, key in (
        ("cert", "CERT"),
        ("key", "KEY"),
    ):  # absolute paths: they work from any directory
        if key in changes:
            changes[key] = tls_file(changes[key], f"--{flag}")
    config.update_props(config.props_path(), changes)
    for key, value in changes.items():
        if key == "AUTH":
            output.ok("whisk auth set. Run 'tango property get --auth' to see the new value.")
        else:
            output.ok(f"{LABELS[key]} set to {value}")
    return 0


def unset_props(args: argparse.Namespace, ctx: Context) -> int:
    keys = [key for flag, key in SWITCHES.items() if getattr(args, f"unset_{flag}")]
    if not keys:
        raise CliError(
            "Nothing to unset: give --apihost, --auth, --apiversion, --cert and/or --key."
        )
    config.update_props(config.props_path(), {key: None for key in keys})
    for key in keys:
        output.ok(f"{LABELS[key]} unset.")
    return 0


def get_props(args: argparse.Namespace, ctx: Context) -> int:
    names = (
        "apihost",
        "auth",
        "cert",
        "key",
        "apiversion",
        "namespace",
        "cliversion",
        "apibuild",
        "apibuildno",
    )
    chosen = {name for name in names if getattr(args, f"show_{name}")}
    show_all = args.show_all or not chosen
    if show_all:
        chosen = set(names)
    rows: list[tuple[str, str, object]] = []  # (json key, label, value)
    errors: list[CliError] = []
    settings = ctx.settings
    if "apihost" in chosen:
        rows.append(("apihost", "whisk API host", settings.apihost or ""))
    if "auth" in chosen:
        rows.append(("auth", "whisk auth", settings.auth or ""))
    if "namespace" in chosen:
        rows.append(("namespace", "whisk namespace", _remote(errors, lambda: _namespace(ctx))))
    if "cert" in chosen:
        rows.append(("cert", "client cert", settings.cert or ""))
    if "key" in chosen:
        rows.append(("key", "client key", settings.key or ""))
    if "apiversion" in chosen:
        rows.append(("apiversion", "whisk API version", settings.apiversion))
    if "cliversion" in chosen:
        rows.append(("cliversion", "whisk CLI version", cli_version()))
    if "apibuild" in chosen or "apibuildno" in chosen:
        info = _remote(errors, lambda: _api_info(ctx)) or {}
        if "apibuild" in chosen:
            rows.append(("apibuild", "whisk API build", info.get("build", "")))
        if "apibuildno" in chosen:
            rows.append(("apibuildno", "whisk API build number", info.get("buildno", "")))
    if ctx.json:
        output.emit(output.pretty({key: value for key, _, value in rows}))
    elif args.output == "raw":
        for _, _, value in rows:
            output.emit(str(value))
    else:
        for _, label, value in rows:
            output.emit(f"{label}\t\t{value}")
    if errors and not show_all:
        raise errors[0]
    for err in errors:  # listing everything: what the API could not tell is a note, not a failure
        output.note(f"note: {err.message}")
    return 0


def _remote(errors: list[CliError], fetch):
    """Run one API lookup; a failure is remembered (reported after the other values)."""
    try:
        return fetch()
    except CliError as err:
        errors.append(err)
        return ""


def _namespace(ctx: Context) -> str:
    with failing("obtain the namespace"):
        names = ctx.client().namespaces()
    return names[0] if names else ""


def _api_info(ctx: Context) -> dict:
    with failing("obtain the API build information"):
        return ctx.client().api_info()


def cli_version() -> str:
    try:
        return metadata.version("tango")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"
