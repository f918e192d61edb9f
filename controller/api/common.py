"""Helpers shared by the API blueprints: the caller's identity, the platform services, request
bodies and list paging, all raising OpenWhisk-shaped errors."""

from __future__ import annotations

import json

from flask import current_app, g, request

from controller.auth import Identity, resolve_namespace
from controller.errors import ApiError, malformed

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
    return resolve_namespace(identity(), ns)


def json_body(default=None, max_bytes: int | None = None):
    data = request.get_data(cache=False)
    if max_bytes is not None and len(data) > max_bytes:
        raise ApiError(
            413,
            f"The request content was malformed:\nrequest entity size {len(data)} bytes exceeds "
            f"allowed threshold of {max_bytes} bytes",
        )
    if not data.strip():
        return {} if default is None else default
    try:
        return json.loads(data)
    except ValueError as exc:
        raise malformed(f"the body is not valid JSON ({exc})") from None


def flag(name: str, default: bool = False) -> bool:
    v = request.args.get(name)
    if v is None:
        return default
    return v.lower() in ("true", "1", "yes", "")


def int_arg(
    name: str, default: int | None = None, lo: int | None = None, hi: int | None = None
) -> int | None:
    v = request.args.get(name)
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        raise ApiError(
            400, f"The query parameter '{name}' must be an integer, got '{v}'."
        ) from None
    if lo is not None and n < lo:
        raise ApiError(400, f"The query parameter '{name}' must be at least {lo}.")
    if hi is not None and n > hi:
        n = hi
    return n


def paging(default_limit: int = 30, max_limit: int = 200) -> tuple[int, int]:
    limit = int_arg("limit", default_limit, lo=0)
    if limit == 0 or limit > max_limit:
        limit = max_limit
    return limit, int_arg("skip", 0, lo=0)
