"""``/api/v1/namespaces/{ns}/triggers[/{name}]``: list, get, create/update (a ``feed``
annotation naming a built-in alarm feed registers its job), delete (removes the job), and fire
(``POST``: 202 ``{"activationId"}``, or 204 without a body when no rule is active).

``register(app)`` (called by ``controller.app``) also builds the ``TriggerService`` and the
``AlarmFeed`` on the controller's scheduler, kept in ``app.extensions["tango.triggers"]`` and
``["tango.alarms"]`` for this blueprint and the rules blueprint.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, jsonify

from controller.alarms import AlarmFeed, parse_feed
from controller.api.common import flag, identity, json_body, namespace_of, paging, services
from controller.entities import brief, check_name, key_values, kv_dict, kv_get
from controller.errors import ApiError
from controller.triggers import TriggerService, build_trigger

log = logging.getLogger("tango.controller")
bp = Blueprint("triggers", __name__, url_prefix="/api/v1/namespaces/<ns>/triggers")


def register(app: Flask) -> None:
    svc = app.extensions["tango"]
    triggers = TriggerService(svc.config, svc.entities, svc.activations, svc.invoker)
    app.extensions["tango.triggers"] = triggers

    def fire_from_alarm(namespace: str, trigger: str, payload: dict) -> None:
        owner = svc.subjects.get(namespace)
        if owner is None:
            log.warning("alarm for /%s/%s: the namespace no longer exists", namespace, trigger)
            return
        try:
            triggers.fire(owner, namespace, trigger, payload)
        except ApiError as err:   # trigger deleted meanwhile, throttled, ...: the next fire tries again
            log.warning("alarm for /%s/%s did not fire: %s", namespace, trigger, err.message)

    app.extensions["tango.alarms"] = AlarmFeed(svc.scheduler, svc.db.engine, fire_from_alarm)
    app.register_blueprint(bp)


def trigger_service() -> TriggerService:
    return current_app.extensions["tango.triggers"]


def alarm_feed() -> AlarmFeed:
    return current_app.extensions["tango.alarms"]


@bp.get("")
def list_triggers(ns: str):
    ns = namespace_of(ns)
    limit, skip = paging()
    return jsonify([brief(d) for d in services().entities.list(ns, "triggers", None, limit, skip)])


@bp.get("/<name>")
def get_trigger(ns: str, name: str):
    return jsonify(services().entities.get(namespace_of(ns), "triggers", check_name(name, "trigger name")))


@bp.put("/<name>")
def put_trigger(ns: str, name: str):
    ns = namespace_of(ns)
    svc = services()
    check_name(name, "trigger name")
    body = json_body(max_bytes=3 * svc.config.limits.max_parameters)
    feed = kv_get(key_values(body.get("annotations"), "annotations"), "feed") if isinstance(body, dict) else None
    alarm = None
    if feed:
        alarm, own = parse_feed(str(feed), kv_dict(key_values(body.get("parameters"), "parameters")))
        body = {**body, "parameters": [{"key": k, "value": v} for k, v in own.items()]}
    doc = svc.entities.put(ns, "triggers", name, flag("overwrite"), lambda old: build_trigger(ns, name, body, old))
    if alarm is not None:
        alarm_feed().register(ns, name, alarm)
    return jsonify(doc)


@bp.delete("/<name>")
def delete_trigger(ns: str, name: str):
    ns = namespace_of(ns)
    doc = services().entities.delete(ns, "triggers", check_name(name, "trigger name"))
    alarm_feed().unregister(ns, name)
    return jsonify(doc)


@bp.post("/<name>")
def fire_trigger(ns: str, name: str):
    ns = namespace_of(ns)
    payload = json_body(max_bytes=services().config.limits.max_payload)
    activation_id = trigger_service().fire(identity(), ns, check_name(name, "trigger name"), payload)
    if activation_id is None:
        return "", 204
    resp = jsonify({"activationId": activation_id})
    resp.status_code = 202
    resp.headers["x-openwhisk-activation-id"] = activation_id
    return resp
