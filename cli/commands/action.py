"""``tango action create|update|get|list|delete|invoke`` — wsk's action commands.

Registered by ``cli.main``; builds OpenWhisk action entities (exec, limits, parameters,
annotations incl. the web-action ones of docs/design.md §7.4) and talks to ``/namespaces/{ns}/actions``
through ``cli.client.Client``. Tango adds ``invoke --size-cpu/--size-memory`` (the
``?cpu=&memory=`` invoke query of docs/contracts.md) to bind one activation's size.
"""

from __future__ import annotations

import argparse
import base64
import functools
import secrets
from pathlib import Path
from typing import Any

from cli import output
from cli.client import ApiError
from cli.commands.common import (
    ACTIVATION_ID,
    Context,
    add_annotation_flags,
    add_get_list_delete,
    add_invoke_flags,
    add_param_flags,
    annotations_of,
    as_key_value_list,
    delete_entity,
    done,
    failing,
    list_collection,
    non_negative_int,
    params_of,
    read_text,
    report_invocation,
    show,
)
from cli.errors import CliError
from cli.names import fully_qualified, parse_name

KIND_BY_EXTENSION = {".py": "python:default"}
EXTENSION_BY_FAMILY = {"python": ".py"}
WEB_VALUES = {"true": True, "yes": True, "false": False, "no": False, "raw": "raw"}


NATIVE_IMAGE = "tango/dockerskeleton"  # wsk's --native uses openwhisk/dockerskeleton


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("action", parents=[common], help="work with actions")
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for verb in ("create", "update"):
        p = verbs.add_parser(verb, parents=[common], help=f"{verb} an action")
        p.add_argument("name", metavar="NAME")
        p.add_argument(
            "file",
            metavar="FILE",
            nargs="?",
            help="code file (.py) or .zip (needs --kind); with --copy, the action to copy",
        )
        p.add_argument(
            "--kind", help="runtime kind, e.g. python:3.11 (default: from the file extension)"
        )
        p.add_argument("--main", help="name of the function to call (default: main)")
        p.add_argument(
            "--docker", metavar="IMAGE", help="run the action in this image (kind blackbox)"
        )
        p.add_argument(
            "--native",
            action="store_true",
            help=f"run FILE (a script, or a .zip with an executable 'exec') on {NATIVE_IMAGE}",
        )
        p.add_argument("--sequence", metavar="A,B,C", help="make a sequence of these actions")
        p.add_argument(
            "--copy",
            action="store_true",
            help="copy the action named by FILE: its code, limits, parameters and annotations "
            "(flags given override them)",
        )
        p.add_argument(
            "-t", "--timeout", type=non_negative_int, metavar="MS", help="timeout limit in ms"
        )
        p.add_argument(
            "-m", "--memory", type=non_negative_int, metavar="MB", help="memory limit in MB"
        )
        p.add_argument(
            "-l", "--logsize", type=non_negative_int, metavar="MB", help="log size limit in MB"
        )
        p.add_argument(
            "-c",
            "--concurrency",
            type=non_negative_int,
            metavar="N",
            help="activations one container may run at once",
        )
        add_param_flags(p)
        add_annotation_flags(p)
        p.add_argument(
            "--web",
            metavar="true|false|raw",
            help="make it a web action (raw: the action gets the raw HTTP request)",
        )
        p.add_argument(
            "--web-secure",
            metavar="SECRET",
            help="require X-Require-Whisk-Auth: SECRET (true: generate one, false: remove)",
        )
        if verb == "update":
            p.add_argument(
                "--del-annotation",
                action="append",
                default=[],
                metavar="KEY",
                help="remove this annotation",
            )
        p.set_defaults(handler=functools.partial(_put, overwrite=verb == "update"))

    get_p, _, _ = add_get_list_delete(
        verbs,
        common,
        "an action",
        "actions",
        get,
        list_actions,
        delete,
        list_scope=("scope", "NAMESPACE|PACKAGE"),
    )
    get_p.add_argument(
        "field", metavar="FIELD", nargs="?", help="print only this field of the action"
    )
    get_p.add_argument(
        "--save", action="store_true", help="save the code to NAME.<ext> in this folder"
    )
    get_p.add_argument("--save-as", metavar="FILE", help="save the code to FILE")
    get_p.add_argument(
        "-r",
        "--url",
        action="store_true",
        help="print the action's URL (its web URL for a web action)",
    )

    p = verbs.add_parser("invoke", parents=[common], help="invoke an action")
    p.add_argument("name", metavar="NAME")
    add_invoke_flags(p, "the result")
    p.add_argument(
        "--size-cpu", type=float, metavar="CORES", help="bind this many cores for this activation"
    )
    p.add_argument(
        "--size-memory",
        type=non_negative_int,
        metavar="MB",
        help="bind this much memory for this activation",
    )
    p.set_defaults(handler=invoke)


# ---- create / update ------------------------------------------------------------------------


def _put(args: argparse.Namespace, ctx: Context, overwrite: bool) -> int:
    verb = "update" if overwrite else "create"
    qname = parse_name(args.name)
    try:
        if args.copy:
            entity = _copied(args, ctx)
        else:
            entity = build_action(args, require_exec=not overwrite)
            if overwrite and (args.web is not None or args.web_secure is not None):
                entity = _keeping_annotations(ctx, qname, entity)
    except CliError as err:
        raise CliError(
            f"Unable to {verb} action '{args.name}': {err.message}", err.exit_code
        ) from err
    with failing(f"{verb} action '{args.name}'"):
        saved = ctx.client().put_action(qname, entity, overwrite=overwrite)
    done(ctx, saved, f"{verb}d action {args.name}")
    return 0


def _copied(args: argparse.Namespace, ctx: Context) -> dict[str, Any]:
    """The PUT body of ``--copy``: the source action's exec, limits, parameters and annotations,
    with whatever the other flags set laid over them (wsk's ``action create NAME SRC --copy``)."""
    if not args.file:
        raise CliError("--copy needs the name of the action to copy in place of FILE.")
    if args.kind or args.main or args.docker or args.sequence or args.native:
        raise CliError(
            "--copy takes the code of the copied action; --kind, --main, --docker, --native "
            "and --sequence do not apply."
        )
    with failing(f"get action '{args.file}'"):
        source = ctx.client().get_action(parse_name(args.file))
    entity = {
        key: source[key] for key in ("exec", "limits", "parameters", "annotations") if key in source
    }
    own = build_action(argparse.Namespace(**{**vars(args), "file": None}), require_exec=False)
    entity["limits"] = {**entity.get("limits", {}), **own.get("limits", {})}
    for key in ("parameters", "annotations"):
        merged = {kv["key"]: kv["value"] for kv in entity.get(key, [])}
        merged.update({kv["key"]: kv["value"] for kv in own.get(key, [])})
        entity[key] = as_key_value_list(merged)
    if own.get("delAnnotations"):
        entity["annotations"] = [
            kv for kv in entity["annotations"] if kv["key"] not in own["delAnnotations"]
        ]
    return entity


def _keeping_annotations(ctx: Context, qname, entity: dict[str, Any]) -> dict[str, Any]:
    """An update that changes ``--web``/``--web-secure`` keeps the action's other annotations
    (``web-export`` stays on when only the secret changes), as wsk does: the existing
    annotations with the new ones laid over them and the removed ones taken out."""
    try:
        existing = ctx.client().get_action(qname, code=False)
    except ApiError as err:
        if err.status == 404:
            return entity  # update creates it: nothing to keep
        raise CliError(f"cannot read the action to update: {err}") from err
    merged = {kv["key"]: kv["value"] for kv in existing.get("annotations", [])}
    merged.update({kv["key"]: kv["value"] for kv in entity.get("annotations", [])})
    for key in entity.get("delAnnotations", []):
        merged.pop(key, None)
    return {**entity, "annotations": as_key_value_list(merged)}


def build_action(args: argparse.Namespace, require_exec: bool) -> dict[str, Any]:
    """The PUT body for ``action create|update`` from the parsed flags (only what was given,
    so an update changes only what the user named)."""
    entity: dict[str, Any] = {}
    docker = args.docker
    if getattr(args, "native", False):
        if docker:
            raise CliError(
                "--native runs on the skeleton image; it cannot be combined with --docker."
            )
        if not args.file:
            raise CliError(
                "--native needs a FILE: a script or a .zip with an executable named 'exec'."
            )
        docker = NATIVE_IMAGE
    exec_ = build_exec(args.file, args.kind, args.main, docker, args.sequence)
    if exec_ is not None:
        entity["exec"] = exec_
    elif require_exec:
        raise CliError(
            "An action name and code artifact are required: give a FILE, --docker IMAGE "
            "or --sequence A,B."
        )
    limits = {
        key: value
        for key, value in (
            ("timeout", args.timeout),
            ("memory", args.memory),
            ("logs", args.logsize),
            ("concurrency", args.concurrency),
        )
        if value is not None
    }
    if limits:
        entity["limits"] = limits
    params = params_of(args)
    if params:
        entity["parameters"] = as_key_value_list(params)
    annotations = annotations_of(args)
    web, removed = web_annotations(args.web, args.web_secure)
    annotations.update(web)
    if annotations:
        entity["annotations"] = as_key_value_list(annotations)
    removed += getattr(args, "del_annotation", [])
    if removed:
        entity["delAnnotations"] = removed
    return entity


def build_exec(
    file: str | None, kind: str | None, main: str | None, docker: str | None, sequence: str | None
) -> dict[str, Any] | None:
    """OpenWhisk's ``exec`` object, or None when the command changes no code."""
    if sequence is not None:
        if file or docker or kind:
            raise CliError(
                "--sequence takes no FILE, --docker or --kind: a sequence only lists actions."
            )
        components = [c for c in (part.strip() for part in sequence.split(",")) if c]
        if not components:
            raise CliError("--sequence needs at least one action name, e.g. --sequence a,b,c.")
        return {"kind": "sequence", "components": fully_qualified(components)}
    if docker is not None:
        exec_: dict[str, Any] = {"kind": "blackbox", "image": docker, "binary": False}
        if file:
            exec_.update(_code_of(file))
    elif file:
        if _is_zip(file) and not kind:
            raise CliError(
                f"creating an action from a .zip artifact requires --kind (e.g. --kind "
                f"python:3.11): {file}"
            )
        exec_ = {"kind": kind or _kind_of(file), **_code_of(file)}
    elif kind or main:
        raise CliError("--kind and --main need a code FILE.")
    else:
        return None
    if main:
        exec_["main"] = main
    return exec_


def _kind_of(file: str) -> str:
    suffix = Path(file).suffix.lower()
    if suffix in KIND_BY_EXTENSION:
        return KIND_BY_EXTENSION[suffix]
    accepted = ", ".join(sorted(KIND_BY_EXTENSION))
    raise CliError(
        f"Cannot determine the kind of action from '{file}' (known extensions: {accepted}); "
        "use --kind to specify it."
    )


def _code_of(file: str) -> dict[str, Any]:
    """``code`` and ``binary``: text as is, a .zip as base64 (OpenWhisk's binary form)."""
    if _is_zip(file):
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise CliError(f"{file}: cannot read the file ({exc.strerror or exc}).") from exc
        return {"code": base64.b64encode(data).decode("ascii"), "binary": True}
    return {"code": read_text(file, "action file"), "binary": False}


def _is_zip(file: str) -> bool:
    return Path(file).suffix.lower() == ".zip"


def web_annotations(web: str | None, web_secure: str | None) -> tuple[dict[str, Any], list[str]]:
    """Annotations for ``--web``/``--web-secure`` as wsk sets them, and keys to delete.

    ``--web true`` exports the action and marks its parameters ``final``; ``raw`` also passes the
    raw HTTP request; ``false`` withdraws all three. ``--web-secure true`` generates a secret.
    """
    annotations: dict[str, Any] = {}
    removed: list[str] = []
    if web is not None:
        mode = WEB_VALUES.get(web.lower())
        if mode is None:
            raise CliError(
                f"Invalid argument '{web}' for --web flag. Valid input consist of 'yes', "
                "'true', 'raw', 'false', or 'no'."
            )
        annotations = {"web-export": bool(mode), "raw-http": mode == "raw", "final": bool(mode)}
    if web_secure is not None:
        if web is not None and not annotations["web-export"]:
            raise CliError("--web-secure needs a web action (--web true or --web raw).")
        secure = web_secure.lower()
        if secure == "false":
            removed.append("require-whisk-auth")
        else:
            annotations["require-whisk-auth"] = (
                secrets.randbelow(10**15) + 1 if secure == "true" else web_secure
            )
    return annotations, removed


# ---- get / list / delete --------------------------------------------------------------------


def get(args: argparse.Namespace, ctx: Context) -> int:
    qname = parse_name(args.name)
    with failing(f"get action '{args.name}'"):
        action = ctx.client().get_action(qname)
    if args.url:
        output.ok(f"got action {args.name}")
        output.emit(action_url(ctx.client().base_url, action))
    elif args.save or args.save_as:
        path = save_code(action, args.save_as or default_save_name(action))
        output.ok(f"saved action code to {path}")
    elif args.field:
        if args.field not in action:
            fields = ", ".join(sorted(action))
            raise CliError(f"Invalid field filter '{args.field}' (fields: {fields}).")
        show(ctx, action[args.field], f"got action {args.name}, displaying field {args.field}")
    elif args.summary and not ctx.json:
        output.emit(output.format_action_summary(action))
    else:
        show(ctx, action, f"got action {args.name}")
    return 0


def action_url(base_url: str, action: dict) -> str:
    """The action's REST URL, or its web URL (``/api/v1/web/NS/PKG/NAME``, package ``default``)
    when it is a web action, as ``wsk action get --url`` prints."""
    namespace, _, package = str(action.get("namespace", "_")).partition("/")
    web = {kv.get("key"): kv.get("value") for kv in action.get("annotations", [])}.get("web-export")
    if web in (True, "true", "raw"):
        return f"{base_url}/web/{namespace}/{package or 'default'}/{action['name']}"
    path = f"{package}/{action['name']}" if package else action["name"]
    return f"{base_url}/namespaces/{namespace}/actions/{path}"


def default_save_name(action: dict) -> str:
    exec_ = action.get("exec") or {}
    if exec_.get("binary"):
        ext = ".zip"
    else:
        ext = EXTENSION_BY_FAMILY.get(str(exec_.get("kind", "")).split(":")[0], ".txt")
    return action.get("name", "action") + ext


def save_code(action: dict, file: str) -> Path:
    exec_ = action.get("exec") or {}
    code = exec_.get("code")
    if code is None:
        raise CliError(
            f"action '{action.get('name')}' has no code to save (kind {exec_.get('kind')})."
        )
    path = Path(file).resolve()
    if path.exists():
        raise CliError(
            f"The file '{file}' already exists. Delete it or use --save-as with another name."
        )
    if exec_.get("binary"):
        path.write_bytes(base64.b64decode(code))
    else:
        path.write_text(code, encoding="utf-8")
    return path


def list_actions(args: argparse.Namespace, ctx: Context) -> int:
    namespace, package = list_scope(args.scope)
    return list_collection(args, ctx, "actions", namespace, package)


def list_scope(scope: str | None) -> tuple[str | None, str | None]:
    """``/ns`` → that namespace; ``/ns/pkg`` or ``pkg`` → a package (wsk's list argument)."""
    if not scope:
        return None, None
    if scope.startswith("/"):
        parts = [p for p in scope.split("/") if p]
        if len(parts) == 1:
            return parts[0], None
        qname = parse_name(scope)
        return qname.namespace, qname.entity
    return None, scope


def delete(args: argparse.Namespace, ctx: Context) -> int:
    return delete_entity(args, ctx, "actions", parse_name)


# ---- invoke ---------------------------------------------------------------------------------


def invoke(args: argparse.Namespace, ctx: Context) -> int:
    qname = parse_name(args.name)
    blocking = args.blocking or args.result
    with failing(f"invoke action '{args.name}'"):
        response = ctx.client().invoke_action(
            qname,
            params_of(args),
            blocking=blocking,
            result=args.result,
            cpu=args.size_cpu,
            memory=args.size_memory,
        )
    return report_invocation(ctx, str(qname), response, ACTIVATION_ID, blocking, args.result)
