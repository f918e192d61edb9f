"""``/api/v1/namespaces/{ns}/rules[/{name}]``: list, get (with ``status``), create/update
(``{"trigger": "/_/t", "action": "/_/a"}``; both must exist), enable/disable (``POST`` with
``{"status": "active"|"inactive"}``), delete. Every change is mirrored in the trigger's
``rules`` map through ``controller.triggers.TriggerService``. Registered by ``controller.app``."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify

from controller.api.common import (
    entity_page,
    flag,
    identity,
    json_body,
    named_entity,
    namespace_of,
    services,
)
from controller.entities import check_name
from controller.entitlement import entitled_action
from controller.errors import ApiError, malformed
from controller.triggers import (
    ACTIVE,
    INACTIVE,
    EntityRef,
    TriggerService,
    build_rule,
    parse_ref,
    parse_status,
    ref_of,
    rule_key,
    rule_view,
)

bp = Blueprint("rules", __name__, url_prefix="/api/v1/namespaces/<ns>/rules")


def register(app: Flask) -> None:
    app.register_blueprint(bp)


def _triggers() -> TriggerService:
    return current_app.extensions["tango.triggers"]


def _view(rule: dict) -> dict:
    trigger = ref_of(rule["trigger"])
    return rule_view(rule, services().entities.find(trigger.namespace, "triggers", trigger.path))


@bp.get("")
def list_rules(ns: str):
    return jsonify(entity_page(ns, "rules", _view))


@bp.get("/<name>")
def get_rule(ns: str, name: str):
    return jsonify(_view(named_entity(ns, "rules", name, "rule")))


@bp.put("/<name>")
def put_rule(ns: str, name: str):
    ns = namespace_of(ns)
    svc = services()
    check_name(name, "rule name")
    body = json_body()
    if not isinstance(body, dict):
        raise malformed('the body must be a JSON object: {"trigger": "/_/t", "action": "/_/a"}')
    old = svc.entities.find(ns, "rules", name)
    trigger = _ref(body, "trigger", ns, old)
    action = _ref(body, "action", ns, old)
    status = body.get("status") or (_status_of(old) if old else ACTIVE)
    if status not in (ACTIVE, INACTIVE):
        raise malformed(f'\'status\' must be "active" or "inactive", got "{status}"')
    if svc.entities.find(ns, "triggers", trigger.path) is None:
        raise ApiError(404, f"The trigger '/{trigger.qualified}' of rule '{name}' does not exist.")
    try:  # the rule's owner must be entitled to activate the action (through a binding, too)
        entitled_action(svc.entities, identity(), action.namespace, action.path)
    except ApiError as err:
        if err.status != 404:
            raise
        raise ApiError(
            404, f"The action '/{action.qualified}' of rule '{name}' does not exist."
        ) from None
    doc = svc.entities.put(
        ns,
        "rules",
        name,
        flag("overwrite"),
        lambda prev: build_rule(ns, name, body, prev, trigger, action),
    )
    key = rule_key(ns, name)
    if old is not None and ref_of(old["trigger"]) != trigger:
        _triggers().unlink(ns, ref_of(old["trigger"]).path, key)
    _triggers().link(ns, trigger.path, key, action, status)
    return jsonify({**doc, "status": status})


def _ref(body: dict, field: str, ns: str, old: dict | None) -> EntityRef:
    if body.get(field) is None and old is not None:
        return ref_of(old[field])
    return parse_ref(body.get(field), ns, field)


def _status_of(rule: dict) -> str:
    return _view(rule)["status"]


@bp.post("/<name>")
def set_status(ns: str, name: str):
    rule = named_entity(ns, "rules", name, "rule")
    ns = namespace_of(ns)
    status = parse_status(json_body())
    _triggers().link(
        ns, ref_of(rule["trigger"]).path, rule_key(ns, name), ref_of(rule["action"]), status
    )
    return "", 200


@bp.delete("/<name>")
def delete_rule(ns: str, name: str):
    ns = namespace_of(ns)
    rule = services().entities.delete(ns, "rules", check_name(name, "rule name"))
    _triggers().unlink(ns, ref_of(rule["trigger"]).path, rule_key(ns, name))
    return jsonify(rule)
