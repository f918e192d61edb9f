"""What-if predictions for one workflow: given its profiles and hints, an SLO, an arrival rate,
a cluster size and the inputs (a list, matched to the nearest profiled input, or the profiled
inputs themselves as the size distribution), each policy's price, p50/p99 latency and SLO
attainment. Behind `POST .../workflows/{name}/simulate` and `tango hints simulate`."""

from __future__ import annotations

import math
import random

from controller.adapter import POLICY_NAMES
from hint_dsl.profiles import Profiles

from .arrivals import poisson
from .cluster import ClusterSpec
from .simulator import Tenant, simulate, with_slo
from .workload import nearest_shape, shapes_from_profiles

INVOKER_CORES = 16  # cores per simulated invoker when a cluster is given as a core count
MEMORY_PER_CORE_MB = 6144  # the evaluation's invoker: --user-memory 12288 for 2 cores


def cluster_of(cores: float, invoker_cores: float = INVOKER_CORES) -> ClusterSpec:
    """`cores` split into invokers of at most `invoker_cores` each."""
    per = min(cores, invoker_cores)
    memory = int(per * MEMORY_PER_CORE_MB)
    return ClusterSpec(invokers=max(1, math.ceil(cores / per)), cores=per, memory_mb=memory)


def predict(
    workflow,
    profiles: Profiles,
    hints: str | None,
    policies: list[str] | None = None,
    slo_ms: float | None = None,
    rate_per_s: float = 1.0,
    cores: float = 2.0,
    requests: int = 1000,
    inputs: list[dict] | None = None,
    seed: int = 0,
    options=None,
) -> dict:
    """{"sloMs", "cluster": {...}, "requests", "policies": {name: summary | {"error"}}}."""
    wf = with_slo(workflow, slo_ms) if slo_ms else workflow
    shapes = shapes_from_profiles(wf, profiles)
    rng = random.Random(seed)
    arrivals = poisson(rate_per_s, requests, shapes, rng)
    if inputs:
        matched = [nearest_shape(shapes, i) for i in inputs]
        for k, a in enumerate(arrivals):
            a.shape = matched[k % len(matched)]
    cluster = cluster_of(cores)
    out: dict = {
        "workflow": wf.name,
        "sloMs": wf.slo_ms,
        "ratePerS": rate_per_s,
        "requests": requests,
        "cluster": {"cores": cluster.total_cores, "invokers": cluster.invokers},
        "extrapolated": sorted(
            {
                f"{node}@{o}"
                for s in shapes
                for node, acts in s.nodes.items()
                for a in acts
                for o in a.extrapolated
            }
        ),
        "policies": {},
    }
    opts = options if options is not None else list(profiles.options.values())
    for name in policies or list(POLICY_NAMES):
        try:
            tenant = Tenant(wf, name, hints, profiles, opts)
        except ValueError as exc:
            out["policies"][name] = {"error": str(exc)}
            continue
        result = simulate([tenant], arrivals, cluster, seed=seed)
        summary = result.summary(0)
        summary["startKinds"] = result.start_kinds
        out["policies"][name] = summary
    return out
