"""Invoker registry and load balancing (OpenWhisk's sharding balancer, simplified).

``choose_invoker`` is the pure decision: hash the action to a *home* invoker and step through
the others by a step size coprime with their count, taking the first healthy one with memory
to spare; if all are full, the least loaded healthy one (it buffers). ``InvokerRegistry``
holds the live view (registrations, heartbeats, in-flight reservations, health states).
"""

from __future__ import annotations

import math
import threading
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urlparse

from common.httpclient import HttpPool

UP, DOWN, UNHEALTHY = "up", "down", "unhealthy"


@dataclass
class InvokerState:
    id: str
    url: str
    user_memory: int
    cpus: float
    last_seen: float
    state: str = UP
    reserved_memory: int = 0
    in_flight: int = 0
    recent_errors: list[bool] = field(default_factory=list)  # last 10 outcomes: True = system error
    unhealthy_since: float = 0.0
    down_at: float = 0.0  # wall-clock s when last marked down
    status: dict = field(default_factory=dict)  # last heartbeat body
    pool: HttpPool | None = None

    @property
    def free_memory(self) -> int:
        return self.user_memory - self.reserved_memory


def _step_sizes(n: int) -> list[int]:
    return [s for s in range(1, n + 1) if math.gcd(s, n) == 1] or [1]


def choose_invoker(
    invokers: list[InvokerState], action_key: str, memory: int
) -> InvokerState | None:
    healthy = [i for i in invokers if i.state == UP]
    if not healthy:
        return None
    ordered = sorted(invokers, key=lambda i: i.id)
    n = len(ordered)
    h = zlib.crc32(action_key.encode())
    home = h % n
    steps = _step_sizes(n)
    step = steps[h % len(steps)]
    for k in range(n):
        inv = ordered[(home + k * step) % n]
        if inv.state == UP and inv.free_memory >= memory:
            return inv
    return min(healthy, key=lambda i: (i.reserved_memory / max(i.user_memory, 1), i.in_flight))


class InvokerRegistry:
    def __init__(self, down_after_s: float = 10.0):
        self.down_after_s = down_after_s
        self._invokers: dict[str, InvokerState] = {}
        self._lock = threading.Lock()

    def register(self, id: str, url: str, user_memory: int, cpus: float) -> InvokerState:
        with self._lock:
            old = self._invokers.get(id)
            if old is not None and old.url == url:
                old.last_seen, old.state = time.monotonic(), UP
                old.user_memory, old.cpus = user_memory, cpus
                return old
            if old is not None and old.pool is not None:
                old.pool.close()
            u = urlparse(url)
            inv = InvokerState(
                id=id,
                url=url,
                user_memory=user_memory,
                cpus=cpus,
                last_seen=time.monotonic(),
                pool=HttpPool(u.hostname or "127.0.0.1", u.port or 80),
            )
            self._invokers[id] = inv
            return inv

    def heartbeat(self, id: str, status: dict, sent: float | None = None) -> bool:
        """A heartbeat the invoker sent at wall-clock `sent` (default now); False: unknown invoker.

        One sent before the invoker was marked down is stale and changes nothing: a heartbeat in
        flight (or stored, for `sync_invokers`) when the invoker died must not bring it back up."""
        with self._lock:
            inv = self._invokers.get(id)
            if inv is None:
                return False
            if inv.state == DOWN and sent is not None and sent <= inv.down_at:
                return True
            inv.last_seen = time.monotonic()
            inv.status = status
            if inv.state == DOWN:
                inv.state = UP
            return True

    def check_health(self) -> list[InvokerState]:
        """Mark invokers without a recent heartbeat down; returns those that just went down.

        An unhealthy invoker that keeps heartbeating is put back on probation (``up`` with a
        clean error history) after ``down_after_s``: no work reaches it while unhealthy, so
        only real activations can show it recovered (OpenWhisk sends test actions instead)."""
        now = time.monotonic()
        went_down = []
        with self._lock:
            for inv in self._invokers.values():
                if inv.state != DOWN and now - inv.last_seen > self.down_after_s:
                    inv.state, inv.down_at = DOWN, time.time()
                    went_down.append(inv)
                elif inv.state == UNHEALTHY and now - inv.unhealthy_since > self.down_after_s:
                    inv.state, inv.recent_errors = UP, []
        return went_down

    def deregister(self, id: str) -> InvokerState | None:
        """Forget an invoker that is stopping cleanly (it said so): nothing is routed to it from
        now on. Activations already sent there hold their ``InvokerState`` and still answer
        and release through it."""
        with self._lock:
            return self._invokers.pop(id, None)

    def mark_down(self, id: str) -> None:
        with self._lock:
            inv = self._invokers.get(id)
            if inv is not None:
                inv.state, inv.down_at = DOWN, time.time()

    def record_outcome(
        self, inv: InvokerState, system_error: bool, dispatched_at: float | None = None
    ) -> None:
        """≥ 3 system errors among the last 10 activations → unhealthy, until a success of an
        activation dispatched after it became unhealthy (or probation in `check_health`).

        A success dispatched earlier proves nothing: when an invoker dies, the calls in flight
        break one by one, and one that had already finished may be recorded after the breaks."""
        with self._lock:
            inv.recent_errors = (inv.recent_errors + [system_error])[-10:]
            if inv.state == UP and sum(inv.recent_errors) >= 3:
                inv.state, inv.unhealthy_since = UNHEALTHY, time.monotonic()
            elif (
                inv.state == UNHEALTHY
                and not system_error
                and (dispatched_at is None or dispatched_at > inv.unhealthy_since)
            ):
                inv.state, inv.recent_errors = UP, []

    def reserve(
        self, action_key: str, memory: int, exclude: set[str] | frozenset[str] = frozenset()
    ) -> InvokerState | None:
        """Choose an invoker (not one of ``exclude``: those that failed this activation already)
        and reserve ``memory`` on it."""
        with self._lock:
            candidates = [i for i in self._invokers.values() if i.id not in exclude]
            inv = choose_invoker(candidates, action_key, memory)
            if inv is not None:
                inv.reserved_memory += memory
                inv.in_flight += 1
            return inv

    def has_room(self, memory: int) -> bool:
        """Whether a healthy invoker has `memory` MB unreserved (an activation sent now would
        start at once rather than wait in an invoker's buffer)."""
        with self._lock:
            return any(i.state == UP and i.free_memory >= memory for i in self._invokers.values())

    def release(self, inv: InvokerState, memory: int) -> None:
        with self._lock:
            inv.reserved_memory -= memory
            inv.in_flight -= 1

    def long_down(self, after_s: float) -> list[str]:
        """Invokers down for at least ``after_s``: their containers may be reaped."""
        cutoff = time.time() - after_s
        with self._lock:
            return sorted(
                i.id for i in self._invokers.values() if i.state == DOWN and i.down_at < cutoff
            )

    def all(self) -> list[InvokerState]:
        with self._lock:
            return sorted(self._invokers.values(), key=lambda i: i.id)

    def get(self, id: str) -> InvokerState | None:
        return self._invokers.get(id)

    def live_status(self, token: str, timeout: float = 2.0) -> list[dict]:
        """Every invoker with its state, capacity, reservations and live containers (its
        ``GET /status``); one that does not answer is listed with ``reachable: False``."""
        out = []
        for inv in self.all():
            live = None
            if inv.state != DOWN and inv.pool is not None:
                try:
                    status, live = inv.pool.json(
                        "GET", "/status", headers={"X-Tango-Internal": token}, timeout=timeout
                    )
                    live = live if status == 200 and isinstance(live, dict) else None
                except (OSError, ValueError):
                    live = None
            out.append(
                {
                    "id": inv.id,
                    "url": inv.url,
                    "state": inv.state,
                    "userMemory": inv.user_memory,
                    "cpus": inv.cpus,
                    "reservedMemory": inv.reserved_memory,
                    "inFlight": inv.in_flight,
                    "pool": inv.status.get("pool"),
                    "reachable": live is not None,
                    "containers": (live or {}).get("containers", []),
                    "buffer": (live or {}).get("buffer"),
                }
            )
        return out

    def stats(self) -> list[dict]:
        """Live per-(action, option) latency statistics from every invoker's last heartbeat."""
        out: list[dict] = []
        for inv in self.all():
            out.extend(inv.status.get("stats", []) if inv.state == UP else [])
        return out
