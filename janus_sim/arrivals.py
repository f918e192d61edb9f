"""Request arrivals: Poisson, and a synthetic trace shaped like Azure Functions' production
load as published by Shahrad et al., "Serverless in the Wild: Characterizing and Optimizing
the Serverless Workload at a Large Cloud Provider", USENIX ATC 2020 (the trace itself cannot
be downloaded here). The three published properties it reproduces, and how:

- heavy-tailed per-function rates: invocation rates span about 8 orders of magnitude and the
  most popular 18.6 % of functions take 99.6 % of invocations (§3.2, Fig. 5). Each workflow's
  share of the total rate is drawn log-normal with sigma `rate_sigma` (2.0 by default: with a
  handful of workflows, one or two dominate and the rest are rare);
- a diurnal rate: invocations per hour follow the day, peak about twice the trough (§3.2,
  Fig. 4). The rate is modulated by 1 + `diurnal_amplitude` * sin(2 pi t / `day_s`), with the
  day compressed to the simulated span (default: one day over the whole trace);
- bursts: most applications' inter-arrival times have a coefficient of variation above 1,
  i.e. burstier than Poisson (§3.4, Fig. 8). Each workflow alternates between a calm and a
  burst state (exponential sojourns, `burst_factor` times the rate in a burst), a two-state
  Markov-modulated Poisson process normalised to keep the mean rate.
"""

from __future__ import annotations

import math
import random

from .simulator import Arrival
from .workload import RequestShape


def poisson(rate_per_s: float, n: int, shapes: list[RequestShape], rng: random.Random, tenant=0):
    """n requests, exponential gaps at `rate_per_s`, inputs drawn uniformly from `shapes`."""
    t, out = 0.0, []
    for _ in range(n):
        t += rng.expovariate(rate_per_s) * 1000.0 if rate_per_s > 0 else 0.0
        out.append(Arrival(t, tenant, rng.choice(shapes)))
    return out


def inter_arrival_cv(times_ms: list[float]) -> float:
    gaps = [b - a for a, b in zip(times_ms, times_ms[1:], strict=False)]
    if len(gaps) < 2:
        return float("nan")
    mean = sum(gaps) / len(gaps)
    var = sum((g - mean) ** 2 for g in gaps) / (len(gaps) - 1)
    return math.sqrt(var) / mean if mean else float("nan")


def azure_like(
    total_rate_per_s: float,
    n: int,
    shapes_per_tenant: list[list[RequestShape]],
    rng: random.Random,
    rate_sigma: float = 2.0,
    diurnal_amplitude: float = 1 / 3,
    day_s: float | None = None,
    burst_factor: float = 5.0,
    calm_s: float = 20.0,
    burst_s: float = 4.0,
) -> list[Arrival]:
    """About n requests over the tenants (module doc), mean rate `total_rate_per_s`."""
    k = len(shapes_per_tenant)
    weights = [rng.lognormvariate(0.0, rate_sigma) for _ in range(k)]
    total_w = sum(weights)
    span_s = n / total_rate_per_s
    day = day_s or span_s
    # Mean multiplier of the calm/burst process, divided out so the mean rate is kept.
    mean_burst = (calm_s + burst_factor * burst_s) / (calm_s + burst_s)
    peak = (1 + diurnal_amplitude) * burst_factor / mean_burst
    out: list[Arrival] = []
    for tenant, shapes in enumerate(shapes_per_tenant):
        base = total_rate_per_s * weights[tenant] / total_w
        lam_max = base * peak
        t, in_burst = 0.0, False
        switch = rng.expovariate(1 / calm_s)
        while True:
            t += rng.expovariate(lam_max)  # thinning of the modulated rate
            while t >= switch:
                in_burst = not in_burst
                switch += rng.expovariate(1 / (burst_s if in_burst else calm_s))
            if t >= span_s:
                break
            rate = (
                base
                * (1 + diurnal_amplitude * math.sin(2 * math.pi * t / day))
                * (burst_factor if in_burst else 1.0)
                / mean_burst
            )
            if rng.random() * lam_max < rate:
                out.append(Arrival(t * 1000.0, tenant, rng.choice(shapes)))
    out.sort()
    return out
