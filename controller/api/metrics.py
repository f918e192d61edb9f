"""``GET /metrics``: the controller's Prometheus exposition (controller/metrics.py).

Unauthenticated like OpenWhisk's own metrics endpoints: Prometheus scrapes it without a
namespace key. Registered by ``controller.app._register_optional_blueprints``.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response

from common.prometheus import CONTENT_TYPE
from controller.api.common import services

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    svc = services()
    text = svc.invoker.metrics.render(
        (inv.state for inv in svc.registry.all()), svc.invoker.in_flight_count()
    )
    return Response(text, mimetype=None, content_type=CONTENT_TYPE)


def register(app: Flask) -> None:
    app.register_blueprint(bp)
