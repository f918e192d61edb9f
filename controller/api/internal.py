"""Invoker registration and heartbeats (``/internal``), guarded by the internal token."""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, jsonify, request

from controller.api.common import json_body, services
from controller.errors import UNAUTHORIZED, ApiError

bp = Blueprint("internal", __name__, url_prefix="/internal")
# {"records": [{"response": {"result": ...}}]} around a result that may be max_json_depth deep
RECORD_WRAPPING = 4


@bp.before_request
def check_token():
    # compare bytes: compare_digest refuses a str that is not ASCII (a 500, not a 401)
    token = request.headers.get("X-Tango-Internal", "").encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(token, services().config.internal_token.encode()):
        raise ApiError(401, UNAUTHORIZED)


def _object_body(**kw) -> dict:
    body = json_body(**kw)
    if not isinstance(body, dict):
        raise ApiError(400, "The body must be a JSON object.")
    return body


@bp.post("/invokers")
def register():
    body = _object_body()
    for key in ("id", "url"):
        if not isinstance(body.get(key), str):
            raise ApiError(400, f"'{key}' is required to register an invoker")
    svc = services()
    try:
        memory, cpus = int(body.get("userMemory", 2048)), float(body.get("cpus", 1.0))
    except (TypeError, ValueError):
        raise ApiError(400, "'userMemory' and 'cpus' must be numbers") from None
    inv = svc.registry.register(body["id"], body["url"], memory, cpus)
    svc.invoker_store.register(body["id"], body["url"], memory, cpus)
    return jsonify(
        {"id": inv.id, "state": inv.state, "controllers": svc.activation_service.controller_urls()}
    )


@bp.delete("/invokers/<invoker_id>")
def deregister(invoker_id: str):
    """An invoker stopping cleanly (SIGTERM) leaves: this controller and the shared store forget
    it, so no controller routes new work to it; what it runs still answers. Idempotent."""
    svc = services()
    known = svc.registry.deregister(invoker_id) is not None
    svc.invoker_store.remove(invoker_id)
    return jsonify({"id": invoker_id, "removed": known})


@bp.post("/invokers/<invoker_id>/heartbeat")
def heartbeat(invoker_id: str):
    svc, status = services(), _object_body()
    now = time.time()
    try:  # when the invoker sent it (its clock), never later than now
        sent = min(float(status.get("sent", now)), now)
    except (TypeError, ValueError):
        sent = now
    if not svc.registry.heartbeat(invoker_id, status, sent):
        return jsonify({"error": "unknown invoker: register first", "code": ""}), 404
    svc.invoker_store.heartbeat(invoker_id, status, int(sent * 1000))
    return jsonify(
        {
            "ok": True,
            "controllers": svc.activation_service.controller_urls(),
            # dead invokers: one on the same host removes their containers
            "down": svc.registry.long_down(svc.registry.down_after_s),
        }
    )


@bp.post("/activations")
def results():
    """Final records from an invoker whose controller hung up (``{"records": [...]}``); the
    answer lists the ids now stored, which the invoker may forget."""
    # results may hold NaN (the runtime's JSON): store_results records them as the developer's
    # error instead of refusing the whole batch
    records = _object_body(wrapping=RECORD_WRAPPING, finite=False).get("records")
    if not isinstance(records, list):
        raise ApiError(400, "'records' must be a list of activation records")
    return jsonify({"stored": services().activation_service.store_results(records)})
