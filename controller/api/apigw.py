"""API gateway routes: OpenWhisk's ``wsk api create|list|get|delete`` and the URLs they make.

OpenWhisk keeps these in a separate gateway reached through the ``whisk.system/apimgmt`` web
actions; Tango serves both halves from the controller:

* management, on wsk's REST paths: ``POST /api/v1/web/whisk.system/apimgmt/createApi.http``
  with ``{"apidoc": {namespace, apiName, gatewayBasePath, gatewayPath, gatewayMethod, action:
  {name, namespace, backendMethod, backendUrl}}}`` or ``{"apidoc": {namespace, swagger}}``;
  ``GET .../getApi.http?basepath=&relpath=&operation=`` answers ``{"apis": [{id, key, value:
  {namespace, gwApiUrl, apidoc: swagger}}]}``; ``DELETE .../deleteApi.http?basepath=&relpath=
  &operation=``. The caller's key (HTTP Basic) names the namespace.
* the routes themselves: ``/api/{namespace uuid}/{base path}/{relative path}``, any verb a
  route was created for; ``{name}`` segments of the relative path are path parameters, passed
  to the web action as parameters; the answer is the web action's, in the route's response
  type (``json``, ``http``, ``text``, ``html``, ``svg``).

An API (one base path) is stored as one entity of collection ``apis`` at path
``$apis/<quoted base path>`` (``$`` cannot start an entity name, so it never meets an action).
The pure parts (``routes_from_swagger``, ``swagger_of``, ``match_route``) are tested without
Flask. Registered by ``controller.app``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from flask import Blueprint, Flask, jsonify, request

from common.clock import now_ms
from controller.api.common import identity, json_body, services
from controller.entities import kv_get
from controller.errors import NOT_FOUND, ApiError
from controller.limits import parse_json

bp = Blueprint("apigw", __name__)

MANAGEMENT = "/api/v1/web/whisk.system/apimgmt"
VERBS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
RESPONSE_TYPES = ("json", "http", "text", "html", "svg")
COLLECTION = "apis"
PACKAGE = "$apis"
PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Route:
    """One verb on one relative path of an API, and the web action that answers it."""

    path: str  # relative path, e.g. /books/{isbn}
    method: str  # upper case
    namespace: str  # the action's namespace
    action: str  # NAME or PACKAGE/NAME
    response_type: str  # json|http|text|html|svg

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "method": self.method,
            "namespace": self.namespace,
            "action": self.action,
            "responseType": self.response_type,
        }

    @staticmethod
    def from_json(d: dict) -> Route:
        return Route(d["path"], d["method"], d["namespace"], d["action"], d["responseType"])


# ---- pure parts -------------------------------------------------------------------------


def check_path(path: str, what: str) -> str:
    """``/hello`` style: a leading slash, no trailing one, no empty or dot segments."""
    if not isinstance(path, str) or not path.startswith("/") or len(path) > 512:
        raise ApiError(400, f"The {what} '{path}' is not valid: it must start with '/'.")
    path = path.rstrip("/") or "/"
    if any(seg in ("", ".", "..") for seg in path.split("/")[1:]) and path != "/":
        raise ApiError(400, f"The {what} '{path}' is not valid: empty or dot segments.")
    return path


def check_verb(verb: str) -> str:
    method = str(verb or "").upper()
    if method not in VERBS:
        raise ApiError(
            400,
            f"The verb '{verb}' is not valid; use one of {', '.join(v.lower() for v in VERBS)}.",
        )
    return method


def response_type_of(backend_url: str | None, default: str = "json") -> str:
    """A web action URL's extension (``.../hello.json`` → ``json``)."""
    tail = (backend_url or "").rsplit("/", 1)[-1]
    ext = tail.rsplit(".", 1)[-1] if "." in tail else ""
    return ext if ext in RESPONSE_TYPES else default


def action_of(name: str, namespace: str) -> tuple[str, str]:
    """An action reference (``hello``, ``pkg/hello``, ``/ns/pkg/hello``) as (namespace, path)."""
    name = str(name or "").strip()
    if name.startswith("/"):
        parts = [p for p in name.split("/") if p]
        if len(parts) < 2:
            raise ApiError(400, f"The action name '{name}' is not valid.")
        return parts[0], "/".join(parts[1:])
    if not name:
        raise ApiError(400, "An action name is required.")
    return namespace, name


def routes_from_swagger(swagger: dict, namespace: str) -> tuple[str, str, list[Route]]:
    """(base path, API name, routes) of a Swagger 2.0 document whose operations carry
    OpenWhisk's ``x-openwhisk`` extension ``{namespace, package, action, url}``."""
    if not isinstance(swagger, dict):
        raise ApiError(400, "The swagger document must be a JSON object.")
    base = check_path(swagger.get("basePath") or "", "base path")
    name = str((swagger.get("info") or {}).get("title") or base)
    routes = []
    for rel, ops in (swagger.get("paths") or {}).items():
        if not isinstance(ops, dict):
            continue
        for verb, op in ops.items():
            ext = (op or {}).get("x-openwhisk") if isinstance(op, dict) else None
            if verb.upper() not in VERBS or not isinstance(ext, dict):
                continue
            action = ext.get("action")
            if ext.get("package"):
                action = f"{ext['package']}/{action}"
            ns = ext.get("namespace") or namespace
            ns = namespace if ns == "_" else ns
            routes.append(
                Route(
                    check_path(rel, "relative path"),
                    verb.upper(),
                    ns,
                    str(action),
                    response_type_of(ext.get("url")),
                )
            )
    if not routes:
        raise ApiError(
            400,
            "The swagger document defines no operation with an 'x-openwhisk' action "
            "(paths.<path>.<verb>.x-openwhisk: {namespace, package, action, url}).",
        )
    return base, name, routes


def swagger_of(base: str, name: str, routes: list[Route], web_base: str) -> dict:
    """The Swagger 2.0 document wsk prints for an API (``api get``)."""
    paths: dict = {}
    for r in routes:
        package, _, action = r.action.rpartition("/")
        url = f"{web_base}/{r.namespace}/{package or 'default'}/{action}.{r.response_type}"
        paths.setdefault(r.path, {})[r.method.lower()] = {
            "operationId": f"{r.method.lower()}{r.path}",
            "responses": {"default": {"description": "Default response"}},
            "x-openwhisk": {
                "namespace": r.namespace,
                "package": package,
                "action": action,
                "url": url,
            },
        }
    return {
        "swagger": "2.0",
        "basePath": base,
        "info": {"title": name, "version": "1.0.0"},
        "paths": paths,
    }


def path_pattern(template: str) -> re.Pattern:
    """``/books/{isbn}`` → a regex with a named group per path parameter."""
    out, last = [], 0
    for m in PARAM.finditer(template):
        out.append(re.escape(template[last : m.start()]))
        out.append(f"(?P<{m.group(1)}>[^/]+)")
        last = m.end()
    out.append(re.escape(template[last:]))
    return re.compile("".join(out) + r"\Z")


def match_route(
    apis: list[tuple[str, list[Route]]], path: str, method: str
) -> tuple[Route, dict[str, str]] | None:
    """The route answering ``method path`` among (base path, routes) pairs, with its path
    parameters; the longest base path and literal paths before templated ones win."""
    for base, routes in sorted(apis, key=lambda a: -len(a[0])):
        prefix = "" if base == "/" else base
        if not (path == prefix or path.startswith(prefix + "/")):
            continue
        rel = path[len(prefix) :] or "/"
        for route in sorted(routes, key=lambda r: ("{" in r.path, r.path)):
            if route.method != method:
                continue
            m = path_pattern(route.path).match(rel)
            if m:
                return route, m.groupdict()
    return None


# ---- store --------------------------------------------------------------------------------


def _entity_path(base: str) -> str:
    return f"{PACKAGE}/{quote(base, safe='')}"


def _apis(namespace: str) -> list[dict]:
    return services().entities.list(namespace, COLLECTION, PACKAGE, limit=10_000)


def _save(namespace: str, base: str, name: str, routes: list[Route]) -> dict:
    def build(old: dict | None) -> dict:
        return {
            "namespace": namespace,
            "name": quote(base, safe=""),
            "apiName": name,
            "basePath": base,
            "routes": [r.to_json() for r in routes],
            "version": "0.0.1",
            "publish": False,
            "updated": now_ms(),
        }

    return services().entities.put(namespace, COLLECTION, _entity_path(base), True, build)


def _gateway_url(namespace_uuid: str) -> str:
    return f"{request.host_url.rstrip('/')}/api/{namespace_uuid}"


def _web_base() -> str:
    return f"{request.host_url.rstrip('/')}/api/v1/web"


def _item(doc: dict, uuid: str, only: list[Route] | None = None) -> dict:
    routes = only if only is not None else [Route.from_json(r) for r in doc["routes"]]
    return {
        "id": f"{doc['namespace']}:{doc['basePath']}",
        "key": f"{doc['namespace']}:{doc['basePath']}",
        "value": {
            "namespace": doc["namespace"],
            "gwApiUrl": _gateway_url(uuid),
            "gwApiActivated": True,
            "apidoc": swagger_of(doc["basePath"], doc["apiName"], routes, _web_base()),
        },
    }


def _require_web_action(namespace: str, path: str) -> None:
    action, _ = services().activation_service.resolve_action(namespace, path)
    if kv_get(action.get("annotations", []), "web-export") is not True:
        raise ApiError(
            400,
            f"Action '/{namespace}/{path}' is not a web action. Issue 'tango action update "
            f'"{path}" --web true\' to convert the action to a web action.',
        )


# ---- management (wsk's REST paths) ----------------------------------------------------------


@bp.post(f"{MANAGEMENT}/createApi.http")
def create_api():
    ident = identity()
    body = json_body()
    doc = body.get("apidoc") if isinstance(body, dict) else None
    if not isinstance(doc, dict):
        raise ApiError(400, 'The request body must be {"apidoc": {...}}.')
    ns = ident.namespace
    if doc.get("swagger"):
        swagger = doc["swagger"]
        if isinstance(swagger, str):  # --config-file: the same checks as a request body's
            swagger = parse_json(swagger, services().config.limits.max_json_depth)
        base, name, routes = routes_from_swagger(swagger, ns)
    else:
        base = check_path(doc.get("gatewayBasePath") or "", "base path")
        rel = check_path(doc.get("gatewayPath") or "", "relative path")
        method = check_verb(doc.get("gatewayMethod"))
        act = doc.get("action") or {}
        action_ns, action = action_of(act.get("name"), ns)
        action_ns = ns if action_ns == "_" else action_ns
        if (
            act.get("namespace")
            and act["namespace"] != "_"
            and not str(act.get("name")).startswith("/")
        ):
            action_ns = act["namespace"]
        # wsk sends the type as the backend URL's extension and as ?responsetype=
        rtype = response_type_of(
            act.get("backendUrl"),
            request.args.get("responsetype") or doc.get("responseType") or "json",
        )
        name = str(doc.get("apiName") or base)
        routes = [Route(rel, method, action_ns, action, rtype)]
        existing = services().entities.find(ns, COLLECTION, _entity_path(base))
        if existing:
            kept = [
                Route.from_json(r)
                for r in existing["routes"]
                if (r["path"], r["method"]) != (rel, method)
            ]
            routes = kept + routes
            name = existing["apiName"] if not doc.get("apiName") else name
    for r in routes:
        if r.namespace != ns:
            raise ApiError(403, "An API may only route to actions of its own namespace.")
        if r.response_type not in RESPONSE_TYPES:
            raise ApiError(400, f"The response type must be one of {', '.join(RESPONSE_TYPES)}.")
        _require_web_action(r.namespace, r.action)
    saved = _save(ns, base, name, routes)
    return jsonify(_item(saved, ident.uuid)["value"])


def _query_path(name: str) -> str | None:
    value = request.args.get(name)
    return check_path(value, name) if value else None


@bp.get(f"{MANAGEMENT}/getApi.http")
def get_api():
    ident = identity()
    base = request.args.get("basepath")
    rel = _query_path("relpath")
    method = check_verb(request.args["operation"]) if request.args.get("operation") else None
    items = []
    for doc in _apis(ident.namespace):
        if base and base not in (doc["basePath"], doc["apiName"]):
            continue
        routes = [
            r
            for r in (Route.from_json(x) for x in doc["routes"])
            if (rel is None or r.path == rel) and (method is None or r.method == method)
        ]
        if routes:
            items.append(_item(doc, ident.uuid, routes))
    return jsonify({"apis": items})


@bp.delete(f"{MANAGEMENT}/deleteApi.http")
def delete_api():
    ident = identity()
    base = request.args.get("basepath") or ""
    rel = _query_path("relpath")
    method = check_verb(request.args["operation"]) if request.args.get("operation") else None
    doc = next((d for d in _apis(ident.namespace) if base in (d["basePath"], d["apiName"])), None)
    if doc is None:
        raise ApiError(404, f"API '{base}' does not exist.")
    routes = [Route.from_json(r) for r in doc["routes"]]
    kept = [
        r
        for r in routes
        if not ((rel is None or r.path == rel) and (method is None or r.method == method))
    ]
    if len(kept) == len(routes):
        raise ApiError(404, f"API '{base}' has no route {rel or ''} {method or ''}".rstrip() + ".")
    if rel is None or not kept:
        services().entities.delete(ident.namespace, COLLECTION, _entity_path(doc["basePath"]))
    else:
        _save(ident.namespace, doc["basePath"], doc["apiName"], kept)
    return jsonify({})


# ---- the routes -----------------------------------------------------------------------------


@bp.route("/api/<uuid>/<path:rest>", methods=list(VERBS))
def gateway(uuid: str, rest: str):
    from controller.api import web

    svc = services()
    owner = next((s for s in svc.subjects.list() if s.uuid == uuid), None)
    if owner is None:
        raise ApiError(404, NOT_FOUND)
    apis = [
        (d["basePath"], [Route.from_json(r) for r in d["routes"]]) for d in _apis(owner.namespace)
    ]
    found = match_route(apis, "/" + rest.rstrip("/"), request.method)
    if found is None:
        raise ApiError(404, NOT_FOUND)
    route, params = found
    package, _, action = route.action.rpartition("/")
    return web.web_action(
        route.namespace,
        package or "default",
        f"{action}.{route.response_type}",
        extra_args=params,
    )


def register(app: Flask) -> None:
    app.register_blueprint(bp)
