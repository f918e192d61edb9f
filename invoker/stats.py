"""Live latency statistics per (action, option), sent to the controller with every heartbeat.

The invoker service records each completed `/run`; the Janus adapter on the controller side
compares these live figures with the profiled ones to correct for drift. A rolling window
per key keeps the numbers current and the memory bounded.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from common.stats import percentile


@dataclass(frozen=True)
class StatsKey:
    action: str  # "guest/resize"
    option: str | None  # hint option name, when the size came from one
    cpu: float
    memory: int


class LatencyStats:
    def __init__(self, window: int = 200):
        self.window = window
        self._samples: dict[StatsKey, deque[float]] = {}
        self._lock = threading.Lock()

    def record(self, key: StatsKey, latency_ms: float) -> None:
        with self._lock:
            samples = self._samples.get(key)
            if samples is None:
                samples = self._samples[key] = deque(maxlen=self.window)
            samples.append(latency_ms)

    def snapshot(self) -> list[dict]:
        """`[{"action", "option", "cpu", "memory", "count", "mean", "p50", "p95"}]`."""
        with self._lock:
            items = [(key, list(samples)) for key, samples in self._samples.items()]
        return [
            {
                "action": key.action,
                "option": key.option,
                "cpu": key.cpu,
                "memory": key.memory,
                "count": len(values),
                "mean": round(sum(values) / len(values), 3),
                "p50": _rounded_percentile(values, 50),
                "p95": _rounded_percentile(values, 95),
            }
            for key, values in items
            if values
        ]


def _rounded_percentile(values: list[float], p: float) -> float:
    value = percentile(values, p)
    assert value is not None  # snapshot() reports only keys with samples
    return round(value, 3)
