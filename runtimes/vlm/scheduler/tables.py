"""Stage-time tables: how long each VLM stage takes for a given SM share and work size.

Every scheduler decision (the Pareto frontier, the queueing model, the simulator) reads stage
times from here. Tables are measured on the GPU by `python -m runtimes.vlm.profile_stages`
and saved as JSON; `default_tables()` is a stand-in derived from the H100 probe
(docs/design.md §8.2) for tests and for machines that have not been profiled.

Table kinds, all in milliseconds:
- `solo[stage]`: the stage alone on a partition of `sms` SMs; size = ViT patches (vision),
  prompt tokens (prefill) or batch size (decode).
- `corun["decode|vision"]`: the decode step on `sms` SMs while vision runs on the complementary
  partition; likewise `decode|prefill`, `vision|decode`, `prefill|decode`.
- `shared["decode|vision"]`: slowdown factor of a stage on unpartitioned plain streams while the
  other one runs (the multi-stream baseline), relative to the stage alone on the whole GPU.

Interpolation is piecewise linear in 1/sms (stage time scales roughly with the inverse of the
SM count) and linear in size, extrapolating from the nearest segment.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .plan import DECODE, PREFILL, STAGES, VISION

FORMAT = "tango-nova-stage-tables/1"


@dataclass(frozen=True)
class Grid:
    """Times `ms[i][j]` for SM counts `sms[i]` (ascending) and sizes `sizes[j]` (ascending)."""

    sms: tuple[int, ...]
    sizes: tuple[int, ...]
    ms: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        if list(self.sms) != sorted(set(self.sms)) or list(self.sizes) != sorted(set(self.sizes)):
            raise ValueError(
                f"grid axes must be strictly ascending: sms={self.sms} sizes={self.sizes}"
            )
        if len(self.ms) != len(self.sms) or any(len(row) != len(self.sizes) for row in self.ms):
            raise ValueError(f"grid ms must be {len(self.sms)} rows of {len(self.sizes)} values")
        if any(v <= 0 for row in self.ms for v in row):
            raise ValueError("grid times must be positive milliseconds")

    def at(self, sms: float, size: float) -> float:
        rows = [_interp1(self.sizes, row, size) for row in self.ms]
        # SM axis: linear in 1/sms, clamped to the measured range (no guessing beyond it).
        s = min(max(sms, self.sms[0]), self.sms[-1])
        inv = [1.0 / x for x in reversed(self.sms)]
        return _interp1(inv, list(reversed(rows)), 1.0 / s)

    def to_json(self) -> dict[str, Any]:
        return {"sms": list(self.sms), "sizes": list(self.sizes), "ms": [list(r) for r in self.ms]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Grid:
        return cls(
            tuple(int(x) for x in d["sms"]),
            tuple(int(x) for x in d["sizes"]),
            tuple(tuple(float(v) for v in row) for row in d["ms"]),
        )


NOMINAL_BATCH = 8  # decode batch at which a paced configuration's duty cycle is priced


@dataclass(frozen=True)
class Paced:
    """Plain streams with the decode steps paced: the decode worker idles between steps while a
    compute stage runs, so that a step, its idle gap included, takes `slowdown` × the decode step
    alone on the whole GPU. The compute stage then suffers the tables' shared slowdown only for
    the fraction of the time a step runs (the duty cycle)."""

    slowdown: float

    def period_ms(self, tables: StageTables, batch: float) -> float:
        """What a paced step, its idle gap included, takes: `slowdown` × the decode step alone."""
        return self.slowdown * tables.interp(DECODE, tables.total_sms, batch)

    def gap_ms(self, tables: StageTables, batch: float, co_runner: str) -> float:
        """The idle gap a paced decode step adds beside `co_runner` (0: the step on shared streams
        is already as slow as the bound allows)."""
        return max(
            0.0, self.period_ms(tables, batch) - tables.interp(DECODE, None, batch, co_runner)
        )

    def duty(self, tables: StageTables, co_runner: str, batch: float = NOMINAL_BATCH) -> float:
        """Fraction of the time a decode step runs beside `co_runner`."""
        # The step over the step plus its gap_ms; over the period itself, since (period - step) +
        # step can miss the period by a rounding.
        return min(
            1.0, tables.interp(DECODE, None, batch, co_runner) / self.period_ms(tables, batch)
        )


Split = int | None | Paced  # decode SMs on a partition; None: unpartitioned, plain streams; Paced


def compute_ms(
    tables: StageTables, stage: str, split: Split, size: float, decode_active: bool = True
) -> float:
    """`stage` (vision or prefill) time beside decode on `split` (None: sharing the whole GPU)."""
    if isinstance(split, Paced):
        solo = tables.interp(stage, None, size)
        if not decode_active:
            return solo
        shared = tables.interp(stage, None, size, DECODE)
        return solo + (shared - solo) * split.duty(tables, stage)
    sms = None if split is None else tables.total_sms - split
    return tables.interp(stage, sms, size, DECODE if decode_active else None)


def decode_step_ms(tables: StageTables, split: Split, batch: float, co_runner: str | None) -> float:
    """Decode step on `split` while `co_runner` runs (None split: both on plain streams; a paced
    step counts its idle gap)."""
    if isinstance(split, Paced):
        shared = tables.interp(DECODE, None, batch, co_runner)
        return max(shared, split.period_ms(tables, batch)) if co_runner else shared  # step + gap_ms
    return tables.interp(DECODE, split, batch, co_runner)


def _interp1(xs: Sequence[float], ys: Sequence[float], x: float) -> float:
    """Piecewise-linear y(x), extrapolating from the end segments, floored at 1% of the nearest y."""
    if len(xs) == 1:
        return float(ys[0]) * (x / xs[0] if x > xs[0] else 1.0)  # one size: scale proportionally up
    i = min(max(bisect.bisect_left(xs, x), 1), len(xs) - 1)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    y = y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return float(max(y, 0.01 * (y0 if x < x0 else y1)))


@dataclass
class StageTables:
    """Profiled stage times for one model on one GPU; see the module docstring for the kinds."""

    total_sms: int
    solo: dict[str, Grid]
    corun: dict[str, Grid] = field(default_factory=dict)
    shared: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [s for s in STAGES if s not in self.solo]
        if missing:
            raise ValueError(
                f"stage tables lack solo tables for {missing}; need all of {list(STAGES)}"
            )

    def interp(
        self, stage: str, sms: int | None, size: float, corunner: str | None = None
    ) -> float:
        """Time in ms of `stage` on `sms` SMs (None: whole GPU, unpartitioned) for `size`.

        With `corunner`, the stage shares the GPU with that stage: on a partition, the co-run
        table (falling back to solo); unpartitioned (`sms` None), solo × the shared slowdown.
        """
        if stage not in self.solo:
            raise ValueError(f"unknown stage {stage!r}; stages are {list(STAGES)}")
        if sms is None:
            t = self.solo[stage].at(self.total_sms, size)
            return t * self.shared.get(f"{stage}|{corunner}", 1.0) if corunner else t
        key = f"{stage}|{corunner}"
        grid = self.corun.get(key) if corunner else None
        return (grid or self.solo[stage]).at(sms, size)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "total_sms": self.total_sms,
            "meta": self.meta,
            "solo": {k: g.to_json() for k, g in self.solo.items()},
            "corun": {k: g.to_json() for k, g in self.corun.items()},
            "shared": dict(self.shared),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StageTables:
        if d.get("format") != FORMAT:
            raise ValueError(
                f"not a stage-table file: format is {d.get('format')!r}, expected {FORMAT!r}"
            )
        return cls(
            total_sms=int(d["total_sms"]),
            meta=dict(d.get("meta", {})),
            solo={k: Grid.from_json(g) for k, g in d["solo"].items()},
            corun={k: Grid.from_json(g) for k, g in d.get("corun", {}).items()},
            shared={k: float(v) for k, v in d.get("shared", {}).items()},
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> StageTables:
        try:
            return cls.from_json(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError, KeyError) as e:
            raise ValueError(f"cannot read stage tables from {path}: {e}") from e


# --------------------------------------------------------------------------------------------
# Default tables, DERIVED (not measured as such) from the H100 GPU probe (docs/design.md §8.2): Qwen2-VL-2B-shaped
# pure-PyTorch stages on an H100 (132 SMs), 1344x756 screenshot = 5184 patches, 1362-token
# prefill, decode graphs at ctx ~1392. Values at 16..132 SMs for 5184 patches / 1362 tokens /
# batch 1 and 8 are the probe's; everything else (8 SMs, other sizes, co-run grids) is
# extrapolated from its other measurements as noted. Replace with profile_stages output.
# --------------------------------------------------------------------------------------------
_SMS = (8, 16, 32, 48, 64, 96, 132)
_VIT_5184 = (350.0, 176.0, 92.3, 62.6, 52.2, 37.0, 28.8)  # 8 SMs: 2x the 16-SM time (linear)
_VIT_SIZE = {1024: 0.271, 2500: 0.487, 5184: 1.0}  # §4 per-layer compute 0.268/0.482/0.990 ms
_PRE_1362 = (125.0, 64.4, 36.2, 24.9, 21.0, 16.3, 12.3)
_PRE_SIZE = {
    128: 0.30,
    512: 0.52,
    1362: 1.0,
    2048: 1.45,
}  # floor ~ a decode step (same kernels), then linear
_DEC = {1: (7.5, 4.72, 3.79, 3.49, 3.55, 3.33, 3.34), 8: (8.0, 4.98, 4.01, 3.69, 3.74, 3.51, 3.53)}
_DEC_BIG = {16: 1.04, 32: 1.12}  # batch 16/32 relative to batch 8 (memory-bound: mostly weights)
# Co-run slowdowns of a stage by its own SM count (concurrency table of §3).
_DEC_WITH_VIT = {8: 1.35, 20: 1.31, 36: 1.27, 68: 1.15, 100: 1.08, 132: 1.0}
_DEC_WITH_PRE = {8: 1.33, 36: 1.245, 68: 1.16, 100: 1.08, 132: 1.0}
_VIT_WITH_DEC = {8: 1.2, 32: 1.155, 64: 1.10, 96: 1.054, 112: 1.02, 132: 1.0}
_PRE_WITH_DEC = {8: 1.25, 64: 1.21, 96: 1.17, 132: 1.1}
_SHARED = {
    "decode|vision": 18.1 / 3.60,
    "decode|prefill": 9.3 / 3.50,
    "vision|decode": 30.4 / 28.8,
    "prefill|decode": 12.7 / 10.4,
}


def _slowdown(table: dict[int, float], sms: int) -> float:
    xs = sorted(table)
    return _interp1(xs, [table[x] for x in xs], sms)


def _grid(base: dict[int, tuple[float, ...]], slow: dict[int, float] | None = None) -> Grid:
    sizes = tuple(sorted(base))
    rows = tuple(
        tuple(round(base[z][i] * (_slowdown(slow, n) if slow else 1.0), 3) for z in sizes)
        for i, n in enumerate(_SMS)
    )
    return Grid(_SMS, sizes, rows)


def default_tables() -> StageTables:
    """Stage tables DERIVED from the H100 probe (see the comment above); for tests and defaults."""
    vit = {z: tuple(t * f for t in _VIT_5184) for z, f in _VIT_SIZE.items()}
    pre = {z: tuple(t * f for t in _PRE_1362) for z, f in _PRE_SIZE.items()}
    dec = dict(_DEC) | {b: tuple(t * f for t in _DEC[8]) for b, f in _DEC_BIG.items()}
    return StageTables(
        total_sms=132,
        solo={VISION: _grid(vit), PREFILL: _grid(pre), DECODE: _grid(dec)},
        corun={
            "decode|vision": _grid(dec, _DEC_WITH_VIT),
            "decode|prefill": _grid(dec, _DEC_WITH_PRE),
            "vision|decode": _grid(vit, _VIT_WITH_DEC),
            "prefill|decode": _grid(pre, _PRE_WITH_DEC),
        },
        shared=dict(_SHARED),
        meta={
            "source": "DERIVED from the H100 GPU probe, docs/design.md section 8.2 (Qwen2-VL-2B-shaped); "
            "not a measurement of this model: run runtimes.vlm.profile_stages on the GPU",
            "device": "NVIDIA H100 80GB HBM3 (132 SMs)",
            "derived": True,
        },
    )
