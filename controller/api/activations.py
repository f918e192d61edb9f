"""``/api/v1/namespaces/{ns}/activations``: list (summaries, docs, count), get, logs, result."""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, request

from controller.api.common import flag, int_arg, namespace_of, paging, services
from controller.errors import NOT_FOUND, ApiError
from controller.store.activations import summary

bp = Blueprint("activations", __name__, url_prefix="/api/v1/namespaces/<ns>/activations")
ID_RE = re.compile(r"\A[0-9a-f]{32}\Z")


@bp.get("")
def list_activations(ns: str):
    ns = namespace_of(ns)
    store = services().activations
    name = request.args.get("name") or None
    since, upto = int_arg("since"), int_arg("upto")
    if flag("count"):
        if flag("docs"):
            raise ApiError(400, "The parameters 'count' and 'docs' cannot be combined.")
        return jsonify({"activations": store.count(ns, name, since, upto)})
    limit, skip = paging()
    docs = store.list(ns, name, limit, skip, since, upto)
    return jsonify(docs if flag("docs") else [summary(d) for d in docs])


def _get(ns: str, activation_id: str, running: bool = False) -> dict:
    """The record; a still-running one only where ``running`` (the record and its logs so far:
    what the list shows can be fetched), never its result, which OpenWhisk clients poll for."""
    if not ID_RE.match(activation_id):
        raise ApiError(
            400,
            f"The activation id '{activation_id}' is not valid: it must be 32 lowercase hex characters.",
        )
    doc = services().activations.get(namespace_of(ns), activation_id)
    if doc is None or (not running and doc.get("response", {}).get("status") == "running"):
        raise ApiError(404, NOT_FOUND)
    return doc


@bp.get("/<activation_id>")
def get_activation(ns: str, activation_id: str):
    return jsonify(_get(ns, activation_id, running=True))


@bp.get("/<activation_id>/logs")
def get_logs(ns: str, activation_id: str):
    return jsonify({"logs": _get(ns, activation_id, running=True).get("logs", [])})


@bp.get("/<activation_id>/result")
def get_result(ns: str, activation_id: str):
    return jsonify(_get(ns, activation_id)["response"])
