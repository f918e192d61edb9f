"""Order statistics used wherever latencies are summarized: the profiler and synthesizer, the
Janus adapter's live statistics and the invoker's heartbeat figures. One method everywhere, so a
profiled p95 and a live p95 compare like with like.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


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
