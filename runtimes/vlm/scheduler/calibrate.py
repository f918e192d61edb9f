"""Online correction of the stage tables from the stage times the engine observes.

The profiler measures each stage in isolation, one configuration at a time; inside the engine
the same stage can run slower or faster (other threads launching kernels, a decode step that
waits for a prefill's KV, a partition whose decode graphs were captured cold). `CalibratedTables`
wraps `StageTables` with the same interface the Pareto frontier and the queueing model read
(`total_sms`, `shared`, `interp`) and multiplies every prediction by a correction: the
exponentially weighted mean of observed / predicted for that stage and kind of configuration.

Kinds: `solo` (the stage alone), `partition` (beside a co-runner on its own green-context
partition), `shared` (beside a co-runner on plain streams, or a whole-GPU share that a
co-runner joined). A correction applies only after `min_samples` observations of its kind, and
each observation's ratio is clamped to [1/4, 4] so one outlier (a first call's library set-up)
cannot swing it. The applied correction moves only when the running mean has drifted more than
`tolerance` from it: every change re-derives the policy's model (milliseconds, under the
engine's lock), so noise in step times must not trigger it.
"""

from __future__ import annotations

from typing import Any

from .tables import StageTables

SOLO, PARTITION, SHARED = "solo", "partition", "shared"


class CalibratedTables:
    """`StageTables` × per-(stage, kind) corrections learnt from observed stage times."""

    def __init__(
        self,
        base: StageTables,
        weight: float = 0.1,
        min_samples: int = 5,
        clamp: float = 4.0,
        tolerance: float = 0.1,
    ):
        if not 0 < weight <= 1:
            raise ValueError(f"calibration weight must be in (0, 1], got {weight}")
        self.base, self.weight, self.min_samples, self.clamp = base, weight, min_samples, clamp
        self.tolerance = tolerance
        self._ratio: dict[tuple[str, str], float] = {}  # running mean of observed / profiled
        self._count: dict[tuple[str, str], int] = {}
        self._applied: dict[tuple[str, str], float] = {}  # what interp multiplies by
        self._version = 0
        self._memo: dict[
            tuple[str, int | None, float, str | None], float
        ] = {}  # interp results under the current corrections
        self.learning = True

    @classmethod
    def seeded(
        cls, base: StageTables, corrections: dict[str, dict[str, Any]], **kw: Any
    ) -> CalibratedTables:
        """Tables with the corrections a run reported (`/metrics` → `calibration`) already applied:
        the running ratio of every kind with at least `min_samples` samples."""
        t = cls(base, **kw)
        for name, c in corrections.items():
            stage, _, kind = name.partition("|")
            if kind not in (SOLO, PARTITION, SHARED):
                raise ValueError(
                    f"unknown calibration kind in {name!r}; kinds are {SOLO}, {PARTITION}, {SHARED}"
                )
            key = (stage, kind)
            t._ratio[key], t._count[key] = float(c["ratio"]), int(c["samples"])
            if t._count[key] >= t.min_samples:
                t._applied[key] = t._ratio[key]
        t._version = 1 if t._applied else 0
        return t

    # The interface of StageTables that the scheduler reads.
    @property
    def total_sms(self) -> int:
        return self.base.total_sms

    @property
    def shared(self) -> dict[str, float]:
        return self.base.shared

    @property
    def meta(self) -> dict[str, Any]:
        return self.base.meta

    def kind(self, sms: int | None, corunner: str | None) -> tuple[int | None, str]:
        """(the SM share as the tables index it, its kind) for an observed configuration."""
        if sms is not None and sms >= self.total_sms:
            sms = None  # the whole GPU: plain streams
        if corunner is None:
            return sms, SOLO
        return sms, SHARED if sms is None else PARTITION

    def factor(self, stage: str, sms: int | None, corunner: str | None) -> float:
        return self._applied.get((stage, self.kind(sms, corunner)[1]), 1.0)

    def interp(
        self, stage: str, sms: int | None, size: float, corunner: str | None = None
    ) -> float:
        key = (stage, sms, size, corunner)
        t = self._memo.get(key)
        if t is None:  # the model asks the same few points hundreds of times per derivation
            if len(self._memo) > 65536:
                self._memo.clear()
            t = self._memo[key] = self.base.interp(stage, sms, size, corunner) * self.factor(
                stage, sms, corunner
            )
        return t

    def observe(
        self, stage: str, sms: int | None, size: float, corunner: str | None, ms: float
    ) -> None:
        """One observed run of `stage` on `sms` SMs (None: plain streams) for `size`, beside `corunner`."""
        if ms <= 0 or size <= 0 or not self.learning:
            return
        sms_key, kind = self.kind(sms, corunner)
        predicted = self.base.interp(stage, sms_key, size, corunner)
        if predicted <= 0:
            return
        r = min(self.clamp, max(1 / self.clamp, ms / predicted))
        key = (stage, kind)
        n = self._count.get(key, 0)
        old = self._ratio.get(key, r)
        # A plain mean over the first samples, then the exponentially weighted one.
        w = max(self.weight, 1.0 / (n + 1))
        self._ratio[key] = running = old + w * (r - old) if n else r
        self._count[key] = n + 1
        applied = self._applied.get(key)
        if n + 1 >= self.min_samples and (
            applied is None or abs(running / applied - 1) > self.tolerance
        ):
            self._applied[key] = running
            self._version += 1
            self._memo.clear()

    def version(self) -> int:
        """Bumped whenever an applied correction changes: decisions cached under one version stay valid."""
        return self._version

    def corrections(self) -> dict[str, dict[str, Any]]:
        """For /metrics: observed/profiled ratio and sample count per stage and kind."""
        return {
            f"{s}|{k}": {
                "ratio": round(self._ratio[(s, k)], 3),
                "samples": n,
                "applied": round(self._applied[(s, k)], 3) if (s, k) in self._applied else None,
            }
            for (s, k), n in sorted(self._count.items())
        }
