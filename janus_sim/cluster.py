"""The simulated cluster: invokers with cores and memory, each running Tango's own container
pool policy (`invoker.pool.ContainerPool`) and placed by the controller's own balancer
(`controller.balancer.choose_invoker`); CPU shared between running activations as the kernel's
CFS shares it (processor sharing, each activation capped at its quota).

Start costs are the platform's measured medians (`StartCosts`): `bench/results/
invoker_lifecycle.json` (cold start = create + start + /init, prewarm hit = resize + /init) and
`bench/results/platform_invoke.json` (warm invoke overhead through controller and invoker).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from controller.balancer import InvokerState
from invoker.pool import ContainerPool, PoolConfig, PrewarmSpec

KIND = "python:3.11"


@dataclass(frozen=True)
class StartCosts:
    """Milliseconds an activation waits before its code runs, by how it got its container."""

    cold_ms: float = 348.38  # invoker_lifecycle.json: cold start median
    prewarm_ms: float = 40.86  # invoker_lifecycle.json: prewarm hit median
    warm_ms: float = 3.61  # platform_invoke.json: warm invoke overhead median (controller+invoker)
    resume_ms: float = 15.0  # docker unpause of a paused container: not measured, an estimate

    @classmethod
    def from_results(cls, results_dir: str | Path) -> StartCosts:
        """The medians from the committed benchmark results (same figures as the defaults)."""
        d = Path(results_dir)
        life = json.loads((d / "invoker_lifecycle.json").read_text())["results"]
        plat = json.loads((d / "platform_invoke.json").read_text())["overhead"]
        return cls(
            cold_ms=life["cold start (create+start+/init)"]["median_ms"],
            prewarm_ms=life["prewarm hit (resize+/init)"]["median_ms"],
            warm_ms=plat["overhead_ms"]["median"],
        )


@dataclass(frozen=True)
class ClusterSpec:
    invokers: int = 1
    cores: float = 2.0  # physical cores per invoker (what running activations share)
    reserve_cpus: float | None = None  # the invoker's --cpus (admission); default = cores
    memory_mb: int = 12288  # the invoker's --user-memory
    prewarm: int = 1  # stem cells per invoker
    pause_grace_s: float | None = 2.0
    idle_timeout_s: float = 600.0

    @property
    def total_cores(self) -> float:
        return self.invokers * self.cores

    def pool_config(self) -> PoolConfig:
        return PoolConfig(
            user_memory=self.memory_mb,
            cpus=self.reserve_cpus if self.reserve_cpus is not None else self.cores,
            pause_grace=self.pause_grace_s,
            idle_timeout=self.idle_timeout_s,
            prewarm=(PrewarmSpec(KIND, 256, self.prewarm),) if self.prewarm else (),
        )


def fair_shares(
    quotas: list[float], cores: float, weights: list[float] | None = None
) -> list[float]:
    """CPU each running activation gets: its quota when they all fit, else a share in proportion
    to its CFS weight (the invoker sets cpu shares in proportion to memory), capped at the
    quota, what a capped one leaves spread over the others (weighted water-filling)."""
    if sum(quotas) <= cores + 1e-9:
        return list(quotas)
    w = weights or [1.0] * len(quotas)
    out: list[float | None] = [None] * len(quotas)
    left = cores
    while True:
        open_ = [i for i, x in enumerate(out) if x is None]
        per_weight = left / sum(w[i] for i in open_)
        capped = [i for i in open_ if quotas[i] <= w[i] * per_weight]
        if not capped:
            for i in open_:
                out[i] = w[i] * per_weight
            return [float(x) for x in out]  # type: ignore[arg-type]
        for i in capped:
            out[i] = quotas[i]
            left -= quotas[i]


class SimInvoker:
    """One invoker: its pool (the real policy), its balancer view, and the CPU it shares."""

    def __init__(self, index: int, spec: ClusterSpec):
        self.pool = ContainerPool(spec.pool_config())
        self.state = InvokerState(
            id=f"invoker{index:04d}",
            url="",
            user_memory=spec.memory_mb,
            cpus=spec.pool_config().cpus,
            last_seen=0.0,
        )
        self.cores = spec.cores
        self.running: list = []  # activations whose code runs now
        self.last_ms = 0.0

    def advance(self, now_ms: float) -> None:
        """Progress every running activation to `now_ms` at its current rate."""
        dt = now_ms - self.last_ms
        if dt > 0:
            for a in self.running:
                a.remaining_ms -= dt * a.rate
        self.last_ms = now_ms

    def reshare(self) -> None:
        """Recompute rates (fraction of its own quota each activation gets)."""
        shares = fair_shares(
            [a.size.cpu for a in self.running],
            self.cores,
            [float(a.size.memory) for a in self.running],
        )
        for a, share in zip(self.running, shares, strict=True):
            a.rate = share / a.size.cpu if a.size.cpu > 0 else 1.0
            a.version += 1
