"""The built-in feed actions ``/whisk.system/alarms/{alarm,interval,once}``, run by the controller.

OpenWhisk's CLI drives a feed in two steps: ``wsk trigger create T --feed /whisk.system/alarms/alarm
-p cron ...`` first PUTs the trigger with the annotation ``feed``, then invokes the feed *action*
(blocking) with ``lifecycleEvent: "CREATE"``, ``triggerName: "/ns/T"`` (``_`` = the key's own
namespace), ``authKey: "uuid:key"`` and the feed parameters; ``wsk trigger delete`` invokes it with
``DELETE`` before deleting the trigger, ``wsk trigger get`` may invoke ``READ``. If CREATE fails,
wsk deletes the trigger and shows the error. Tango answers these invocations in the controller
(no container): ``FeedActions.install`` stores the shared package ``/whisk.system/alarms``
(``publish: true``, its actions annotated ``feed: true`` as OpenWhisk's catalog has them) and
registers ``run`` as a system action of ``controller.invoke.ActivationService``, so the
invocation is an ordinary activation: stored, statusCode 0 on success, an application error with
the reason otherwise. The lifecycle acts on the trigger's job in ``controller.alarms``; the
``authKey`` must be a valid key that owns the trigger's namespace.

Called by the triggers blueprint's ``register`` (``controller.api.triggers``). ``parse_event``
and ``catalog`` are pure.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass

from controller.alarms import FEED_NAMESPACE, FEED_PARAMETERS, FEEDS, AlarmFeed, parse_feed
from controller.auth import Identity, Subjects
from controller.entities import check_name, now_ms, split_fqn
from controller.entitlement import namespace_of
from controller.errors import ApiError
from controller.invoke import ActivationService
from controller.store.entities import EntityStore

LIFECYCLE_EVENTS = ("CREATE", "READ", "UPDATE", "DELETE", "PAUSE", "UNPAUSE")
PROTOCOL_PARAMETERS = {"lifecycleEvent", "triggerName", "authKey"}
PACKAGE = FEEDS[0].split("/")[0]  # "alarms"
DESCRIPTIONS = {
    "alarm": (
        "Fire trigger when alarm occurs",
        [
            ("cron", True),
            ("timezone", False),
            ("trigger_payload", False),
            ("startDate", False),
            ("stopDate", False),
        ],
    ),
    "interval": (
        "Fire trigger at specified interval",
        [("minutes", True), ("trigger_payload", False), ("startDate", False), ("stopDate", False)],
    ),
    "once": ("Fire trigger once when alarm occurs", [("date", True), ("trigger_payload", False)]),
}


@dataclass(frozen=True)
class FeedEvent:
    """One invocation of a feed action: what to do to which trigger, with which parameters."""

    event: str  # one of LIFECYCLE_EVENTS
    namespace: str  # the trigger's namespace, as written (``_`` not yet resolved)
    trigger: str
    auth_key: str
    params: dict  # the feed's own parameters (cron, trigger_payload, ...)


# ---- pure -----------------------------------------------------------------------------------


def parse_event(params: dict) -> FeedEvent:
    """The feed invocation's parameters; errors name the parameter and what is accepted."""
    event = str(params.get("lifecycleEvent") or "").upper()
    if event not in LIFECYCLE_EVENTS:
        raise ApiError(
            400,
            f"The feed needs 'lifecycleEvent': one of {', '.join(LIFECYCLE_EVENTS)}, "
            f"got {params.get('lifecycleEvent')!r}.",
        )
    name = params.get("triggerName")
    if not isinstance(name, str) or not name.strip("/"):
        raise ApiError(
            400,
            "The feed needs 'triggerName': the trigger's fully qualified name, e.g. \"/_/mytrigger\".",
        )
    namespace, trigger = split_fqn(name if name.startswith("/") else f"/_/{name}", "_")
    check_name(trigger, "trigger name")
    auth_key = params.get("authKey")
    if not isinstance(auth_key, str) or ":" not in auth_key:
        raise ApiError(
            400, "The feed needs 'authKey': the API key (uuid:key) of the trigger's namespace."
        )
    own = {k: v for k, v in params.items() if k not in PROTOCOL_PARAMETERS}
    return FeedEvent(event, namespace, trigger, auth_key, own)


def catalog() -> list[tuple[str, str, dict]]:
    """``(collection, path, document)`` of the package ``/whisk.system/alarms`` and its feeds."""
    updated = now_ms()
    package = {
        "namespace": FEED_NAMESPACE,
        "name": PACKAGE,
        "version": "0.0.1",
        "publish": True,
        "annotations": [{"key": "description", "value": "Alarms and periodic utility"}],
        "parameters": [],
        "binding": {},
        "updated": updated,
    }
    docs = [("packages", PACKAGE, package)]
    for feed in FEEDS:
        name = feed.split("/")[1]
        description, parameters = DESCRIPTIONS[name]
        docs.append(
            (
                "actions",
                feed,
                {
                    "namespace": f"{FEED_NAMESPACE}/{PACKAGE}",
                    "name": name,
                    "version": "0.0.1",
                    "publish": True,
                    "exec": {
                        "kind": "builtin:feed",
                        "binary": False,
                        "code": "# answered by the Tango controller (controller/feeds.py)",
                    },
                    "annotations": [
                        {"key": "feed", "value": True},
                        {"key": "description", "value": description},
                        {
                            "key": "parameters",
                            "value": [
                                {"name": p, "required": required} for p, required in parameters
                            ],
                        },
                        {"key": "exec", "value": "builtin:feed"},
                    ],
                    "parameters": [],
                    "limits": {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1},
                    "updated": updated,
                },
            )
        )
    return docs


# ---- executor -------------------------------------------------------------------------------


def _as_stored(doc: dict, _old: dict | None) -> dict:
    """The catalog's document, whatever was stored before (``EntityStore.put``'s ``build``)."""
    return doc


class FeedActions:
    """Answers invocations of the alarm feed actions against the controller's ``AlarmFeed``."""

    def __init__(self, entities: EntityStore, subjects: Subjects, alarms: AlarmFeed):
        self.entities = entities
        self.subjects = subjects
        self.alarms = alarms

    def install(self, activation_service: ActivationService) -> None:
        """Store the package and its actions (when missing or changed) and answer their invocations."""
        for collection, path, doc in catalog():
            stored = self.entities.find(FEED_NAMESPACE, collection, path)
            if stored is None or _shape(stored) != _shape(doc):
                try:
                    self.entities.put(
                        FEED_NAMESPACE, collection, path, True, functools.partial(_as_stored, doc)
                    )
                except ApiError as err:  # another controller installed it at the same moment
                    if err.status != 409:
                        raise
            if collection == "actions":
                feed = path.split("/")[1]
                activation_service.system_actions[f"{FEED_NAMESPACE}/{path}"] = functools.partial(
                    self.answer, feed
                )

    def answer(self, feed: str, _caller: Identity, params: dict) -> dict:
        """``run`` as a system action of ``ActivationService`` (which passes the caller)."""
        return self.run(feed, params)

    def run(self, feed: str, params: dict) -> dict:
        """One lifecycle event of the ``feed`` (alarm | interval | once) action; the result."""
        request = parse_event(params)
        namespace = self._authorise(request)
        trigger, fqn = request.trigger, f"/{namespace}/{request.trigger}"
        if request.event in ("CREATE", "UPDATE"):
            if self.entities.find(namespace, "triggers", trigger) is None:
                raise ApiError(
                    404, f"The trigger '{fqn}' does not exist; create it before its feed."
                )
            config = {k: v for k, v in request.params.items() if k in FEED_PARAMETERS}
            if request.event == "UPDATE":
                current = self._require(namespace, trigger, fqn)
                config = {
                    **{
                        k: v for k, v in current["config"].items() if k not in ("name", "namespace")
                    },
                    **config,
                }
            spec, _ = parse_feed(f"/{FEED_NAMESPACE}/{PACKAGE}/{feed}", config)
            self.alarms.register(namespace, trigger, spec, config)
        elif request.event == "DELETE":
            if not self.alarms.unregister(namespace, trigger):
                raise ApiError(404, f"The trigger '{fqn}' has no alarm to delete.")
            return {"lifecycleEvent": "DELETE", "triggerName": fqn}
        elif request.event in ("PAUSE", "UNPAUSE"):
            if not self.alarms.set_active(namespace, trigger, request.event == "UNPAUSE"):
                raise ApiError(404, f"The trigger '{fqn}' has no alarm to {request.event.lower()}.")
        return {
            "lifecycleEvent": request.event,
            "triggerName": fqn,
            **self._require(namespace, trigger, fqn),
        }

    def _authorise(self, request: FeedEvent) -> str:
        """The trigger's namespace, once ``authKey`` proves its owner (or an admin) is asking."""
        try:
            owner = self.subjects.authenticate(
                "Basic " + base64.b64encode(request.auth_key.encode()).decode()
            )
        except ApiError:
            raise ApiError(401, "The feed's 'authKey' is not a valid API key.") from None
        try:
            return namespace_of(owner, request.namespace)
        except ApiError:
            raise ApiError(
                403,
                f"The feed's 'authKey' does not own the namespace '{request.namespace}' "
                f"of the trigger '{request.trigger}'.",
            ) from None

    def _require(self, namespace: str, trigger: str, fqn: str) -> dict:
        described = self.alarms.describe(namespace, trigger)
        if described is None:
            raise ApiError(404, f"The trigger '{fqn}' has no alarm.")
        return described


def _shape(doc: dict) -> tuple:
    """What an upgrade may change in a catalog document (not its timestamp)."""
    return tuple(doc.get(k) for k in ("publish", "annotations", "exec", "parameters", "limits"))
