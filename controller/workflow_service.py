"""Workflows as a platform resource: definitions, runs under a sizing policy, hints, profiling
jobs, synthesis and reports. Called by the workflows blueprint; it glues the workflow engine,
the hint language, the adapter's policies and the activation path together.

Each run is stored as ``running`` before it starts and completed with the engine's record,
so an accepted run always ends in a stored record.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import statistics
import threading
import uuid
from collections import OrderedDict

from sqlalchemy import select

from common.activation import Activation
from common.clock import now_ms
from common.sizes import Size
from controller.adapter import POLICIES, is_policy_name
from controller.auth import Identity
from controller.entities import bump_version, check_name
from controller.entitlement import entitled_action
from controller.errors import EXISTS, NOT_FOUND, ApiError
from controller.invoke import ActivationService
from controller.store.db import Database
from controller.store.models import WorkflowRow, WorkflowRun
from controller.workflow_engine import WorkflowEngine
from hint_dsl import check as check_hints
from hint_dsl import compile as compile_hints
from hint_dsl import parse as parse_hints
from hint_dsl.profiler import ProfilingError
from hint_dsl.profiler import profile as run_profile
from hint_dsl.profiles import Profiles, percentile
from hint_dsl.synthesizer import synthesize
from workflows.definition import Workflow, WorkflowError
from workflows.definition import load as load_workflow

# Used when a workflow has no hint file yet (profiling needs options before hints exist).
DEFAULT_OPTIONS = [Size(0.5, 256, "small"), Size(1.0, 512, "medium"), Size(2.0, 1024, "large")]


def profiles_digest(row: WorkflowRow) -> str | None:
    """A digest of the stored profiles: part of a cached policy's key, so profiling again
    (without setting hints again) rebuilds early-static's plan, stepwise's shares and late's
    model instead of keeping those of the old profiles."""
    if not row.profiles:
        return None
    text = json.dumps(row.profiles, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class ProfilingJobs:
    """The profiling jobs a controller remembers: the latest of each workflow while it runs,
    and of the finished ones only the ``keep_finished`` that finished last (a controller that
    profiles many workflows over months holds a bounded set; a workflow whose job was dropped
    still has its profiles in the store). Thread-safe."""

    def __init__(self, keep_finished: int = 200):
        self.keep_finished = keep_finished
        self._latest: OrderedDict[tuple[str, str], dict] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, namespace: str, name: str, job: dict) -> None:
        """``job`` (state ``running``) is now the workflow's latest; it replaces an earlier one."""
        with self._lock:
            self._latest.pop((namespace, name), None)
            self._latest[(namespace, name)] = job
            self._prune()

    def finished(self) -> None:
        """Call when a job has its ``finished`` time: drops the oldest finished beyond the
        bound (a job without one is running and always kept)."""
        with self._lock:
            self._prune()

    def latest(self, namespace: str, name: str) -> dict | None:
        with self._lock:
            return self._latest.get((namespace, name))

    def __len__(self) -> int:
        with self._lock:
            return len(self._latest)

    def _prune(self) -> None:
        done = [(j["finished"], k) for k, j in self._latest.items() if j["finished"] is not None]
        done.sort()
        for _, key in done[: max(0, len(done) - self.keep_finished)]:
            del self._latest[key]


class WorkflowService:
    def __init__(self, db: Database, activations: ActivationService, live_stats=None):
        self.db = db
        self.activations = activations
        self.live_stats = live_stats or (lambda: [])
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=64, thread_name_prefix="workflow"
        )
        # (ns, wf, version, hints_updated, profiles digest, policy) -> adapter
        self._policies: dict[tuple, object] = {}
        self.profiling_jobs = ProfilingJobs()
        self._lock = threading.Lock()

    # -- definitions ---------------------------------------------------------------------
    def _row(self, s, namespace: str, name: str) -> WorkflowRow:
        row = s.get(WorkflowRow, (namespace, name))
        if row is None:
            raise ApiError(404, NOT_FOUND)
        return row

    def parse(self, namespace: str, text: str, name: str | None = None) -> Workflow:
        def exists(path: str) -> bool:
            return self.activations.entities.find(namespace, "actions", path) is not None

        try:
            wf = load_workflow(text, action_exists=exists)
        except WorkflowError as exc:
            raise ApiError(400, f"The workflow definition is not valid: {exc}") from None
        if name is not None and wf.name != name:
            raise ApiError(
                400, f"The workflow definition is named '{wf.name}' but was sent to '{name}'."
            )
        return wf

    def put(self, namespace: str, name: str, body: dict, overwrite: bool) -> dict:
        check_name(name, "workflow name")
        text = body.get("definition") if isinstance(body, dict) else None
        if not isinstance(text, str):
            if isinstance(body, dict) and "nodes" in body:
                text = json.dumps(body)
            else:
                raise ApiError(
                    400,
                    'The body must be {"definition": "<workflow YAML>"} or the definition as JSON.',
                )
        wf = self.parse(namespace, text, name)
        with self.db.session() as s:
            row = s.get(WorkflowRow, (namespace, name))
            if row is not None and not overwrite:
                raise ApiError(409, EXISTS)
            if row is None:
                row = WorkflowRow(
                    namespace=namespace,
                    name=name,
                    version="0.0.1",
                    definition=text,
                    updated=now_ms(),
                )
                s.add(row)
            else:
                row.version, row.definition, row.updated = bump_version(row.version), text, now_ms()
            return self._doc(row, wf)

    def _doc(self, row: WorkflowRow, wf: Workflow | None = None) -> dict:
        wf = wf or load_workflow(row.definition)
        return {
            "namespace": row.namespace,
            "name": row.name,
            "version": row.version,
            "updated": row.updated,
            "definition": row.definition,
            "workflow": wf.to_json(),
            "hasHints": bool(row.hints),
            "hasProfiles": bool(row.profiles),
        }

    def get(self, namespace: str, name: str) -> dict:
        with self.db.session() as s:
            return self._doc(self._row(s, namespace, name))

    def list(self, namespace: str, limit: int, skip: int) -> list[dict]:
        with self.db.session() as s:
            rows = s.scalars(
                select(WorkflowRow)
                .where(WorkflowRow.namespace == namespace)
                .order_by(WorkflowRow.name)
                .offset(skip)
                .limit(limit)
            )
            return [
                {
                    "namespace": r.namespace,
                    "name": r.name,
                    "version": r.version,
                    "updated": r.updated,
                    "hasHints": bool(r.hints),
                }
                for r in rows
            ]

    def delete(self, namespace: str, name: str) -> dict:
        with self.db.session() as s:
            row = self._row(s, namespace, name)
            doc = {"namespace": row.namespace, "name": row.name, "version": row.version}
            s.delete(row)
            return doc

    def workflow(self, namespace: str, name: str) -> tuple[Workflow, WorkflowRow]:
        with self.db.session() as s:
            row = self._row(s, namespace, name)
            return load_workflow(row.definition), row

    # -- hints ---------------------------------------------------------------------------
    def get_hints(self, namespace: str, name: str) -> dict:
        with self.db.session() as s:
            row = self._row(s, namespace, name)
            if not row.hints:
                raise ApiError(
                    404, f"The workflow '{name}' has no hints yet (tango hints set {name} FILE)."
                )
            return {"hints": row.hints, "updated": row.hints_updated}

    def set_hints(self, namespace: str, name: str, text: str) -> dict:
        if not isinstance(text, str):
            raise ApiError(400, 'The body must be {"hints": "<hint text>"}.')
        wf, _ = self.workflow(namespace, name)
        diags = check_hints(text, wf.node_ids, filename=f"{name}.hints")
        errors = [d for d in diags if d.severity == "error"]
        if errors:
            raise ApiError(
                400,
                "The hints are not valid:\n" + "\n".join(str(d) for d in errors),
                {"X-Tango-Diagnostics": json.dumps([d.to_json() for d in errors])},
            )
        with self.db.session() as s:
            row = self._row(s, namespace, name)
            row.hints, row.hints_updated = text, now_ms()
            return {
                "hints": text,
                "updated": row.hints_updated,
                "warnings": [d.to_json() for d in diags],
            }

    def options(self, row: WorkflowRow) -> list[Size]:
        if row.hints:
            return [o.size for o in parse_hints(row.hints).options]
        return list(DEFAULT_OPTIONS)

    # -- runs ----------------------------------------------------------------------------
    def _adapter(self, namespace: str, wf: Workflow, row: WorkflowRow, policy: str):
        from controller.adapter.adapter import Adapter, make_sizing_policy

        key = (namespace, row.name, row.version, row.hints_updated, profiles_digest(row), policy)
        with self._lock:
            adapter = self._policies.get(key)
            if adapter is None:
                profiles = Profiles.from_json(row.profiles) if row.profiles else None
                hints = compile_hints(row.hints, wf.node_ids) if row.hints else None
                try:
                    adapter = Adapter(
                        make_sizing_policy(policy, wf, hints, profiles, self.options(row))
                    )
                except (ValueError, KeyError) as exc:
                    raise ApiError(
                        400, f"The policy '{policy}' cannot run this workflow: {exc}"
                    ) from None
                if not policy.startswith("plan:"):  # a plan is one request's: not worth keeping
                    self._policies[key] = adapter
            return adapter

    def run(
        self,
        identity: Identity,
        namespace: str,
        name: str,
        params: dict,
        policy: str,
        blocking: bool,
        wait_s: float,
    ) -> tuple[int, dict]:
        if not isinstance(params, dict):
            raise ApiError(400, "The workflow input must be a JSON object.")
        if not is_policy_name(policy):
            raise ApiError(400, f"Unknown policy '{policy}': use one of {', '.join(POLICIES)}.")
        wf, row = self.workflow(namespace, name)
        if policy == "late" and not row.hints:
            raise ApiError(
                400,
                f"The workflow '{name}' has no hints: set them (tango hints set) or pick another policy.",
            )
        adapter = self._adapter(namespace, wf, row, policy)
        # A per-request plan is recorded (and reported) as policy "plan"; the plan itself is kept.
        label, plan = (
            ("plan", policy.split(":", 1)[1]) if policy.startswith("plan:") else (policy, None)
        )
        run_id = uuid.uuid4().hex
        start = now_ms()
        with self.db.session() as s:
            s.add(
                WorkflowRun(
                    run_id=run_id,
                    namespace=namespace,
                    workflow=name,
                    policy=label,
                    start=start,
                    end=0,
                    state="running",
                    met_slo=None,
                    core_seconds=0.0,
                    gb_seconds=0.0,
                    doc={
                        "runId": run_id,
                        "workflow": name,
                        "policy": label,
                        "status": "running",
                        "start": start,
                        **({"plan": plan} if plan else {}),
                    },
                )
            )
        future = self.executor.submit(
            self._run, identity, namespace, wf, params, label, adapter, run_id, plan
        )
        if not blocking:
            return 202, {"runId": run_id}
        try:
            return 200, future.result(timeout=wait_s)
        except concurrent.futures.TimeoutError:
            return 202, {"runId": run_id}

    def _run(self, identity, namespace, wf, params, policy, adapter, run_id, plan=None) -> dict:
        def dispatch(
            action_path: str,
            node_params: dict,
            size: Size | None,
            cause: str | None,
            deadline_ms: float | None = None,
        ) -> Activation:
            action, defaults = entitled_action(
                self.activations.entities, identity, namespace, action_path
            )
            record = self.activations.execute(
                identity,
                namespace,
                action,
                {**defaults, **node_params},
                size,
                cause,
                deadline_ms=deadline_ms,
            )
            return Activation.from_json(record)

        adapter.update_stats(self.live_stats())
        engine = WorkflowEngine(dispatch, adapter, stats=adapter.stats_view)
        record = engine.run(wf, params, run_id=run_id, policy=policy, namespace=namespace)
        doc = record.to_json() | ({"plan": plan} if plan else {})
        with self.db.session() as s:
            row = s.get(WorkflowRun, run_id)
            row.end, row.state, row.met_slo = int(record.end_ms), record.status, record.met_slo
            row.core_seconds, row.gb_seconds, row.doc = record.core_seconds, record.gb_seconds, doc
        return doc

    def get_run(self, namespace: str, run_id: str) -> dict:
        with self.db.session() as s:
            row = s.get(WorkflowRun, run_id)
            if row is None or row.namespace != namespace:
                raise ApiError(404, NOT_FOUND)
            return row.doc

    def list_runs(self, namespace: str, name: str | None, limit: int, skip: int) -> list[dict]:
        q = select(WorkflowRun).where(WorkflowRun.namespace == namespace)
        if name:
            q = q.where(WorkflowRun.workflow == name)
        with self.db.session() as s:
            rows = s.scalars(q.order_by(WorkflowRun.start.desc()).offset(skip).limit(limit))
            return [
                {
                    "runId": r.run_id,
                    "workflow": r.workflow,
                    "policy": r.policy,
                    "start": r.start,
                    "end": r.end,
                    "duration": (r.end - r.start) if r.end else None,
                    "status": r.state,
                    "metSlo": r.met_slo,
                    "coreSeconds": r.core_seconds,
                    "gbSeconds": r.gb_seconds,
                }
                for r in rows
            ]

    def report(self, namespace: str, name: str) -> dict:
        wf, _ = self.workflow(namespace, name)
        with self.db.session() as s:
            rows = list(
                s.scalars(
                    select(WorkflowRun).where(
                        WorkflowRun.namespace == namespace,
                        WorkflowRun.workflow == name,
                        WorkflowRun.state != "running",
                    )
                )
            )
        by_policy: dict[str, list[WorkflowRun]] = {}
        for r in rows:
            by_policy.setdefault(r.policy, []).append(r)
        policies = {}
        for policy, runs in sorted(by_policy.items()):
            lat = [float(r.end - r.start) for r in runs]
            ok = [r for r in runs if r.state == "success"]
            policies[policy] = {
                "runs": len(runs),
                "succeeded": len(ok),
                "sloAttainment": sum(1 for r in runs if r.met_slo) / len(runs),
                "latency": {
                    "p50": percentile(lat, 50),
                    "p95": percentile(lat, 95),
                    "p99": percentile(lat, 99),
                    "mean": statistics.fmean(lat),
                },
                "coreSecondsPerRun": statistics.fmean(r.core_seconds for r in runs),
                "gbSecondsPerRun": statistics.fmean(r.gb_seconds for r in runs),
                "atRiskRuns": sum(
                    1 for r in runs if any(n.get("atRisk") for n in r.doc.get("nodes", []))
                ),
            }
        return {
            "workflow": name,
            "slo": {"latency": wf.slo_ms, "percentile": wf.percentile},
            "policies": policies,
        }

    # -- profiling and synthesis ---------------------------------------------------------
    def start_profile(self, identity: Identity, namespace: str, name: str, body: dict) -> str:
        wf, row = self.workflow(namespace, name)
        inputs = body.get("inputs")
        if (
            not isinstance(inputs, list)
            or not inputs
            or not all(isinstance(i, dict) for i in inputs)
        ):
            raise ApiError(
                400,
                "'inputs' must be a non-empty list of input objects (one per line of the .jsonl file).",
            )
        options = self.options(row)
        wanted = body.get("options")
        if wanted:
            known = {o.option: o for o in options}
            unknown = [w for w in wanted if w not in known]
            if unknown:
                raise ApiError(
                    400,
                    f"Unknown option(s) {', '.join(unknown)}; this workflow's options are "
                    f"{', '.join(known)}.",
                )
            options = [known[w] for w in wanted]
        repeats = int(body.get("repeats", 3))
        if not 1 <= repeats <= 100:
            raise ApiError(400, "'repeats' must be between 1 and 100.")
        capacity = body.get("capacityCores")
        if (
            capacity is None
        ):  # what the healthy invokers hold: foreach items run that many cores at once
            capacity = (
                sum(inv.cpus for inv in self.activations.registry.all() if inv.state == "up")
                or None
            )
        elif isinstance(capacity, bool) or not isinstance(capacity, (int, float)) or capacity <= 0:
            raise ApiError(400, "'capacityCores' must be a positive number of CPU cores.")
        job_id = uuid.uuid4().hex
        job = {
            "jobId": job_id,
            "workflow": name,
            "state": "running",
            "done": 0,
            "total": 0,
            "error": None,
            "started": now_ms(),
            "finished": None,
            "options": [o.to_json() for o in options],
        }
        self.profiling_jobs.start(namespace, name, job)

        def invoke(action_path: str, params: dict, size: Size) -> dict:
            action, defaults = entitled_action(
                self.activations.entities, identity, namespace, action_path
            )
            return self.activations.execute(
                identity, namespace, action, {**defaults, **params}, size
            )

        def progress(done: int, total: int) -> None:
            job["done"], job["total"] = done, total

        def work() -> None:
            try:
                profiles = run_profile(
                    wf, inputs, options, repeats, invoke, progress, capacity_cores=capacity
                )
                with self.db.session() as s:
                    self._row(s, namespace, name).profiles = profiles.to_json()
                job["state"] = "done"
            except (ProfilingError, ApiError, ValueError) as exc:
                job["state"], job["error"] = "failed", str(getattr(exc, "message", exc))
            except Exception as exc:  # a job must always end in a state the user can read
                job["state"], job["error"] = "failed", f"{type(exc).__name__}: {exc}"
            job["finished"] = now_ms()
            self.profiling_jobs.finished()

        self.executor.submit(work)
        return job_id

    def profile_status(self, namespace: str, name: str) -> dict:
        _, row = self.workflow(namespace, name)
        job = self.profiling_jobs.latest(namespace, name)
        out: dict = {"job": job}
        if row.profiles:
            prof = Profiles.from_json(row.profiles)
            summary = {}
            for fn in prof.functions():
                summary[fn] = {
                    opt: {
                        "samples": len(prof.latencies(fn, opt)),
                        "p50": percentile(prof.node_latencies(fn, opt), 50),
                        "p99": percentile(prof.node_latencies(fn, opt), 99),
                    }
                    for opt in prof.options
                }
            out["profiles"] = summary
            out["capacityCores"] = prof.capacity_cores
            out["infeasible"] = [
                {k: f[k] for k in ("function", "option", "run", "error")} for f in prof.failures
            ]
        return out

    def synthesize(self, namespace: str, name: str, percentile_p: float | None) -> dict:
        wf, row = self.workflow(namespace, name)
        if not row.profiles:
            raise ApiError(
                409,
                f"The workflow '{name}' has no profiles yet: run tango hints profile {name} first.",
            )
        result = synthesize(wf, Profiles.from_json(row.profiles), self.options(row), percentile_p)
        return {"hints": result.text, "report": result.report}

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
