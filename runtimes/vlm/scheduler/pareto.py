"""Latency/throughput Pareto frontier of decode/compute SM splits (Nova's operating points).

For one co-run pair (decode with vision, or decode with prefill) every split s (SMs for decode,
the rest for the compute stage, in 8-SM steps) gives a point: the decode step time t_dec(s) (the
per-token latency of every running request) and the compute stage's service time on the other
N - s SMs (its sustainable rate is 1/service). Splits that another split beats on both are
dropped. On what is left:
- SM_op (latency end): the knee, the smallest decode share from which 8 more SMs no longer
  cut t_dec by more than epsilon;
- SM_min (throughput end): the smallest decode share whose co-running decode step stays within
  `max_decode_slowdown` of decode alone on the whole GPU (a floor on per-token latency).
The nova policy (`policies.py`) switches between the two; `queueing.py` says when.

`shared` is one more configuration, outside the split axis: both stages on plain streams over
the whole GPU (what the multi-stream baseline does), priced from the tables' measured `shared`
slowdowns. Where it beats the split the policy would pick on both axes, partitioning only costs,
and the policy shares instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tables import StageTables, compute_ms, decode_step_ms

SM_STEP = 8  # green-context split granularity on H100 (minSmPartitionSize = alignment = 8)


@dataclass(frozen=True)
class ParetoPoint:
    decode_sms: int
    compute_sms: int
    t_dec_ms: float  # decode step time while co-running
    service_ms: float  # compute-stage time on the complementary partition while co-running

    @property
    def rate_per_s(self) -> float:
        return 1000.0 / self.service_ms

    def dominates(self, other: ParetoPoint) -> bool:
        return (
            self.t_dec_ms <= other.t_dec_ms
            and self.service_ms <= other.service_ms
            and (self.t_dec_ms < other.t_dec_ms or self.service_ms < other.service_ms)
        )


@dataclass(frozen=True)
class ParetoFrontier:
    co_runner: str
    points: tuple[ParetoPoint, ...]  # every split, by decode_sms
    frontier: tuple[ParetoPoint, ...]  # non-dominated, by decode_sms
    sm_op: int
    sm_min: int
    shared: ParetoPoint | None = (
        None  # unpartitioned (decode_sms = compute_sms = all SMs), if measured
    )

    def point(self, decode_sms: int) -> ParetoPoint:
        for p in self.points:
            if p.decode_sms == decode_sms:
                return p
        raise KeyError(
            f"no split with {decode_sms} decode SMs; splits are {[p.decode_sms for p in self.points]}"
        )


def candidate_splits(total_sms: int, step: int = SM_STEP) -> list[int]:
    """Decode SM counts s in `step` increments leaving the compute stage at least `step` SMs."""
    return list(range(step, total_sms - step + 1, step))


def split_points(
    tables: StageTables, co_runner: str, size: float, decode_batch: int, step: int = SM_STEP
) -> list[ParetoPoint]:
    n = tables.total_sms
    return [
        ParetoPoint(
            s,
            n - s,
            decode_step_ms(tables, s, decode_batch, co_runner),
            compute_ms(tables, co_runner, s, size),
        )
        for s in candidate_splits(n, step)
    ]


def shared_point(
    tables: StageTables, co_runner: str, size: float, decode_batch: int
) -> ParetoPoint | None:
    """Decode and `co_runner` on plain streams over the whole GPU, if the tables measured that pair."""
    if f"decode|{co_runner}" not in tables.shared or f"{co_runner}|decode" not in tables.shared:
        return None
    n = tables.total_sms
    return ParetoPoint(
        n,
        n,
        decode_step_ms(tables, None, decode_batch, co_runner),
        compute_ms(tables, co_runner, None, size),
    )


def non_dominated(points: list[ParetoPoint]) -> list[ParetoPoint]:
    return [p for p in points if not any(q.dominates(p) for q in points)]


def knee(frontier: list[ParetoPoint], epsilon: float, step: int = SM_STEP) -> int:
    """Smallest decode share after which each further step cuts t_dec by at most `epsilon` per `step` SMs."""
    for i, p in enumerate(frontier):
        rest = frontier[i + 1 :]
        if all(_cut_per_step(p, q, step) <= epsilon for q in rest):
            return p.decode_sms
    return frontier[-1].decode_sms


def _cut_per_step(a: ParetoPoint, b: ParetoPoint, step: int) -> float:
    steps = (b.decode_sms - a.decode_sms) / step
    return (a.t_dec_ms - b.t_dec_ms) / a.t_dec_ms / steps


def build_frontier(
    tables: StageTables,
    co_runner: str,
    size: float,
    decode_batch: int = 8,
    epsilon: float = 0.05,
    max_decode_slowdown: float = 2.0,
    step: int = SM_STEP,
) -> ParetoFrontier:
    """The frontier, SM_op and SM_min for decode co-running with `co_runner` on work of `size`."""
    points = split_points(tables, co_runner, size, decode_batch, step)
    if not points:
        raise ValueError(f"{tables.total_sms} SMs leave no split in {step}-SM steps")
    front = non_dominated(points)
    sm_op = knee(front, epsilon, step)
    alone = decode_step_ms(tables, tables.total_sms, decode_batch, None)
    fast_enough = [
        p.decode_sms
        for p in front
        if p.t_dec_ms <= max_decode_slowdown * alone and p.decode_sms <= sm_op
    ]
    sm_min = min(fast_enough, default=sm_op)
    return ParetoFrontier(
        co_runner,
        tuple(points),
        tuple(front),
        sm_op,
        sm_min,
        shared_point(tables, co_runner, size, decode_batch),
    )
