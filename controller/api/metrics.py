"""``GET /metrics``: the controller's Prometheus exposition (controller/metrics.py).

Its series name every namespace's actions, so on a platform that serves many tenants only the
operator may read it: the internal token (``Authorization: Bearer TOKEN``, what Prometheus's
``authorization`` setting sends, or ``X-Tango-Internal``) or an admin subject's key (HTTP Basic,
e.g. whisk.system's). ``tango controller --public-metrics`` serves it to anyone, as OpenWhisk's
metrics endpoints are, for a controller that only a private network reaches. Registered by
``controller.app``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from flask import Blueprint, Flask, Response, request

from common.prometheus import CONTENT_TYPE
from controller.api.common import services
from controller.auth import Identity
from controller.errors import UNAUTHORIZED, ApiError

bp = Blueprint("metrics", __name__)
NOT_ADMIN = "Only the platform's operator (an admin key or the internal token) may read /metrics."


def check_reader(
    headers: Mapping[str, str], token: str, authenticate: Callable[[str], Identity]
) -> None:
    """Pass if ``headers`` carry the internal ``token`` or an admin key (``authenticate``
    checks a Basic ``Authorization``); 401 without credentials or with wrong ones, 403 for a
    tenant's key."""
    authorization = headers.get("Authorization") or ""
    presented = headers.get("X-Tango-Internal")
    if authorization.startswith("Bearer "):
        presented = authorization[len("Bearer ") :]
    if presented is not None:
        # compare bytes: compare_digest refuses a str that is not ASCII (a 500, not a 401)
        if hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), token.encode()):
            return
        raise ApiError(401, UNAUTHORIZED)
    if not authorization:
        raise ApiError(401, UNAUTHORIZED, {"WWW-Authenticate": 'Basic realm="tango"'})
    if not authenticate(authorization).admin:
        raise ApiError(403, NOT_ADMIN)


@bp.before_request
def operator_only():
    svc = services()
    if not svc.config.public_metrics:
        check_reader(request.headers, svc.config.internal_token, svc.subjects.authenticate)


@bp.get("/metrics")
def metrics():
    svc = services()
    text = svc.activation_service.metrics.render(
        (inv.state for inv in svc.registry.all()), svc.activation_service.in_flight_count()
    )
    return Response(text, mimetype=None, content_type=CONTENT_TYPE)


def register(app: Flask) -> None:
    app.register_blueprint(bp)
