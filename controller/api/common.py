"""Helpers shared by the API blueprints: the caller's identity, the platform services, request
bodies and list paging, all raising OpenWhisk-shaped errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, g, request

from controller import entitlement
from controller.auth import Identity
from controller.entities import check_name
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
    limit = int_arg("limit", default_limit) or max_limit
    return min(limit, max_limit), int_arg("skip", 0) or 0


def entity_page(ns: str, collection: str, view: Callable[[dict], Any]) -> list[Any]:
    """The caller's page (``limit``, ``skip``) of namespace ``ns``'s entities of ``collection``
    (outside any package), each shown by ``view``: the list handlers of triggers, rules and
    packages."""
    ns = namespace_of(ns)
    limit, skip = paging()
    return [view(d) for d in services().entities.list(ns, collection, None, limit, skip)]


def named_entity(ns: str, collection: str, name: str, what: str) -> dict:
    """The entity ``name`` of ``collection`` in the caller's namespace ``ns`` (404 when absent;
    a bad name is a 400 that calls it ``<what> name``)."""
    return services().entities.get(namespace_of(ns), collection, check_name(name, f"{what} name"))
