"""Live data the console reads from outside the store: each invoker's ``/status`` (its
container pool) and the ``/metrics`` of VLM runtime containers, with a short in-memory history
of the latter so partition shares can be drawn over time.

Thin executors (HTTP with short timeouts, failures become ``None``/error text); the console
views call them and hand the results to ``controller.console.insights``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import requests

from controller.console import insights

STATUS_TIMEOUT_S = 2.0
METRICS_TIMEOUT_S = 1.5
HISTORY_POINTS = 300  # per runtime; at one poll every 2 s about ten minutes
FORGET_AFTER_S = 3600  # a container silent this long is dropped from memory


def invoker_pools(svc) -> list[dict]:
    """Every registered invoker with its state, capacity and live containers."""
    return svc.registry.live_status(svc.config.internal_token, timeout=STATUS_TIMEOUT_S)


def metrics_url(container: dict) -> str | None:
    """Where a runtime container answers ``/metrics``: its ``url``, else ``127.0.0.1:<port>``
    (containers use host networking with a port each); None when the invoker reports neither."""
    if container.get("url"):
        return container["url"].rstrip("/") + "/metrics"
    if container.get("port"):
        return f"http://127.0.0.1:{int(container['port'])}/metrics"
    return None


class VlmMetrics:
    """Polls the VLM runtimes' ``/metrics`` and remembers, per container, the last answer and a
    history of partition shares and queue lengths.

    The invoker pauses a container soon after it goes idle (``docker pause`` freezes it), so a
    paused runtime is not asked (it could only time out) and its last answer is shown instead,
    marked stale; likewise when a running one does not answer."""

    def __init__(self, history: int = HISTORY_POINTS, forget_after_s: float = FORGET_AFTER_S):
        self._history: dict[str, deque] = {}
        self._last: dict[str, tuple[float, dict]] = {}  # container -> (epoch ms, metrics)
        self._size, self._forget_ms = history, forget_after_s * 1000
        self._lock = threading.Lock()

    def collect(self, vlm_actions: set[str], invokers: list[dict]) -> list[dict]:
        """One entry per live VLM runtime container (see ``insights.is_vlm_container``)."""
        out = []
        for inv in invokers:
            for c in inv.get("containers") or []:
                if insights.is_vlm_container(c, vlm_actions):
                    out.append(self._entry(inv["id"], c))
        self._forget_old()
        return out

    def _entry(self, invoker: str, c: dict) -> dict:
        name = c.get("name") or f"{invoker}:{c.get('action')}"
        entry: dict[str, Any] = {
            "container": name,
            "invoker": invoker,
            "action": c.get("action"),
            "state": c.get("state"),
            "cpu": c.get("cpu"),
            "memory": c.get("memory"),
            "port": c.get("port"),
            "metrics": None,
            "error": None,
            "stale": False,
            "asOf": None,
        }
        url = metrics_url(c)
        if c.get("state") == "paused":
            entry["error"] = (
                "the invoker paused this idle container; it answers again on its next activation"
            )
        elif url is None:
            entry["error"] = (
                "the invoker does not report this container's port, so its /metrics cannot be reached"
            )
        else:
            entry["metrics"], entry["error"] = self._fetch(url)
        if entry["metrics"]:
            entry["asOf"] = self._remember(name, entry["metrics"])
        else:
            entry["asOf"], entry["metrics"] = self.last(name)
            entry["stale"] = entry["metrics"] is not None
        entry["history"] = self.history(name)
        return entry

    @staticmethod
    def _fetch(url: str) -> tuple[dict | None, str | None]:
        try:
            r = requests.get(url, timeout=METRICS_TIMEOUT_S)
            if r.status_code != 200:
                return None, f"{url} answered HTTP {r.status_code}"
            return r.json(), None
        except (requests.RequestException, ValueError) as exc:
            return None, f"{url} did not answer ({type(exc).__name__})"

    def _remember(self, name: str, m: dict) -> float:
        now = time.time() * 1000
        point = {
            "t": now,
            "shares": insights.partition_shares(m),
            "queues": dict(m.get("queues") or {}),
        }
        with self._lock:
            self._last[name] = (now, m)
            if m.get("initialized", True):
                self._history.setdefault(name, deque(maxlen=self._size)).append(point)
        return now

    def _forget_old(self) -> None:
        """Drop containers not heard from for a long time (removed ones never come back)."""
        cutoff = time.time() * 1000 - self._forget_ms
        with self._lock:
            for name in [n for n, (t, _) in self._last.items() if t < cutoff]:
                self._last.pop(name, None)
                self._history.pop(name, None)

    def last(self, name: str) -> tuple[float | None, dict | None]:
        """When the container last answered and what it said."""
        with self._lock:
            return self._last.get(name, (None, None))

    def history(self, name: str) -> list[dict]:
        with self._lock:
            return list(self._history.get(name, ()))
