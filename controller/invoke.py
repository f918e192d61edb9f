"""Running actions: the path from an accepted invoke to a stored activation record.

``ActivationService.invoke`` serves the REST invoke (throttles, the ``running`` record, blocking
wait with the fallback to ``Accepted``; ``controller.api.invocations`` makes its HTTP reply);
``execute`` runs one activation to completion on an invoker and
is what sequences and the workflow engine call. Whatever fails — no invoker, an invoker that
dies mid-activation, a bad reply — the activation ends in a stored record. *System actions*
(``system_actions``: the built-in alarm feeds of ``controller.feeds``) are answered by the
controller itself, without an invoker.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from common.activation import Accepted, Activation, ActivationResponse
from common.clock import now_ms
from common.httpclient import ResponseBroken
from common.ids import random_id
from common.sizes import Size
from controller.auth import Identity
from controller.balancer import DOWN, InvokerRegistry
from controller.config import ControllerConfig
from controller.entities import kv_dict, kv_get, split_fqn
from controller.entitlement import entitled_action, locate_action, sequence_plan
from controller.errors import ApiError, malformed
from controller.limits import bounded_record
from controller.metrics import ControllerMetrics
from controller.store.activations import ActivationStore, Orphan
from controller.store.controllers import ControllerStore, LiveController
from controller.store.entities import EntityStore
from controller.store.invokers import InvokerStore
from controller.throttle import Throttle

log = logging.getLogger("tango.controller")

RESULT_TOO_DEEP = "The action's result is nested too deeply to be stored as JSON."
# An activation that had started on an invoker that died: at-most-once, so it is not run again;
# its record is a whisk error, and a blocking caller gets 502 (the upstream failed), not 500
# (``controller.api.invocations.http_status``).
INVOKER_LOST = "The invoker running the activation stopped before it finished"
RECONCILE_AFTER_S = 5.0  # a new controller waits this long for invokers to re-register

# A system action: (caller, parameters) → result; an ApiError is its application error.
SystemAction = Callable[[Identity, dict], dict]


def new_activation_id() -> str:
    return random_id()


def base_record(
    namespace: str, action: dict, subject: str, activation_id: str, start: int, cause: str | None
) -> dict:
    """The ``running`` record of an activation of ``action`` (its JSON, as stored)."""
    return Activation(
        namespace=namespace,
        name=action["name"],
        version=action.get("version", "0.0.1"),
        subject=subject,
        activation_id=activation_id,
        start=start,
        response=ActivationResponse.running(),
        annotations={
            "path": entity_path(action),
            "kind": action["exec"]["kind"],
            "limits": action.get("limits", {}),
        },
        cause=cause,
    ).to_json()


def entity_path(action: dict) -> str:
    return f"{action['namespace']}/{action['name']}"


def finish_with_error(rec: dict, message: str, status_code: int = 3) -> dict:
    """Turn a (running) record into a final error record."""
    out = dict(rec)
    end = now_ms()
    out.update(
        end=end,
        duration=max(0, end - rec.get("start", end)),
        statusCode=status_code,
        response=ActivationResponse.of(status_code, {"error": message}).to_json(),
    )
    return out


class ActivationService:
    def __init__(
        self,
        config: ControllerConfig,
        entities: EntityStore,
        activations: ActivationStore,
        registry: InvokerRegistry,
        throttle: Throttle,
        controllers: ControllerStore | None = None,
        url: str = "",
        invoker_store: InvokerStore | None = None,
    ):
        self.config = config
        self.controllers = controllers
        self.invoker_store = invoker_store
        self.url = url  # where invokers reach this controller
        self.incarnation = uuid.uuid4().hex  # this process, in the controllers table
        self.name = f"{config.host}:{config.port}"
        self.started = time.monotonic()
        self.draining = False
        self.live: list[LiveController] = []
        self._pending = 0  # accepted activations not yet finished here
        self._pending_cv = threading.Condition()
        self._adopted: dict[str, Orphan] = {}  # taken over from a dead controller, running
        self.entities = entities
        self.activations = activations
        self.registry = registry
        self.throttle = throttle
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=256, thread_name_prefix="activation"
        )
        self._in_flight: dict[str, str] = {}  # activation id → invoker id
        self.metrics = ControllerMetrics()
        self.system_actions: dict[
            str, SystemAction
        ] = {}  # "ns/pkg/name" of the stored action → handler

    def in_flight_count(self) -> int:
        """Activations dispatched to an invoker and not yet answered."""
        return len(self._in_flight)

    # -- lookup --------------------------------------------------------------------------
    def resolve_action(self, namespace: str, path: str) -> tuple[dict, dict]:
        """The action document and its default parameters: for ``pkg/name`` the package's (and
        a binding's) parameters lie under the action's own (``controller.packages``)."""
        home, stored_path, inherited = locate_action(self.entities, namespace, path)
        action = self.entities.get(home, "actions", stored_path)
        return action, {**inherited, **kv_dict(action.get("parameters", []))}

    # -- REST invoke ---------------------------------------------------------------------
    def invoke(
        self,
        identity: Identity,
        namespace: str,
        path: str,
        params: dict,
        blocking: bool,
        wait_ms: int | None,
        size: Size | None = None,
        cause: str | None = None,
        queue_wait_s: float = 0.0,
    ) -> Accepted | Activation:
        """Accept an activation of ``namespace/path`` and, ``blocking``, wait up to ``wait_ms``
        for its record: the finished ``Activation``, or ``Accepted`` (not blocking, or the
        wait ran out). ``queue_wait_s``: how long the request waited for a server thread
        (admission)."""
        if not isinstance(params, dict):
            raise malformed("the invoke body must be a JSON object of parameters")
        action, defaults = entitled_action(self.entities, identity, namespace, path)
        final = (
            {kv["key"] for kv in action.get("parameters", [])}
            if kv_get(action.get("annotations", []), "final")
            else set()
        )
        if final & params.keys():
            raise ApiError(
                400, "Request defines parameters that are not allowed (e.g., reserved properties)."
            )
        merged = {**defaults, **params}
        system_action = self.system_actions.get(entity_path(action))
        if system_action is not None:
            activation = self._run_system_action(system_action, identity, action, merged, cause)
            return activation if blocking else Accepted(activation.activation_id)
        if self.draining:
            raise ApiError(503, "The controller is stopping; send the request to another one.")
        if not any(inv.state == "up" for inv in self.registry.all()):
            raise ApiError(503, "No invokers available.")
        refusal = admission(
            self._pending,
            self.config.max_pending,
            queue_wait_s,
            self.config.max_queue_wait_s,
        )
        if refusal is not None:
            self.metrics.overloaded()
            raise ApiError(503, refusal, {"Retry-After": "1"})
        limits = identity.limits or {}
        try:
            self.throttle.acquire(
                identity.namespace,
                int(limits.get("invocationsPerMinute", self.config.limits.invocations_per_minute)),
                int(limits.get("concurrentInvocations", self.config.limits.concurrent_invocations)),
            )
        except ApiError as err:
            self.metrics.throttled(identity.namespace, err.message)
            raise
        activation_id = new_activation_id()
        wait_ms = min(
            wait_ms if wait_ms is not None else self.config.limits.max_blocking_wait_ms,
            self.config.limits.max_blocking_wait_ms,
        )
        # As in OpenWhisk, the activation belongs to the namespace that invoked it: another
        # namespace's published package action runs for the caller and is listed under the caller.
        home = identity.namespace
        with self._pending_cv:
            self._pending += 1
        try:
            # Durable hand-off: the ``running`` record (with the invoke message) is queued now;
            # before an id leaves this process (a 202, or a blocking answer) it is committed, so
            # another controller can finish or re-dispatch it if this one dies. It is written
            # while the activation runs: a blocking answer seldom waits for it.
            _, _, accepted_seq = self._accept(
                identity, home, action, merged, size, cause, activation_id, now_ms()
            )
        except BaseException:
            self._finished_one()
            self.throttle.release(identity.namespace)
            raise
        if (
            blocking
            and action["limits"]["timeout"] <= wait_ms
            and action["exec"]["kind"] != "sequence"
            and self.registry.has_room(size.memory if size else action["limits"]["memory"])
        ):
            # The invoker ends the activation within its timeout, so the caller's wait can only
            # run out first if the activation queues at a full invoker (hence has_room): run it on
            # this request's thread and save two thread hand-offs (a fifth of the controller's
            # CPU per invoke).
            record = self._execute_released(
                identity, home, action, merged, size, cause, activation_id
            )
        else:
            try:
                future = self.executor.submit(
                    self._execute_released,
                    identity,
                    home,
                    action,
                    merged,
                    size,
                    cause,
                    activation_id,
                )
            except BaseException:
                self._finished_one()
                self.throttle.release(identity.namespace)
                raise
            if not blocking:
                self.activations.flush()
                return Accepted(activation_id)
            try:
                record = future.result(timeout=wait_ms / 1000.0)
            except concurrent.futures.TimeoutError:
                self.activations.flush()
                return Accepted(activation_id)
        # The id leaves only once its running row (or its final record) is committed: whatever
        # dies next, reconciliation finds it and the invoker's result completes it.
        self.activations.wait_committed(accepted_seq)
        return Activation.from_json(record)

    def _run_system_action(
        self,
        handler: SystemAction,
        identity: Identity,
        action: dict,
        params: dict,
        cause: str | None,
    ) -> Activation:
        """Run a built-in action in this process; its record is stored in the caller's namespace
        (as OpenWhisk stores an activation of a shared package's action)."""
        start = now_ms()
        rec = base_record(
            identity.namespace, action, identity.namespace, new_activation_id(), start, cause
        )
        try:
            result, status_code = handler(identity, params), 0
        except ApiError as err:
            result, status_code = {"error": err.message}, 1 if err.status < 500 else 3
        end = now_ms()
        record = replace(
            Activation.from_json(rec),
            end=end,
            duration=end - start,
            response=ActivationResponse.of(status_code, result),
        ).annotated(waitTime=0)
        self.activations.complete(
            record.to_json(), identity.namespace, entity_path(action).split("/", 1)[1]
        )
        return record

    def _execute_released(
        self, identity, namespace, action, params, size, cause, activation_id
    ) -> dict:
        try:
            return self.execute(
                identity, namespace, action, params, size, cause, activation_id, accepted=True
            )
        finally:
            self.throttle.release(identity.namespace)
            self._finished_one()

    def _finished_one(self) -> None:
        with self._pending_cv:
            self._pending -= 1
            self._pending_cv.notify_all()

    def _accept(self, identity, namespace, action, params, size, cause, activation_id, start):
        """Queue the ``running`` record of an activation (a sequence's has no invoke message:
        its components are accepted one by one when they run)."""
        rec = base_record(namespace, action, identity.namespace, activation_id, start, cause)
        if action["exec"]["kind"] == "sequence":
            deadline, message = start + 50 * self.config.limits.max_timeout, None
        else:
            deadline = start + action["limits"]["timeout"] + 120_000
            message = invoke_message(identity, namespace, action, params, size, cause, rec)
            # the code stays in the entity store (it may be large); a re-dispatch reads it back
            exec_ = {k: v for k, v in action["exec"].items() if k != "code"}
            message = {**message, "action": {**message["action"], "exec": exec_}}
        name_path = entity_path(action).split("/", 1)[1]
        seq = self.activations.accept(
            namespace,
            name_path,
            activation_id,
            start,
            deadline,
            rec,
            cause,
            controller=self.incarnation,
            message=message,
        )
        return rec, message, seq

    # -- one activation, to completion ---------------------------------------------------
    def execute(
        self,
        identity: Identity,
        namespace: str,
        action: dict,
        params: dict,
        size: Size | None = None,
        cause: str | None = None,
        activation_id: str | None = None,
        accepted: bool = False,
        deadline_ms: float | None = None,
    ) -> dict:
        """Run one action activation (or a whole sequence) and store its final record.
        ``accepted``: its running record was queued already (``invoke``). ``deadline_ms`` (epoch
        ms; a workflow node's SLO budget) goes to the runtime as /run's ``deadline`` and the record
        is annotated with it and whether it was met (``deadline``, ``deadlineMet``)."""
        activation_id = activation_id or new_activation_id()
        if action["exec"]["kind"] == "sequence":
            return self._run_sequence(
                identity, namespace, action, params, cause, activation_id, accepted
            )
        start = now_ms()
        name_path = entity_path(action).split("/", 1)[1]
        rec = base_record(namespace, action, identity.namespace, activation_id, start, cause)
        message = invoke_message(identity, namespace, action, params, size, cause, rec)
        if deadline_ms is not None:
            message["deadline"] = int(deadline_ms)
        if not accepted:
            try:
                self._accept(identity, namespace, action, params, size, cause, activation_id, start)
            except Exception:
                log.exception("could not store the accepted activation %s", activation_id)
        t0 = time.perf_counter()
        try:
            record = bounded_record(self._dispatch(message, rec, size), self.config.limits)
        except RecursionError:  # a result nested too deep to parse: the developer's error
            record = finish_with_error(rec, RESULT_TOO_DEEP, 2)
        except Exception as exc:  # never lose an activation: anything unexpected is a whisk error
            log.exception("activation %s failed in the controller", activation_id)
            record = finish_with_error(rec, f"The activation failed in the controller: {exc}")
        if deadline_ms is not None:
            record = with_deadline(record, deadline_ms)
        self.activations.complete(record, namespace, name_path)
        self.metrics.activation_finished(
            namespace, identity.namespace, record, time.perf_counter() - t0
        )
        return record

    def _dispatch(self, message: dict, rec: dict, size: Size | None) -> dict:
        """Send the invoke message to an invoker and return the final record. An invoker that
        fails before it answered the request's headers never started the activation (the
        invoker sends them once the activation is placed): the next invoker gets it."""
        action = message["action"]
        memory = size.memory if size else action["limits"]["memory"]
        activation_id = message["activationId"]
        tried: set[str] = set()
        while True:
            inv = self.registry.reserve(
                f"{message['namespace']}/{action['path']}", memory, exclude=tried
            )
            if inv is None:
                return finish_with_error(rec, "No invokers available.")
            tried.add(inv.id)
            if size is not None and (size.memory > inv.user_memory or size.cpu > inv.cpus):
                self.registry.release(inv, memory)
                return finish_with_error(
                    rec,
                    f"The requested size ({size.cpu} cpu, {size.memory} MB) exceeds the "
                    f"invoker's capacity ({inv.cpus} cpu, {inv.user_memory} MB).",
                    1,
                )
            self._in_flight[activation_id] = inv.id
            system_error = True
            dispatched_at = time.monotonic()
            try:
                status, reply = inv.pool.json(
                    "POST",
                    "/invoke",
                    message,
                    headers={"X-Tango-Internal": self.config.internal_token},
                    timeout=action["limits"]["timeout"] / 1000.0 + 120.0,
                )
                if status == 200 and isinstance(reply, dict) and "activationId" in reply:
                    system_error = reply.get("statusCode") == 3
                    if message.get("cause") and "cause" not in reply:
                        reply["cause"] = message["cause"]
                    return reply
                if status == 503:  # stopping: it did not take the activation
                    system_error = False
                    continue
                msg = reply.get("error") if isinstance(reply, dict) else str(reply)[:200]
                return finish_with_error(
                    rec, f"The invoker {inv.id} could not run the activation: {msg}"
                )
            except ResponseBroken as exc:
                if isinstance(exc.__cause__, TimeoutError):
                    return finish_with_error(
                        rec,
                        f"The invoker {inv.id} did not answer in time; the activation was aborted.",
                    )
                # It had placed the activation, maybe run it: at most once, so not again.
                self.registry.mark_down(inv.id)
                return finish_with_error(
                    rec, f"{INVOKER_LOST} (invoker {inv.id}); it was not run again."
                )
            except (ConnectionError, http.client.RemoteDisconnected):
                # Refused or broken before it answered: its process is gone and the activation
                # never started there. Send no more work there until it registers again.
                self.registry.mark_down(inv.id)
                log.warning("invoker %s unreachable; %s goes elsewhere", inv.id, activation_id)
                continue
            except (OSError, ValueError, http.client.HTTPException) as exc:
                return finish_with_error(
                    rec,
                    f"The invoker {inv.id} failed while running the activation "
                    f"({type(exc).__name__}); the activation was aborted.",
                )
            finally:
                self._in_flight.pop(activation_id, None)
                self.registry.release(inv, memory)
                self.registry.record_outcome(inv, system_error, dispatched_at)

    # -- sequences -----------------------------------------------------------------------
    def _run_sequence(
        self, identity, namespace, seq, params, cause, activation_id, accepted=False
    ) -> dict:
        start = now_ms()
        name_path = entity_path(seq).split("/", 1)[1]
        if accepted:
            rec = base_record(namespace, seq, identity.namespace, activation_id, start, cause)
        else:
            rec, _, _ = self._accept(
                identity, namespace, seq, params, None, cause, activation_id, start
            )
        ids, duration, memory, result = [], 0, 0, params
        last = None
        owner = seq["namespace"].split("/", 1)[0]  # `_` in a component is the sequence owner's
        try:  # entitled to every component, none recursive, at most 50 actions: before any runs
            sequence_plan(
                self.entities,
                identity,
                owner,
                seq["exec"]["components"],
                self.config.limits.sequence_max_length,
                (entity_path(seq), seq["exec"]["components"]),
            )
        except ApiError as err:
            last = finish_with_error(rec, err.message, 1)
        for component in seq["exec"]["components"] if last is None else []:
            ns, path = split_fqn(component, owner)
            try:
                action, defaults = entitled_action(self.entities, identity, ns, path)
            except ApiError:
                last = finish_with_error(rec, "Sequence component does not exist.", 1)
                break
            # the component's record belongs to whoever runs the sequence, like the sequence's
            child = self.execute(
                identity, namespace, action, {**defaults, **result}, None, activation_id
            )
            ids.append(child["activationId"])
            duration += child.get("duration", 0)
            memory = max(memory, action["limits"]["memory"])
            last = child
            if child["statusCode"] != 0:
                break
            result = child["response"]["result"]
        end = now_ms()
        annotations = {
            "path": entity_path(seq),
            "kind": "sequence",
            "limits": {**seq.get("limits", {}), "memory": memory},
            "waitTime": 0,
            **({"topmost": True} if cause is None else {"causedBy": "sequence"}),
        }
        record = replace(
            Activation.from_json(rec),
            end=end,
            duration=duration,
            response=(
                ActivationResponse.from_json(last["response"])
                if last
                else ActivationResponse.of(0, params)
            ),
            logs=ids,
            annotations=annotations,
        ).to_json()
        self.activations.complete(record, namespace, name_path)
        return record

    # -- recovery ------------------------------------------------------------------------
    def reap_overdue(self) -> int:
        """Finish records stuck in ``running`` past their deadline (their controller died)."""
        overdue = [a for a in self.activations.overdue(now_ms()) if a[0] not in self._in_flight]
        return self.activations.fail_running(
            [a[0] for a in overdue],
            lambda doc: finish_with_error(
                doc,
                "The activation was lost: its controller or invoker stopped before it finished.",
            ),
        )

    def beat(self) -> None:
        """Refresh this controller's row in the shared store and the list of live controllers
        (scheduler, every second): limits are divided among them (``Throttle.share``)."""
        if self.controllers is None:
            return
        self.controllers.beat(self.incarnation, self.name, self.url, self.draining)
        self.live = self.controllers.live()
        self.throttle.share = max(1, sum(1 for c in self.live if not c.draining))

    def join(self) -> None:
        """Enter the controllers table at start (an earlier process on this host:port is gone)."""
        if self.controllers is not None:
            self.controllers.join(self.incarnation, self.name, self.url)
            self.beat()

    def controller_urls(self) -> list[str]:
        """Where invokers can deliver results and heartbeats: the live controllers, this first."""
        others = [c.url for c in self.live if c.url != self.url and not c.draining]
        return ([self.url] if self.url and not self.draining else []) + others

    def reconcile(self) -> int:
        """Finish what dead controllers had accepted (scheduler, every two seconds).

        A running activation whose controller incarnation is gone is claimed (one controller
        wins), then the invokers are asked about it: a finished record is stored; one still
        running stays adopted until its record arrives (the invoker delivers it, or it is
        reported at the next look); one that no live invoker knows never started if no invoker
        died since it was accepted, and is dispatched again; otherwise it may have run on the
        dead invoker and ends with a whisk error (at most once)."""
        if self.controllers is None or time.monotonic() - self.started < RECONCILE_AFTER_S:
            return 0
        live = {c.incarnation for c in self.live} | {self.incarnation}
        for orphan in self.activations.orphans(live):
            if self.activations.claim(orphan.activation_id, orphan.controller, self.incarnation):
                self._adopted[orphan.activation_id] = orphan
        if not self._adopted:
            return 0
        ids = list(self._adopted)
        done, running, complete = self._ask_invokers(ids)
        lost_invoker_at = self._last_invoker_death_ms()
        n = 0
        for aid in ids:
            orphan = self._adopted[aid]
            fate = orphan_fate(
                finished=aid in done,
                running=aid in running,
                stored_final=aid not in done
                and aid not in running
                and self.activations.state(aid) != "running",
                all_answered=complete,
                resendable=orphan.message is not None,
                invoker_died_since=lost_invoker_at >= orphan.start,
            )
            if fate == WAIT:
                continue
            if fate == STORE:
                self.activations.complete(done[aid], orphan.namespace, orphan.name)
            elif fate == REDISPATCH:
                self._redispatch(orphan)
            elif fate == FAIL:
                self.activations.complete(
                    finish_with_error(
                        orphan.doc,
                        f"{INVOKER_LOST} or its controller stopped; it was not run again.",
                    ),
                    orphan.namespace,
                    orphan.name,
                )
            del self._adopted[aid]
            n += 1
        return n

    def _ask_invokers(self, ids: list[str]) -> tuple[dict[str, dict], set[str], bool]:
        """Finished records and running ids among ``ids`` at every invoker not down; whether
        every one answered."""
        done: dict[str, dict] = {}
        running: set[str] = set()
        complete = True
        for inv in self.registry.all():
            if inv.state == DOWN or inv.pool is None:
                continue
            try:
                status, reply = inv.pool.json(
                    "POST",
                    "/activations/lookup",
                    {"ids": ids},
                    headers={"X-Tango-Internal": self.config.internal_token},
                    timeout=5.0,
                )
            except (OSError, ValueError, http.client.HTTPException):
                complete = False
                continue
            if status != 200 or not isinstance(reply, dict):
                complete = False
                continue
            done.update(reply.get("done") or {})
            running.update(reply.get("running") or [])
        return done, running, complete

    def _last_invoker_death_ms(self) -> int:
        """When an invoker last stopped being seen (ms), as far as the shared store tells: a
        registered invoker whose heartbeats stopped. 0 if every known invoker is alive."""
        if self.invoker_store is None:
            return 0
        stale = now_ms() - int(self.registry.down_after_s * 1000)
        return max(
            (r.last_seen for r in self.invoker_store.all() if r.last_seen < stale), default=0
        )

    def _redispatch(self, orphan: Orphan) -> None:
        """Send an adopted activation that never started to an invoker (its running record
        is this controller's now) and store the outcome."""
        message = orphan.message or {}

        def run() -> None:
            rec = orphan.doc
            size = Size.from_json(message.get("size"))
            try:
                home, _, stored_path = message["action"]["path"].partition("/")
                action = self.entities.get(home, "actions", stored_path)
                message["action"]["exec"] = action["exec"]
                record = self._dispatch(message, rec, size)
            except Exception as exc:
                log.exception("re-dispatching %s failed", orphan.activation_id)
                record = finish_with_error(rec, f"The activation failed in the controller: {exc}")
            self.activations.complete(record, orphan.namespace, orphan.name)

        log.info("re-dispatching %s (its controller died before it started)", orphan.activation_id)
        self.executor.submit(run)

    def store_results(self, records: list[dict]) -> list[str]:
        """Final records an invoker delivers because the controller that sent the work was gone
        (``POST /internal/activations``); returned ids are committed (the invoker may forget
        them)."""
        ids = []
        for record in records:
            if not isinstance(record, dict) or not isinstance(record.get("activationId"), str):
                continue
            path = kv_get(record.get("annotations", []), "path") or ""
            namespace = record.get("namespace")
            if not isinstance(namespace, str) or "/" not in path:
                continue
            record = bounded_record(record, self.config.limits)
            self.activations.complete(record, namespace, path.split("/", 1)[1])
            self._adopted.pop(record["activationId"], None)
            ids.append(record["activationId"])
        self.activations.flush()
        return ids

    def drain(self, grace_s: float) -> int:
        """Stop taking invokes and wait up to ``grace_s`` for the accepted ones to finish (what is
        left is finished by another controller, or by this one's successor). Returns how many
        were still running."""
        self.draining = True
        try:
            self.beat()
        except Exception:
            log.exception("could not mark this controller draining in the store")
        with self._pending_cv:
            self._pending_cv.wait_for(lambda: self._pending <= 0, grace_s)
            left = self._pending
        self.activations.flush()
        if self.controllers is not None:
            try:
                self.controllers.leave(self.incarnation)
            except Exception:
                log.exception("could not leave the controllers table")
        return left

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def admission(
    pending: int, max_pending: int, queue_wait_s: float, max_queue_wait_s: float
) -> str | None:
    """Whether a controller takes one more activation: None, or why not (its 503 message).

    A bounded queue per controller: at most ``max_pending`` activations accepted here and not
    finished (blocking and not), and no request that already waited ``max_queue_wait_s`` for a
    server thread (the host is overloaded: its work would only wait longer). An overloaded
    controller answers at once, so a caller (or a load balancer) retries elsewhere or later
    instead of waiting in a queue that only grows."""
    if pending >= max_pending:
        return (
            f"The controller is overloaded: {pending} activations are in flight here, its "
            f"limit is {max_pending}. Retry later or send the request to another controller."
        )
    if queue_wait_s > max_queue_wait_s:
        return (
            f"The controller is overloaded: the request waited {queue_wait_s * 1000:.0f} ms "
            f"for a thread (limit {max_queue_wait_s * 1000:.0f} ms). Retry later or send the "
            "request to another controller."
        )
    return None


STORE, WAIT, SETTLED, REDISPATCH, FAIL = "store", "wait", "settled", "redispatch", "fail"


def orphan_fate(
    *,
    finished: bool,
    running: bool,
    stored_final: bool,
    all_answered: bool,
    resendable: bool,
    invoker_died_since: bool,
) -> str:
    """What to do with a running activation whose controller died (at most once).

    ``finished``/``running``: an invoker reports it so; ``stored_final``: its final record is in
    the store already (an invoker's outbox delivered it); ``all_answered``: every invoker not
    down answered the lookup; ``resendable``: its invoke message was stored; ``invoker_died_since``:
    an invoker stopped after it was accepted (it may have started there)."""
    if finished:
        return STORE
    if running:
        return WAIT
    if stored_final:
        return SETTLED
    if not all_answered:
        return WAIT  # an invoker that did not answer may have it: look again next time
    if resendable and not invoker_died_since:
        return REDISPATCH  # no live invoker has it and none died: it never started
    return FAIL


def with_deadline(record: dict, deadline_ms: float) -> dict:
    """The record annotated with its deadline (epoch ms) and whether it was met: a success that
    ended by it."""
    activation = Activation.from_json(record)
    met = activation.response.success and activation.end <= deadline_ms
    return activation.annotated(deadline=int(deadline_ms), deadlineMet=met).to_json()


def invoke_message(
    identity: Identity,
    namespace: str,
    action: dict,
    params: dict,
    size: Size | None,
    cause: str | None,
    rec: dict,
) -> dict:
    """The ``POST /invoke`` body for an invoker (docs/contracts.md); stored with the running
    record so that another controller can send it again."""
    provide_key = kv_get(action.get("annotations", []), "provide-api-key", True)
    return {
        "activationId": rec["activationId"],
        "transid": random_id(),
        "namespace": namespace,
        "subject": identity.namespace,
        "apiKey": identity.api_key if provide_key else None,
        "action": {
            "namespace": action["namespace"],
            "name": action["name"],
            "path": entity_path(action),
            "version": action.get("version"),
            "exec": action["exec"],
            "limits": action["limits"],
            "annotations": action.get("annotations", []),
        },
        "params": params,
        "initParams": {},
        "size": size.to_json() if size else None,
        "received": rec["start"],
        "cause": cause,
    }
