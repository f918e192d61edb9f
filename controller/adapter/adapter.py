"""`Adapter`: the object the workflow engine calls to size an activation, and `make_sizing_policy`,
which builds a policy by name for a workflow from its hints, profiles and options.

The controller creates one Adapter per (workflow, policy) and wires:
- `WorkflowEngine(dispatch, adapter, stats=adapter.stats_view)` so hint rules can read
  `stats.<fn>.p95` from the adapter's live statistics;
- invoker heartbeats' `stats` entries to `adapter.update_stats(entries)`.
"""

from __future__ import annotations

import math
import threading
import time

import hint_dsl
from common.sizes import Size
from hint_dsl.compiler import CompiledHints
from hint_dsl.profiles import Profiles

from . import sizing
from .decision import Decision
from .model import Observation, Price
from .state import NodeState

# The one list of Janus policy names (the API, the CLI's --policy and make_sizing_policy accept these),
# then the parameterised forms: fixed:<option> for every function, plan:<function>=<option>,...
POLICY_NAMES = (
    "early-max",
    "early-static",
    "class-static",
    "power-tuning",
    "stepwise",
    "late",
    "oracle",
)
PARAMETERISED_POLICIES = ("fixed:<option>", "plan:<function>=<option>,...")
POLICIES = POLICY_NAMES + PARAMETERISED_POLICIES


def is_policy_name(name: str) -> bool:
    """Whether `name` names a policy (its parameters are checked when it is built)."""
    return name in POLICY_NAMES or name.startswith(("fixed:", "plan:"))


class LatencyHistogram:
    """Decision latencies in log-spaced buckets (10 per decade from 0.1 us to 1 s)."""

    PER_DECADE, LOW_US, DECADES = 10, 0.1, 7

    def __init__(self):
        self.counts = [0] * (self.PER_DECADE * self.DECADES + 1)
        self.total, self.sum_us, self.max_us = 0, 0.0, 0.0
        self._lock = threading.Lock()

    def _bucket(self, us: float) -> int:
        if us <= self.LOW_US:
            return 0
        i = int(math.ceil(math.log10(us / self.LOW_US) * self.PER_DECADE))
        return min(i, len(self.counts) - 1)

    def bound_us(self, i: int) -> float:
        return self.LOW_US * 10 ** (i / self.PER_DECADE)

    def record(self, us: float):
        with self._lock:
            self.counts[self._bucket(us)] += 1
            self.total += 1
            self.sum_us += us
            self.max_us = max(self.max_us, us)

    def percentile(self, p: float) -> float:
        """Upper bound of the bucket holding the p-th percentile (within 26 %)."""
        if not self.total:
            return 0.0
        target, seen = p / 100.0 * self.total, 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= target and c:
                return min(self.bound_us(i), self.max_us)
        return self.max_us

    def summary(self) -> dict:
        return {
            "count": self.total,
            "p50_us": self.percentile(50),
            "p99_us": self.percentile(99),
            "mean_us": self.sum_us / self.total if self.total else 0.0,
            "max_us": self.max_us,
        }


class Adapter:
    """Times each decision of a policy and keeps a histogram of decision latencies."""

    def __init__(self, policy):
        self.impl = policy
        self.histogram = LatencyHistogram()

    @property
    def policy(self) -> str:
        """The policy's name (recorded in workflow run records)."""
        return self.impl.name

    def decide(self, state: NodeState) -> Decision:
        t0 = time.perf_counter_ns()
        decision = self.impl.decide(state)
        decision.decision_us = (time.perf_counter_ns() - t0) / 1000.0
        self.histogram.record(decision.decision_us)
        return decision

    def observe(self, function: str, option: str | None, duration_ms: float) -> None:
        self.impl.observe(function, option, duration_ms)

    def observe_activation(self, obs: Observation) -> None:
        """A finished live activation with its input features, memory peak, host load and
        out-of-memory flag; policies without a model take its duration only."""
        if hasattr(self.impl, "observe_activation"):
            self.impl.observe_activation(obs)
        elif not obs.oom:
            self.impl.observe(obs.function, obs.option, obs.duration_ms)

    def update_stats(self, entries: list[dict]) -> None:
        if hasattr(self.impl, "update_stats"):
            self.impl.update_stats(entries)

    def stats_view(self) -> dict:
        """Live per-function statistics for `NodeState.stats` ({} for baselines)."""
        live = getattr(self.impl, "live", None)
        return live.view if live is not None else {}


def _compiled(hints, workflow) -> CompiledHints | None:
    if hints is None or isinstance(hints, CompiledHints):
        return hints
    return hint_dsl.compile(hints, [n.id for n in workflow.nodes] if workflow is not None else None)


def make_sizing_policy(
    name: str,
    workflow,
    hints=None,
    profiles: Profiles | None = None,
    options: list[Size] | None = None,
    margin: float = 0.1,
    price: Price | None = None,
):
    """Build policy `name` (see POLICIES) for `workflow`.

    hints: hint text, `HintFile` or `CompiledHints` (required for `late`; its options are the
    workflow's options). options: sizes with names, for policies without a hint file.
    profiles: required for early-static and stepwise (and drift correction in late).
    margin: safety margin on profiled tails for early-static, class-static and stepwise.
    price: what a core-second and a GB-second cost (`model.Price`; default AWS Fargate's rates),
    the cost the static plans and late minimise.
    """
    compiled = _compiled(hints, workflow)
    options = list(options or (compiled.options.values() if compiled else []))
    if not options:
        raise ValueError(
            f"policy '{name}' needs size options: pass options=[Size(...)] or hints "
            "with 'option' lines"
        )
    slo_ms = compiled.slo_ms if compiled else workflow.slo_ms
    p = compiled.percentile if compiled else workflow.percentile

    def need(what, value):
        if value is None:
            raise ValueError(f"policy '{name}' needs {what}")
        return value

    if name.startswith("fixed:"):
        return sizing.FixedPolicy(options, name.split(":", 1)[1])
    if name.startswith("plan:"):
        return sizing.PlanPolicy(options, name.split(":", 1)[1])
    if name == "early-max":
        return sizing.EarlyMaxPolicy(options)
    if name == "early-static":
        return sizing.EarlyStaticPolicy(
            workflow, need("profiles", profiles), options, p, slo_ms, margin, price
        )
    if name == "class-static":
        return sizing.ClassStaticPolicy(
            workflow, need("profiles", profiles), options, p, slo_ms, margin, price
        )
    if name == "power-tuning":
        return sizing.PowerTuningPolicy(workflow, need("profiles", profiles), options, price=price)
    if name == "stepwise":
        return sizing.StepwisePolicy(workflow, need("profiles", profiles), options, p, margin)
    if name == "late":
        return sizing.LatePolicy(workflow, need("hints", compiled), profiles, price)
    if name == "oracle":
        return sizing.OraclePolicy(workflow, options, slo_ms)
    raise ValueError(f"unknown policy '{name}' (accepted: {', '.join(POLICIES)})")
