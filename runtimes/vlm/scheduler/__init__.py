"""Nova scheduler: pure deciders that say which stage runs what, on how many SMs.

The engine (`runtimes/vlm/engine.py`) builds a `SchedulerState`, calls `policy.decide(state)`
and executes the returned `Plan`; nothing here touches CUDA. Modules: `plan` (the data),
`tables` (profiled stage times), `calibrate` (online corrections from measured stage times), `pareto` (split frontier, SM_op/SM_min), `queueing` (M/G/1
model, α, arrival-rate estimate), `policies` (nova and the baselines), `simulate` (CPU
discrete-event simulation of policies over the tables).
"""

from .pareto import ParetoFrontier, ParetoPoint, build_frontier, candidate_splits
from .plan import (
    COMPUTE_STAGES,
    DECODE,
    PREFILL,
    STAGES,
    VISION,
    DecodeView,
    Plan,
    Policy,
    PrefillChunk,
    RequestView,
    SchedulerState,
)
from .policies import POLICY_NAMES, make_policy
from .queueing import ArrivalRateEstimator, LatencyModel, RequestShape, pk_wait_ms, service_moments
from .tables import Grid, StageTables, default_tables

__all__ = [
    "ArrivalRateEstimator",
    "COMPUTE_STAGES",
    "DECODE",
    "DecodeView",
    "Grid",
    "LatencyModel",
    "POLICY_NAMES",
    "PREFILL",
    "ParetoFrontier",
    "ParetoPoint",
    "Plan",
    "Policy",
    "PrefillChunk",
    "RequestShape",
    "RequestView",
    "STAGES",
    "SchedulerState",
    "StageTables",
    "VISION",
    "build_frontier",
    "candidate_splits",
    "default_tables",
    "make_policy",
    "pk_wait_ms",
    "service_moments",
]
