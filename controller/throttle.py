"""Per-namespace throttles: invocations per minute and concurrent invocations, with OpenWhisk's
429 messages. Counters are per controller process; as in OpenWhisk, a namespace's limits are
divided among the live controllers (``share``: how many there are, kept current from the shared
store by ``ActivationService.beat``), so that N controllers together accept no more than the
limit. The share is never below one invocation."""

from __future__ import annotations

import collections
import threading
import time

from controller.errors import ApiError


def divided(limit: int, share: int) -> int:
    """This controller's part of a namespace limit among ``share`` controllers."""
    return max(1, limit // max(1, share))


class Throttle:
    def __init__(self) -> None:
        self._starts: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._concurrent: dict[str, int] = collections.defaultdict(int)
        self._lock = threading.Lock()
        self.share = 1  # live controllers the limits are divided among

    def acquire(self, namespace: str, per_minute: int, concurrent: int) -> None:
        now = time.monotonic()
        per_minute, concurrent = divided(per_minute, self.share), divided(concurrent, self.share)
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
