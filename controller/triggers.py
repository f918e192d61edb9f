"""Triggers and rules: their documents, the trigger's ``rules`` map, and firing a trigger.

A trigger is a named event channel; a rule links one trigger to one action and is ``active`` or
``inactive``. As in OpenWhisk the trigger document carries the authoritative ``rules`` map
(``{"ns/rule": {"action": {"path", "name"}, "status"}}``); a rule's status is read from there.
Firing a trigger with at least one active rule stores a trigger activation (result = the
payload over the trigger's parameters; logs = one JSON line per rule) and invokes each rule's
action without waiting, with ``cause`` = the trigger activation's id.

The document builders and the rule-log/record shapes are pure functions; ``TriggerService`` is
the thin executor used by the triggers and rules blueprints and by the alarm feed
(``controller.alarms``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from common.activation_status import STATUS_NAMES
from controller.auth import Identity
from controller.config import ControllerConfig
from controller.entities import (
    check_name,
    entity_header,
    key_values_or_old,
    kv_dict,
    now_ms,
    split_fqn,
)
from controller.errors import ApiError, malformed
from controller.invoke import ActivationService, new_activation_id
from controller.store.activations import ActivationStore
from controller.store.entities import EntityStore
from controller.throttle import Throttle

ACTIVE, INACTIVE = "active", "inactive"
RULE_STATUSES = (ACTIVE, INACTIVE)


# ---- documents ------------------------------------------------------------------------------


def build_trigger(namespace: str, name: str, body: dict, old: dict | None) -> dict:
    """The stored trigger document for a PUT; an update keeps the trigger's rules."""
    if not isinstance(body, dict):
        raise malformed("the body must be a JSON object")
    old = old or {}
    limits = body.get("limits", old.get("limits", {}))
    if not isinstance(limits, dict):
        raise malformed("'limits' must be an object")
    return {
        **entity_header(namespace, name, body, old),
        "parameters": key_values_or_old(body, "parameters", old),
        "limits": limits,
        "rules": dict(old.get("rules", {})),
        "updated": now_ms(),
    }


@dataclass(frozen=True)
class EntityRef:
    """A trigger or action a rule names: ``namespace`` and ``[pkg/]name``."""

    namespace: str
    path: str

    @property
    def path_name(self) -> dict:
        """OpenWhisk's ``{path, name}`` form: path = ``ns`` or ``ns/pkg``."""
        package, _, name = self.path.rpartition("/")
        return {"path": f"{self.namespace}/{package}" if package else self.namespace, "name": name}

    @property
    def qualified(self) -> str:
        return f"{self.namespace}/{self.path}"


def parse_ref(value, namespace: str, field: str) -> EntityRef:
    """``"/_/t"``, ``"/ns/pkg/a"`` or ``"t"`` from a rule PUT body; must be in ``namespace``."""
    if not isinstance(value, str) or not value.strip():
        raise malformed(f"'{field}' must be a name such as \"/_/{field}Name\"")
    ns, path = split_fqn(value.strip(), namespace)
    if ns != namespace:
        raise ApiError(
            400, f"The rule's {field} '{value}' must be in the rule's namespace '{namespace}'."
        )
    for part in path.split("/"):
        check_name(part, f"{field} name")
    if field == "trigger" and "/" in path:
        raise ApiError(400, f"The trigger '{value}' cannot be inside a package.")
    return EntityRef(ns, path)


def ref_of(path_name: dict) -> EntityRef:
    """The inverse of ``EntityRef.path_name``."""
    ns, _, package = path_name["path"].partition("/")
    return EntityRef(ns, f"{package}/{path_name['name']}" if package else path_name["name"])


def build_rule(
    namespace: str, name: str, body: dict, old: dict | None, trigger: EntityRef, action: EntityRef
) -> dict:
    """The stored rule document (its status lives in the trigger's ``rules`` map)."""
    old = old or {}
    return {
        **entity_header(namespace, name, body, old),
        "trigger": trigger.path_name,
        "action": action.path_name,
        "updated": now_ms(),
    }


def rule_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def rule_view(rule: dict, trigger: dict | None) -> dict:
    """GET of a rule: the document with its ``status`` from the trigger (inactive when the
    trigger is gone or does not list it)."""
    entry = (trigger or {}).get("rules", {}).get(rule_key(rule["namespace"], rule["name"]))
    return {**rule, "status": entry["status"] if entry else INACTIVE}


def parse_status(body) -> str:
    status = body.get("status") if isinstance(body, dict) else None
    if status not in RULE_STATUSES:
        raise malformed(f'\'status\' must be "active" or "inactive", got {json.dumps(status)}')
    return status


def with_rule(trigger: dict, key: str, action: EntityRef, status: str) -> dict:
    rules = {**trigger.get("rules", {}), key: {"action": action.path_name, "status": status}}
    return {**trigger, "rules": rules, "updated": now_ms()}


def without_rule(trigger: dict, key: str) -> dict:
    rules = {k: v for k, v in trigger.get("rules", {}).items() if k != key}
    return {**trigger, "rules": rules, "updated": now_ms()}


def active_rules(trigger: dict) -> list[tuple[str, EntityRef]]:
    return [
        (key, ref_of(entry["action"]))
        for key, entry in trigger.get("rules", {}).items()
        if entry.get("status") == ACTIVE
    ]


# ---- a fire's record ------------------------------------------------------------------------


def rule_log(
    key: str, action: EntityRef, activation_id: str | None = None, error: ApiError | None = None
) -> str:
    """One line of a trigger activation's logs (OpenWhisk's shape)."""
    entry: dict = {
        "statusCode": 0,
        "success": True,
        "activationId": activation_id,
        "rule": key,
        "action": action.qualified,
    }
    if error is not None:
        entry = {
            "statusCode": 1 if error.status < 500 else 3,
            "success": False,
            "rule": key,
            "action": action.qualified,
            "error": error.message,
        }
    return json.dumps(entry, separators=(",", ":"))


def trigger_record(
    namespace: str,
    trigger: dict,
    subject: str,
    activation_id: str,
    start: int,
    result: dict,
    logs: list[str],
) -> dict:
    end = now_ms()
    # Each rule's outcome is in its log line; the trigger activation itself is a failure with
    # the worst of them when a rule could not start its action (OpenWhisk's statusCode).
    status = max((json.loads(line).get("statusCode", 0) for line in logs), default=0)
    return {
        "namespace": namespace,
        "name": trigger["name"],
        "version": trigger["version"],
        "subject": subject,
        "activationId": activation_id,
        "start": start,
        "end": end,
        "duration": end - start,
        "statusCode": status,
        "response": {
            "status": STATUS_NAMES[status],
            "statusCode": status,
            "success": status == 0,
            "result": result,
        },
        "logs": logs,
        "annotations": [{"key": "path", "value": f"{namespace}/{trigger['name']}"}],
        "publish": False,
    }


# ---- executor -------------------------------------------------------------------------------


class TriggerService:
    """Fires triggers and keeps triggers' ``rules`` maps in step with rule changes."""

    def __init__(
        self,
        config: ControllerConfig,
        entities: EntityStore,
        activations: ActivationStore,
        activation_service: ActivationService,
    ):
        self.config = config
        self.entities = entities
        self.activations = activations
        self.activation_service = activation_service
        self.fires = Throttle()  # firesPerMinute only; fires are not concurrent work

    def fire(self, identity: Identity, namespace: str, name: str, payload: dict) -> str | None:
        """Fire; the trigger activation's id, or None when no rule is active (no record)."""
        if not isinstance(payload, dict):
            raise malformed("the fire body must be a JSON object (the trigger payload)")
        trigger = self.entities.get(namespace, "triggers", name)
        per_minute = int(
            (identity.limits or {}).get("firesPerMinute", self.config.limits.fires_per_minute)
        )
        # divided among live controllers too
        self.fires.share = self.activation_service.throttle.share
        self.fires.acquire(namespace, per_minute, concurrent=2**31)
        self.fires.release(namespace)
        rules = active_rules(trigger)
        if not rules:
            return None
        start, activation_id = now_ms(), new_activation_id()
        params = {**kv_dict(trigger.get("parameters", [])), **payload}
        logs = [
            self._activate(identity, key, action, params, activation_id) for key, action in rules
        ]
        record = trigger_record(
            namespace, trigger, identity.namespace, activation_id, start, params, logs
        )
        self.activations.complete(record, namespace, name)
        return activation_id

    def _activate(
        self, identity: Identity, key: str, action: EntityRef, params: dict, cause: str
    ) -> str:
        try:
            accepted = self.activation_service.invoke(
                identity,
                action.namespace,
                action.path,
                params,
                blocking=False,
                wait_ms=None,
                cause=cause,
            )
        except ApiError as err:
            return rule_log(key, action, error=err)
        return rule_log(key, action, accepted.activation_id)

    # -- rules map ------------------------------------------------------------------------
    def link(self, namespace: str, trigger: str, key: str, action: EntityRef, status: str) -> None:
        self._edit_rules(namespace, trigger, lambda doc: with_rule(doc, key, action, status))

    def unlink(self, namespace: str, trigger: str, key: str) -> None:
        if self.entities.find(namespace, "triggers", trigger) is not None:
            self._edit_rules(namespace, trigger, lambda doc: without_rule(doc, key))

    def _edit_rules(self, namespace: str, trigger: str, change) -> None:
        def build(old: dict | None) -> dict:
            if old is None:
                raise ApiError(404, f"The trigger '/{namespace}/{trigger}' does not exist.")
            return change(old)

        self.entities.put(namespace, "triggers", trigger, True, build)
