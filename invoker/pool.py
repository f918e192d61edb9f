"""Container pool POLICY: which container runs which activation, and when idle ones go.

`ContainerPool` is a pure decision object over data (no Docker, no HTTP, no clock of its
own). The invoker service (`invoker.service.Invoker`) calls it under one lock and carries
out the decisions it returns (`Placement`, `PrewarmStart`, `ReapPlan`) through
`ContainerProxy` and the container backend. Keeping policy apart from container life cycle
lets the order of preference below be tested in milliseconds without Docker.

Placement order for one run request, after OpenWhisk's classic ContainerPool:
  1. a warm container of the same action key (running before paused; a paused one is resumed),
  2. a prewarmed stem cell of the same kind and memory,
  3. a new (cold) container if memory and CPU capacity allow,
  4. the same after evicting least-recently-used idle containers ("recreated"),
  5. otherwise a FIFO buffer, so large requests are not starved by small ones.

Capacity is counted in memory (MB) and CPU (cores) reserved by every live container at its
current size; a warm container being resized for the next activation reserves the difference.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ContainerState(StrEnum):
    """One container's state, after OpenWhisk's ContainerProxy states (shared with
    `invoker.container.ContainerProxy`). The pool tracks all of them; a proxy moves its
    container through STARTING → PREWARM → WARM ⇄ PAUSED → REMOVING, and BUSY (activations
    running) is the pool's alone. The values are the strings the heartbeat reports."""

    STARTING = "starting"  # created; its runtime does not listen yet
    PREWARM = "prewarm"  # a stem cell: the runtime listens, no action code yet
    WARM = "warm"  # initialized with one action's code, idle
    BUSY = "busy"  # running one or more activations
    PAUSED = "paused"  # warm and frozen
    REMOVING = "removing"  # being destroyed


STARTING, PREWARM, WARM, BUSY, PAUSED, REMOVING = (
    ContainerState.STARTING,
    ContainerState.PREWARM,
    ContainerState.WARM,
    ContainerState.BUSY,
    ContainerState.PAUSED,
    ContainerState.REMOVING,
)

# How an activation got its container (the `startKind` annotation).
WARM_START, PREWARMED_START, COLD_START, RECREATED_START = "warm", "prewarmed", "cold", "recreated"


@dataclass(frozen=True, slots=True)
class ActionKey:
    """Identity of an action definition: a container serves exactly one key.

    Updating an action bumps its version and code hash, so old containers are never reused.
    """

    namespace: str  # invoking namespace
    path: str  # fully qualified action path, e.g. "guest/hello"
    version: str
    code_hash: str


@dataclass(eq=False)
class RunRequest:
    """What the pool needs to know about one activation; compared by identity (a ticket)."""

    key: ActionKey
    kind: str
    memory: int  # MB to bind for this activation
    cpu: float  # cores to reserve for this activation
    action_memory: int  # the action's own memory limit (matches prewarm stem cells)
    concurrency: int = 1


@dataclass
class PoolContainer:
    """The pool's view of one container (the backend's handle lives in the executor)."""

    cid: int
    kind: str
    memory: int
    cpu: float
    state: ContainerState
    key: ActionKey | None = None  # None for a stem cell
    last_used: float = 0.0
    active: int = 0
    concurrency: int = 1

    @property
    def idle(self) -> bool:
        return self.active == 0 and self.state in (WARM, PAUSED, PREWARM)


@dataclass(frozen=True)
class Placement:
    """Run `request` on container `cid`; first remove `evict`, create it when `create`."""

    request: RunRequest
    cid: int
    start_kind: str
    resume: bool = False
    evict: tuple[int, ...] = ()

    @property
    def create(self) -> bool:
        return self.start_kind in (COLD_START, RECREATED_START)


@dataclass(frozen=True)
class Buffered:
    """No capacity now: the request waits in the FIFO buffer at `position` (0 = head)."""

    request: RunRequest
    position: int


@dataclass(frozen=True)
class Rejected:
    """The request can never fit this invoker (bigger than its total capacity)."""

    request: RunRequest
    reason: str


@dataclass(frozen=True)
class PrewarmStart:
    """Start a stem cell `cid` of `kind` at `memory` MB / `cpu` cores (no code yet)."""

    cid: int
    kind: str
    memory: int
    cpu: float


@dataclass(frozen=True)
class ReapPlan:
    """Idle containers to pause (past the pause grace) and to remove (past the idle timeout)."""

    pause: tuple[int, ...] = ()
    remove: tuple[int, ...] = ()


@dataclass(frozen=True)
class PrewarmSpec:
    """Keep `count` stem cells of `kind` at `memory` MB."""

    kind: str
    memory: int = 256
    count: int = 1


@dataclass(frozen=True)
class PoolConfig:
    user_memory: int = 2048  # MB shared by all containers
    cpus: float = 2.0  # cores shared by all containers
    pause_grace: float | None = 2.0  # s idle before pausing; None = never pause
    idle_timeout: float = 600.0  # s idle before removing
    prewarm: tuple[PrewarmSpec, ...] = (PrewarmSpec("python:3.11", 256, 1),)
    # A warm hit may pass the buffer's head until the head has waited this long (s); after
    # that the buffer is strictly FIFO so that a large action is not starved.
    head_grace: float = 5.0
    # Kinds never paused (GPU model runtimes: a frozen process keeps its GPU memory and CUDA
    # context, and its engine threads stall; it only gives back capacity by being removed).
    no_pause_kinds: frozenset[str] = frozenset()

    def default_cpu(self, memory: int) -> float:
        """CPU share of a container without an explicit size: proportional to its memory."""
        return max(round(self.cpus * memory / self.user_memory, 3), 0.01)


@dataclass
class ContainerPool:
    config: PoolConfig
    containers: dict[int, PoolContainer] = field(default_factory=dict)
    buffer: deque[RunRequest] = field(default_factory=deque)
    _next_cid: int = 0
    _buffered_at: dict[int, float] = field(default_factory=dict)  # id(request) → when buffered

    # ---- capacity -------------------------------------------------------------------------

    def _live(self) -> Iterable[PoolContainer]:
        return (c for c in self.containers.values() if c.state != REMOVING)

    def free_memory(self) -> int:
        return self.config.user_memory - sum(c.memory for c in self._live())

    def free_cpu(self) -> float:
        """Cores not bound to running work. An idle container's quota is only a ceiling — it
        uses no CPU — so it reserves none; counting it made large sizes evict their own warm
        containers. Memory, which an idle container really holds, is counted for all."""
        return round(
            self.config.cpus - sum(c.cpu for c in self._live() if c.active or c.state == STARTING),
            6,
        )

    def _make_room(
        self, memory: int, cpu: float, exclude: int | None = None, protect: bool = False
    ) -> list[int] | None:
        """Containers to evict (LRU idle warm/paused first, then stem cells) so that `memory`
        MB more fit, provided `cpu` cores are free; [] if they fit already, None if not now."""
        need_mem, need_cpu = memory - self.free_memory(), cpu - self.free_cpu()
        if need_cpu > 1e-9:
            return None  # only running work holds CPU: wait for it, evicting frees none
        if need_mem <= 0:
            return []
        # Containers whose action has buffered requests are about to be reused warm: keep them.
        wanted = {r.key for r in self.buffer} if protect else set()
        idle = [c for c in self._live() if c.idle and c.cid != exclude and c.key not in wanted]
        idle.sort(key=lambda c: (c.state == PREWARM, c.last_used))
        evict = []
        for c in idle:
            if need_mem <= 0:
                break
            evict.append(c.cid)
            need_mem -= c.memory
        return evict if need_mem <= 0 else None

    # ---- placing run requests -------------------------------------------------------------

    def submit(self, request: RunRequest, now: float) -> Placement | Buffered | Rejected:
        """Place a new request, or buffer it behind earlier buffered ones (FIFO). A warm hit
        never waits behind the buffer: it takes no capacity anyone else is waiting for."""
        if request.memory > self.config.user_memory or request.cpu > self.config.cpus + 1e-9:
            return Rejected(
                request,
                (
                    f"size cpu {request.cpu} memory {request.memory} MB exceeds this invoker's "
                    f"capacity of cpu {self.config.cpus} memory {self.config.user_memory} MB"
                ),
            )
        if not self.buffer:
            placement = self._place(request, now)
        else:
            placement = self._place_warm(request, now) if self._may_pass_head(now) else None
        if placement is not None:
            return placement
        self.buffer.append(request)
        self._buffered_at[id(request)] = now
        return Buffered(request, len(self.buffer) - 1)

    def _may_pass_head(self, now: float) -> bool:
        head = self.buffer[0]
        return now - self._buffered_at.get(id(head), now) < self.config.head_grace

    def drain(self, now: float) -> list[Placement]:
        """Place buffered requests after capacity frees: from the head while they fit, then
        any request behind a blocked head that an idle container of its own action can take.
        Idle containers whose action has buffered requests are not evicted meanwhile — evicting
        them made cold starts the common case under load — until the head has waited
        ``head_grace``; from then on the buffer is strictly FIFO."""
        placed = []
        while self.buffer:
            placement = self._place(self.buffer[0], now)
            if placement is None:
                break
            self._unbuffer(self.buffer[0])
            placed.append(placement)
        if self.buffer and self._may_pass_head(now):
            for r in list(self.buffer)[1:]:
                placement = self._place_warm(r, now)
                if placement is not None:
                    self._unbuffer(r)
                    placed.append(placement)
        return placed

    def _unbuffer(self, r: RunRequest) -> None:
        self.buffer.remove(r)
        self._buffered_at.pop(id(r), None)

    def cancel(self, request: RunRequest) -> None:
        """Drop a buffered request (its caller gave up, e.g. the invoker is stopping)."""
        try:
            self._unbuffer(request)
        except ValueError:
            pass

    def _place(self, r: RunRequest, now: float) -> Placement | None:
        for c in self._warm_candidates(r):
            placement = self._claim(c, r, now, WARM_START, resume=c.state == PAUSED)
            if placement:
                return placement
        for c in self.containers.values():
            if c.state == PREWARM and c.kind == r.kind and c.memory == r.action_memory:
                placement = self._claim(c, r, now, PREWARMED_START)
                if placement:
                    return placement
        patient = not self.buffer or self._may_pass_head(now)
        evict = self._make_room(r.memory, r.cpu, protect=patient)
        if evict is None:
            return None
        if evict and patient and self._has_live(r.key):
            return None  # a container of its own action frees soon: wait for it, evict nothing
        self._evict(evict)
        c = self._new_container(r.kind, r.memory, r.cpu, STARTING)
        self._assign(c, r, now)
        return Placement(r, c.cid, RECREATED_START if evict else COLD_START, evict=tuple(evict))

    def _has_live(self, key: ActionKey) -> bool:
        return any(c.key == key and c.state in (STARTING, BUSY) for c in self.containers.values())

    def _place_warm(self, r: RunRequest, now: float) -> Placement | None:
        """A warm placement that evicts nothing, or None."""
        for c in self._warm_candidates(r):
            placement = self._claim(
                c, r, now, WARM_START, resume=c.state == PAUSED, allow_evict=False
            )
            if placement:
                return placement
        return None

    def _warm_candidates(self, r: RunRequest) -> list[PoolContainer]:
        def usable(c: PoolContainer) -> bool:
            if c.key != r.key or c.state not in (WARM, BUSY, PAUSED) or c.active >= c.concurrency:
                return False
            # A container already running others keeps its size: all share one cgroup.
            return c.active == 0 or (c.memory, c.cpu) == (r.memory, r.cpu)

        found = [c for c in self.containers.values() if usable(c)]
        found.sort(key=lambda c: (c.state == PAUSED, -c.last_used))
        return found

    def _claim(
        self,
        c: PoolContainer,
        r: RunRequest,
        now: float,
        start_kind: str,
        resume: bool = False,
        allow_evict: bool = True,
    ) -> Placement | None:
        if c.active:
            evict: list[int] | None = []
        else:
            evict = self._make_room(r.memory - c.memory, r.cpu, exclude=c.cid)  # idle: holds no CPU
        if evict is None or (evict and not allow_evict):
            return None
        self._evict(evict)
        self._assign(c, r, now)
        return Placement(r, c.cid, start_kind, resume=resume, evict=tuple(evict))

    def _assign(self, c: PoolContainer, r: RunRequest, now: float) -> None:
        c.key, c.memory, c.cpu, c.concurrency = r.key, r.memory, r.cpu, r.concurrency
        c.active += 1
        c.last_used = now
        if c.state != STARTING:
            c.state = BUSY

    def _evict(self, cids: Iterable[int]) -> None:
        for cid in cids:
            self.containers[cid].state = REMOVING

    def _new_container(
        self, kind: str, memory: int, cpu: float, state: ContainerState
    ) -> PoolContainer:
        self._next_cid += 1
        c = PoolContainer(self._next_cid, kind, memory, cpu, state)
        self.containers[c.cid] = c
        return c

    # ---- life-cycle events reported by the executor ---------------------------------------

    def started(self, cid: int) -> None:
        """A container finished starting: stem cells become `prewarm`, others `busy`."""
        c = self.containers[cid]
        c.state = BUSY if c.key is not None else PREWARM

    def release(self, cid: int, now: float, reusable: bool = True) -> None:
        """One activation on `cid` ended; a failed container is marked for removal."""
        c = self.containers[cid]
        c.active = max(c.active - 1, 0)
        c.last_used = now
        if not reusable:
            c.state = REMOVING
        elif c.active == 0 and c.state in (BUSY, STARTING):
            c.state = WARM

    def discard(self, cid: int) -> None:
        """Mark a container for removal (failed start, failed resize, shutdown)."""
        if cid in self.containers:
            self.containers[cid].state = REMOVING

    def removed(self, cid: int) -> None:
        """The executor removed the container: forget it."""
        self.containers.pop(cid, None)

    # ---- periodic maintenance -------------------------------------------------------------

    def reap(self, now: float) -> ReapPlan:
        """Idle containers to pause and to remove at time `now`; marks them accordingly."""
        pause, remove = [], []
        for c in self.containers.values():
            if c.active or c.state not in (WARM, PAUSED):
                continue
            idle_for = now - c.last_used
            if idle_for >= self.config.idle_timeout:
                c.state = REMOVING
                remove.append(c.cid)
            elif (
                c.state == WARM
                and self.config.pause_grace is not None
                and idle_for >= self.config.pause_grace
                and c.kind not in self.config.no_pause_kinds
            ):
                c.state = PAUSED
                pause.append(c.cid)
        return ReapPlan(tuple(pause), tuple(remove))

    def prewarm_plan(self) -> list[PrewarmStart]:
        """Stem cells to start so each prewarm spec has its count; only with free capacity
        and an empty buffer (buffered activations come first)."""
        starts: list[PrewarmStart] = []
        if self.buffer:
            return starts
        for spec in self.config.prewarm:
            have = sum(
                1
                for c in self._live()
                if c.key is None and c.kind == spec.kind and c.memory == spec.memory
            )
            cpu = self.config.default_cpu(spec.memory)
            for _ in range(spec.count - have):
                if self.free_memory() < spec.memory or self.free_cpu() < cpu - 1e-9:
                    return starts
                c = self._new_container(spec.kind, spec.memory, cpu, STARTING)
                starts.append(PrewarmStart(c.cid, spec.kind, spec.memory, cpu))
        return starts

    # ---- reporting ------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for c in self.containers.values():
            counts[c.state] = counts.get(c.state, 0) + 1
        return {
            "containers": len(self.containers),
            "states": counts,
            "freeMemory": self.free_memory(),
            "freeCpu": self.free_cpu(),
            "buffer": len(self.buffer),
        }
