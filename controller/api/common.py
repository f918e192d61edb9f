"""Helpers shared by the API blueprints: the caller's identity, the platform services, request
bodies and list paging, all raising OpenWhisk-shaped errors."""

from __future__ import annotations

from flask import current_app, g, request

from controller import entitlement
from controller.auth import Identity
from controller.limits import MAX_SAFE_INTEGER, bounded_int, parse_json

# OpenWhisk's CORS policy: every origin, the methods and headers its clients send.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, DELETE, POST, PUT, HEAD",
    "Access-Control-Allow-Headers": "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent",
}


def services():
    """The controller's services (``controller.app.Services``)."""
    return current_app.extensions["tango"]


def identity() -> Identity:
    if "identity" not in g:
        g.identity = services().subjects.authenticate(request.headers.get("Authorization"))
    return g.identity


def namespace_of(ns: str) -> str:
    return entitlement.namespace_of(identity(), ns)


def json_body(default=None, wrapping: int = 0, finite: bool = True):
    """The request's JSON body (its size was bounded by ``controller.limits.BodyLimit``),
    nested at most ``max_json_depth`` levels plus ``wrapping`` (the levels a message adds
    around a value that may itself be that deep, e.g. records around results); see
    ``parse_json`` for ``finite``."""
    data = request.get_data(cache=False)
    if not data.strip():
        return {} if default is None else default
    return parse_json(data, services().config.limits.max_json_depth + wrapping, finite)


def flag(name: str, default: bool = False) -> bool:
    v = request.args.get(name)
    if v is None:
        return default
    return v.lower() in ("true", "1", "yes", "")


def int_arg(
    name: str, default: int | None = None, lo: int = 0, hi: int = MAX_SAFE_INTEGER
) -> int | None:
    """An integer query parameter within [lo, hi] (400 naming it otherwise), or ``default``."""
    v = request.args.get(name)
    if v is None or v == "":
        return default
    return bounded_int(name, v, lo, hi)


def paging(default_limit: int = 30, max_limit: int = 200) -> tuple[int, int]:
    """``limit`` (0 or above ``max_limit`` = ``max_limit``, as OpenWhisk) and ``skip``."""
    limit = int_arg("limit", default_limit)
    if limit == 0 or limit > max_limit:
        limit = max_limit
    return limit, int_arg("skip", 0)
