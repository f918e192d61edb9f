"""``/api/v1/namespaces/{ns}/triggers[/{name}]``: list, get, create/update, delete (removes the
trigger's alarm job), and fire (``POST``: 202 ``{"activationId"}``, or 204 without a body when no
rule is active). A PUT with a ``feed`` annotation naming a built-in alarm feed *and* that feed's
parameters registers the job at once (Tango's one-step form); without feed parameters the trigger
is only stored, and the feed action's CREATE follows (wsk's protocol, ``controller.feeds``).

``register(app)`` (called by ``controller.app``) also builds the ``TriggerService``, the
``AlarmFeed`` on the controller's alarm scheduler (fired while this controller holds the alarm
leadership) and the feed actions, kept in ``app.extensions["tango.triggers"]`` and
``["tango.alarms"]`` for this blueprint and the rules blueprint.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, jsonify

from controller.alarms import FEED_PARAMETERS, AlarmFeed, parse_feed
from controller.api.common import (
    entity_page,
    flag,
    identity,
    json_body,
    named_entity,
    namespace_of,
    services,
)
from controller.entities import brief, check_name, key_values, kv_dict, kv_get
from controller.errors import ApiError
from controller.feeds import FeedActions
from controller.triggers import TriggerService, build_trigger

log = logging.getLogger("tango.controller")
bp = Blueprint("triggers", __name__, url_prefix="/api/v1/namespaces/<ns>/triggers")


def register(app: Flask) -> None:
    svc = app.extensions["tango"]
    triggers = TriggerService(svc.config, svc.entities, svc.activations, svc.activation_service)
    app.extensions["tango.triggers"] = triggers

    def fire_from_alarm(namespace: str, trigger: str, payload: dict) -> None:
        owner = svc.subjects.get(namespace)
        if owner is None:
            log.warning("alarm for /%s/%s: the namespace no longer exists", namespace, trigger)
            return
        try:
            triggers.fire(owner, namespace, trigger, payload)
        except (
            ApiError
        ) as err:  # trigger deleted meanwhile, throttled, ...: the next fire tries again
            log.warning("alarm for /%s/%s did not fire: %s", namespace, trigger, err.message)

    alarms = AlarmFeed(svc.alarm_leader.scheduler, svc.db.engine, fire_from_alarm)
    svc.alarm_leader.on_lead(alarms.claim)
    FeedActions(svc.entities, svc.subjects, alarms).install(svc.activation_service)
    app.extensions["tango.alarms"] = alarms
    app.register_blueprint(bp)


def trigger_service() -> TriggerService:
    return current_app.extensions["tango.triggers"]


def alarm_feed() -> AlarmFeed:
    return current_app.extensions["tango.alarms"]


@bp.get("")
def list_triggers(ns: str):
    return jsonify(entity_page(ns, "triggers", brief))


@bp.get("/<name>")
def get_trigger(ns: str, name: str):
    return jsonify(named_entity(ns, "triggers", name, "trigger"))


@bp.put("/<name>")
def put_trigger(ns: str, name: str):
    ns = namespace_of(ns)
    svc = services()
    check_name(name, "trigger name")
    body = json_body()
    feed = (
        kv_get(key_values(body.get("annotations"), "annotations"), "feed")
        if isinstance(body, dict)
        else None
    )
    params = kv_dict(key_values(body.get("parameters"), "parameters")) if feed else {}
    alarm = None
    if FEED_PARAMETERS & params.keys():
        alarm, own = parse_feed(str(feed), params)
        body = {**body, "parameters": [{"key": k, "value": v} for k, v in own.items()]}
    doc = svc.entities.put(
        ns, "triggers", name, flag("overwrite"), lambda old: build_trigger(ns, name, body, old)
    )
    if alarm is not None:
        config = {k: v for k, v in params.items() if k in FEED_PARAMETERS}
        alarm_feed().register(ns, name, alarm, config)
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
    payload = json_body()
    activation_id = trigger_service().fire(
        identity(), ns, check_name(name, "trigger name"), payload
    )
    if activation_id is None:
        return "", 204
    resp = jsonify({"activationId": activation_id})
    resp.status_code = 202
    resp.headers["x-openwhisk-activation-id"] = activation_id
    return resp
