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

import requests

from controller.console import insights

STATUS_TIMEOUT_S = 2.0
METRICS_TIMEOUT_S = 1.5
HISTORY_POINTS = 300          # per runtime; at one poll every 2 s about ten minutes


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
    """Polls the VLM runtimes' ``/metrics`` and remembers partition shares and queue lengths."""

    def __init__(self, history: int = HISTORY_POINTS):
        self._history: dict[str, deque] = {}
        self._size = history
        self._lock = threading.Lock()

    def collect(self, vlm_actions: set[str], invokers: list[dict]) -> list[dict]:
        """One entry per live container of a VLM action (``ns/path`` in ``vlm_actions``)."""
        out = []
        for inv in invokers:
            for c in inv.get("containers") or []:
                if c.get("action") not in vlm_actions:
                    continue
                name = c.get("name") or f"{inv['id']}:{c.get('action')}"
                entry = {"container": name, "invoker": inv["id"], "action": c.get("action"),
                         "state": c.get("state"), "cpu": c.get("cpu"), "memory": c.get("memory"),
                         "metrics": None, "error": None}
                url = metrics_url(c)
                if url is None:
                    entry["error"] = ("the invoker does not report this container's port, so its /metrics "
                                      "cannot be reached")
                else:
                    entry["metrics"], entry["error"] = self._fetch(url)
                if entry["metrics"]:
                    self._remember(name, entry["metrics"])
                entry["history"] = self.history(name)
                out.append(entry)
        return out

    @staticmethod
    def _fetch(url: str) -> tuple[dict | None, str | None]:
        try:
            r = requests.get(url, timeout=METRICS_TIMEOUT_S)
            if r.status_code != 200:
                return None, f"{url} answered HTTP {r.status_code}"
            return r.json(), None
        except (requests.RequestException, ValueError) as exc:
            return None, f"{url} did not answer ({type(exc).__name__})"

    def _remember(self, name: str, m: dict) -> None:
        point = {"t": time.time() * 1000, "shares": insights.partition_shares(m),
                 "queues": dict(m.get("queues") or {})}
        with self._lock:
            self._history.setdefault(name, deque(maxlen=self._size)).append(point)

    def history(self, name: str) -> list[dict]:
        with self._lock:
            return list(self._history.get(name, ()))
