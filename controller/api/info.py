"""Discovery and operator endpoints: ``GET /``, ``GET /api/v1``, ``/ping``, ``/invokers``."""

from __future__ import annotations

from flask import Blueprint, jsonify

from controller import openapi
from controller.api.common import services
from controller.runtimes import manifest

bp = Blueprint("info", __name__)

BUILD = "2026-11-27T00:00:00Z"


@bp.get("/")
def root():
    lim = services().config.limits
    return jsonify(
        {
            "description": "OpenWhisk",
            "support": {"github": "tango", "slack": ""},
            "api_paths": ["/api/v1"],
            "limits": {
                "actions_per_minute": lim.invocations_per_minute,
                "triggers_per_minute": lim.fires_per_minute,
                "concurrent_actions": lim.concurrent_invocations,
                "sequence_length": lim.sequence_max_length,
                "min_action_duration": lim.min_timeout,
                "max_action_duration": lim.max_timeout,
                "min_action_memory": lim.min_memory * 1048576,
                "max_action_memory": lim.max_memory * 1048576,
                "min_action_logs": lim.min_logs * 1048576,
                "max_action_logs": lim.max_logs * 1048576,
                "default_min_action_duration": lim.min_timeout,
                "default_max_action_duration": lim.max_timeout,
                "default_min_action_memory": lim.min_memory * 1048576,
                "default_max_action_memory": lim.max_memory * 1048576,
                "default_min_action_logs": lim.min_logs * 1048576,
                "default_max_action_logs": lim.max_logs * 1048576,
            },
            "runtimes": manifest(),
        }
    )


@bp.get("/api/v1")
def api_v1():
    return jsonify(
        {
            "description": "OpenWhisk API",
            "api_version": "1.0.0",
            "api_version_path": "v1",
            "build": BUILD,
            "buildno": "tango-0.1.0",
            "swagger_paths": {"ui": "/docs", "api-docs": "/api-docs"},
        }
    )


@bp.get(openapi.PATH)
def api_docs():
    """Tango's API description (Swagger 2.0), where OpenWhisk serves its own."""
    return jsonify(openapi.document())


@bp.get("/ping")
def ping():
    return "pong"


@bp.get("/invokers")
def invokers():
    return jsonify({inv.id: inv.state for inv in services().registry.all()})


@bp.get("/invokers/healthy/count")
def healthy_count():
    return jsonify(sum(1 for inv in services().registry.all() if inv.state == "up"))


@bp.get("/invokers/ready")
def ready():
    invs = services().registry.all()
    up = sum(1 for inv in invs if inv.state == "up")
    body = {"healthy": f"{up}/{len(invs)}"}
    return (
        (jsonify(body), 200)
        if invs and up == len(invs)
        else (jsonify({"unhealthy": f"{len(invs) - up}/{len(invs)}"}), 500)
    )


@bp.get("/activation/count")
def activation_count():
    return jsonify({"activations": services().activations.running_count()})


@bp.get("/api/v1/admin/invokers")
def invoker_details():
    """Every invoker with its capacity, reservations and live container pool (admin keys only)."""
    from controller.api.common import identity
    from controller.errors import FORBIDDEN, ApiError

    if not identity().admin:
        raise ApiError(403, FORBIDDEN)
    svc = services()
    return jsonify(svc.registry.live_status(svc.config.internal_token))
