"""Live latency statistics per (function, option), from the engine's observations and the
invokers' heartbeats. The late policy compares them with the profiles to correct drift; their
per-function view is what hint rules read as `stats.<fn>.p95`.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from common.stats import percentile


class LiveStats:
    def __init__(self, window: int = 64) -> None:
        self.window = window
        self._samples: dict[tuple[str, str | None], deque[float]] = {}
        self._heartbeat: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._lock = threading.Lock()
        # {function: {"p50", "p95", "p99", "mean", "count"}}; replaced, never mutated, so
        # readers need no lock.
        self.view: dict[str, dict[str, float]] = {}

    def observe(self, function: str, option: str | None, duration_ms: float) -> None:
        with self._lock:
            ring = self._samples.setdefault((function, option), deque(maxlen=self.window))
            ring.append(float(duration_ms))
            self._refresh_view(function)

    def update_heartbeat(
        self, entries: list[dict[str, Any]], functions_of_action: dict[str, list[str]]
    ) -> None:
        """Invoker heartbeat `stats` entries (see docs/contracts.md), keyed by action path."""
        with self._lock:
            for e in entries:
                for fn in functions_of_action.get(str(e.get("action")), ()):
                    self._heartbeat[(fn, e.get("option"))] = e

    def summary(
        self, function: str, option: str | None, min_count: int = 5
    ) -> dict[str, Any] | None:
        """{"count", "p50", "p95"} from our own samples, else from heartbeats, else None."""
        ring = self._samples.get((function, option))
        if ring and len(ring) >= min_count:
            xs = list(ring)
            return {"count": len(xs), "p50": percentile(xs, 50), "p95": percentile(xs, 95)}
        hb = self._heartbeat.get((function, option))
        if hb and hb.get("count", 0) >= min_count:
            return {"count": hb["count"], "p50": hb.get("p50"), "p95": hb.get("p95")}
        return None

    def options_of(self, function: str) -> set[str | None]:
        return {o for (f, o) in list(self._samples) + list(self._heartbeat) if f == function}

    def _refresh_view(self, function: str) -> None:
        xs = [x for (f, _), ring in self._samples.items() if f == function for x in ring]
        p50, p95, p99 = percentile(xs, 50), percentile(xs, 95), percentile(xs, 99)
        if p50 is None or p95 is None or p99 is None:  # no samples (observe adds one first)
            return
        view = dict(self.view)
        view[function] = {
            "p50": p50,
            "p95": p95,
            "p99": p99,
            "mean": sum(xs) / len(xs),
            "count": float(len(xs)),
        }
        self.view = view
