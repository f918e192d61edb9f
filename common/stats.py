"""Order statistics used wherever latencies are summarized: the profiler and synthesizer, the
Janus adapter's live statistics and the invoker's heartbeat figures. One method everywhere, so a
profiled p95 and a live p95 compare like with like. And the paired bootstrap the benchmarks
put their 95 % confidence intervals on.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence


def percentile(values: Iterable[float], p: float) -> float | None:
    """The p-th percentile (0..100) by linear interpolation between closest ranks (numpy's
    default, "linear"); None for no values. The input need not be sorted."""
    xs = sorted(values)
    if not xs:
        return None
    rank = (len(xs) - 1) * p / 100.0
    lo = int(math.floor(rank))
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo)


def paired_bootstrap_ci(
    pairs: Sequence[tuple[float, float]],
    statistic: Callable[[Sequence[tuple[float, float]]], float],
    rng: random.Random,
    resamples: int = 2000,
) -> tuple[float, float]:
    """Percentile-bootstrap 95 % CI of ``statistic`` over paired samples (baseline, treatment):
    whole pairs are resampled, so what both sides of a pair share (the host's load at that
    moment, the same input) cancels. The statistic may be any function of the pairs, e.g. a
    ratio of medians or a relative difference of means."""
    n = len(pairs)
    boot = [statistic([pairs[rng.randrange(n)] for _ in range(n)]) for _ in range(resamples)]
    low, high = percentile(boot, 2.5), percentile(boot, 97.5)
    assert low is not None and high is not None  # resamples > 0
    return low, high
