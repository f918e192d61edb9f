"""Summaries of simulated (or measured) workflow runs: price, latency percentiles, SLO
attainment, decision latency. Price combines core-seconds and GB-seconds at the rates the
adapter itself minimises (`controller.adapter.model.Price`), so memory counts, not only cores."""

from __future__ import annotations

import random
import statistics

from controller.adapter.model import Price
from hint_dsl.profiles import percentile

RATES = Price()


def price(core_s: float, gb_s: float) -> float:
    """USD for one run's allocated CPU and memory time."""
    return core_s * RATES.per_core_s + gb_s * RATES.per_gb_s


def summarize(runs: list[dict]) -> dict:
    """runs: dicts with duration (ms), metSlo, coreSeconds, gbSeconds[, decisionUs list]."""
    if not runs:
        return {"runs": 0}
    lat = [r["duration"] for r in runs]
    decisions = [d for r in runs for d in r.get("decisionUs", ())]
    out = {
        "runs": len(runs),
        "sloAttainment": sum(bool(r["metSlo"]) for r in runs) / len(runs),
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "coreSecondsPerRun": statistics.fmean(r["coreSeconds"] for r in runs),
        "gbSecondsPerRun": statistics.fmean(r["gbSeconds"] for r in runs),
        "pricePerRun": statistics.fmean(price(r["coreSeconds"], r["gbSeconds"]) for r in runs),
        "failed": sum(r.get("status", "success") != "success" for r in runs),
    }
    if decisions:
        out["decision_us"] = {
            "p50": percentile(decisions, 50),
            "p99": percentile(decisions, 99),
            "count": len(decisions),
        }
    return out


def mean_ci(values: list[float], confidence: float = 0.95, resamples: int = 2000, seed: int = 0):
    """(mean, low, high): percentile-bootstrap CI of the mean (e.g. over seeds)."""
    if not values:
        return (float("nan"),) * 3
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(values, k=len(values))) for _ in range(resamples))
    a = (1 - confidence) / 2
    return (
        statistics.fmean(values),
        means[int(a * (resamples - 1))],
        means[int((1 - a) * (resamples - 1))],
    )
