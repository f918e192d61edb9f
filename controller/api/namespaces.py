"""``GET /namespaces`` and ``GET /namespaces/{ns}/limits``."""

from __future__ import annotations

from flask import Blueprint, jsonify

from controller.api.common import identity, namespace_of, services

bp = Blueprint("namespaces", __name__, url_prefix="/api/v1/namespaces")


@bp.get("")
def list_namespaces():
    return jsonify([identity().namespace])


@bp.get("/<ns>/limits")
def limits(ns: str):
    ns = namespace_of(ns)
    sys = services().config.limits
    own = (
        services().subjects.get(ns).limits if ns != identity().namespace else identity().limits
    ) or {}
    return jsonify(
        {
            "invocationsPerMinute": own.get("invocationsPerMinute", sys.invocations_per_minute),
            "concurrentInvocations": own.get("concurrentInvocations", sys.concurrent_invocations),
            "firesPerMinute": own.get("firesPerMinute", sys.fires_per_minute),
            "minActionMemory": sys.min_memory * 1048576,
            "maxActionMemory": sys.max_memory * 1048576,
            "minActionTimeout": sys.min_timeout,
            "maxActionTimeout": sys.max_timeout,
            "minActionLogs": sys.min_logs * 1048576,
            "maxActionLogs": sys.max_logs * 1048576,
            "minActionConcurrency": sys.min_concurrency,
            "maxActionConcurrency": sys.max_concurrency,
            "maxParameterSize": f"{sys.max_parameters} B",
            "storeActivations": own.get("storeActivations", True),
            **({"allowedKinds": own["allowedKinds"]} if "allowedKinds" in own else {}),
        }
    )
