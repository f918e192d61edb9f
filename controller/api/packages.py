"""``/api/v1/namespaces/{ns}/packages[/{name}]``: list (``?public=true``), get (with the
package's actions and feeds), create/update (``?overwrite=true``, bindings), delete
(``?force=true`` removes the contained actions). Registered by ``controller.app``."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify

from controller.api.common import (
    entity_page,
    flag,
    identity,
    json_body,
    namespace_of,
    paging,
    services,
)
from controller.entities import check_name
from controller.entitlement import Privilege, check_binding, package_entitled, resolve_package
from controller.packages import (
    build_package,
    package_brief,
    package_not_empty,
    package_view,
    parse_binding,
)

bp = Blueprint("packages", __name__, url_prefix="/api/v1/namespaces/<ns>/packages")


def register(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get("")
def list_packages(ns: str):
    if flag("public"):
        limit, skip = paging()
        # Anyone may list what a namespace has published (that is what publishing is for).
        caller = identity()
        ns = caller.namespace if ns == "_" else ns
        docs = [
            d
            for d in services().entities.list(ns, "packages", None, 0, 0)
            if d.get("publish") or ns == caller.namespace
        ]
        return jsonify([package_brief(d) for d in docs[skip : skip + limit]])
    return jsonify(entity_page(ns, "packages", package_brief))


@bp.get("/<name>")
def get_package(ns: str, name: str):
    caller = identity()
    ns = caller.namespace if ns == "_" else ns
    entities = services().entities
    check_name(name, "package name")
    package_entitled(caller, ns, entities.find(ns, "packages", name), Privilege.READ)
    resolved = resolve_package(entities, ns, name)
    actions = entities.list(resolved.namespace, "actions", resolved.name, 0, 0)
    merged = None
    if resolved.doc.get("binding"):
        merged = [{"key": k, "value": v} for k, v in resolved.params.items()]
    return jsonify(package_view(resolved.doc, actions, merged))


@bp.put("/<name>")
def put_package(ns: str, name: str):
    ns = namespace_of(ns)
    svc = services()
    check_name(name, "package name")
    body = json_body()
    binding = parse_binding(body.get("binding") if isinstance(body, dict) else None, ns)
    if binding:
        check_binding(svc.entities.find(binding["namespace"], "packages", binding["name"]), ns)
    doc = svc.entities.put(
        ns,
        "packages",
        name,
        flag("overwrite"),
        lambda old: build_package(ns, name, body, svc.config.limits, old, binding),
    )
    return jsonify(doc)


@bp.delete("/<name>")
def delete_package(ns: str, name: str):
    ns = namespace_of(ns)
    entities = services().entities
    doc = entities.get(ns, "packages", check_name(name, "package name"))
    if not doc.get("binding"):
        contents = entities.list(ns, "actions", name, 0, 0)
        if contents and not flag("force"):
            raise package_not_empty(len(contents))
        for action in contents:
            entities.delete(ns, "actions", f"{name}/{action['name']}")
    return jsonify(entities.delete(ns, "packages", name))
