"""The controller's Flask application factory.

``create_app(config)`` opens the store (running migrations), wires the services the blueprints
use (``Services``), registers one blueprint per API resource and the OpenWhisk error handling,
and starts the periodic jobs (invoker health, reaping lost activations, the alarm leadership) on
APScheduler.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from common.clock import now_ms
from controller.alarm_leader import AlarmLeader
from controller.api.common import CORS_HEADERS
from controller.auth import Subjects
from controller.balancer import InvokerRegistry
from controller.config import GUEST_KEY, SYSTEM_KEY, ControllerConfig
from controller.errors import NOT_FOUND, ApiError, transaction_id
from controller.invoke import ActivationService
from controller.limits import BodyLimit
from controller.store.activations import ActivationStore
from controller.store.controllers import ControllerStore
from controller.store.db import Database
from controller.store.entities import EntityStore
from controller.store.invokers import InvokerStore
from controller.throttle import Throttle
from controller.workflow_service import WorkflowService

log = logging.getLogger("tango.controller")


@dataclass
class Services:
    config: ControllerConfig
    db: Database
    subjects: Subjects
    entities: EntityStore
    activations: ActivationStore
    registry: InvokerRegistry
    invoker_store: InvokerStore
    throttle: Throttle
    activation_service: ActivationService  # invokes actions: routes to invokers, records
    workflows: WorkflowService
    scheduler: BackgroundScheduler
    alarm_leader: AlarmLeader  # runs the alarm scheduler (controller.alarms) when leading

    def close(self) -> None:
        self.alarm_leader.close()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.activation_service.shutdown()
        self.workflows.shutdown()
        self.activations.close()
        self.db.dispose()


def build_services(config: ControllerConfig) -> Services:
    db = Database(config.db_url)
    db.migrate()
    subjects = Subjects(db)
    if config.bootstrap_dev_keys:
        subjects.ensure("guest", GUEST_KEY)
        subjects.ensure("whisk.system", SYSTEM_KEY, admin=True)
    entities, activations = EntityStore(db), ActivationStore(db)
    registry = InvokerRegistry(config.invoker_down_after_s)
    invoker_store = InvokerStore(db)
    throttle = Throttle()
    host = socket.gethostname() if config.host in ("0.0.0.0", "::", "") else config.host
    activation_service = ActivationService(
        config,
        entities,
        activations,
        registry,
        throttle,
        ControllerStore(db),
        config.advertise_url or f"http://{host}:{config.port}",
        invoker_store,
    )
    activation_service.join()
    # Only heartbeats stored after this start count: a row of an invoker that just stopped
    # still looks alive (its URL may be gone); live ones report within a second.
    seen_invokers = {row.id: row.last_seen for row in invoker_store.all()}
    workflows = WorkflowService(db, activation_service, registry.stats)
    scheduler = BackgroundScheduler(daemon=True)
    # Periodic work, each job at most once at a time (a late run is skipped, not queued).
    periodic: list[tuple[str, float, Callable[[], object]]] = [
        ("invoker-health", 1, registry.check_health),
        ("invoker-sync", 1, lambda: sync_invokers(registry, invoker_store, seen_invokers)),
        ("controller-beat", 1, activation_service.beat),
        ("reconcile-orphans", 2, activation_service.reconcile),
        ("reap-lost-activations", 10, activation_service.reap_overdue),
    ]
    for job_id, seconds, job in periodic:
        scheduler.add_job(
            job, "interval", seconds=seconds, id=job_id, max_instances=1, coalesce=True
        )
    alarm_leader = AlarmLeader(db.engine, BackgroundScheduler(daemon=True), enabled=config.alarms)
    scheduler.add_job(
        alarm_leader.tick,
        "interval",
        seconds=config.alarm_leader_poll_s,
        id="alarm-leadership",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
        misfire_grace_time=None,
    )
    return Services(
        config,
        db,
        subjects,
        entities,
        activations,
        registry,
        invoker_store,
        throttle,
        activation_service,
        workflows,
        scheduler,
        alarm_leader,
    )


def sync_invokers(registry: InvokerRegistry, store: InvokerStore, seen: dict[str, int]) -> None:
    """Learn invokers that registered or reported to another controller of the same store:
    a heartbeat stored since the last look counts as a heartbeat here."""
    now = now_ms()
    for row in store.all():
        if (
            row.last_seen <= seen.get(row.id, 0)
            or now - row.last_seen > registry.down_after_s * 1000
        ):
            continue
        seen[row.id] = row.last_seen
        if registry.get(row.id) is None:
            registry.register(row.id, row.url, row.user_memory, row.cpus)
        registry.heartbeat(row.id, row.status or {}, row.last_seen / 1000)


def create_app(
    config: ControllerConfig, services: Services | None = None, start_jobs: bool = True
) -> Flask:
    from controller import console, utils_package
    from controller.api import (
        actions,
        activations,
        apigw,
        info,
        internal,
        metrics,
        namespaces,
        packages,
        rules,
        simulate,
        triggers,
        web,
        workflows,
    )

    app = Flask("tango-controller")
    cast(DefaultJSONProvider, app.json).sort_keys = False  # Flask's default provider
    # Every request body is bounded before anything reads it (web actions included).
    app.wsgi_app = BodyLimit(app.wsgi_app, config.limits, CORS_HEADERS)  # type: ignore[method-assign]
    svc = services or build_services(config)
    app.extensions["tango"] = svc
    for bp in (info.bp, namespaces.bp, actions.bp, activations.bp, internal.bp, workflows.bp):
        app.register_blueprint(bp)
    app.register_blueprint(simulate.bp)  # what-if simulation of a workflow (janus_sim)
    # Resources that set up more than a blueprint (services, schedulers, session keys):
    for module in (packages, triggers, rules, web, apigw, metrics, console):
        module.register(app)
    utils_package.install(svc.entities, config.limits)  # /whisk.system/utils, as OpenWhisk has
    if start_jobs and not svc.scheduler.running:
        svc.scheduler.start()

    @app.before_request
    def _tid():
        g.tid = transaction_id()
        if request.method == "OPTIONS" and not request.path.startswith("/api/v1/web/"):
            return "", 200, CORS_HEADERS  # web actions decide for themselves (web-custom-options)

    @app.after_request
    def _cors(resp):
        for key, value in CORS_HEADERS.items():  # a web action's own headers win
            resp.headers.setdefault(key, value)
        return resp

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        resp = jsonify({"error": err.message, "code": g.get("tid", "")})
        resp.status_code = err.status
        resp.headers.update(err.headers)
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        msg = NOT_FOUND if err.code == 404 else (err.description or err.name)
        if err.code == 405:
            msg = f"Method {request.method} is not allowed on {request.path}."
        resp = jsonify({"error": msg, "code": g.get("tid", "")})
        resp.status_code = err.code or 500
        return resp

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        resp = jsonify({"error": "An internal error occurred.", "code": g.get("tid", "")})
        resp.status_code = 500
        return resp

    return app
