"""The invoker service: runs activations the controller sends, in containers it owns.

`Invoker` is the executor around the pure `ContainerPool`: it asks the pool where a request
goes, carries the decision out through `ContainerProxy` (create, resume, resize, /init, /run,
logs, destroy), and builds the OpenWhisk activation record (`invoker.activation`). It never
touches the store. `create_app(config)` exposes it over HTTP per docs/contracts.md
(`GET /ping`, `GET /status`, `POST /invoke`); `invoker.server.main` serves that app with
waitress. Periodic work (heartbeats to the controller, pausing and removing idle containers,
keeping stem cells) runs on an APScheduler `BackgroundScheduler`.

The warm path makes no Docker API call: placement is a dict walk under one lock, resizing is
a cgroup file write only when the size changes, usage and logs are file reads.
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import hmac
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, Response, request

from common.clock import now_ms
from common.prometheus import CONTENT_TYPE as METRICS_CONTENT_TYPE
from common.sizes import Size
from invoker import activation as act
from invoker.backend import (
    RUNTIME_PORT,
    ContainerBackend,
    ContainerError,
    ContainerSpec,
    container_name,
)
from invoker.config import InvokerConfig, UnsupportedKind
from invoker.container import ConnectionBroken, ContainerProxy, RunTimeout
from invoker.metrics import InvokerMetrics
from invoker.pool import (
    PAUSED,
    ActionKey,
    ContainerPool,
    Placement,
    PrewarmStart,
    Rejected,
    RunRequest,
)
from invoker.stats import LatencyStats, StatsKey

log = logging.getLogger("tango.invoker")

DEFAULT_LIMITS = {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1}
PREWARM_RETRY_S = 30.0


LEARNED_LINK_TTL_S = 60.0  # a learned controller unreachable this long is forgotten


class Stopping(Exception):
    """The invoker is shutting down and takes no more activations."""


@dataclass(frozen=True)
class Prepared:
    """A placed activation: the arguments of ``Invoker._execute``."""

    args: tuple[dict, Placement, str, float | None, Size, dict, dict]


@dataclass
class ControllerLink:
    """What the invoker knows of one controller."""

    configured: bool  # named on the command line (never forgotten)
    registered: bool = False
    failing_since: float | None = None  # monotonic s of the first failure in a row


def code_hash(exec_: dict, limits: dict) -> str:
    """Structural identity of an action definition (code, entry point, image, limits)."""
    h = hashlib.blake2b(digest_size=16)
    for part in (
        exec_.get("kind"),
        exec_.get("main"),
        exec_.get("image"),
        exec_.get("binary"),
        limits.get("memory"),
        limits.get("timeout"),
        limits.get("concurrency"),
    ):
        h.update(repr(part).encode())
    h.update((exec_.get("code") or "").encode())
    return h.hexdigest()


def container_env(config: InvokerConfig, port: int) -> dict[str, str]:
    """The runtime's listen address and the API host it gives actions. On the host network the
    runtime listens on its own loopback port; on the bridge it listens on RUNTIME_PORT in its own
    namespace, and a loopback API host is reached through `host.docker.internal` (the host's
    gateway address: the controller must listen there, not only on 127.0.0.1)."""
    if config.container_network != "bridge":
        return {
            "__OW_PROXY_HOST": "127.0.0.1",
            "__OW_PROXY_PORT": str(port),
            "__OW_API_HOST": config.api_host,
        }
    api = config.api_host
    for loopback in ("//127.0.0.1", "//localhost"):
        api = api.replace(loopback, "//host.docker.internal")
    return {
        "__OW_PROXY_HOST": "0.0.0.0",
        "__OW_PROXY_PORT": str(RUNTIME_PORT),
        "__OW_API_HOST": api,
    }


def provides_api_key(annotations: list) -> bool:
    """OpenWhisk: `provide-api-key` missing counts as true (backward compatibility)."""
    for a in annotations or ():
        if a.get("key") == "provide-api-key":
            return bool(a.get("value"))
    return True


class PortAllocator:
    """Loopback ports for action runtimes (host networking): free in our range and unbound.

    Several invokers (and several platforms in tests) share one host, and a port checked free
    can be taken by another invoker's container before ours binds it; we would then talk to
    the wrong container. An advisory lock file per port, held while our container owns it,
    makes the choice exclusive across processes (the kernel drops it if the invoker dies).
    """

    LOCK_DIR = os.path.join(tempfile.gettempdir(), "tango-ports")

    def __init__(self, first: int, last: int):
        self._free = list(range(last, first - 1, -1))
        self._held: dict[int, int] = {}  # port → fd of its lock file
        self._lock = threading.Lock()
        os.makedirs(self.LOCK_DIR, exist_ok=True)

    def allocate(self) -> int:
        with self._lock:
            for _ in range(len(self._free)):
                port = self._free.pop()
                fd = os.open(
                    os.path.join(self.LOCK_DIR, f"{port}.lock"), os.O_CREAT | os.O_RDWR, 0o644
                )
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    self._free.insert(0, port)
                    continue
                if _bindable(port):
                    self._held[port] = fd
                    return port
                os.close(fd)
                self._free.insert(0, port)
        raise ContainerError("no free container port left in the configured range")

    def release(self, port: int) -> None:
        with self._lock:
            fd = self._held.pop(port, None)
            if fd is not None:
                os.close(fd)
            self._free.insert(0, port)


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def every(scheduler: BackgroundScheduler, seconds: float, job: Callable[[], object]) -> None:
    """Run ``job`` periodically, one run at a time; missed runs coalesce into one."""
    scheduler.add_job(
        job, "interval", seconds=seconds, max_instances=1, coalesce=True, id=job.__name__
    )


class Invoker:
    def __init__(self, config: InvokerConfig, backend: ContainerBackend | None = None):
        if backend is None:
            from invoker.docker_backend import DockerBackend

            backend = DockerBackend(config.instance)
        self.config, self.backend = config, backend
        self.pool = ContainerPool(config.pool_config())
        self.cond = threading.Condition()
        self.proxies: dict[int, ContainerProxy] = {}
        self.placed: dict[RunRequest, Placement] = {}
        self.ports = PortAllocator(*config.container_ports)
        self.stats = LatencyStats(config.stats_window)
        self.metrics = InvokerMetrics(config.id)
        self.stopping = False
        self._counter = 0
        self._prewarm_blocked_until = 0.0
        self._maintain_lock = threading.Lock()
        self._session = requests.Session()
        self._leave_lock = threading.Lock()  # heartbeat vs deregister
        self._scheduler: BackgroundScheduler | None = None
        self._links_lock = threading.Lock()
        self._links: dict[str, ControllerLink] = {
            url: ControllerLink(configured=True) for url in config.controller_urls
        }
        self._dead_invokers: set[str] = set()  # reported down by a controller
        self._reaped: set[str] = set()  # dead invokers whose containers were removed
        self._results_lock = threading.Lock()
        self._running: set[str] = set()  # activation ids received and not yet answered
        self._recent: collections.OrderedDict[str, dict] = collections.OrderedDict()
        self._outbox: dict[str, dict] = {}  # finished, its controller hung up, not yet stored

    # ---- start / stop ---------------------------------------------------------------------

    def start(self) -> None:
        """Remove leftovers of an earlier run, register, start periodic work and stem cells."""
        removed = self.backend.remove_leftovers()
        if removed:
            log.info("removed %d leftover containers: %s", len(removed), ", ".join(removed))
        self._scheduler = scheduler = BackgroundScheduler(daemon=True)
        every(scheduler, 0.5, self.maintain)
        if self.config.controller_urls:
            self.heartbeat()  # registers with every controller that answers
            every(scheduler, self.config.heartbeat_interval, self.heartbeat)
            every(scheduler, 2, self.reap_dead_invokers)
            every(scheduler, self.config.outbox_retry_s, self.deliver_outbox)
        self._scheduler.start()
        self.maintain()

    def quiesce(self, grace_s: float) -> None:
        """Refuse new work, wake buffered requests (they answer 503 and are sent elsewhere),
        leave every controller (none routes here any more) and wait up to ``grace_s`` for the
        running activations to finish; then deliver what the outbox holds."""
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.deregister()
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            with self._results_lock:
                if not self._running:
                    break
            time.sleep(0.1)
        self.deliver_outbox()

    def stop(self) -> None:
        """Refuse new work, wake buffered requests, stop periodic work, remove containers."""
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        with self._maintain_lock:  # a stem cell being started is removed too
            for cid in list(self.proxies):
                self._remove(cid)

    # ---- controller link ------------------------------------------------------------------
    #
    # An invoker belongs to the cluster, not to one controller: it registers with and
    # heartbeats to every controller it knows (the configured ones and those the controllers
    # name in their answers), registers again whenever one answers 404 (a restarted controller),
    # and keeps trying the unreachable ones (a controller started after the invoker joins at its
    # first heartbeat). A result whose controller hung up goes to the outbox and is offered to
    # any live controller until one has stored it.

    def _post(self, url: str, path: str, body: dict) -> requests.Response:
        headers = {"X-Tango-Internal": self.config.token} if self.config.token else {}
        return self._session.post(url.rstrip("/") + path, json=body, headers=headers, timeout=2)

    def _learn(self, resp: requests.Response) -> None:
        """Add the controllers a controller names (its live peers in the shared store), and
        note the invokers it reports dead (``reap_dead_invokers``)."""
        try:
            body = resp.json()
            urls = body.get("controllers") or []
            down = body.get("down")
        except (ValueError, AttributeError):
            return
        if isinstance(down, list):
            with self._links_lock:
                self._dead_invokers = {
                    d for d in down if isinstance(d, str) and d != self.config.id
                }
        with self._links_lock:
            for url in urls:
                if isinstance(url, str) and url not in self._links:
                    log.info("learned controller %s", url)
                    self._links[url] = ControllerLink(configured=False)

    def register(self, url: str | None = None) -> bool:
        """Register with one controller (default: the first configured); whether it took it."""
        url = url or self.config.controller_url
        if url is None:
            return False
        try:
            resp = self._post(
                url,
                "/internal/invokers",
                {
                    "id": self.config.id,
                    "url": f"http://{self.config.host}:{self.config.port}",
                    "userMemory": self.config.user_memory,
                    "cpus": self.config.cpus,
                },
            )
            resp.raise_for_status()
        except requests.RequestException as e:
            log.warning("registration at %s failed (the next heartbeat retries): %s", url, e)
            return False
        self._learn(resp)
        log.info("registered with %s", url)
        return True

    def deregister(self) -> None:
        """Tell every known controller that this invoker leaves (``DELETE /internal/invokers/
        ID``); one that does not answer marks it down when its heartbeats stop."""
        headers = {"X-Tango-Internal": self.config.token} if self.config.token else {}
        with self._leave_lock:  # after a heartbeat under way, which may register again
            self.stopping = True
            with self._links_lock:
                urls = list(self._links)
        for url in urls:
            try:
                path = f"{url.rstrip('/')}/internal/invokers/{self.config.id}"
                self._session.delete(path, headers=headers, timeout=2).raise_for_status()
                log.info("deregistered from %s", url)
            except requests.RequestException as e:
                log.warning("could not deregister from %s: %s", url, e)

    def heartbeat(self) -> None:
        with self._leave_lock:
            if not self.stopping:  # it left the controllers: a heartbeat would register again
                self._beat()

    def _beat(self) -> None:
        with self.cond:
            pool = self.pool.summary()
        body = {"pool": pool, "stats": self.stats.snapshot(), "sent": time.time()}
        with self._links_lock:
            links = list(self._links.items())
        for url, link in links:
            if not link.registered:
                link.registered = self.register(url)
                if not link.registered:
                    self._link_failed(url, link)
                    continue
            try:
                resp = self._post(url, f"/internal/invokers/{self.config.id}/heartbeat", body)
                if resp.status_code == 404:  # the controller restarted: join it again
                    link.registered = self.register(url)
                    continue
                resp.raise_for_status()
            except requests.RequestException as e:
                link.registered = False
                log.warning("heartbeat to %s failed: %s", url, e)
                self._link_failed(url, link)
                continue
            link.failing_since = None
            self._learn(resp)

    def _link_failed(self, url: str, link: ControllerLink) -> None:
        now = time.monotonic()
        link.failing_since = link.failing_since or now
        if not link.configured and now - link.failing_since > LEARNED_LINK_TTL_S:
            with self._links_lock:
                self._links.pop(url, None)

    def reap_dead_invokers(self) -> list[str]:
        """Remove the containers of invokers of this host that the controllers report dead
        (no heartbeat for twice their down time): nobody else would. Their labels carry the
        invoker id scoped like this invoker's (``InvokerConfig.instance``)."""
        with self._links_lock:
            dead = set(self._dead_invokers)
        self._reaped &= dead  # one that came back and died again is reaped again
        removed = []
        scope = self.config.instance[len(self.config.id) :]
        for other in sorted(dead - self._reaped):
            try:
                names = self.backend.remove_leftovers(other + scope)
            except Exception as e:
                log.warning("could not remove the containers of dead invoker %s: %s", other, e)
                continue
            self._reaped.add(other)
            if names:
                log.info("removed %d containers of dead invoker %s", len(names), other)
            removed += names
        return removed

    def controllers(self) -> list[str]:
        """Known controllers, those answering first."""
        with self._links_lock:
            return sorted(self._links, key=lambda u: self._links[u].failing_since is not None)

    # ---- results: tracking, outbox, lookup -------------------------------------------------

    def track_start(self, activation_id: str) -> None:
        with self._results_lock:
            self._running.add(activation_id)

    def track_end(self, activation_id: str, record: dict | None, hung_up: bool) -> None:
        """The activation ended here (``record`` None: it never ran). A record whose controller
        hung up goes to the outbox; every record is kept a while for ``lookup``."""
        with self._results_lock:
            self._running.discard(activation_id)
            if record is None:
                return
            self._recent[activation_id] = record
            while len(self._recent) > self.config.recent_results:
                self._recent.popitem(last=False)
            if hung_up:
                self._outbox[activation_id] = record
        if hung_up:
            log.info("controller hung up; %s waits in the outbox", activation_id)

    def lookup(self, ids: list[str]) -> dict:
        """What this invoker knows of ``ids``: finished records and those still running."""
        with self._results_lock:
            done = {i: self._outbox.get(i) or self._recent.get(i) for i in ids}
            return {
                "done": {i: r for i, r in done.items() if r is not None},
                "running": [i for i in ids if i in self._running],
            }

    def deliver_outbox(self) -> int:
        """Offer undelivered results to the known controllers until one stores them."""
        with self._results_lock:
            records = list(self._outbox.values())[:200]
        if not records:
            return 0
        for url in self.controllers():
            try:
                resp = self._post(url, "/internal/activations", {"records": records})
                resp.raise_for_status()
                stored = resp.json().get("stored") or []
            except (requests.RequestException, ValueError, AttributeError) as e:
                log.warning("delivering %d results to %s failed: %s", len(records), url, e)
                continue
            with self._results_lock:
                for aid in stored:
                    self._outbox.pop(aid, None)
            log.info("delivered %d results to %s", len(stored), url)
            return len(stored)
        return 0

    def status(self) -> dict:
        mono, wall = time.monotonic(), time.time()
        with self.cond:
            containers = [
                {
                    "name": self.proxies[c.cid].handle.name if c.cid in self.proxies else None,
                    "port": self.proxies[c.cid].handle.port if c.cid in self.proxies else None,
                    "kind": c.kind,
                    "action": c.key.path if c.key else None,
                    "state": c.state,
                    "cpu": c.cpu,
                    "memory": c.memory,
                    "lastUsed": int((wall - (mono - c.last_used)) * 1000),
                }
                for c in self.pool.containers.values()
            ]
            buffered = len(self.pool.buffer)
        return {
            "id": self.config.id,
            "userMemory": self.config.user_memory,
            "cpus": self.config.cpus,
            "containers": containers,
            "buffer": buffered,
        }

    # ---- periodic maintenance -------------------------------------------------------------

    def maintain(self) -> None:
        """Pause and remove idle containers, keep stem cells (scheduler thread)."""
        if not self._maintain_lock.acquire(blocking=False):
            return
        try:
            with self.cond:
                if self.stopping:
                    return
                plan = self.pool.reap(time.monotonic())
                starts = (
                    []
                    if time.monotonic() < self._prewarm_blocked_until
                    else self.pool.prewarm_plan()
                )
            for cid in plan.pause:
                self._pause(cid)
            for cid in plan.remove:
                self._remove(cid)
            for start in starts:
                self._start_prewarm(start)
        finally:
            self._maintain_lock.release()

    def _pause(self, cid: int) -> None:
        proxy = self.proxies.get(cid)
        if proxy is None:
            return

        def still_wanted() -> bool:
            with self.cond:
                c = self.pool.containers.get(cid)
                return c is not None and c.state == PAUSED

        try:
            proxy.pause(still_wanted)
        except Exception as e:  # a container that cannot pause is not trusted
            log.warning("pausing %s failed, removing it: %s", proxy.handle.name, e)
            with self.cond:
                self.pool.discard(cid)
            self._remove(cid)

    def _start_prewarm(self, start: PrewarmStart) -> None:
        try:
            image = self.config.image_for(start.kind, {})
            self._start_container(start.cid, image, start.memory, None, ("prewarm", start.kind))
        except Exception as e:
            log.warning(
                "stem cell %s could not start (retrying in %.0f s): %s",
                start.kind,
                PREWARM_RETRY_S,
                e,
            )
            self._prewarm_blocked_until = time.monotonic() + PREWARM_RETRY_S
            self._forget(start.cid)

    # ---- containers -----------------------------------------------------------------------

    def _start_container(
        self, cid: int, image: str, memory: int, cpu: float | None, name_parts: tuple[str, ...]
    ) -> ContainerProxy:
        with self.cond:
            self._counter += 1
            counter = self._counter
        port = self.ports.allocate()
        spec = ContainerSpec(
            name=container_name(self.config.instance, counter, *name_parts),
            image=image,
            port=port,
            memory=memory,
            cpu=cpu,
            cpu_shares=max(1024 * memory // self.config.user_memory, 2),
            env=container_env(self.config, port),
            gpus=self.config.wants_gpus(image),
            network=self.config.container_network,
        )
        try:
            proxy = ContainerProxy.start(self.backend, spec, self.config.start_timeout)
        except BaseException:
            self.ports.release(port)
            raise
        with self.cond:
            self.proxies[cid] = proxy
            self.pool.started(cid)
            self._drain_locked()  # a started stem cell stops holding CPU: room for waiters
        return proxy

    def _remove(self, cid: int) -> None:
        proxy = self.proxies.pop(cid, None)
        if proxy is not None:
            try:
                proxy.destroy()
            except Exception as e:
                log.warning("removing %s failed: %s", proxy.handle.name, e)
            self.ports.release(proxy.handle.port)
        self._forget(cid)

    def _forget(self, cid: int) -> None:
        with self.cond:
            self.pool.removed(cid)
            self._drain_locked()

    def _drain_locked(self) -> None:
        placed = self.pool.drain(time.monotonic())
        for placement in placed:
            self.placed[placement.request] = placement
        if placed:
            self.cond.notify_all()

    def _acquire(self, req: RunRequest) -> Placement:
        with self.cond:
            if self.stopping:
                raise Stopping()
            decision = self.pool.submit(req, time.monotonic())
            if isinstance(decision, Rejected):
                raise UnsupportedKind(decision.reason)
            if isinstance(decision, Placement):
                return decision
            while req not in self.placed:
                if self.stopping:
                    self.pool.cancel(req)
                    raise Stopping()
                if not self.cond.wait(0.5):
                    # Nothing was released, but time passes too: the head may have outwaited its
                    # grace, or a stem cell finished starting. Without this a lone request could
                    # wait forever for an event that never comes.
                    self._drain_locked()
            return self.placed.pop(req)

    def _release(self, cid: int, reusable: bool) -> None:
        with self.cond:
            self.pool.release(cid, time.monotonic(), reusable)
            if reusable:
                self._drain_locked()
        if not reusable:
            self._remove(cid)

    # ---- activations ----------------------------------------------------------------------

    def invoke(self, msg: dict) -> dict:
        """Run one activation (blocking) and return its complete activation record."""
        return self.run_prepared(self.prepare(msg))

    def run_prepared(self, prepared: Prepared | dict, retry: bool = True) -> dict:
        """Run a placed activation (``prepare``) to its record. A reused container found gone
        before the activation reached it (killed outside the invoker) is removed and the
        activation placed again, once (``retry``)."""
        if isinstance(prepared, dict):
            return prepared
        record = self._execute(*prepared.args, retry=retry)
        if record is not None:
            return record
        log.warning("a container of %s was gone; placing it again", prepared.args[6]["path"])
        return self.run_prepared(self.prepare(prepared.args[0]), retry=False)

    def abandon(self, prepared: Prepared | dict) -> None:
        """Give back a placement that will not run (its controller hung up before the
        activation started): the container is reusable as it was."""
        if isinstance(prepared, Prepared):
            placement = prepared.args[1]
            for evicted in placement.evict:
                self._remove(evicted)
            if placement.create:
                self._forget(placement.cid)
            else:
                self._release(placement.cid, True)

    def prepare(self, msg: dict) -> Prepared | dict:
        """Place one activation: wait until a container is assigned (buffered while the
        invoker is full). A dict: the final record of an activation that cannot run here.
        Raises ``Stopping`` when the invoker stops first (the activation never started)."""
        action = msg["action"]
        exec_ = action.get("exec") or {}
        limits = {**DEFAULT_LIMITS, **(action.get("limits") or {})}
        kind = exec_.get("kind", "")
        size = Size.from_json(msg.get("size"))
        memory = size.memory if size else int(limits["memory"])
        notes = {
            "path": action.get("path") or f"{action['namespace']}/{action['name']}",
            "kind": kind,
            "limits": limits,
        }
        try:
            image = self.config.image_for(kind, exec_)
            req = RunRequest(
                ActionKey(
                    msg.get("namespace") or action["namespace"],
                    notes["path"],
                    action.get("version", "0.0.1"),
                    code_hash(exec_, limits),
                ),
                self.config.canonical_kind(kind),
                memory,
                size.cpu if size else self.pool.config.default_cpu(memory),
                int(limits["memory"]),
                max(int(limits["concurrency"]), 1),
            )
            placement = self._acquire(req)
        except UnsupportedKind as e:
            t = now_ms()
            outcome = act.error(act.DEVELOPER_ERROR, str(e))
            return act.build_record(
                msg,
                outcome,
                start=t,
                end=t,
                logs=[],
                annotations={
                    **notes,
                    "waitTime": t - msg.get("received", t),
                    "timeout": False,
                    "invoker": self.config.id,
                },
            )
        applied = Size(req.cpu, memory, size.option if size else None)
        return Prepared((msg, placement, image, size.cpu if size else None, applied, limits, notes))

    def _execute(
        self,
        msg: dict,
        placement: Placement,
        image: str,
        cpu_limit: float | None,
        applied: Size,
        limits: dict,
        notes: dict,
        retry: bool = True,
    ) -> dict | None:
        """The activation's record; None when a reused container was gone before the request
        reached it (``retry``: the caller places the activation again)."""
        cid, action = placement.cid, msg["action"]
        timeout_s = limits["timeout"] / 1000.0
        proxy, init_ms, resize_ms, usage, timed_out = None, None, 0.0, None, False
        start = end = None
        sent = [False]  # whether /init or /run reached the container
        try:
            for evicted in placement.evict:
                self._remove(evicted)
            if placement.create:
                proxy = self._start_container(
                    cid, image, applied.memory, cpu_limit, (notes["path"].replace("/", "_"),)
                )
            else:
                proxy = self.proxies[cid]
                if placement.resume:
                    proxy.resume()
            resize_ms = proxy.resize(cpu_limit, applied.memory)
            start = now_ms()
            outcome = None
            if not proxy.initialized:
                t0 = time.perf_counter()
                try:
                    sent[0] = True
                    outcome = act.classify_init(*proxy.init(self._init_body(msg), timeout_s))
                except RunTimeout:
                    outcome, timed_out = (
                        act.error(act.DEVELOPER_ERROR, act.timed_out(limits["timeout"], init=True)),
                        True,
                    )
                except ConnectionBroken as e:
                    if isinstance(e.__cause__, ConnectionRefusedError):
                        sent[0] = False  # nothing listens: it never got the request
                        raise
                    outcome = act.error(act.DEVELOPER_ERROR, act.ABNORMAL_INIT)
                init_ms = int((time.perf_counter() - t0) * 1000)
            if outcome is None:
                outcome, usage, timed_out = self._run(proxy, msg, timeout_s, limits, applied, sent)
            end = now_ms()
        except Exception as e:  # engine, cgroup or bug: never leak the reservation
            if retry and not placement.create and not sent[0]:
                # a reused container that is gone (killed outside the invoker) before the
                # activation reached it: remove it; the activation is placed again
                log.warning("container %s unusable (%s); removing it", cid, e)
                self._release(cid, False)
                return None
            outcome = self._start_failure(action, image, e)
        end = end or now_ms()
        start = start or end
        reusable = outcome.status_code in (act.SUCCESS, act.APPLICATION_ERROR)
        logs = []
        if proxy is not None and int(limits["concurrency"]) == 1:
            logs = proxy.collect_logs(limits["logs"], self.config.log_idle_timeout)
        if proxy is None:
            self._forget(cid)
        else:
            self._release(cid, reusable)
        self.metrics.activation_finished(
            notes["path"], outcome.status_code, placement.start_kind, resize_ms, init_ms
        )
        annotations = {
            **notes,
            "waitTime": max(start - msg.get("received", start), 0),
            "timeout": timed_out,
        }
        if init_ms is not None:
            annotations["initTime"] = init_ms
        annotations.update(
            {
                "size": applied.to_json(),
                "resizeTime": round(resize_ms, 3),
                "usage": usage or {"cpuTime": 0.0, "maxMemory": 0},
                "startKind": placement.start_kind,
                "invoker": self.config.id,
            }
        )
        return act.build_record(
            msg, outcome, start=start, end=end, logs=logs, annotations=annotations
        )

    def _run(
        self,
        proxy: ContainerProxy,
        msg: dict,
        timeout_s: float,
        limits: dict,
        applied: Size,
        sent: list[bool],
    ) -> tuple[act.Outcome, dict, bool]:
        body = self._run_body(msg, limits)
        proxy.begin_usage()
        t0 = time.perf_counter()
        timed_out = False
        try:
            sent[0] = True
            outcome = act.classify_run(*proxy.run(body, timeout_s))
        except RunTimeout:
            outcome, timed_out = (
                act.error(act.DEVELOPER_ERROR, act.timed_out(limits["timeout"])),
                True,
            )
        except ConnectionBroken as e:
            if isinstance(e.__cause__, ConnectionRefusedError):
                sent[0] = False  # nothing listens: it never got the request
                raise
            outcome = act.error(act.DEVELOPER_ERROR, act.ABNORMAL_RUN)
        latency_ms = (time.perf_counter() - t0) * 1000
        self.metrics.run_finished(msg["action"].get("path", ""), latency_ms)
        usage = proxy.end_usage()
        if outcome.status_code == act.DEVELOPER_ERROR and not timed_out and proxy.oom_killed():
            outcome = act.error(act.DEVELOPER_ERROR, act.MEMORY_EXHAUSTED)
        if outcome.status_code in (act.SUCCESS, act.APPLICATION_ERROR):
            self.stats.record(
                StatsKey(
                    msg["action"].get("path", ""), applied.option, applied.cpu, applied.memory
                ),
                latency_ms,
            )
        return outcome, usage, timed_out

    @staticmethod
    def _start_failure(action: dict, image: str, e: Exception) -> act.Outcome:
        if isinstance(e, ContainerError) and (action.get("exec") or {}).get("kind") == "blackbox":
            return act.error(act.DEVELOPER_ERROR, f"Failed to pull container image '{image}'.")
        log.warning("container failure for %s: %s", action.get("path"), e, exc_info=e)
        return act.error(act.INTERNAL_ERROR, f"The invoker could not run the action: {e}")

    # ---- runtime protocol bodies ----------------------------------------------------------

    def _context(self, msg: dict, limits: dict) -> dict:
        """The activation context (`__OW_*` without the prefix, lower case)."""
        action = msg["action"]
        ctx = {
            "namespace": msg.get("namespace") or action["namespace"],
            "action_name": "/" + (action.get("path") or action["name"]),
            "action_version": action.get("version", "0.0.1"),
            "activation_id": msg["activationId"],
            "transaction_id": msg.get("transid") or "",
            "deadline": str(deadline(msg, limits)),
        }
        if msg.get("apiKey") and provides_api_key(action.get("annotations")):
            ctx["api_key"] = msg["apiKey"]
        return ctx

    def _init_body(self, msg: dict) -> bytes:
        action = msg["action"]
        exec_ = action.get("exec") or {}
        limits = {**DEFAULT_LIMITS, **(action.get("limits") or {})}
        env = {f"__OW_{k.upper()}": v for k, v in self._context(msg, limits).items()}
        for k, v in (msg.get("initParams") or {}).items():
            env[k] = v if isinstance(v, str) else json.dumps(v)
        return json.dumps(
            {
                "value": {
                    "name": action["name"],
                    "main": exec_.get("main") or "main",
                    "code": exec_.get("code") or "",
                    "binary": bool(exec_.get("binary")),
                    "env": env,
                }
            }
        ).encode()

    def _run_body(self, msg: dict, limits: dict) -> bytes:
        return json.dumps({"value": msg.get("params") or {}, **self._context(msg, limits)}).encode()


# ---- HTTP ---------------------------------------------------------------------------------


def create_app(config: InvokerConfig, backend: ContainerBackend | None = None) -> Flask:
    """The invoker's HTTP API; the `Invoker` is at `app.extensions["invoker"]` (not started)."""
    invoker = Invoker(config, backend)
    app = Flask("tango.invoker")
    app.extensions["invoker"] = invoker

    def answer(body, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, mimetype="application/json")

    @app.before_request
    def check_token():
        # Every endpoint, /metrics included: on the host network action code reaches this port
        # too, and the metrics name actions of every namespace (docs/contracts.md).
        presented = request.headers.get("X-Tango-Internal", "").encode("utf-8", "replace")
        if config.token and not hmac.compare_digest(presented, config.token.encode("utf-8")):
            return answer(
                {
                    "error": "missing or wrong X-Tango-Internal header",
                    "code": request.headers.get("X-Request-Id", ""),
                },
                401,
            )
        return None

    @app.get("/ping")
    def ping():
        return Response("pong", mimetype="text/plain")

    @app.get("/status")
    def status():
        return answer(invoker.status())

    @app.get("/metrics")
    def metrics():
        def summary() -> dict:
            with invoker.cond:
                return invoker.pool.summary()

        return Response(invoker.metrics.render(summary), content_type=METRICS_CONTENT_TYPE)

    @app.post("/invoke")
    def invoke():
        msg = request.get_json(force=True, silent=True)
        if (
            not isinstance(msg, dict)
            or not isinstance(msg.get("action"), dict)
            or "activationId" not in msg
        ):
            return answer(
                {
                    "error": "POST /invoke needs a JSON object with 'activationId' and "
                    "'action' (see docs/contracts.md)",
                    "code": "",
                },
                400,
            )
        activation_id = str(msg["activationId"])
        hung_up = request.environ.get("waitress.client_disconnected") or (lambda: False)
        invoker.track_start(activation_id)
        try:
            prepared = invoker.prepare(msg)
        except Stopping:
            invoker.track_end(activation_id, None, False)
            return answer(
                {"error": f"invoker {config.id} is stopping", "code": msg.get("transid") or ""}, 503
            )
        except BaseException:
            invoker.track_end(activation_id, None, False)
            raise

        def stream():
            # The status line and headers leave once the activation is placed: a controller
            # that saw them knows it may have run (never send it elsewhere); one that did not
            # knows it never started here (docs/contracts.md, at most once).
            try:
                yield b" "
            except GeneratorExit:  # the controller hung up before it started: do not run it
                invoker.abandon(prepared)
                invoker.track_end(activation_id, None, False)
                raise
            record = invoker.run_prepared(prepared)
            invoker.track_end(activation_id, record, hung_up())
            try:
                yield json.dumps(record).encode()
            except GeneratorExit:  # the answer could not be written: the outbox delivers it
                invoker.track_end(activation_id, record, True)
                raise

        return Response(stream(), mimetype="application/json")

    @app.post("/activations/lookup")
    def lookup():
        body = request.get_json(force=True, silent=True)
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return answer(
                {"error": "POST /activations/lookup needs {'ids': [...]}", "code": ""}, 400
            )
        return answer(invoker.lookup(ids))

    return app


def deadline(msg: dict, limits: dict) -> int:
    """The activation's deadline (epoch ms): its timeout from now, or the caller's earlier one
    (a workflow node's SLO budget, the invoke message's ``deadline``)."""
    timeout = now_ms() + int(limits["timeout"])
    asked = msg.get("deadline")
    return min(timeout, int(asked)) if isinstance(asked, (int, float)) else timeout
