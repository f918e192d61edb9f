"""Runs one workflow request: walks the DAG, sizes each activation late, records the run.

The controller's workflow REST handlers create one `WorkflowEngine` (with the real
`dispatch` that sends activations to invokers, and the Janus adapter) and call
`engine.run(workflow, input)` per request, in a thread of their own when the request is
non-blocking. A node is dispatched as soon as all its predecessors have finished; parallel
branches and the items of a `foreach` run concurrently on a thread pool. Right before each
activation is dispatched, the adapter is asked for a size given the live state (remaining
SLO budget, input, upstream durations); after it finishes, the adapter observes its duration.

Everything the engine talks to is a plain callable, so it is unit-tested with fakes:
- `adapter.decide(NodeState) -> Decision(size, rule, at_risk, decision_us, policy?)`
  and `adapter.observe_activation(Observation)` after every activation that succeeded or ran
  out of memory (input features, duration, memory peak, host load), else
  `adapter.observe(function, option, duration_ms)` after successes;
- `dispatch(action_path, params, size, cause) -> common.activation.Activation` (its record).

A run is never lost: every failure (a failed activation, a dispatch error, an adapter error,
a bad foreach field, a bug here) ends in a failed `WorkflowRunRecord`.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from common.activation import Activation
from common.sizes import Size
from controller.adapter.model import Observation
from controller.adapter.state import NodeState
from workflows.definition import Node, Workflow, build_node_input, input_bytes, numeric_fields

__all__ = [
    "WorkflowEngine",
    "WorkflowRunRecord",
    "NodeRun",
    "ActivationRun",
    "build_node_input",
    "node_state",
]

# dispatch(action, params, size, cause, deadline_ms=...): deadline_ms is the epoch ms by which the
# workflow's SLO needs the activation done (its remaining budget); the runtime sees it as /run's
# `deadline` (a vlm runtime orders and admits by it) and the activation record says if it was met.
Dispatch = Callable[..., Activation]


# ---------------------------------------------------------------------------- records


@dataclass
class ActivationRun:
    """One activation of a node (a foreach node has one per item)."""

    index: int
    activation_id: str | None = None
    start_ms: float = 0.0
    end_ms: float = 0.0
    duration_ms: float = 0.0  # the action's own run time (activation record `duration`)
    wait_ms: float | None = None
    init_ms: float | None = None
    size: Size | None = None  # size actually applied (annotation), else the size chosen
    remaining_ms: float = 0.0  # SLO budget left when the size was chosen
    deadline_ms: float | None = None  # epoch ms passed as the activation's deadline
    deadline_met: bool | None = None  # the activation record's `deadlineMet` annotation
    elapsed_ms: float = 0.0
    rule: str | None = None
    at_risk: bool = False
    decision_us: float | None = None
    memory_peak_mb: float | None = None  # the container's peak during the run (usage annotation)
    success: bool = False
    skipped: bool = False  # never dispatched: the run was already stopping
    error: str | None = None
    result: Any = None

    def to_json(self) -> dict:
        return {
            "index": self.index,
            "activationId": self.activation_id,
            "start": round(self.start_ms),
            "end": round(self.end_ms),
            "duration": self.duration_ms,
            "waitTime": self.wait_ms,
            "initTime": self.init_ms,
            "size": self.size.to_json() if self.size else None,
            "remainingMs": round(self.remaining_ms, 3),
            "deadline": round(self.deadline_ms) if self.deadline_ms is not None else None,
            "deadlineMet": self.deadline_met,
            "elapsedMs": round(self.elapsed_ms, 3),
            "rule": self.rule,
            "atRisk": self.at_risk,
            "decisionUs": self.decision_us,
            "success": self.success,
            "error": self.error,
        }


@dataclass
class NodeRun:
    id: str
    action: str
    status: str = "skipped"  # skipped | running | success | failed
    start_ms: float | None = None  # when the node became ready and was dispatched
    end_ms: float | None = None  # when its last activation finished
    foreach: bool = False
    activations: list[ActivationRun] = field(default_factory=list)
    error: str | None = None

    @property
    def duration_ms(self) -> float:
        if self.start_ms is None or self.end_ms is None:
            return 0.0
        return self.end_ms - self.start_ms

    def to_json(self) -> dict:
        first = self.activations[0] if self.activations else None
        return {
            "id": self.id,
            "action": self.action,
            "status": self.status,
            "start": round(self.start_ms) if self.start_ms is not None else None,
            "end": round(self.end_ms) if self.end_ms is not None else None,
            "duration": round(self.duration_ms, 3),
            "foreach": self.foreach,
            "activationIds": [a.activation_id for a in self.activations],
            # the first activation's decision, for one-activation nodes; all are listed below
            "size": first.size.to_json() if first and first.size else None,
            "remainingMs": round(first.remaining_ms, 3) if first else None,
            "rule": first.rule if first else None,
            "atRisk": any(a.at_risk for a in self.activations),
            "decisionUs": first.decision_us if first else None,
            "error": self.error,
            "activations": [a.to_json() for a in self.activations],
        }


@dataclass
class WorkflowRunRecord:
    run_id: str
    workflow: str
    policy: str | None
    slo_ms: float
    percentile: float
    start_ms: float
    end_ms: float = 0.0
    input_bytes: int = 0
    status: str = "running"  # running | success | failed
    failed_node: str | None = None
    error: str | None = None
    nodes: list[NodeRun] = field(default_factory=list)
    result: Any = None
    namespace: str | None = None

    @property
    def duration_ms(self) -> float:
        return self.end_ms - self.start_ms

    @property
    def met_slo(self) -> bool:
        return self.status == "success" and self.duration_ms <= self.slo_ms

    def _activations(self):
        return (a for n in self.nodes for a in n.activations if a.size is not None)

    @property
    def core_seconds(self) -> float:
        return sum(a.size.core_seconds(a.duration_ms) for a in self._activations())

    @property
    def gb_seconds(self) -> float:
        return sum(a.size.gb_seconds(a.duration_ms) for a in self._activations())

    @property
    def status_text(self) -> str:
        if self.status == "failed" and self.failed_node:
            return f"failed at node {self.failed_node}"
        return self.status

    def to_json(self) -> dict:
        """The REST shape of `GET /api/v1/namespaces/{ns}/workflow-runs/{id}`."""
        return {
            "runId": self.run_id,
            "workflow": self.workflow,
            "namespace": self.namespace,
            "policy": self.policy,
            "start": round(self.start_ms),
            "end": round(self.end_ms),
            "duration": round(self.duration_ms, 3),
            "inputBytes": self.input_bytes,
            "status": self.status,
            "statusText": self.status_text,
            "failedNode": self.failed_node,
            "error": self.error,
            "slo": {"latencyMs": self.slo_ms, "percentile": self.percentile},
            "metSlo": self.met_slo,
            "coreSeconds": round(self.core_seconds, 6),
            "gbSeconds": round(self.gb_seconds, 6),
            "nodes": [n.to_json() for n in self.nodes],
            "result": self.result,
        }


# ---------------------------------------------------------------------------- engine


class _Run:
    """Mutable state of one run, shared by the scheduling loop and the activation threads."""

    def __init__(self, workflow: Workflow, run_input: dict, record: WorkflowRunRecord):
        self.workflow = workflow
        self.input = run_input
        self.record = record
        self.node_runs = {
            n.id: NodeRun(n.id, n.action, foreach=n.foreach is not None) for n in workflow.nodes
        }
        record.nodes = list(self.node_runs.values())
        self.outputs: dict[str, Any] = {}
        self.waiting = {n.id: set(n.depends) for n in workflow.nodes}
        self.outstanding: dict[str, int] = {}
        self.stopping = threading.Event()
        self._t0 = time.perf_counter()

    def now_ms(self) -> float:
        """Epoch milliseconds, advanced by a monotonic clock so budgets never jump."""
        return self.record.start_ms + self.elapsed_ms()

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self._t0) * 1000.0

    def fail(self, node_id: str, error: str) -> None:
        if self.record.failed_node is None:
            self.record.failed_node, self.record.error = node_id, error
        self.stopping.set()


class WorkflowEngine:
    """Executes workflow requests; one instance serves all runs of a controller."""

    def __init__(
        self,
        dispatch: Dispatch,
        adapter: Any = None,
        *,
        max_parallel: int = 32,
        stats: Callable[[], dict] | None = None,
    ):
        self.dispatch = dispatch
        self.adapter = adapter
        self.max_parallel = max_parallel
        self.stats = stats or dict

    def run(
        self,
        workflow: Workflow,
        run_input: dict | None = None,
        *,
        run_id: str | None = None,
        policy: str | None = None,
        namespace: str | None = None,
    ) -> WorkflowRunRecord:
        """Run one request to completion (blocking) and return its record; never raises."""
        run_input = dict(run_input or {})
        record = WorkflowRunRecord(
            run_id=run_id or uuid.uuid4().hex,
            workflow=workflow.name,
            policy=policy or getattr(self.adapter, "policy", None),
            slo_ms=workflow.slo_ms,
            percentile=workflow.percentile,
            start_ms=time.time() * 1000.0,
            namespace=namespace,
        )
        run = _Run(workflow, run_input, record)
        try:
            record.input_bytes = input_bytes(run_input)
            self._execute(run)
        except Exception as e:  # a bug or a broken callable must still end in a record
            record.error = record.error or f"workflow engine error: {type(e).__name__}: {e}"
            run.stopping.set()
        record.end_ms = run.now_ms()
        for n in record.nodes:
            if n.status == "running":
                n.status = "failed"
        if record.failed_node is not None or record.error is not None:
            record.status = "failed"
            record.result = None
        else:
            record.status = "success"
            sinks = workflow.sinks
            record.result = (
                run.outputs[sinks[0]] if len(sinks) == 1 else {s: run.outputs[s] for s in sinks}
            )
        return record

    # -- scheduling loop (caller's thread) -------------------------------------------

    def _execute(self, run: _Run) -> None:
        with ThreadPoolExecutor(
            max_workers=self.max_parallel, thread_name_prefix=f"wf-{run.record.run_id[:8]}"
        ) as pool:
            inflight: dict[Future, tuple[str, int]] = {}
            self._start_ready(run, pool, inflight)
            while inflight:
                done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                for fut in done:
                    node_id, _index = inflight.pop(fut)
                    self._finish_activation(run, node_id, fut.result())
                if not run.stopping.is_set():
                    self._start_ready(run, pool, inflight)

    def _start_ready(
        self, run: _Run, pool: ThreadPoolExecutor, inflight: dict[Future, tuple[str, int]]
    ) -> None:
        """Dispatch every node whose predecessors are done (repeats: empty foreach completes at once)."""
        progressed = True
        while progressed and not run.stopping.is_set():
            progressed = False
            for node in run.workflow.nodes:
                if run.waiting.get(node.id) == set():
                    del run.waiting[node.id]
                    self._start_node(run, node, pool, inflight)
                    progressed = True

    def _start_node(
        self,
        run: _Run,
        node: Node,
        pool: ThreadPoolExecutor,
        inflight: dict[Future, tuple[str, int]],
    ) -> None:
        nr = run.node_runs[node.id]
        nr.status, nr.start_ms = "running", run.now_ms()
        try:
            params = build_node_input(run.workflow, node, run.input, run.outputs)
        except (ValueError, KeyError, TypeError) as e:
            nr.status, nr.end_ms, nr.error = "failed", run.now_ms(), str(e)
            run.fail(node.id, str(e))
            return
        items = params if node.foreach is not None else [params]
        nr.activations = [ActivationRun(index=i) for i in range(len(items))]
        run.outstanding[node.id] = len(items)
        if not items:
            self._complete_node(run, node.id)
            return
        upstream = {a: run.node_runs[a].duration_ms for a in run.workflow.ancestors(node.id)}
        for i, p in enumerate(items):
            fut = pool.submit(self._activate, run, node, p, nr.activations[i], upstream)
            inflight[fut] = (node.id, i)

    def _finish_activation(self, run: _Run, node_id: str, act: ActivationRun) -> None:
        nr = run.node_runs[node_id]
        if act.skipped:
            nr.activations.remove(act)
        elif not act.success:
            nr.status, nr.error = "failed", act.error
            run.fail(
                node_id, f"activation {act.activation_id or '(none)'} of {nr.action}: {act.error}"
            )
        run.outstanding[node_id] -= 1
        if run.outstanding[node_id] == 0:
            nr.end_ms = run.now_ms()
            if nr.status == "running" and not run.stopping.is_set():
                self._complete_node(run, node_id)
            elif nr.status == "running":
                nr.status = "success" if all(a.success for a in nr.activations) else "failed"

    def _complete_node(self, run: _Run, node_id: str) -> None:
        nr = run.node_runs[node_id]
        nr.status = "success"
        if nr.end_ms is None:
            nr.end_ms = run.now_ms()
        results = [a.result for a in nr.activations]
        run.outputs[node_id] = results if nr.foreach else results[0]
        for deps in run.waiting.values():
            deps.discard(node_id)

    # -- one activation (pool thread) ------------------------------------------------

    def _activate(
        self, run: _Run, node: Node, params: dict, act: ActivationRun, upstream: dict[str, float]
    ) -> ActivationRun:
        if run.stopping.is_set():
            act.skipped = True
            return act
        try:
            decision = self._decide(run, node, params, act, upstream)
            size = decision.size if decision is not None else None
            act.size = size
            if size is not None and size.params:  # the option's node parameters (hints `with`)
                params = {**params, **dict(size.params)}
            act.start_ms = run.now_ms()
            act.deadline_ms = act.start_ms + act.remaining_ms  # the SLO's budget for this node
            activation = self.dispatch(
                node.action, params, size, run.record.run_id, deadline_ms=act.deadline_ms
            )
            act.end_ms = run.now_ms()
            _read_activation(activation, act)
            if self.adapter is not None:
                self._observe(node, params, act)
        except Exception as e:
            act.end_ms = act.end_ms or run.now_ms()
            act.success, act.error = False, f"{type(e).__name__}: {e}"
        if not act.success:
            run.stopping.set()  # at once, so queued items of this run are not dispatched
        return act

    def _observe(self, node: Node, params: dict, act: ActivationRun) -> None:
        """Feed a finished activation to the adapter's model: a success with its input features,
        memory peak and the host's load, or a run out of memory at its option."""
        oom = not act.success and "exhausted its memory" in (act.error or "")
        if not (act.success or oom):
            return
        option = act.size.option if act.size else None
        observe = getattr(self.adapter, "observe_activation", None)
        if observe is None:
            if act.success:
                self.adapter.observe(node.id, option, act.duration_ms)
            return
        observe(
            Observation(
                node.id,
                option,
                act.duration_ms,
                input_bytes(params),
                numeric_fields(params),
                act.memory_peak_mb,
                os.getloadavg()[0],
                oom,
            )
        )

    def _decide(
        self, run: _Run, node: Node, params: dict, act: ActivationRun, upstream: dict[str, float]
    ) -> Any:
        act.elapsed_ms = run.elapsed_ms()
        act.remaining_ms = run.workflow.slo_ms - act.elapsed_ms
        if self.adapter is None:
            return None
        state = node_state(
            run.workflow,
            node,
            act.elapsed_ms,
            input_bytes(params),
            numeric_fields(params),
            upstream,
            self.stats(),
        )
        decision = self.adapter.decide(state)
        act.rule, act.at_risk = decision.rule, bool(decision.at_risk)
        act.decision_us = decision.decision_us
        if run.record.policy is None:
            run.record.policy = getattr(decision, "policy", None)
        return decision


def node_state(
    workflow: Workflow,
    node: Node,
    elapsed_ms: float,
    input_size: int,
    input_fields: dict,
    upstream: dict[str, float],
    stats: dict | None,
) -> NodeState:
    """What the adapter sees of one activation about to be sized: the SLO budget left after
    `elapsed_ms` since the request arrived, the activation's input and its ancestors' durations.
    One construction for the live engine and for the simulator (`janus_sim`), which walks the
    same DAG on a simulated clock."""
    return NodeState(
        workflow=workflow.name,
        function=node.id,
        action=node.action,
        slo_ms=workflow.slo_ms,
        remaining_ms=workflow.slo_ms - elapsed_ms,
        elapsed_ms=elapsed_ms,
        input_bytes=input_size,
        input=input_fields,
        upstream=dict(upstream),
        stats=stats,
    )


def _read_activation(activation: Activation, act: ActivationRun) -> None:
    """Copy what the run record needs out of an activation record."""
    annotations = activation.annotations
    response = activation.response
    act.activation_id = activation.activation_id
    act.duration_ms = float(activation.duration)
    act.wait_ms = annotations.get("waitTime")
    act.deadline_met = annotations.get("deadlineMet")
    act.init_ms = annotations.get("initTime")
    applied = Size.from_json(annotations.get("size"))
    if applied is not None:
        act.size = applied
    usage = annotations.get("usage") or {}
    if usage.get("maxMemory") is not None:
        act.memory_peak_mb = usage["maxMemory"] / (1024 * 1024)
    act.result = response.result
    act.success = response.success
    if not act.success:
        act.error = str(response.error or response.status or "activation failed")
