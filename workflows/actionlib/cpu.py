"""The container's CPU quota and a thread pool sized to it.

Called at the start of every activation (never cached): the invoker binds a new size to a
warm container in place, so the quota can change between two activations of one process.
The cgroup root can be redirected with `TANGO_CGROUP_ROOT` (tests point it at a folder of
fake quota files).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
MAX_WORKERS = 64


def cgroup_root() -> str:
    return os.environ.get("TANGO_CGROUP_ROOT", "/sys/fs/cgroup")


def cpu_quota(root: str | None = None) -> float:
    """Cores this container may use: cgroup v1 CFS quota, else cgroup v2 cpu.max, else all CPUs."""
    root = root or cgroup_root()
    v1 = _read(
        os.path.join(root, "cpu", "cpu.cfs_quota_us"),
        os.path.join(root, "cpu", "cpu.cfs_period_us"),
    )
    if v1 is not None:
        return v1
    try:
        with open(os.path.join(root, "cpu.max")) as f:
            quota, period = (f.read().split() + ["100000"])[:2]
        if quota != "max" and float(period) > 0 and float(quota) > 0:
            return float(quota) / float(period)
    except (OSError, ValueError):
        pass
    return float(os.cpu_count() or 1)


def _read(quota_file: str, period_file: str) -> float | None:
    try:
        with open(quota_file) as q, open(period_file) as p:
            quota, period = float(q.read().strip()), float(p.read().strip())
    except (OSError, ValueError):
        return None
    if quota <= 0 or period <= 0:  # -1: no limit in this cgroup
        return None
    return quota / period


def worker_count(root: str | None = None) -> int:
    """Threads worth running: the quota rounded up (1.5 cores -> 2 threads), at least 1."""
    quota = cpu_quota(root)
    return max(1, min(MAX_WORKERS, math.ceil(quota - 1e-9), os.cpu_count() or 1))


def parallel_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """fn over items on `workers` threads (numpy releases the GIL in large array ops)."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


def bands(total: int, parts: int, align: int = 1) -> list[tuple[int, int]]:
    """Split range(total) into about `parts` contiguous [start, stop) bands, starts aligned."""
    parts = max(1, min(parts, max(1, total // max(align, 1))))
    step = math.ceil(total / parts / align) * align
    return [(s, min(s + step, total)) for s in range(0, total, step)]
