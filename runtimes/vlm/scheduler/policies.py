"""Scheduling policies for the VLM runtime: Nova (adaptive) and the baselines it is compared with.

All policies are pure deciders over `SchedulerState` returning a `Plan` (see `plan.py`); the
engine executes plans, the simulator (`simulate.py`) replays them against the stage tables.
Build them with `make_policy(name, tables, total_sms, **params)`:

- `sequential`: one request at a time, to completion, FCFS, whole GPU (time-multiplexed).
- `pf-limit`: prefill first (vLLM style), at most `max_prefills` prefills ahead of each decode step.
- `chunk`: Sarathi-style chunked prefill: each step batches the decode tokens with a prefill chunk,
  `budget` (128) tokens in all; vision cannot be chunked with decode, so it runs whole, alone.
- `multi-stream`: stages pipelined on their own streams, no SM partitioning.
- `nova-static`: pipelined on green-context partitions with one fixed decode share.
- `nova`: pipelined and adaptive. From the Pareto frontier of each co-run pair (plus the
  unpartitioned configuration where the tables measured it and it is not dominated) it takes
  the operating point: the (vision, prefill) pair of decode shares with the lowest mean latency
  the M/G/1 model predicts at the current arrival rate and request mix (a split that starves the
  compute stages below the arrival rate is never chosen). While the queue is at least α it moves
  to the throughput end: the pair that serves the compute queue fastest with decode within its
  slowdown bound. Besides the partitions and plain sharing, each choice can be *paced* sharing
  (`tables.Paced`): plain streams, with the decode worker idling between steps while compute runs
  as long as the slowdown bound allows, so the compute stage has the whole GPU part of the time
  and the decode batch grows (a decode that steps back to back slows compute by the tables'
  `shared` factor). α comes from the same model; all of it is re-derived as load and mix move.
  The model reads the tables through `calibrate.CalibratedTables`: the stage times the engine
  measures correct the profiled ones per stage and kind of configuration.
  A split is chosen when a compute stage starts and held until it ends: the running stage cannot
  leave the partition it was launched on, so moving decode meanwhile would only shrink decode's
  share for nothing or overlap the compute stage's SMs.

Every plan also fills the decode batch from the running requests, oldest first, up to
`max_batch` (continuous batching). The compute stages serve one request at a time, FCFS,
prefill of an encoded request before the next vision encode.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict

from .calibrate import CalibratedTables
from .deadlines import (
    Admission,
    ServicePredictor,
    admit,
    decode_at_risk,
    decode_order,
    decode_slack_ms,
    least_slack_first,
    slack_ms,
)
from .pareto import ParetoFrontier, build_frontier, candidate_splits
from .plan import DECODE, PREFILL, VISION, Plan, PrefillChunk, RequestView, SchedulerState
from .queueing import LatencyModel, RequestShape
from .tables import Paced, StageTables, decode_step_ms

DEFAULT_MAX_BATCH = 16
DEFAULT_SHAPE = RequestShape(
    patches=5184, prompt_tokens=1296 + 64, new_tokens=55
)  # a 1344x756 screenshot


def decode_batch(
    state: SchedulerState, max_batch: int, step_ms: float | None = None
) -> tuple[int, ...]:
    """Slots of the next decode step: oldest first, or least slack first given the step time."""
    running = state.decoding if step_ms is None else decode_order(state, step_ms)
    return tuple(d.slot for d in running[:max_batch])


def can_prefill(state: SchedulerState, req: RequestView) -> bool:
    return req.prefilled > 0 or state.free_slots is None or state.free_slots > 0


def whole_prefill(req: RequestView) -> PrefillChunk:
    return PrefillChunk(req.rid, req.prefilled, req.prefill_left, final=True)


def next_compute(
    state: SchedulerState, predictor: ServicePredictor | None = None
) -> tuple[tuple[str, ...], PrefillChunk | None]:
    """Work for the compute partition when it is idle. FCFS: a waiting prefill, else a vision
    encode. With a `predictor` and some deadline queued: least slack first over both queues
    (`deadlines.py`); the same FCFS order when no request has a deadline."""
    if state.compute_busy:
        return (), None
    queued = state.ready + state.waiting
    if predictor is not None and any(r.deadline_ms is not None for r in queued):
        ready = {r.rid for r in state.ready}
        for r in least_slack_first(queued, state.now_ms, predictor):
            if r.rid not in ready:
                return (r.rid,), None
            if can_prefill(state, r):
                return (), whole_prefill(r)
        return (), None
    if state.ready and can_prefill(state, state.ready[0]):
        return (), whole_prefill(state.ready[0])
    if state.waiting:
        return (state.waiting[0].rid,), None
    return (), None


class Sequential:
    """Run each request to completion before admitting the next (FCFS, whole GPU, no overlap)."""

    name = "sequential"

    def __init__(self, max_batch: int = DEFAULT_MAX_BATCH):
        self.max_batch = max_batch

    def decide(self, state: SchedulerState) -> Plan:
        if state.decoding:
            return Plan(
                decode=decode_batch(state, self.max_batch),
                pipelined=False,
                reason="finish running request",
            )
        if state.compute_busy:
            return Plan(pipelined=False, reason="compute stage busy")
        if state.ready:
            return Plan(prefill=whole_prefill(state.ready[0]), pipelined=False, reason="prefill")
        if state.waiting:
            return Plan(vision=(state.waiting[0].rid,), pipelined=False, reason="vision")
        return Plan(pipelined=False, reason="idle")

    def splits(self) -> list[int]:
        return []


class PfLimit:
    """Prefill first, time-multiplexed, with at most `max_prefills` prefills between decode steps."""

    name = "pf-limit"

    def __init__(self, max_prefills: int = 4, max_batch: int = DEFAULT_MAX_BATCH):
        if max_prefills < 1:
            raise ValueError(f"pf-limit max_prefills must be >= 1, got {max_prefills}")
        self.max_prefills, self.max_batch = max_prefills, max_batch

    def decide(self, state: SchedulerState) -> Plan:
        batch = decode_batch(state, self.max_batch)
        if batch and state.prefills_since_decode >= self.max_prefills:
            return Plan(
                decode=batch, pipelined=False, reason=f"cap of {self.max_prefills} prefills reached"
            )
        vision, prefill = next_compute(state)
        if vision or prefill:
            return Plan(vision=vision, prefill=prefill, pipelined=False, reason="prefill first")
        return Plan(decode=batch, pipelined=False, reason="decode")

    def splits(self) -> list[int]:
        return []


class Chunk:
    """Chunked prefill batched with decode under a token budget; vision runs whole, alone."""

    name = "chunk"

    def __init__(self, budget: int = 128, max_batch: int = DEFAULT_MAX_BATCH):
        if budget < 1:
            raise ValueError(f"chunk budget must be >= 1 token, got {budget}")
        self.budget, self.max_batch = budget, max_batch

    def decide(self, state: SchedulerState) -> Plan:
        batch = decode_batch(state, self.max_batch)
        room = self.budget - len(batch)
        if state.ready and room > 0 and can_prefill(state, state.ready[0]):
            req = state.ready[0]
            n = min(room, req.prefill_left)
            chunk = PrefillChunk(req.rid, req.prefilled, n, final=n == req.prefill_left)
            return Plan(
                prefill=chunk, decode=batch, pipelined=False, reason="prefill chunk + decode"
            )
        if state.waiting and not state.ready:
            return Plan(
                vision=(state.waiting[0].rid,), pipelined=False, reason="vision (not chunkable)"
            )
        return Plan(decode=batch, pipelined=False, reason="decode")

    def splits(self) -> list[int]:
        return []


class _Pipelined:
    """Shared by the pipelined policies: compute and decode run concurrently on their own workers."""

    name = "pipelined"

    def __init__(self, tables: StageTables, max_batch: int = DEFAULT_MAX_BATCH):
        self.tables, self.total_sms, self.max_batch = tables, tables.total_sms, max_batch

    def decide(self, state: SchedulerState) -> Plan:
        vision, prefill = self.next_compute(state)
        batch = self.decode_batch(state)
        co_runner = (
            VISION
            if state.in_vision or vision
            else PREFILL
            if state.in_prefill or prefill
            else None
        )
        split, reason = self.split(state, co_runner, bool(batch))
        return Plan(vision=vision, prefill=prefill, decode=batch, sm_split=split, reason=reason)

    def next_compute(self, state: SchedulerState) -> tuple[tuple[str, ...], PrefillChunk | None]:
        return next_compute(state)

    def decode_batch(self, state: SchedulerState) -> tuple[int, ...]:
        return decode_batch(state, self.max_batch)

    def split(
        self, state: SchedulerState, co_runner: str | None, decoding: bool
    ) -> tuple[dict | None, str]:
        if co_runner and decoding:
            s, why = self.decode_sms(state, co_runner)
            if s is None:  # the policy chose plain streams over the whole GPU
                return None, why
            return {DECODE: s, co_runner: self.total_sms - s}, why
        if co_runner:
            return {co_runner: self.total_sms}, f"{co_runner} alone"
        return ({DECODE: self.total_sms}, "decode alone") if decoding else ({}, "idle")

    def decode_sms(self, state: SchedulerState, co_runner: str) -> tuple[int, str]:
        raise NotImplementedError


class MultiStream(_Pipelined):
    """Stages on separate plain streams sharing the whole GPU, no partitioning."""

    name = "multi-stream"

    def split(self, state, co_runner, decoding):
        return None, "no partitioning"

    def splits(self) -> list[int]:
        return []


class NovaStatic(_Pipelined):
    """Green-context partitions with a fixed decode share whenever decode co-runs (no adaptation)."""

    name = "nova-static"

    def __init__(
        self,
        tables: StageTables,
        decode_sms: int | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        **frontier_params,
    ):
        super().__init__(tables, max_batch)
        if decode_sms is None:  # default: the latency end for the dominant co-runner (vision)
            decode_sms = build_frontier(
                tables, VISION, DEFAULT_SHAPE.patches, **frontier_params
            ).sm_op
        if decode_sms not in candidate_splits(self.total_sms):
            raise ValueError(
                f"nova-static decode_sms={decode_sms} is not a valid split; "
                f"use one of {candidate_splits(self.total_sms)}"
            )
        self.fixed = decode_sms

    def decode_sms(self, state, co_runner):
        return self.fixed, f"fixed split {self.fixed}"

    def splits(self) -> list[int]:
        return [self.fixed]


class Nova(_Pipelined):
    """Adaptive: the model's operating point per co-runner, its throughput end while the queue is at
    least the model-derived α (see the module docstring)."""

    name = "nova"

    def __init__(
        self,
        tables: StageTables,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_decode_slowdown: float = 2.0,
        window: int = 64,
        decode_batch_hint: int = 8,
        pace: bool = True,
        calibrate: bool = True,
        max_gap_factor: float = 0.0,
        guard: float = 0.05,
        deadlines: bool = True,
        admit_margin: float = 1.5,  # the predictor is pessimistic: 1.0 refused 30 % (simulator)
        corrections: dict | None = None,
    ):
        super().__init__(tables, max_batch)
        if guard < 0 or admit_margin <= 0:
            raise ValueError(
                f"nova guard must be >= 0 and admit_margin > 0, got {guard}, {admit_margin}"
            )
        # Also memoises the model's table lookups. `corrections` (what /metrics → calibration
        # showed in an earlier run on this card) start it calibrated: learning on the profiled
        # tables is where nova lost to plain sharing in the simulator (bench/nova_simcheck.py).
        self.tables = (
            CalibratedTables.seeded(tables, corrections)
            if corrections
            else CalibratedTables(tables)
        )
        self.tables.learning = calibrate
        self.guard, self.deadlines, self.admit_margin = guard, deadlines, admit_margin
        self.predictor = ServicePredictor(self.tables, decode_batch_hint)
        self._plain_mode = (
            True  # do-no-harm guard: start on plain sharing, leave it only on a margin
        )
        self.max_decode_slowdown, self.pace, self.max_gap_factor = (
            max_decode_slowdown,
            pace,
            max_gap_factor,
        )
        self._version = 0
        self._gap = 0.0
        self.window, self.batch_hint = window, decode_batch_hint
        self._mix: OrderedDict[str, RequestShape] = OrderedDict()
        self._cache: dict[tuple, tuple] = {}
        self._last_model: tuple = ()
        self._held: tuple[str, dict | None, float] | None = (
            None  # (compute request, its split, decode gap)
        )
        self.last: dict = {}

    def decide(self, state: SchedulerState) -> Plan:
        running = state.in_vision or state.in_prefill
        if running is not None and self._held is not None and self._held[0] == running.rid:
            batch = self.decode_batch(state)
            _, split, gap = self._held
            return Plan(
                decode=batch,
                sm_split=split if batch else None,
                decode_gap_ms=self._slot_guard(state, gap) if batch else 0.0,
                reason=f"split held while {running.rid}'s compute stage runs",
            )
        self._gap = 0.0
        held = self._hold_compute_for_decode(state) if running is None else None
        if held is not None:
            return held
        plan = super().decide(state)
        starting = plan.vision[0] if plan.vision else plan.prefill.rid if plan.prefill else None
        if starting is not None:
            # Started alone on the whole GPU: decode that joins meanwhile shares it (plain streams).
            alone = plan.sm_split is not None and DECODE not in plan.sm_split
            self._held = (starting, None if alone else plan.sm_split, 0.0 if alone else self._gap)
        if self._gap and plan.decode:
            plan = dataclasses.replace(plan, decode_gap_ms=self._slot_guard(state, self._gap))
        return plan

    def next_compute(self, state: SchedulerState) -> tuple[tuple[str, ...], PrefillChunk | None]:
        return next_compute(state, self.predictor if self.deadlines else None)

    def decode_batch(self, state: SchedulerState) -> tuple[int, ...]:
        if not self.deadlines or all(d.deadline_ms is None for d in state.decoding):
            return decode_batch(state, self.max_batch)
        return decode_batch(state, self.max_batch, self.predictor.step_ms(len(state.decoding)))

    def admit(self, state: SchedulerState, request: RequestView) -> Admission:
        """Early admission (`deadlines.admit`): refuse a request predicted to miss its deadline."""
        if not self.deadlines:
            return Admission(True, math.nan, math.inf)
        return admit(state, request, self.predictor, self.admit_margin)

    def _hold_compute_for_decode(self, state: SchedulerState) -> Plan | None:
        """Decode priority by slack: while a decoding request would miss its deadline at the step
        beside a compute stage but meet it at the step alone, and no queued request is more
        urgent, start no compute stage: decode runs alone on the whole GPU until it is safe."""
        if not self.deadlines or not state.decoding or not state.pending:
            return None
        if all(d.deadline_ms is None for d in state.decoding):
            return None
        n = len(state.decoding)
        beside, alone = self.predictor.step_ms(n, busy=True), self.predictor.step_ms(n, False)
        saved = [
            decode_slack_ms(d, state.now_ms, alone)
            for d in state.decoding
            if decode_slack_ms(d, state.now_ms, beside)
            < 0
            <= decode_slack_ms(d, state.now_ms, alone)
        ]
        if not saved:
            return None
        queued = least_slack_first(state.waiting + state.ready, state.now_ms, self.predictor)
        if slack_ms(queued[0], state.now_ms, self.predictor) <= min(saved):
            return None  # the queue's head is more urgent: compute goes ahead
        return Plan(
            decode=self.decode_batch(state),
            sm_split={DECODE: self.total_sms},
            reason=f"compute held: a decoding request meets its deadline only with decode alone "
            f"(slack {min(saved):.0f} ms)",
        )

    def _decode_at_risk(self, state: SchedulerState) -> bool:
        return self.deadlines and decode_at_risk(state, self.predictor.step_ms(len(state.decoding)))

    def decode_sms(self, state, co_runner):
        self._observe(state)
        op, drain, alpha, drain_ms = self._model(state.arrival_rate)
        i = 0 if co_runner == VISION else 1
        q = state.pending
        self.last = {
            "co_runner": co_runner,
            "sm_op": op[i],
            "sm_min": drain[i],
            "alpha": alpha,
            "queue": q,
            "arrival_rate": state.arrival_rate,
            "decode_gap_ms": 0.0,
        }
        draining = alpha is not None and q >= alpha
        if draining:
            s, why = drain[i], f"queue {q} >= alpha {alpha}: throughput end"
        else:
            s, why = op[i], f"queue {q} < alpha {alpha}: operating point"
        s, why = self._do_no_harm(state, co_runner, s, why, draining)
        if self._decode_at_risk(state):  # a decoding request's deadline comes first: no pacing
            s = None if isinstance(s, Paced) else s
            why += "; decode at risk of its deadline, not paced"
        elif self.pace and (isinstance(s, Paced) or (s is None and draining)):
            batch = max(1, min(len(state.decoding), self.max_batch))
            step = decode_step_ms(self.tables, None, batch, co_runner)
            alone = self.tables.interp(DECODE, self.total_sms, batch)
            bound = s.gap_ms(self.tables, batch, co_runner) if isinstance(s, Paced) else 0.0
            slack = self._slack_gap(state, drain_ms, step, alone) if draining else 0.0
            self._gap = max(bound, slack)
            self.last.update(decode_gap_ms=self._gap, slack_gap_ms=slack, shared=True)
            if self._gap > 0:
                return (
                    None,
                    f"{why} for {co_runner}: unpartitioned, decode paced {self._gap:.1f} ms",
                )
        if isinstance(s, Paced):  # the bound leaves no idle time: plain sharing
            s = None
        self.last["shared"] = s is None
        return s, f"{why} for {co_runner}: " + (
            "unpartitioned (shared)" if s is None else f"decode {s} SMs"
        )

    def _do_no_harm(
        self, state: SchedulerState, co_runner: str, s, why: str, draining: bool
    ) -> tuple[object, str]:
        """Plain sharing unless the model predicts the chosen configuration better by `guard`.

        Plain sharing (multi-stream) is in nova's configuration space, so nova should never be
        worse than it: a partition or paced sharing is taken only when the (calibrated) model
        predicts it beats plain sharing by more than the guard's margin, mean latency at the
        operating point, worst queued latency while draining; once on plain sharing, it returns to
        another configuration only on that margin (hysteresis), and it starts there, so nothing is
        tried on the profiled tables' word alone by less than the margin."""
        if self.guard <= 0 or s is None or not self.tables.shared or not self._last_model:
            return s, why
        model, op, drain = self._last_model
        chosen, plain = (drain if draining else op), (None, None)
        if draining:
            q = state.pending
            t_chosen = model.worst_queued_latency_ms(q, chosen, op)
            t_plain = model.worst_queued_latency_ms(q, plain, plain)
        else:
            t_chosen, t_plain = model.mean_latency_ms(chosen), model.mean_latency_ms(plain)
        need = t_plain * (1 - self.guard) if self._plain_mode else t_plain
        self._plain_mode = not t_chosen < need
        self.last.update(guard_chosen_ms=t_chosen, guard_plain_ms=t_plain)
        if self._plain_mode:
            return None, f"{why}; guard: plain sharing predicted {t_plain:.0f} ms vs {t_chosen:.0f}"
        return s, why

    def _slack_gap(
        self, state: SchedulerState, service_ms: float, step_ms: float, alone_ms: float
    ) -> float:
        """While draining a queue: the idle gap per decode step that still lets every request now
        decoding finish within the latency the queue's worst request is predicted to reach anyway.

        Queued request k (FCFS) finishes its compute about k service times from now, then decodes
        at the step alone; the worst of those is the max latency this burst sets. A request already
        decoding has slack against it: with r tokens left and t ms since its arrival, a step period
        up to (worst - t) / r costs the max nothing while the compute stages get the GPU to
        themselves between steps. The gap is capped at `max_gap_factor` decode steps alone, so a
        wrong prediction cannot stall decode for long. Off by default (factor 0): on the H100 it
        lengthened decode more than it sped up the compute stages (bench/results/nova, `_slack`)."""
        queued = sorted(list(state.waiting) + list(state.ready), key=lambda r: r.arrival_ms)
        if not queued or not state.decoding:
            return 0.0
        worst = max(
            state.now_ms - r.arrival_ms + (k + 1) * service_ms + r.max_new_tokens * alone_ms
            for k, r in enumerate(queued)
        )
        period = min(
            (
                (worst - (state.now_ms - d.arrival_ms)) / d.remaining_tokens
                for d in state.decoding
                if d.remaining_tokens > 0
            ),
            default=0.0,
        )
        return min(self.max_gap_factor * alone_ms, max(0.0, period - step_ms))

    @staticmethod
    def _slot_guard(state: SchedulerState, gap: float) -> float:
        """No pacing while a prefill waits for a KV slot: only decode steps free slots."""
        return 0.0 if state.free_slots == 0 and state.ready else gap

    def splits(self) -> list[int]:
        return candidate_splits(self.total_sms)

    def observe(
        self, stage: str, sms: int | None, size: float, corunner: str | None, ms: float
    ) -> None:
        """A stage time the engine measured: corrects the tables the model reads (calibrate=True)."""
        self.tables.observe(stage, sms, size, corunner, ms)

    def _observe(self, state: SchedulerState) -> None:
        reqs = (
            list(state.waiting)
            + list(state.ready)
            + [r for r in (state.in_vision, state.in_prefill) if r]
        )
        for r in reqs:
            if r.rid not in self._mix:
                self._mix[r.rid] = RequestShape(r.patches, r.prompt_tokens, r.max_new_tokens)
        while len(self._mix) > self.window:
            self._mix.popitem(last=False)

    def _model(self, rate: float) -> tuple[tuple, tuple, int | None, float]:
        """(operating point, throughput end, α, mean compute service at the throughput end)."""
        mix = list(self._mix.values()) or [DEFAULT_SHAPE]
        patches = sum(r.patches for r in mix) / len(mix) or DEFAULT_SHAPE.patches
        tokens = sum(r.prompt_tokens for r in mix) / len(mix)
        new = sum(r.new_tokens for r in mix) / len(mix)
        # Re-derive when the load or the mix moves by more than a bucket (rate: ~15% steps).
        key = (
            round(math.log(rate, 1.15)) if rate > 0 else None,
            round(patches / 256),
            round(tokens / 64),
            round(new / 8),
        )
        version = self.tables.version()
        if version != self._version:  # the corrections moved: every cached decision is stale
            self._cache.clear()
            self._version = version
        if key not in self._cache:
            cands = tuple(
                self._candidates(build_frontier(self.tables, co, size, self.batch_hint))
                for co, size in ((VISION, patches or DEFAULT_SHAPE.patches), (PREFILL, tokens))
            )
            # The model prices one mean request (its second moment kept): the search is 2-D.
            model = LatencyModel(
                self.tables,
                (RequestShape(round(patches), round(tokens), round(new)),),
                rate,
                self.batch_hint,
            )
            op = model.operating_point(cands)
            drain = model.drain_point(cands, self.max_decode_slowdown)
            alpha = model.alpha(op, drain)
            self._cache[key] = (op, drain, alpha, model.moments(drain).mean_ms, model)
        op, drain, alpha, drain_ms, model = self._cache[key]
        self._last_model = (model, op, drain)
        return op, drain, alpha, drain_ms

    def _candidates(self, front: ParetoFrontier) -> list:
        """Decode shares on the frontier, unpartitioned sharing unless a split beats it on both, and
        (where sharing was measured) sharing with decode paced at the slowdown bound."""
        out = [p.decode_sms for p in front.frontier]
        if front.shared is not None and not any(p.dominates(front.shared) for p in front.frontier):
            out.append(None)
        if front.shared is not None and self.pace:
            out.append(Paced(self.max_decode_slowdown))
        return out


def make_policy(name: str, tables: StageTables, total_sms: int | None = None, **params):
    """Build the policy called `name` (see the module docstring) over `tables`."""
    if total_sms is not None and total_sms != tables.total_sms:
        raise ValueError(
            f"stage tables were profiled on {tables.total_sms} SMs but this GPU has {total_sms}; "
            "run runtimes.vlm.profile_stages on this GPU"
        )
    builders = {
        "sequential": lambda: Sequential(**params),
        "pf-limit": lambda: PfLimit(**params),
        "chunk": lambda: Chunk(**params),
        "multi-stream": lambda: MultiStream(tables, **params),
        "nova-static": lambda: NovaStatic(tables, **params),
        "nova": lambda: Nova(tables, **params),
    }
    if name not in builders:
        raise ValueError(f"unknown policy {name!r}; choose one of {sorted(builders)}")
    try:
        return builders[name]()
    except TypeError as e:
        raise ValueError(f"bad parameters for policy {name!r}: {e}") from e


POLICY_NAMES = ("sequential", "pf-limit", "chunk", "multi-stream", "nova-static", "nova")
