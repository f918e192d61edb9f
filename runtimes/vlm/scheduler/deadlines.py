"""Deadlines in the Nova scheduler: least-slack order, slack-weighted decode, early admission.

A request may carry a deadline (`RequestView.deadline_ms`, absolute on the state's clock: the
`/run` value's `deadline_ms` budget or the activation's epoch `deadline`, converted by the
engine). Three pure decisions use it, all priced by `ServicePredictor` from the stage tables
(through nova's calibrated tables when nova asks):

- **order**: the compute queue is served least slack first, slack = deadline − now − the
  request's own predicted remaining service (compute, then its decode). Requests without a
  deadline have infinite slack and keep arrival order among themselves; with no deadline at all
  the order is FCFS, as before.
- **decode priority**: decode batches are filled least slack first, and a decode step is never
  paced (`Plan.decode_gap_ms`) while a decoding request is at risk: its remaining tokens at the
  co-running step would end past its deadline.
- **admission**: a request whose predicted completion (the residual of the compute stage in
  service, the queued compute it would wait behind in least-slack order, its own compute, its
  decode) lies past its deadline is refused at once with the numbers, so the caller can fall back
  instead of occupying the GPU for an answer that comes too late.

Units: milliseconds. Who calls it: `policies.Nova` (decide / admit) and tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .plan import DECODE, PREFILL, VISION, DecodeView, RequestView, SchedulerState
from .tables import StageTables


@dataclass(frozen=True)
class Admission:
    """The answer to "can this request meet its deadline?"; `reason` says why not."""

    admitted: bool
    predicted_ms: float  # predicted time from now to the request's last token
    budget_ms: float  # time from now to its deadline (inf: none)
    reason: str = ""


class ServicePredictor:
    """Remaining service of a request on plain streams, from (calibrated) stage tables.

    Compute stages are priced beside a running decode (the common case under load) and decode
    steps beside a compute stage when `busy`, else alone: an estimate, not a bound."""

    def __init__(self, tables: StageTables, decode_batch: int = 8):
        self.tables, self.decode_batch = tables, decode_batch

    def compute_ms(self, r: RequestView) -> float:
        t = self.tables
        vision = t.interp(VISION, None, r.patches, DECODE) if r.patches and not r.prefilled else 0
        return vision + (t.interp(PREFILL, None, r.prefill_left, DECODE) if r.prefill_left else 0)

    def step_ms(self, batch: int, busy: bool = True) -> float:
        b = max(1, batch)
        return self.tables.interp(DECODE, None, b, VISION if busy else None)

    def service_ms(self, r: RequestView, batch: int | None = None) -> float:
        # Prefill produces the first token: decode steps make the other max_new_tokens - 1.
        steps = max(0, r.max_new_tokens - 1)
        return self.compute_ms(r) + steps * self.step_ms(batch or self.decode_batch)


def slack_ms(r: RequestView, now_ms: float, predictor: ServicePredictor) -> float:
    """Deadline − now − predicted remaining service (inf without a deadline)."""
    if r.deadline_ms is None:
        return math.inf
    return r.deadline_ms - now_ms - predictor.service_ms(r)


def least_slack_first(
    reqs: tuple[RequestView, ...], now_ms: float, predictor: ServicePredictor
) -> list[RequestView]:
    """`reqs` least slack first; ties (no deadlines) in arrival order."""
    return sorted(reqs, key=lambda r: (slack_ms(r, now_ms, predictor), r.arrival_ms))


def decode_slack_ms(d: DecodeView, now_ms: float, step_ms: float) -> float:
    if d.deadline_ms is None:
        return math.inf
    return d.deadline_ms - now_ms - d.remaining_tokens * step_ms


def decode_order(state: SchedulerState, step_ms: float) -> list[DecodeView]:
    """The running decode requests least slack first (oldest first among equals)."""
    return sorted(
        state.decoding, key=lambda d: (decode_slack_ms(d, state.now_ms, step_ms), d.arrival_ms)
    )


def decode_at_risk(state: SchedulerState, step_ms: float) -> bool:
    """True when a decoding request would end past its deadline at `step_ms` a step."""
    return any(decode_slack_ms(d, state.now_ms, step_ms) < 0 for d in state.decoding)


def admit(
    state: SchedulerState, r: RequestView, predictor: ServicePredictor, margin: float = 1.0
) -> Admission:
    """Whether `r` (not yet in `state`) can finish by its deadline if queued now.

    Refused when the predicted completion exceeds `margin` × the time left to the deadline."""
    if r.deadline_ms is None:
        return Admission(True, math.nan, math.inf)
    budget = r.deadline_ms - state.now_ms
    running = [x for x in (state.in_vision, state.in_prefill) if x is not None]
    residual = sum(predictor.compute_ms(x) for x in running) / 2  # half done, on average
    mine = slack_ms(r, state.now_ms, predictor)
    queued = list(state.waiting) + list(state.ready)
    ahead = [x for x in queued if slack_ms(x, state.now_ms, predictor) <= mine]
    wait = residual + sum(predictor.compute_ms(x) for x in ahead)
    batch = min(len(state.decoding) + 1 + len(ahead), 64)
    predicted = (
        wait
        + predictor.compute_ms(r)
        + max(0, r.max_new_tokens - 1) * (predictor.step_ms(batch, busy=len(queued) > len(ahead)))
    )
    if budget <= 0:
        return Admission(False, predicted, budget, f"deadline already passed {-budget:.0f} ms ago")
    if predicted > margin * budget:
        return Admission(
            False,
            predicted,
            budget,
            f"cannot meet its deadline: predicted {predicted:.0f} ms (waiting {wait:.0f} ms "
            f"behind {len(ahead)} queued and {len(running)} running request(s), then its own "
            f"compute and {r.max_new_tokens} tokens) against {budget:.0f} ms left",
        )
    return Admission(True, predicted, budget)
