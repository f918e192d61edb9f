"""Discrete-event simulation of the VLM runtime's stages, driven by a policy and the stage tables.

Lets policy quality be compared on a CPU in milliseconds: every policy replays the same arrival
sequence; stage durations come from `StageTables` (co-run and shared-stream slowdowns included).
Called by tests (`tests/runtimes/vlm/test_scheduler_simulate.py`) and usable from benchmarks;
the engine's real GPU benchmark (`bench/nova_*.py`) is the final word.

Model: pipelined plans start work on idle stages, each lasting the table time for its SM share
and whether another stage was running when it started; time-multiplexed plans (`pipelined`
False) run their vision, prefill (fused with the decode batch for chunked prefill) and decode
step one after another on the whole GPU. A paced decode step (`Plan.decode_gap_ms`, plain
streams) idles as the engine's decode worker does, up to the gap while a compute stage runs, and
a compute stage beside paced decode is slowed only for the fraction of the time steps run
(`paced_compute_ms`). Prefill produces a request's first token; each decode
step one more. A request holds a KV slot from its first prefill token to its last output token.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from .calibrate import CalibratedTables
from .plan import (
    DECODE,
    PREFILL,
    VISION,
    DecodeView,
    Plan,
    PrefillChunk,
    RequestView,
    SchedulerState,
)
from .queueing import ArrivalRateEstimator
from .tables import StageTables


@dataclass(frozen=True)
class Arrival:
    t_ms: float
    patches: int
    prompt_tokens: int
    new_tokens: int
    deadline_ms: float | None = None  # absolute, on the arrivals' clock


@dataclass
class _Req:
    rid: str
    a: Arrival
    prefilled: int = 0
    slot: int | None = None
    remaining: int = 0
    first_token_ms: float | None = None
    finish_ms: float | None = None
    dropped: str | None = None  # "refused" at admission, or "expired" before it could start

    @property
    def served(self) -> bool:
        return self.dropped is None

    def view(self) -> RequestView:
        return RequestView(
            self.rid,
            self.a.t_ms,
            self.a.patches,
            self.a.prompt_tokens,
            self.a.new_tokens,
            self.prefilled,
            self.a.deadline_ms,
        )


@dataclass(frozen=True)
class Interval:
    stage: str
    start_ms: float
    end_ms: float
    sms: int | None
    rids: tuple[str, ...]


@dataclass
class SimResult:
    policy: str
    requests: list[_Req]
    trace: list[Interval] = field(default_factory=list)

    def latencies(self) -> list[float]:
        return [r.finish_ms - r.a.t_ms for r in self.requests if r.served]

    def deadlines(self) -> dict:
        """Deadline attainment over every request with a deadline: met (served by it), missed
        (served late), refused at admission, expired in the queue; attainment = met / all."""
        with_deadline = [r for r in self.requests if r.a.deadline_ms is not None]
        met = sum(1 for r in with_deadline if r.served and r.finish_ms <= r.a.deadline_ms)
        refused = sum(1 for r in with_deadline if r.dropped == "refused")
        expired = sum(1 for r in with_deadline if r.dropped == "expired")
        return {
            "requests": len(with_deadline),
            "met": met,
            "missed": len(with_deadline) - met - refused - expired,
            "refused": refused,
            "expired": expired,
            "attainment": met / len(with_deadline) if with_deadline else None,
        }

    def summary(self) -> dict:
        served = [r for r in self.requests if r.served]
        lat = sorted(self.latencies())
        ttft = [r.first_token_ms - r.a.t_ms for r in served]
        tpot = [
            (r.finish_ms - r.first_token_ms) / (r.a.new_tokens - 1)
            for r in served
            if r.a.new_tokens > 1
        ]
        span = max(r.finish_ms for r in served) - min(r.a.t_ms for r in self.requests)
        extra = (
            {"deadlines": self.deadlines()}
            if any(r.a.deadline_ms is not None for r in self.requests)
            else {}
        )
        return {
            "policy": self.policy,
            "requests": len(lat),
            "max_ms": lat[-1],
            "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))],
            "mean_ms": sum(lat) / len(lat),
            "ttft_mean_ms": sum(ttft) / len(ttft),
            "tpot_mean_ms": sum(tpot) / max(1, len(tpot)),
            "throughput_rps": 1000.0 * len(lat) / span,
            **extra,
        }


class _Sim:
    def __init__(self, policy, tables: StageTables, arrivals: list[Arrival], kv_slots: int):
        self.policy, self.tables, self.n = policy, tables, tables.total_sms
        self.reqs = [_Req(f"r{i}", a) for i, a in enumerate(sorted(arrivals, key=lambda a: a.t_ms))]
        self.waiting: list[_Req] = []
        self.ready: list[_Req] = []
        self.decoding: list[_Req] = []
        self.free = list(range(kv_slots))
        self.busy: dict[str, tuple] = {}  # stage -> (end_ms, payload)
        self.rate = ArrivalRateEstimator()
        self.prefills_since_decode = 0
        self.trace: list[Interval] = []
        self.events: list[tuple] = []
        self.seq = 0
        self.decode_gap = 0.0  # the gap of the decode step now running (0: not paced)

    # ---- state -------------------------------------------------------------------------------
    def state(self, now: float) -> SchedulerState:
        inv = self.busy.get(VISION, (0, None))[1]
        inp = self.busy.get(PREFILL, (0, None))[1]
        return SchedulerState(
            now_ms=now,
            waiting=tuple(r.view() for r in self.waiting),
            ready=tuple(r.view() for r in self.ready if r is not (inp[0] if inp else None)),
            in_vision=inv.view() if inv else None,
            in_prefill=inp[0].view() if inp else None,
            decoding=tuple(
                DecodeView(r.rid, r.slot, r.remaining, r.a.t_ms, r.a.deadline_ms)
                for r in self.decoding
            ),
            arrival_rate=self.rate.rate_per_s(now),
            prefills_since_decode=self.prefills_since_decode,
            free_slots=len(self.free),
        )

    def by_rid(self, rid: str) -> _Req:
        return self.reqs[int(rid[1:])]

    # ---- stage effects -----------------------------------------------------------------------
    def arrive(self, r: _Req, now: float) -> None:
        self.rate.observe(now)
        admit = getattr(self.policy, "admit", None)
        if admit is not None and r.a.deadline_ms is not None:
            if not admit(self.state(now), r.view()).admitted:
                r.dropped, r.finish_ms = "refused", now
                return
        (self.waiting if r.a.patches else self.ready).append(r)

    def expire(self, now: float) -> None:
        """As the engine does: a request whose deadline passed before any of its prefill ran is
        failed, not started."""
        running = {id(p[0] if isinstance(p, tuple) else p) for _, p in self.busy.values()}
        for q in (self.waiting, self.ready):
            for r in [
                r
                for r in q
                if r.a.deadline_ms is not None
                and now > r.a.deadline_ms
                and r.prefilled == 0
                and id(r) not in running
            ]:
                q.remove(r)
                r.dropped, r.finish_ms = "expired", now

    def vision_done(self, r: _Req) -> None:
        self.waiting.remove(r)
        self.ready.append(r)

    def prefill_done(self, r: _Req, chunk: PrefillChunk, now: float) -> None:
        if r.slot is None:
            r.slot = self.free.pop(0)
        r.prefilled += chunk.tokens
        if not chunk.final:
            return
        self.ready.remove(r)
        self.prefills_since_decode += 1
        r.first_token_ms, r.remaining = now, r.a.new_tokens - 1
        self.finish_or_decode(r, now)

    def decode_done(self, slots: tuple[int, ...], now: float) -> None:
        self.prefills_since_decode = 0
        for r in [r for r in self.decoding if r.slot in slots]:
            r.remaining -= 1
            self.finish_or_decode(r, now)

    def finish_or_decode(self, r: _Req, now: float) -> None:
        if r.remaining > 0:
            if r not in self.decoding:
                self.decoding.append(r)
            return
        r.finish_ms = now
        if r in self.decoding:
            self.decoding.remove(r)
        self.free.append(r.slot)

    # ---- durations ---------------------------------------------------------------------------
    def duration(self, stage: str, sms: int | None, size: float, corunner: str | None) -> float:
        return self.tables.interp(stage, sms, size, corunner)

    def compute_duration(
        self,
        stage: str,
        sms: int | None,
        size: float,
        beside_decode: bool,
        gap_ms: float,
        batch: int,
    ) -> float:
        """A vision or prefill stage; beside decode steps paced with `gap_ms` it is slowed only for
        the share of the time a step runs."""
        if not beside_decode:
            return self.duration(stage, sms, size, None)
        if gap_ms <= 0 or sms is not None:
            return self.duration(stage, sms, size, DECODE)
        return paced_compute_ms(self.tables, stage, size, gap_ms, batch)

    def record(self, stage, start, end, sms, rids) -> None:
        self.trace.append(Interval(stage, start, end, sms, tuple(rids)))

    # ---- pipelined ---------------------------------------------------------------------------
    def push(self, t: float, kind: str, payload) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, payload))

    def run_pipelined(self) -> None:
        for r in self.reqs:
            self.push(r.a.t_ms, "arrival", r)
        while self.events:
            now, _, kind, payload = heapq.heappop(self.events)
            if kind == "arrival":
                self.arrive(payload, now)
            elif kind == VISION:
                del self.busy[VISION]
                self.vision_done(payload)
            elif kind == PREFILL:
                del self.busy[PREFILL]
                self.prefill_done(*payload, now)
            else:
                del self.busy[DECODE]
                self.decode_done(payload, now)
            self.expire(now)
            self.start(self.policy.decide(self.state(now)), now)

    def start(self, plan: Plan, now: float) -> None:
        split = plan.sm_split
        compute_next = VISION if plan.vision else PREFILL if plan.prefill else None
        decode_next = bool(plan.decode) and DECODE not in self.busy
        compute_on = compute_next or next((s for s in (VISION, PREFILL) if s in self.busy), None)
        if decode_next:
            self.decode_gap = plan.decode_gap_ms if split is None else 0.0
        batch = (
            len(plan.decode)
            if decode_next
            else len(self.busy[DECODE][1])
            if DECODE in self.busy
            else 0
        )

        def sms(stage):
            return None if split is None else split.get(stage, self.n)

        beside = decode_next or DECODE in self.busy
        if plan.vision and VISION not in self.busy:
            r = self.by_rid(plan.vision[0])
            t = self.compute_duration(
                VISION, sms(VISION), r.a.patches, beside, self.decode_gap, batch
            )
            self.launch(VISION, now, t, r, sms(VISION), [r.rid])
            self.report(VISION, sms(VISION), r.a.patches, DECODE if beside else None, t)
        if plan.prefill and PREFILL not in self.busy:
            r = self.by_rid(plan.prefill.rid)
            t = self.compute_duration(
                PREFILL, sms(PREFILL), plan.prefill.tokens, beside, self.decode_gap, batch
            )
            self.launch(PREFILL, now, t, (r, plan.prefill), sms(PREFILL), [r.rid])
            self.report(PREFILL, sms(PREFILL), plan.prefill.tokens, DECODE if beside else None, t)
        if decode_next:
            wait = 0.0
            if self.decode_gap > 0 and compute_on:  # idle up to the gap while compute runs
                compute_end = max(self.busy[s][0] for s in (VISION, PREFILL) if s in self.busy)
                wait = min(self.decode_gap, compute_end - now)
                compute_on = compute_on if wait < compute_end - now else None
            t = self.duration(DECODE, sms(DECODE), len(plan.decode), compute_on)
            self.launch(DECODE, now, t, plan.decode, sms(DECODE), self.rids(plan.decode), idle=wait)
            self.report(DECODE, sms(DECODE), len(plan.decode), compute_on, t)

    def report(self, stage: str, sms: int | None, size: float, corunner: str | None, ms: float):
        """Tell the policy the stage time, as the engine does (nova's calibration learns from it).
        A policy on these very tables learns nothing; one on other tables learns the difference."""
        observe = getattr(self.policy, "observe", None)
        if observe is not None and size > 0:
            observe(stage, sms, size, corunner, ms)

    def launch(self, stage, now, t, payload, sms, rids, idle: float = 0.0) -> None:
        """`stage` busy from `now`, working for `t` ms after `idle` ms (a paced decode step)."""
        self.busy[stage] = (now + idle + t, payload)
        self.record(stage, now + idle, now + idle + t, sms, rids)
        self.push(now + idle + t, stage, payload)

    def rids(self, slots) -> list[str]:
        return [r.rid for r in self.decoding if r.slot in slots]

    # ---- time-multiplexed ----------------------------------------------------------------------
    def run_serial(self, first_plan: Plan | None = None) -> None:
        now, i, plan = 0.0, 0, first_plan
        while True:
            while i < len(self.reqs) and self.reqs[i].a.t_ms <= now:
                self.arrive(self.reqs[i], self.reqs[i].a.t_ms)
                i += 1
            plan = self.policy.decide(self.state(now)) if plan is None else plan
            if plan.is_idle:
                if i == len(self.reqs):
                    return
                now = max(now, self.reqs[i].a.t_ms)
            else:
                now = self.execute_serial(plan, now)
            plan = None

    def execute_serial(self, plan: Plan, now: float) -> float:
        for rid in plan.vision:
            r = self.by_rid(rid)
            end = now + self.duration(VISION, self.n, r.a.patches, None)
            self.record(VISION, now, end, None, [rid])
            self.vision_done(r)
            now = end
        slots = plan.decode
        if plan.prefill:
            r, fused = self.by_rid(plan.prefill.rid), len(slots)
            # A chunk batched with decode tokens is one forward over chunk + batch tokens; it
            # costs at least the decode step it carries (same weights and KV to read).
            t = self.duration(PREFILL, self.n, plan.prefill.tokens + fused, None)
            end = now + max(t, self.duration(DECODE, self.n, fused, None) if fused else 0.0)
            self.record(PREFILL, now, end, None, [r.rid] + self.rids(slots))
            if slots:
                self.decode_done(slots, end)
            self.prefill_done(r, plan.prefill, end)
            return end
        if slots:
            end = now + self.duration(DECODE, self.n, len(slots), None)
            self.record(DECODE, now, end, None, self.rids(slots))
            self.decode_done(slots, end)
            now = end
        return now


def paced_compute_ms(
    tables: StageTables, stage: str, size: float, gap_ms: float, batch: int
) -> float:
    """`stage` on plain streams beside decode steps of `batch` that idle `gap_ms` between them:
    the shared slowdown applies for the steps' share of the time."""
    solo = tables.interp(stage, None, size)
    shared = tables.interp(stage, None, size, DECODE)
    step = tables.interp(DECODE, None, max(batch, 1), stage)
    return solo + (shared - solo) * step / (step + gap_ms)


def simulate(
    policy,
    tables: StageTables | CalibratedTables,
    arrivals: list[Arrival],
    kv_slots: int | None = None,
) -> SimResult:
    """Run `policy` on `arrivals`; every request must finish (else the policy deadlocked)."""
    sim = _Sim(policy, tables, arrivals, kv_slots or getattr(policy, "max_batch", 16))
    probe = policy.decide(SchedulerState())
    if probe.pipelined:
        sim.run_pipelined()
    else:
        sim.run_serial()
    unfinished = [r.rid for r in sim.reqs if r.finish_ms is None]
    if unfinished:
        raise RuntimeError(
            f"policy {policy.name} left {len(unfinished)} requests unfinished: {unfinished[:5]}"
        )
    return SimResult(policy.name, sim.reqs, sim.trace)


# Screenshot-like request shapes: (ViT patches, merged image tokens) for phone and desktop sizes.
SCREENSHOTS = {
    "phone": (2484, 621),
    "desktop": (5184, 1296),
}  # 644x1400 → 46x54 grid; 1344x756 → 54x96


def bursty_arrivals(n: int, rate_per_s: float, cv: float = 3.0, seed: int = 0) -> list[Arrival]:
    """`n` screenshot requests with gamma inter-arrival times of the given mean rate and CV."""
    rng = random.Random(seed)
    shape = 1.0 / (cv * cv)
    mean_gap = 1000.0 / rate_per_s
    t, out = 0.0, []
    for _ in range(n):
        t += rng.gammavariate(shape, mean_gap / shape)
        patches, image_tokens = SCREENSHOTS[rng.choice(sorted(SCREENSHOTS))]
        out.append(Arrival(t, patches, image_tokens + rng.randint(30, 100), rng.randint(30, 80)))
    return out
