"""Janus at scale: a trace-driven discrete-event simulator of the Tango platform that runs
Tango's own decision code (adapter and policies, hint evaluation, the engine's node state, the
balancer and the invoker's container pool) against a model of a cluster, validated against
committed live runs (`bench/janus_sim_validate.py`); `tango hints simulate` is its front end.

    shapes = shapes_from_profiles(workflow, profiles)           # what requests do
    arrivals = poisson(rate_per_s, n, shapes, rng)              # or azure_like(...)
    result = simulate([Tenant(workflow, "late", hints, profiles)], arrivals, ClusterSpec())
    result.summary(0)   # price, p50/p99, SLO attainment, decision latency

See docs/janus.md ("Simulator").
"""

from .arrivals import azure_like, poisson
from .cluster import ClusterSpec, StartCosts, fair_shares
from .metrics import price, summarize
from .simulator import Arrival, SimResult, Tenant, simulate, with_slo
from .speedup import SpeedupCurve, fit_curves, leave_one_option_out
from .workload import ActivationShape, RequestShape, nearest_shape, shapes_from_profiles

__all__ = [
    "ActivationShape",
    "Arrival",
    "ClusterSpec",
    "RequestShape",
    "SimResult",
    "SpeedupCurve",
    "StartCosts",
    "Tenant",
    "azure_like",
    "fair_shares",
    "fit_curves",
    "leave_one_option_out",
    "nearest_shape",
    "poisson",
    "price",
    "shapes_from_profiles",
    "simulate",
    "summarize",
    "with_slo",
]
