"""Queueing model of the compute stages: when should decode give up SMs to drain the queue?

Used by the nova policy (`policies.py`) and by tests; pure arithmetic over the stage tables.

The compute stages (vision encode, then prefill, one request at a time, FCFS) form one server
whose service time for a request on N - s SMs is S(s) = t_vis + t_pre, both while decode co-runs
on the other s SMs. Requests arrive at rate λ (estimated online by `ArrivalRateEstimator`):
an M/G/1 queue. The first two moments of S come from the tables evaluated over the observed
request mix; Pollaczek–Khinchine gives the mean wait W = λ E[S²] / (2 (1 - ρ)), ρ = λ E[S].

Threshold α (our reconstruction of Nova's rule, see docs/design.md §8.2): with q requests
queued, compare the predicted latency of the worst request in the system if the queue is
drained at SM_min (throughput end) versus at SM_op (latency end). α is the smallest q at which
SM_min gives the lower worst latency. The prediction for a split s:
- queued request k (k = 1..q) finishes its compute at R + k·E[S(s)] (R: mean residual service
  of the request now in service, E[S²] / 2E[S]);
- then it decodes n tokens; steps taken while the compute server is still busy cost the
  co-running decode step t_dec(s), the others the step time at the operating point. The server
  stays busy for the M/G/1 busy period started by the queued work, (R + q E[S]) / (1 - ρ(s)),
  so a higher arrival rate makes SM_min's slower decode last longer;
- a request already decoding (typically: it waited W, was served E[S] and is halfway through its
  n tokens at the operating point) pays the same way for its remaining n/2 steps. Its time so far
  grows with the load, so α grows with λ: switch only when the queue is longer than usual.
If SM_op cannot sustain λ (ρ ≥ 1) the queue only grows there, so α = 1.

A *configuration* says, for each compute stage, where decode runs while that stage co-runs: an
int is a partition (decode on that many SMs, the stage on the rest), None is both on plain
streams over the whole GPU (priced with the tables' measured `shared` slowdowns). A single int
or None applies to both stages; a pair `(vision, prefill)` sets them apart, since the best split
beside a vision encode need not be the best beside a prefill. `operating_point` picks the pair
with the lowest predicted mean latency (M/G/1 wait + service + decode), `drain_point` the pair
that serves the compute queue fastest with decode within its slowdown bound.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .plan import DECODE, PREFILL, VISION
from .tables import Split, StageTables, compute_ms, decode_step_ms

T = TypeVar("T")

Config = Split | tuple[Split, Split]  # one for both compute stages, or (vision, prefill)


def per_stage(cfg: Config) -> tuple[Split, Split]:
    return cfg if isinstance(cfg, tuple) else (cfg, cfg)


@dataclass(frozen=True)
class RequestShape:
    patches: int
    prompt_tokens: int
    new_tokens: int


@dataclass(frozen=True)
class ServiceMoments:
    mean_ms: float
    second_ms2: float
    vision_share: float  # fraction of the service time spent in vision (the rest is prefill)

    @property
    def mean_residual_ms(self) -> float:
        return self.second_ms2 / (2 * self.mean_ms)


def service_moments(
    tables: StageTables, decode_sms: Config, mix: list[RequestShape], decode_active: bool = True
) -> ServiceMoments:
    """E[S], E[S²] of the compute stages beside decode in configuration `decode_sms`, over the mix."""
    if not mix:
        raise ValueError("request mix is empty: need at least one request shape")
    sv, sp = per_stage(decode_sms)
    vis = [
        compute_ms(tables, VISION, sv, r.patches, decode_active) if r.patches else 0.0 for r in mix
    ]
    pre = [compute_ms(tables, PREFILL, sp, r.prompt_tokens, decode_active) for r in mix]
    s = [v + p for v, p in zip(vis, pre, strict=False)]
    m1 = sum(s) / len(s)
    return ServiceMoments(m1, sum(x * x for x in s) / len(s), sum(vis) / sum(s))


def utilisation(rate_per_s: float, m: ServiceMoments) -> float:
    return rate_per_s / 1000.0 * m.mean_ms


def pk_wait_ms(rate_per_s: float, m: ServiceMoments) -> float:
    """Pollaczek–Khinchine mean waiting time in the queue (inf when ρ ≥ 1)."""
    rho = utilisation(rate_per_s, m)
    if rho >= 1.0:
        return math.inf
    return rate_per_s / 1000.0 * m.second_ms2 / (2.0 * (1.0 - rho))


@dataclass(frozen=True)
class LatencyModel:
    """Predicts worst-case latency of queued requests for a decode split; derives α."""

    tables: StageTables
    mix: tuple[RequestShape, ...]
    rate_per_s: float
    decode_batch: int = 8
    _memo: dict[tuple[object, ...], Any] = field(default_factory=dict, compare=False, repr=False)

    def _cached(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = compute()
        value: T = self._memo[key]
        return value

    @property
    def new_tokens(self) -> float:
        return sum(r.new_tokens for r in self.mix) / len(self.mix)

    def moments(self, decode_sms: Config) -> ServiceMoments:
        return self._cached(
            ("m", decode_sms), lambda: service_moments(self.tables, decode_sms, list(self.mix))
        )

    def corun_step_ms(self, decode_sms: Config) -> float:
        """Decode step while vision or prefill runs, weighted by their time share."""
        share = self.moments(decode_sms).vision_share
        sv, sp = per_stage(decode_sms)
        return self._cached(
            ("corun", decode_sms),
            lambda: (
                share * decode_step_ms(self.tables, sv, self.decode_batch, VISION)
                + (1 - share) * decode_step_ms(self.tables, sp, self.decode_batch, PREFILL)
            ),
        )

    def alone_step_ms(self) -> float:
        return self._cached(
            ("alone",), lambda: self.tables.interp(DECODE, self.tables.total_sms, self.decode_batch)
        )

    def mean_latency_ms(self, decode_sms: Config) -> float:
        """Predicted mean end-to-end latency in steady state: M/G/1 wait + service + decode."""
        m = self.moments(decode_sms)
        return (
            pk_wait_ms(self.rate_per_s, m)
            + m.mean_ms
            + self.new_tokens * self.steady_step_ms(decode_sms)
        )

    def operating_point(self, candidates: tuple[list[Split], list[Split]]) -> tuple[Split, Split]:
        """The (vision, prefill) configuration with the lowest predicted mean latency; if none
        sustains the arrival rate, the one that serves the compute stages fastest."""
        pairs = list(itertools.product(*candidates))
        best = min(pairs, key=self.mean_latency_ms)
        if math.isinf(self.mean_latency_ms(best)):
            return min(pairs, key=lambda c: self.moments(c).mean_ms)
        return best

    def drain_point(
        self, candidates: tuple[list[Split], list[Split]], max_decode_slowdown: float
    ) -> tuple[Split, Split]:
        """The (vision, prefill) configuration that serves the compute queue fastest while each
        co-running decode step stays within `max_decode_slowdown` of decode alone."""
        cap = max_decode_slowdown * self.alone_step_ms()
        ok = [
            [s for s in cands if decode_step_ms(self.tables, s, self.decode_batch, co) <= cap]
            or cands
            for cands, co in zip(candidates, (VISION, PREFILL), strict=False)
        ]
        return min(itertools.product(ok[0], ok[1]), key=lambda c: self.moments(c).mean_ms)

    def steady_step_ms(self, decode_sms: Config) -> float:
        """Mean decode step at split s once the queue is drained: co-running a fraction ρ of the time."""
        rho = min(1.0, utilisation(self.rate_per_s, self.moments(decode_sms)))
        return rho * self.corun_step_ms(decode_sms) + (1 - rho) * self.alone_step_ms()

    def worst_queued_latency_ms(self, queued: int, drain_sms: Config, op_sms: Config) -> float:
        """Worst predicted latency (from now) when `queued` requests are drained at `drain_sms`."""
        m = self.moments(drain_sms)
        rho = utilisation(self.rate_per_s, m)
        busy_until = math.inf if rho >= 1 else (m.mean_residual_ms + queued * m.mean_ms) / (1 - rho)
        during, after = self.corun_step_ms(drain_sms), self.steady_step_ms(op_sms)
        n = self.new_tokens

        def decode_ms(start: float, tokens: float) -> float:
            overlapped = min(tokens, max(0.0, busy_until - start) / during)
            return overlapped * during + (tokens - overlapped) * after

        done = [m.mean_residual_ms + k * m.mean_ms for k in range(1, queued + 1)]
        worst = max((t + decode_ms(t, n) for t in done), default=0.0)
        return max(worst, self.decoding_elapsed_ms(op_sms) + decode_ms(0.0, n / 2))

    def decoding_elapsed_ms(self, op_sms: Config) -> float:
        """Time already spent by a typical request halfway through its decode at the operating point."""
        m = self.moments(op_sms)
        return (
            pk_wait_ms(self.rate_per_s, m)
            + m.mean_ms
            + self.new_tokens / 2 * self.steady_step_ms(op_sms)
        )

    def alpha(self, sm_op: Config, sm_min: Config, max_queue: int = 256) -> int | None:
        """Smallest queue length at which draining at `sm_min` beats `sm_op` on worst latency.

        1 when SM_op cannot sustain the arrival rate; None when SM_min never wins up to `max_queue`
        (or serves the compute stages no faster than SM_op).
        """
        if sm_min == sm_op or self.moments(sm_min).mean_ms >= self.moments(sm_op).mean_ms:
            return None
        if utilisation(self.rate_per_s, self.moments(sm_op)) >= 1.0:
            return 1
        for q in range(1, max_queue + 1):
            if self.worst_queued_latency_ms(q, sm_min, sm_op) < self.worst_queued_latency_ms(
                q, sm_op, sm_op
            ):
                return q
        return None


class ArrivalRateEstimator:
    """EWMA over inter-arrival gaps → arrival rate in requests per second.

    The engine calls `observe(now_ms)` per arrival and `rate_per_s(now_ms)` when building the
    scheduler state. A silence longer than the smoothed gap counts as a gap in progress, so the
    estimate falls while nothing arrives instead of staying at the last burst's rate.
    """

    def __init__(self, weight: float = 0.2):
        if not 0 < weight <= 1:
            raise ValueError(f"EWMA weight must be in (0, 1], got {weight}")
        self.weight = weight
        self.gap_ms: float | None = None
        self.last_ms: float | None = None

    def observe(self, now_ms: float) -> None:
        if self.last_ms is not None:
            gap = max(now_ms - self.last_ms, 1e-3)
            self.gap_ms = (
                gap if self.gap_ms is None else (1 - self.weight) * self.gap_ms + self.weight * gap
            )
        self.last_ms = now_ms

    def rate_per_s(self, now_ms: float | None = None) -> float:
        if self.gap_ms is None:
            return 0.0
        gap = self.gap_ms
        if now_ms is not None and self.last_ms is not None and now_ms - self.last_ms > gap:
            gap = (1 - self.weight) * gap + self.weight * (now_ms - self.last_ms)
        return 1000.0 / gap
