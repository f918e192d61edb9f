"""``/api/v1/namespaces/{ns}/actions[/{pkg}]/{name}``: list, get, create/update, delete, invoke.
As in OpenWhisk, any namespace may get and invoke the actions of another namespace's published
package (e.g. the alarm feeds ``/whisk.system/alarms/*``, ``controller.feeds``); who may do
what is decided by ``controller.entitlement``."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from common.wsgi_server import QUEUE_WAIT
from controller.api.common import flag, identity, int_arg, json_body, namespace_of, paging, services
from controller.api.invocations import invoke_reply, parse_size
from controller.entities import brief, build_action, check_name, without_code
from controller.entitlement import (
    Privilege,
    check_sequence_put,
    entitled_action,
    resolve_package,
)
from controller.packages import require_plain_package

bp = Blueprint("actions", __name__, url_prefix="/api/v1/namespaces/<ns>/actions")


def _path(name: str, pkg: str | None) -> str:
    check_name(name, "action name")
    if pkg is not None:
        check_name(pkg, "package name")
        return f"{pkg}/{name}"
    return name


@bp.get("")
@bp.get("/<pkg>/")
def list_actions(ns: str, pkg: str | None = None):
    ns = namespace_of(ns)
    limit, skip = paging()
    if pkg:  # through a binding, the bound package's actions
        resolved = resolve_package(services().entities, ns, check_name(pkg, "package name"))
        ns, pkg = resolved.namespace, resolved.name
    docs = services().entities.list(ns, "actions", pkg or "", limit, skip)
    return jsonify([brief(d) for d in docs])


@bp.get("/<name>")
@bp.get("/<pkg>/<name>")
def get_action(ns: str, name: str, pkg: str | None = None):
    doc, params = entitled_action(
        services().entities, identity(), ns, _path(name, pkg), Privilege.READ
    )
    if pkg:  # as OpenWhisk shows it: with the package's (and binding's) parameters inherited
        doc = {**doc, "parameters": [{"key": k, "value": v} for k, v in params.items()]}
    return jsonify(doc if flag("code", True) else without_code(doc))


@bp.put("/<name>")
@bp.put("/<pkg>/<name>")
def put_action(ns: str, name: str, pkg: str | None = None):
    ns = namespace_of(ns)
    svc = services()
    path = _path(name, pkg)
    body = json_body()
    if pkg is not None:
        require_plain_package(svc.entities, ns, pkg)
    check_sequence_put(svc.entities, identity(), ns, path, body, svc.config.limits)
    doc = svc.entities.put(
        ns,
        "actions",
        path,
        flag("overwrite"),
        lambda old: build_action(ns, path, body, svc.config.limits, old),
    )
    return jsonify(doc)


@bp.delete("/<name>")
@bp.delete("/<pkg>/<name>")
def delete_action(ns: str, name: str, pkg: str | None = None):
    ns = namespace_of(ns)
    return jsonify(services().entities.delete(ns, "actions", _path(name, pkg)))


@bp.post("/<name>")
@bp.post("/<pkg>/<name>")
def invoke_action(ns: str, name: str, pkg: str | None = None):
    svc = services()
    params = json_body()
    result = flag("result")
    outcome = svc.activation_service.invoke(
        identity(),
        ns,
        _path(name, pkg),
        params,
        blocking=flag("blocking") or result,
        wait_ms=int_arg("timeout"),
        size=parse_size(request.args.get("cpu"), request.args.get("memory"), svc.registry),
        queue_wait_s=request.environ.get(QUEUE_WAIT, 0.0),
    )
    return invoke_reply(outcome, result_only=result)
