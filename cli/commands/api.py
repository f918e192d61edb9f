"""``tango api create|get|list|delete`` — wsk's API gateway commands.

Registered by ``cli.main``; talks to the controller's ``whisk.system/apimgmt`` paths
(``controller/api/apigw.py``): ``createApi.http``, ``getApi.http``, ``deleteApi.http``, with
wsk's bodies and answers. A route's URL is ``{gwApiUrl}{base path}{relative path}``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli import output
from cli.commands.common import Context, failing, read_text
from cli.errors import CliError
from cli.names import parse_name

MANAGEMENT = "/web/whisk.system/apimgmt"
RESPONSE_TYPES = ("json", "http", "text", "html", "svg")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("api", parents=[common], help="work with APIs (API gateway routes)")
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

    p = verbs.add_parser(
        "create",
        parents=[common],
        help="create an API route: ([BASE_PATH] API_PATH API_VERB ACTION | --config-file FILE)",
    )
    p.add_argument("words", metavar="[BASE_PATH] API_PATH API_VERB ACTION", nargs="*")
    p.add_argument("-n", "--apiname", metavar="NAME", help="the API's friendly name")
    p.add_argument("-c", "--config-file", metavar="FILE", help="a Swagger 2.0 file of routes")
    p.add_argument(
        "--response-type",
        default="json",
        choices=RESPONSE_TYPES,
        help="the web action's response type (default json)",
    )
    p.set_defaults(handler=create)

    p = verbs.add_parser("get", parents=[common], help="print an API's Swagger document")
    p.add_argument("base", metavar="BASE_PATH|API_NAME")
    p.add_argument("--format", choices=("json", "yaml"), default="json")
    p.set_defaults(handler=get)

    p = verbs.add_parser("list", parents=[common], help="list API routes")
    p.add_argument("base", metavar="BASE_PATH|API_NAME", nargs="?")
    p.add_argument("path", metavar="API_PATH", nargs="?")
    p.add_argument("verb", metavar="API_VERB", nargs="?")
    p.add_argument("-f", "--full", action="store_true", help="one block per route")
    p.set_defaults(handler=list_apis)

    p = verbs.add_parser("delete", parents=[common], help="delete an API or one of its routes")
    p.add_argument("base", metavar="BASE_PATH|API_NAME")
    p.add_argument("path", metavar="API_PATH", nargs="?")
    p.add_argument("verb", metavar="API_VERB", nargs="?")
    p.set_defaults(handler=delete)


def _request(ctx: Context, method: str, call: str, query=None, body=None) -> Any:
    return ctx.client().request(method, f"{MANAGEMENT}/{call}", query, body).body


def route_rows(value: dict) -> list[dict]:
    """(action, verb, API name, URL) per operation of one ``getApi`` item's Swagger."""
    doc = value.get("apidoc") or {}
    base = doc.get("basePath", "")
    out = []
    for rel, ops in (doc.get("paths") or {}).items():
        for verb, op in ops.items():
            ext = op.get("x-openwhisk") or {}
            action = "/".join(p for p in (ext.get("package"), ext.get("action")) if p)
            out.append(
                {
                    "action": f"/{ext.get('namespace', '')}/{action}",
                    "verb": verb,
                    "apiName": (doc.get("info") or {}).get("title", base),
                    "url": f"{value.get('gwApiUrl', '')}{'' if base == '/' else base}{rel}",
                }
            )
    return out


def create(args: argparse.Namespace, ctx: Context) -> int:
    if args.config_file:
        if args.words:
            raise CliError("--config-file takes no BASE_PATH, API_PATH, API_VERB or ACTION.")
        text = read_text(args.config_file, "--config-file")
        try:
            swagger = json.loads(text)
        except ValueError:
            swagger = _yaml(text, args.config_file)
        apidoc: dict = {"namespace": "_", "swagger": json.dumps(swagger)}
        what = f"API from {args.config_file}"
    else:
        words = list(args.words)
        if len(words) == 3:
            words.insert(0, "/")  # wsk: no base path means the root
        if len(words) != 4:
            raise CliError(
                "Invalid argument(s). Give BASE_PATH API_PATH API_VERB ACTION (base path "
                "optional), or --config-file FILE."
            )
        base, rel, verb, action = words
        qname = parse_name(action)
        apidoc = {
            "namespace": "_",
            "gatewayBasePath": base,
            "gatewayPath": rel,
            "gatewayMethod": verb,
            "action": {
                "name": qname.entity,
                "namespace": qname.namespace,
                "backendMethod": verb.upper(),
                "backendUrl": f"{ctx.settings.base_url}/web/{qname.namespace}/"
                f"{_web_path(qname.entity)}.{args.response_type}",
            },
        }
        if args.apiname:
            apidoc["apiName"] = args.apiname
        what = f"API {base.rstrip('/')}{rel} {verb.upper()} for action {qname}"
    with failing(f"create API{'' if args.config_file else ' ' + args.words[-1]}"):
        value = _request(ctx, "POST", "createApi.http", body={"apidoc": apidoc})
    if ctx.json:
        output.emit(output.pretty(value))
        return 0
    output.ok(f"created {what}")
    for route in route_rows(value):
        if args.config_file or (
            route["verb"].upper() == apidoc["gatewayMethod"].upper()
            and route["url"].endswith(apidoc["gatewayPath"])
        ):
            output.emit(route["url"])
    return 0


def _web_path(entity: str) -> str:
    package, _, name = entity.rpartition("/")
    return f"{package or 'default'}/{name}"


def _yaml(text: str, path: str) -> Any:
    try:
        import yaml
    except ImportError as exc:  # PyYAML comes with Tango's dependencies
        raise CliError(f"{path}: not JSON, and YAML cannot be read here: {exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CliError(f"{path}: neither JSON nor YAML: {exc}") from exc


def _find(ctx: Context, base: str | None, path=None, verb=None) -> list[dict]:
    query = {"basepath": base, "relpath": path, "operation": verb}
    with failing("obtain the list of APIs" if base is None else f"get API '{base}'"):
        return _request(ctx, "GET", "getApi.http", query).get("apis", [])


def get(args: argparse.Namespace, ctx: Context) -> int:
    items = _find(ctx, args.base)
    if not items:
        raise CliError(f"Unable to get API '{args.base}': it does not exist.", 148)
    doc = items[0]["value"]["apidoc"]
    if args.format == "yaml":
        import yaml

        output.emit(yaml.safe_dump(doc, sort_keys=False).rstrip("\n"))
    else:
        output.emit(output.pretty(doc))
    return 0


def list_apis(args: argparse.Namespace, ctx: Context) -> int:
    items = _find(ctx, args.base, args.path, args.verb)
    routes = [r for item in items for r in route_rows(item["value"])]
    if ctx.json:
        output.emit(output.pretty(items))
        return 0
    output.ok("APIs")
    if args.full:
        for r in routes:
            output.emit(
                f"Action:      {r['action']}\nAPI Name:    {r['apiName']}\n"
                f"Verb:        {r['verb']}\nURL:         {r['url']}\n"
            )
    else:
        rows = [(r["action"], r["verb"], r["apiName"], r["url"]) for r in routes]
        output.emit(output.table(["Action", "Verb", "API Name", "URL"], rows))
    return 0


def delete(args: argparse.Namespace, ctx: Context) -> int:
    query = {"basepath": args.base, "relpath": args.path, "operation": args.verb}
    with failing(f"delete API '{args.base}'"):
        _request(ctx, "DELETE", "deleteApi.http", query)
    if ctx.json:
        output.emit("{}")
    elif args.path:
        verb = f" {args.verb.upper()}" if args.verb else ""
        output.ok(f"deleted {args.path}{verb} from {args.base}")
    else:
        output.ok(f"deleted API {args.base}")
    return 0
