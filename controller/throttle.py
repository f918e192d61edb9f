"""Per-namespace throttles: invocations per minute and concurrent invocations, with OpenWhisk's
429 messages. Counters are per controller process (OpenWhisk divides limits among
controllers the same way)."""

from __future__ import annotations

import collections
import threading
import time

from controller.errors import ApiError


class Throttle:
    def __init__(self):
        self._starts: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._concurrent: dict[str, int] = collections.defaultdict(int)
        self._lock = threading.Lock()

    def acquire(self, namespace: str, per_minute: int, concurrent: int) -> None:
        now = time.monotonic()
        with self._lock:
            q = self._starts[namespace]
            while q and now - q[0] > 60.0:
                q.popleft()
            if len(q) >= per_minute:
                raise ApiError(
                    429,
                    f"Too many requests in the last minute (count: {len(q)}, allowed: {per_minute}).",
                )
            if self._concurrent[namespace] >= concurrent:
                raise ApiError(
                    429,
                    f"Too many concurrent requests in flight (count: {self._concurrent[namespace]}, "
                    f"allowed: {concurrent}).",
                )
            q.append(now)
            self._concurrent[namespace] += 1

    def release(self, namespace: str) -> None:
        with self._lock:
            self._concurrent[namespace] -= 1

    def in_flight(self, namespace: str) -> int:
        return self._concurrent.get(namespace, 0)
