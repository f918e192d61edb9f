"""Web actions: ``/api/v1/web/{namespace}/{package|default}/{action}.{ext}[/more/path]``.

OpenWhisk's public HTTP face of an action (docs/design.md §7.4, ``WebActions.scala``): no key is
needed unless the action's ``require-whisk-auth`` annotation asks for one; the request becomes
the action's arguments (``__ow_method``, ``__ow_headers``, ``__ow_path``, and in raw mode
``__ow_body``/``__ow_query``), the action runs blocking under its owner's namespace, and its
result becomes the HTTP response according to the extension (``.http``: ``{statusCode,
headers, body}``; ``.json``, ``.html``, ``.svg``, ``.text``: the result or one of its fields).

The decisions are plain functions over data (``split_extension``, ``action_arguments``,
``web_response``) tested without Flask; the route at the bottom only gathers the request,
runs the action through ``ActivationService.invoke`` and writes the answer. Registered by
``controller.app._register_optional_blueprints``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, request

from common.activation import Accepted, ActivationResponse
from common.activation_status import APPLICATION_ERROR, SUCCESS
from controller.api.common import CORS_HEADERS, services
from controller.api.invocations import activation_headers
from controller.config import SystemLimits
from controller.entities import kv_get
from controller.errors import NOT_FOUND, UNAUTHORIZED, ApiError
from controller.limits import parse_json

bp = Blueprint("web", __name__, url_prefix="/api/v1/web")

EXTENSIONS = (".http", ".json", ".html", ".svg", ".text")
DEFAULT_EXTENSION = ".http"
RESERVED = frozenset(f"__ow_{f}" for f in ("method", "headers", "path", "user", "query", "body"))
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]

# OpenWhisk's messages (common/scala/.../http/Messages.scala).
PARAMS_NOT_ALLOWED = "Request defines parameters that are not allowed (e.g., reserved properties)."
PROPERTY_NOT_FOUND = "Response does not include requested property."
RESPONSE_NOT_READY = "Response not yet ready."
UNKNOWN_CONTENT_TYPE = "Response did not specify a known content-type."
CONTENT_TYPE_MISMATCH = "Response type in header did not match generated content type."
ERROR_PROCESSING = "There was an error processing your request."


def invalid_media(media_type: str) -> str:
    return f"Response is not valid '{media_type}'."


# ---- request → action arguments ---------------------------------------------------------


def split_extension(name: str) -> tuple[str, str]:
    """``hello.json`` → (``hello``, ``.json``); a name without a known extension is ``.http``
    (entity names may contain dots, so an unknown suffix stays part of the name)."""
    for ext in EXTENSIONS:
        if name.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)], ext
    return name, DEFAULT_EXTENSION


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json_family(mt: str) -> bool:
    return mt == "application/json" or mt.endswith("+json")


def is_textual(mt: str) -> bool:
    """Content types OpenWhisk carries as text; all others travel base64-encoded."""
    return (
        mt.startswith("text/")
        or is_json_family(mt)
        or mt.endswith("+xml")
        or mt in ("application/xml", "application/javascript", "application/x-www-form-urlencoded")
    )


@dataclass
class WebRequest:
    """What the action sees of an HTTP request (headers with lower-case names)."""

    method: str
    headers: dict[str, str]
    path: str  # the part after the action name ("" or "/a/b")
    query_string: str
    body: bytes = b""
    user: str | None = None  # the caller's namespace when it sent a valid key

    @property
    def content_type(self) -> str:
        return media_type(self.headers.get("content-type"))


def _opaque_body(req: WebRequest) -> str:
    """The body as OpenWhisk nests it under ``__ow_body``: base64 for binary types and (for
    compatibility) for JSON in raw mode, text otherwise."""
    mt = req.content_type or "application/octet-stream"
    if not is_textual(mt) or mt == "application/json":
        return base64.b64encode(req.body).decode("ascii")
    return req.body.decode("utf-8", errors="replace")


def _parsed_body(req: WebRequest, max_depth: int):
    """Non-raw mode: a JSON or form body as a value, anything else as the opaque string."""
    if not req.body:
        return None
    if is_json_family(req.content_type):
        return parse_json(req.body, max_depth)
    if req.content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(req.body.decode("utf-8", errors="replace"), keep_blank_values=True))
    return _opaque_body(req)


def action_arguments(
    req: WebRequest, raw: bool, final_params: set[str], max_depth: int = SystemLimits.max_json_depth
) -> dict:
    """The action's arguments: request context, then query, then body (last wins).

    Non-raw requests may not set reserved ``__ow_*`` names or the action's final parameters
    (400 as in OpenWhisk); raw actions get the query string and body unparsed.
    """
    context = {
        "__ow_method": req.method.lower(),
        "__ow_headers": dict(req.headers),
        "__ow_path": req.path,
    }
    if req.user is not None:
        context["__ow_user"] = req.user
    if raw:
        return {
            **context,
            "__ow_query": req.query_string,
            "__ow_body": _opaque_body(req) if req.body else "",
        }
    query = dict(parse_qsl(req.query_string, keep_blank_values=True))
    body = _parsed_body(req, max_depth)
    body_params = body if isinstance(body, dict) else ({} if body is None else {"__ow_body": body})
    given = set(query) | (set(body) if isinstance(body, dict) else set())
    if given & (RESERVED | final_params):
        raise ApiError(400, PARAMS_NOT_ALLOWED)
    return {**context, **query, **body_params}


def authorized(annotations: list, headers: dict[str, str], user: str | None) -> bool:
    """``require-whisk-auth``: absent → public; ``true`` → a valid key was sent; a string or
    number → header ``X-Require-Whisk-Auth`` must equal it; anything else refuses."""
    required = kv_get(annotations, "require-whisk-auth")
    if required is None:
        return True
    if required is True:
        return user is not None
    if isinstance(required, (str, int, float)) and not isinstance(required, bool):
        return headers.get("x-require-whisk-auth") == str(required)
    return False


# ---- action result → HTTP response ------------------------------------------------------


@dataclass
class WebResponse:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


class WebError(Exception):
    """The action's result cannot be turned into the requested representation."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _pretty(value) -> bytes:
    return json.dumps(value, indent=2).encode()


def _field(result, name: str):
    """``body`` or the extension's own field of an object result; a non-object as is."""
    if isinstance(result, dict):
        return result.get("body", result.get(name))
    return result


def web_response(result, extension: str) -> WebResponse:
    """The HTTP response for an action's (projected) result, per extension; raises WebError."""
    if extension == ".json":
        if isinstance(result, (dict, list)):
            return WebResponse(200, json.dumps(result).encode(), "application/json")
        raise WebError(400, invalid_media("application/json"))
    if extension in (".html", ".svg"):
        mt = "text/html" if extension == ".html" else "image/svg+xml"
        value = _field(result, extension[1:])
        if isinstance(value, str):
            return WebResponse(200, value.encode(), f"{mt}; charset=UTF-8")
        raise WebError(400, invalid_media(mt))
    if extension == ".text":
        if isinstance(result, dict) and "body" not in result and "text" not in result:
            raise WebError(404, PROPERTY_NOT_FOUND)
        value = _field(result, "text")
        text = (
            value
            if isinstance(value, str)
            else (
                json.dumps(value).lower()
                if isinstance(value, bool) or value is None
                else _pretty(value).decode()
                if isinstance(value, (dict, list))
                else str(value)
            )
        )
        return WebResponse(200, text.encode(), "text/plain; charset=UTF-8")
    return http_response(result)


def _header_values(name: str, value) -> list[tuple[str, str]]:
    if isinstance(value, bool):
        return [(name, str(value).lower())]
    if isinstance(value, (str, int, float)):
        return [(name, str(value))]
    if isinstance(value, list):
        return [h for v in value for h in _header_values(name, v)]
    raise ValueError(f"header {name} has an invalid value")


def _status_code(value) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, str))
        or not re.fullmatch(r"\d{3}", str(value))
    ):
        raise ValueError("invalid status code")
    code = int(value)
    if not 100 <= code <= 599:
        raise ValueError("invalid status code")
    return code


def http_response(result) -> WebResponse:
    """``.http``: ``{statusCode, headers, body}``. A string body is text (default text/html)
    or base64 for binary content types; a JSON body is JSON (default application/json); no or
    empty body is 204 unless a status is given."""
    try:
        if not isinstance(result, dict):
            raise ValueError("not an object")
        raw_headers = result.get("headers", {})
        if not isinstance(raw_headers, dict):
            raise ValueError("headers must be an object")
        headers = [h for k, v in raw_headers.items() for h in _header_values(k, v)]
        code = _status_code(result.get("statusCode"))
    except ValueError:
        raise WebError(400, invalid_media("message/http")) from None
    declared = next((v for k, v in headers if k.lower() == "content-type"), None)
    others = [(k, v) for k, v in headers if k.lower() != "content-type"]
    body = result.get("body")
    if body is None or body == "":
        return WebResponse(code or 204, b"", None, others)
    if declared is not None and not re.fullmatch(r"[\w.+-]+/[\w.+-]+\s*(;.*)?", declared.strip()):
        raise WebError(400, UNKNOWN_CONTENT_TYPE)
    if not isinstance(body, str):
        mt = media_type(declared) if declared else "application/json"
        if not is_json_family(mt):
            raise WebError(400, CONTENT_TYPE_MISMATCH)
        data = json.dumps(body).encode() if mt == "application/json" else _pretty(body)
        return WebResponse(
            code or 200,
            data,
            "application/json" if mt == "application/json" else f"{mt}; charset=UTF-8",
            others,
        )
    content_type = declared or "text/html; charset=UTF-8"
    if is_textual(media_type(content_type)):
        return WebResponse(code or 200, body.encode(), content_type, others)
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise WebError(400, CONTENT_TYPE_MISMATCH) from None
    return WebResponse(code or 200, data, content_type, others)


def response_for(response: ActivationResponse, extension: str) -> WebResponse:
    """A finished activation's response as a web response: success → its result, application
    error → its ``error`` field, anything else → 400 (OpenWhisk hides the cause from the
    caller)."""
    if response.status_code == SUCCESS:
        projected = response.result
    elif (
        response.status_code == APPLICATION_ERROR
        and isinstance(response.result, dict)
        and "error" in response.result
    ):
        projected = response.result["error"]
    else:
        raise WebError(400, ERROR_PROCESSING)
    return web_response(projected, extension)


# ---- the route --------------------------------------------------------------------------


def _caller() -> str | None:
    """The namespace of a valid key sent with the request, if any (keys are optional here)."""
    if not request.headers.get("Authorization"):
        return None
    try:
        return services().subjects.authenticate(request.headers["Authorization"]).namespace
    except ApiError:
        return None


@bp.route("/<ns>/<pkg>/<path:rest>", methods=METHODS)
def web_action(ns: str, pkg: str, rest: str, extra_args: dict | None = None):
    """``extra_args``: an API gateway route's path parameters (``controller.api.apigw``)."""
    svc = services()
    segment, _, extra = rest.partition("/")
    name, extension = split_extension(segment)
    path = name if pkg == "default" else f"{pkg}/{name}"
    owner = svc.subjects.get(ns)
    if owner is None:
        raise ApiError(404, NOT_FOUND)
    action, _ = svc.activation_service.resolve_action(ns, path)
    annotations = action.get("annotations", [])
    if kv_get(annotations, "web-export") is not True:
        raise ApiError(404, NOT_FOUND)
    if request.method == "OPTIONS" and kv_get(annotations, "web-custom-options") is not True:
        return Response(status=200, headers=CORS_HEADERS)  # OpenWhisk answers preflights itself
    req = WebRequest(
        method=request.method,
        headers={k.lower(): v for k, v in request.headers.items()},
        path=f"/{extra}" if extra else "",
        query_string=request.query_string.decode("latin-1"),
        body=request.get_data(cache=False),  # bounded by controller.limits.BodyLimit
        user=_caller(),
    )
    if not authorized(annotations, req.headers, req.user):
        raise ApiError(401, UNAUTHORIZED)
    final = (
        {kv["key"] for kv in action.get("parameters", [])}
        if kv_get(annotations, "final")
        else set()
    )
    raw = kv_get(annotations, "raw-http") is True
    args = action_arguments(req, raw, final, svc.config.limits.max_json_depth)
    args.update(extra_args or {})
    outcome = svc.activation_service.invoke(owner, ns, path, args, blocking=True, wait_ms=None)
    headers = activation_headers(outcome)
    if isinstance(outcome, Accepted):
        raise ApiError(202, RESPONSE_NOT_READY, headers)
    try:
        out = response_for(outcome.response, extension)
    except WebError as err:
        raise ApiError(err.status, err.message, headers) from None
    resp = Response(out.body, status=out.status)
    if out.content_type is None:
        del resp.headers["Content-Type"]
    else:
        resp.headers["Content-Type"] = out.content_type
    for k, v in out.headers:
        resp.headers.add(k, v)
    resp.headers.update(headers)
    return resp


def register(app: Flask) -> None:
    app.register_blueprint(bp)
