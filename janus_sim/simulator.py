"""The discrete-event simulator: workflow requests on a simulated cluster, sized by Tango's own
decision code.

What runs is the platform's code, on a simulated clock:
- sizing: the adapter (`controller.adapter.Adapter` around `make_sizing_policy(...)`: late-bound hints
  through the hint evaluator, every baseline), fed the same `NodeState` the live engine builds
  (`controller.workflow_engine.node_state`) and observing each finished activation as live;
- the DAG walk: a node starts when all its predecessors have finished, its foreach items at
  once (at most `max_parallel` in flight per request, as the engine's thread pool);
- placement: the controller's balancer (`choose_invoker`), then the invoker's `ContainerPool`
  (warm, prewarm, cold, evict, FIFO buffer; periodic reap and prewarm), its decisions carried
  out with measured start costs (`cluster.StartCosts`).
What is modelled: each activation's run time at its option, drawn from its measured samples
(`workload.ActivationShape`; the same draw for every policy, so policies are compared on the
same luck), stretched by CPU contention when the activations running on an invoker want more
cores than it has (`cluster.fair_shares`).

    result = simulate(tenants, arrivals, ClusterSpec(invokers=4, cores=16), seed=1)

Deterministic for a seed; no threads, no I/O.
"""

from __future__ import annotations

import heapq
import random
import zlib
from collections import deque
from dataclasses import dataclass, field, replace

from controller.adapter import Adapter, make_sizing_policy
from controller.adapter.model import Observation
from controller.balancer import choose_invoker
from controller.workflow_engine import node_state
from hint_dsl.profiles import Profiles, makespan
from invoker.pool import ActionKey, Buffered, Placement, Rejected, RunRequest

from .cluster import KIND, ClusterSpec, SimInvoker, StartCosts
from .metrics import summarize
from .workload import RequestShape


@dataclass
class Tenant:
    """One workflow on the cluster under one policy."""

    workflow: object  # workflows.definition.Workflow (its slo_ms is the SLO simulated)
    policy: str
    hints: object = None  # hint text / HintFile / CompiledHints (late)
    profiles: Profiles | None = None
    options: list | None = None  # [Size] when there are no hints
    action_memory: int = 256
    adapter: Adapter | None = None
    # Settings of the policy object made by make_sizing_policy, e.g. {"rebuild_every": 256} for late
    # (how many observations between rebuilds of its model): the same code, tuned for a rate.
    settings: dict | None = None

    def __post_init__(self):
        if self.adapter is None:
            self.adapter = Adapter(
                make_sizing_policy(
                    self.policy, self.workflow, self.hints, self.profiles, self.options
                )
            )
        for key, value in (self.settings or {}).items():
            if hasattr(self.adapter.impl, key):
                setattr(self.adapter.impl, key, value)


def with_slo(workflow, slo_ms: float):
    """The workflow with another SLO (what-if runs)."""
    return replace(workflow, slo_ms=float(slo_ms))


@dataclass(order=True)
class Arrival:
    """A request of tenant `tenant` at `time_ms`; with `after_previous`, `time_ms` is instead the
    gap after the previous request (in list order) ends: a closed loop, one request in flight,
    as the live evaluation drove its blocking runs."""

    time_ms: float
    tenant: int = field(compare=False)
    shape: RequestShape = field(compare=False)
    after_previous: bool = field(default=False, compare=False)


class _Request:
    __slots__ = (
        "index",
        "tenant",
        "shape",
        "arrival",
        "end",
        "waiting",
        "node_start",
        "node_end",
        "outstanding",
        "queue",
        "inflight",
        "failed",
        "core_s",
        "gb_s",
        "options",
        "decisions",
        "draws",
        "error",
    )

    def __init__(self, index, tenant, shape, arrival, workflow):
        self.index, self.tenant, self.shape, self.arrival = index, tenant, shape, arrival
        self.end = None
        self.waiting = {n.id: set(n.depends) for n in workflow.nodes}
        self.node_start: dict[str, float] = {}
        self.node_end: dict[str, float] = {}
        self.outstanding: dict[str, int] = {}
        self.queue: deque = deque()
        self.inflight = 0
        self.failed = False
        self.error = None
        self.core_s = self.gb_s = 0.0
        self.options: dict[str, str] = {}
        self.decisions: list[float] = []
        self.draws: dict = {}


class _Activation:
    __slots__ = (
        "request",
        "node",
        "item",
        "shape",
        "size",
        "remaining_ms",
        "rate",
        "version",
        "invoker",
        "cid",
        "run_request",
        "started",
        "duration_ms",
        "start_kind",
    )

    def __init__(self, request, node, item, shape, size):
        self.request, self.node, self.item, self.shape, self.size = request, node, item, shape, size
        self.remaining_ms = 0.0
        self.rate = 1.0
        self.version = 0
        self.invoker = None
        self.cid = None
        self.run_request = None
        self.started = 0.0
        self.duration_ms = 0.0
        self.start_kind = ""


@dataclass
class SimResult:
    runs: list[list[dict]]  # per tenant: one record per request, in arrival order
    start_kinds: dict[str, int]
    events: int
    simulated_ms: float

    def summary(self, tenant: int) -> dict:
        return summarize(self.runs[tenant])


ARRIVE, RUN, FINISH, CONTAINER_UP, REAP = range(5)


class Simulator:
    def __init__(
        self,
        tenants: list[Tenant],
        cluster: ClusterSpec,
        costs: StartCosts | None = None,
        seed: int = 0,
        max_parallel: int = 32,
        reap_every_ms: float = 1000.0,
    ):
        self.tenants, self.cluster = tenants, cluster
        self.costs = costs or StartCosts()
        self.seed, self.max_parallel, self.reap_every_ms = seed, max_parallel, reap_every_ms
        self.invokers = [SimInvoker(i, cluster) for i in range(cluster.invokers)]
        self.states = [inv.state for inv in self.invokers]
        self.heap: list = []
        self.seq = 0
        self.now = 0.0
        self.events = 0
        self.start_kinds: dict[str, int] = {}
        self.open = 0  # requests not yet ended
        self.queued = 0  # events in the heap other than the periodic reap
        self.chain: dict = {}  # request -> (the request after it, gap ms): closed loops
        self.keys = {
            (t, n.id): ActionKey("sim", n.action, "0.0.1", n.action)
            for t, ten in enumerate(tenants)
            for n in ten.workflow.nodes
        }
        self.nodes = [{n.id: n for n in ten.workflow.nodes} for ten in tenants]
        self.children = [
            {n.id: [m for m in ten.workflow.nodes if n.id in m.depends] for n in ten.workflow.nodes}
            for ten in tenants
        ]
        self.ancestors = [
            {n.id: ten.workflow.ancestors(n.id) for n in ten.workflow.nodes} for ten in tenants
        ]
        self.pending_buffer: dict[int, _Activation] = {}  # id(RunRequest) -> activation
        self.by_cid: dict[tuple[int, int], _Activation] = {}

    # -- event queue ------------------------------------------------------------------
    def push(self, t: float, kind: int, payload) -> None:
        self.seq += 1
        if kind != REAP:
            self.queued += 1
        heapq.heappush(self.heap, (t, self.seq, kind, payload))

    def run(self, arrivals: list[Arrival]) -> SimResult:
        requests = []
        chained = any(a.after_previous for a in arrivals)
        for i, a in enumerate(arrivals if chained else sorted(arrivals)):
            wf = self.tenants[a.tenant].workflow
            r = _Request(i, a.tenant, a.shape, a.time_ms, wf)
            requests.append(r)
            if a.after_previous and i > 0:
                self.chain[requests[i - 1]] = (r, a.time_ms)
            else:
                self.push(a.time_ms, ARRIVE, r)
        for inv in self.invokers:
            self._prewarm(inv)
        if self.reap_every_ms:
            self.push(self.reap_every_ms, REAP, None)
        self.open = len(requests)
        while self.heap:
            t, _, kind, payload = heapq.heappop(self.heap)
            self.now = t
            if kind != REAP:
                self.queued -= 1
            self.events += 1
            if kind == FINISH:
                act, version = payload
                if version == act.version:
                    self._finish(act)
            elif kind == RUN:
                self._run(payload)
            elif kind == ARRIVE:
                self._arrive(payload)
            elif kind == CONTAINER_UP:
                inv, cid = payload
                if cid in inv.pool.containers:
                    inv.pool.started(cid)
                    self._drain(inv)
            elif kind == REAP:
                if self.open > 0 and self.queued > 0:  # else nothing can ever move again
                    self._reap()
                    self.push(t + self.reap_every_ms, REAP, None)
        runs: list[list[dict]] = [[] for _ in self.tenants]
        for r in requests:
            runs[r.tenant].append(self._record(r))
        return SimResult(runs, self.start_kinds, self.events, self.now)

    # -- requests and the DAG walk ----------------------------------------------------
    def _arrive(self, r: _Request) -> None:
        tenant = self.tenants[r.tenant]
        impl = tenant.adapter.impl
        if hasattr(impl, "plan") and callable(impl.plan) and tenant.policy == "oracle":
            impl.plan(self._oracle_durations(r, tenant))
        self._start_ready(r)

    def _start_ready(self, r: _Request) -> None:
        wf = self.tenants[r.tenant].workflow
        progressed = True
        while progressed and not r.failed:
            progressed = False
            for n in wf.nodes:
                if r.waiting.get(n.id) == set():
                    del r.waiting[n.id]
                    self._start_node(r, n)
                    progressed = True
        self._maybe_end(r)

    def _start_node(self, r: _Request, node) -> None:
        r.node_start[node.id] = self.now
        acts = r.shape.nodes[node.id]
        r.outstanding[node.id] = len(acts)
        if not acts:
            self._complete_node(r, node.id)
            return
        for i in range(len(acts)):
            r.queue.append((node, i))
        self._pump(r)

    def _pump(self, r: _Request) -> None:
        while r.queue and r.inflight < self.max_parallel and not r.failed:
            node, i = r.queue.popleft()
            r.inflight += 1
            self._dispatch(r, node, i)

    def _draw(self, r: _Request, node_id: str, item: int) -> float:
        """The quantile of this activation's run time: the same for every policy."""
        key = (node_id, item)
        u = r.draws.get(key)
        if u is None:
            h = zlib.crc32(f"{self.seed}/{r.index}/{node_id}/{item}".encode())
            u = r.draws[key] = random.Random(h).random()
        return u

    def _dispatch(self, r: _Request, node, item: int) -> None:
        tenant = self.tenants[r.tenant]
        shape = r.shape.nodes[node.id][item]
        upstream = {a: r.node_end[a] - r.node_start[a] for a in self.ancestors[r.tenant][node.id]}
        state = node_state(
            tenant.workflow,
            node,
            self.now - r.arrival,
            shape.input_bytes,
            shape.features,
            upstream,
            tenant.adapter.stats_view(),
        )
        decision = tenant.adapter.decide(state)
        r.decisions.append(decision.decision_us)
        size = decision.size
        if item == 0:
            r.options[node.id] = size.option
        act = _Activation(r, node, item, shape, size)
        if size.option not in shape.latencies:
            self._fail(r, f"no run time for {node.id} at option {size.option!r}")
            return
        act.remaining_ms = shape.duration_ms(size.option, self._draw(r, node.id, item))
        key = self.keys[(r.tenant, node.id)]
        inv_state = choose_invoker(
            self.states, f"{tenant.workflow.name}/{node.action}", size.memory
        )
        if inv_state is None:
            self._fail(r, "no invoker")
            return
        inv_state.reserved_memory += size.memory
        inv_state.in_flight += 1
        inv = (
            self.invokers[self.states.index(inv_state)]
            if len(self.invokers) > 1
            else self.invokers[0]
        )
        act.invoker = inv
        req = RunRequest(key, KIND, size.memory, size.cpu, tenant.action_memory)
        act.run_request = req
        outcome = inv.pool.submit(req, self.now / 1000.0)
        if isinstance(outcome, Placement):
            self._placed(inv, act, outcome)
        elif isinstance(outcome, Buffered):
            self.pending_buffer[id(req)] = act
        elif isinstance(outcome, Rejected):
            self._release_balancer(act)
            self._fail(r, outcome.reason)

    def _placed(self, inv: SimInvoker, act: _Activation, p: Placement) -> None:
        for cid in p.evict:
            inv.pool.removed(cid)
        act.cid = p.cid
        act.start_kind = p.start_kind
        self.start_kinds[p.start_kind] = self.start_kinds.get(p.start_kind, 0) + 1
        c = self.costs
        delay = {"warm": c.warm_ms, "prewarmed": c.prewarm_ms}.get(p.start_kind, c.cold_ms)
        if p.resume:
            delay += c.resume_ms
        self.push(self.now + delay, RUN, act)

    def _run(self, act: _Activation) -> None:
        inv = act.invoker
        inv.advance(self.now)
        act.started = self.now
        inv.running.append(act)
        inv.reshare()
        for a in inv.running:
            self.push(self.now + a.remaining_ms / a.rate, FINISH, (a, a.version))
        if act.start_kind in ("cold", "recreated"):
            inv.pool.started(act.cid)
            self._drain(inv)

    def _finish(self, act: _Activation) -> None:
        inv, r = act.invoker, act.request
        inv.advance(self.now)
        inv.running.remove(act)
        inv.reshare()
        for a in inv.running:
            self.push(self.now + max(a.remaining_ms, 0.0) / a.rate, FINISH, (a, a.version))
        act.duration_ms = self.now - act.started
        inv.pool.release(act.cid, self.now / 1000.0)
        self._release_balancer(act)
        self._drain(inv)
        tenant = self.tenants[r.tenant]
        r.core_s += act.size.core_seconds(act.duration_ms)
        r.gb_s += act.size.gb_seconds(act.duration_ms)
        tenant.adapter.observe_activation(
            Observation(
                act.node.id,
                act.size.option,
                act.duration_ms,
                act.shape.input_bytes,
                act.shape.features,
                host_load=sum(a.size.cpu for a in inv.running) / inv.cores,
            )
        )
        r.inflight -= 1
        if r.failed:
            return
        r.outstanding[act.node.id] -= 1
        if r.outstanding[act.node.id] == 0:
            self._complete_node(r, act.node.id)
            self._start_ready(r)
        self._pump(r)

    def _complete_node(self, r: _Request, node_id: str) -> None:
        r.node_end[node_id] = self.now
        for child in self.children[r.tenant][node_id]:
            deps = r.waiting.get(child.id)
            if deps is not None:
                deps.discard(node_id)

    def _maybe_end(self, r: _Request) -> None:
        if r.end is None and not r.waiting and all(v == 0 for v in r.outstanding.values()):
            r.end = self.now
            self.open -= 1
            self._release_next(r)

    def _fail(self, r: _Request, error: str) -> None:
        if not r.failed:
            if r.end is None:
                self.open -= 1
            r.failed, r.error, r.end = True, error, self.now
            r.queue.clear()
            self._release_next(r)

    def _release_next(self, r: _Request) -> None:
        """A closed loop: the request chained after `r` arrives its gap after `r` ends."""
        nxt = self.chain.pop(r, None)
        if nxt is not None:
            request, gap = nxt
            request.arrival = self.now + gap
            self.push(request.arrival, ARRIVE, request)

    def _release_balancer(self, act: _Activation) -> None:
        st = act.invoker.state
        st.reserved_memory -= act.size.memory
        st.in_flight -= 1

    # -- invoker maintenance ----------------------------------------------------------
    def _drain(self, inv: SimInvoker) -> None:
        """Capacity came free: place buffered requests, then top up stem cells (as the
        invoker does after every release and container start)."""
        for placement in inv.pool.drain(self.now / 1000.0):
            waiting = self.pending_buffer.pop(id(placement.request))
            self._placed(inv, waiting, placement)
        self._prewarm(inv)

    def _prewarm(self, inv: SimInvoker) -> None:
        for start in inv.pool.prewarm_plan():
            self.push(self.now + self.costs.cold_ms, CONTAINER_UP, (inv, start.cid))

    def _reap(self) -> None:
        for inv in self.invokers:
            plan = inv.pool.reap(self.now / 1000.0)
            for cid in plan.remove:
                inv.pool.removed(cid)
            if plan.remove:
                self._drain(inv)

    # -- oracle -------------------------------------------------------------------------
    def _oracle_durations(self, r: _Request, tenant: Tenant) -> dict[str, dict[str, float]]:
        """This request's own run time per node and option (the draws it will get), a fan-out
        node's items dealt to the slots the profiles' capacity leaves (`Profiles.slots`)."""
        out: dict[str, dict[str, float]] = {}
        options = tenant.adapter.impl.options
        for node_id, acts in r.shape.nodes.items():
            out[node_id] = {}
            for o in options:
                if not all(o in a.latencies for a in acts):
                    continue
                lat = [a.duration_ms(o, self._draw(r, node_id, i)) for i, a in enumerate(acts)]
                slots = tenant.profiles.slots(o) if tenant.profiles is not None else None
                out[node_id][o] = makespan(lat, slots)
        return out

    # -- records ------------------------------------------------------------------------
    def _record(self, r: _Request) -> dict:
        wf = self.tenants[r.tenant].workflow
        duration = (r.end if r.end is not None else self.now) - r.arrival
        ok = not r.failed and r.end is not None
        if r.end is None and not r.failed:
            r.error = "never finished: activations left in an invoker's buffer"
        return {
            "request": r.index,
            "run": r.shape.run,
            "arrival": r.arrival,
            "duration": duration,
            "status": "success" if ok else "failed",
            "error": r.error,
            "metSlo": ok and duration <= wf.slo_ms,
            "coreSeconds": r.core_s,
            "gbSeconds": r.gb_s,
            "nodes": dict(r.options),
            "decisionUs": r.decisions,
        }


def simulate(
    tenants: list[Tenant],
    arrivals: list[Arrival],
    cluster: ClusterSpec,
    costs: StartCosts | None = None,
    seed: int = 0,
    **kw,
) -> SimResult:
    return Simulator(tenants, cluster, costs, seed, **kw).run(arrivals)
