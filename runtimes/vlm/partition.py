"""SM partitioning of one GPU into a decode partition and a compute (vision/prefill) partition.

The engine calls `setup(splits)` once at start-up with every decode share the policy may ask
for (`policy.splits()`); re-partitioning afterwards is only choosing other streams:
`stream(stage, sms)`. `GreenContextPartitioner` builds disjoint partitions with CUDA green
contexts through the driver API (the driver-API recipe, docs/nova.md): for each split,
`cuDevSmResourceSplitByCount` carves a group of s SMs for decode from the whole device and the
remainder goes to the compute stages; each gets a green context and a non-blocking stream.
`NoopPartitioner` (CPU, tests, the multi-stream baseline) has no partitions.

Pitfalls handled (all measured on the H100): splits come in 8-SM steps and are rounded *up*,
so we round ourselves and check the counts the driver returns; the driver may silently return
fewer groups than asked for, so the group count is checked; torch's `GreenContext.create`
always takes the same first SMs, so it is not used. CUDA graphs must be captured on the stream
(partition) they will respect: use `capture_context(stage, sms)` around capture.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import dataclass

DECODE = "decode"
COMPUTE_STAGES = ("vision", "prefill")
H100_GRANULARITY = 8  # minSmPartitionSize and smCoscheduledAlignment on Hopper


@dataclass(frozen=True)
class PartitionSpec:
    """One split: `decode_sms` in the carved group, the rest of the device for the compute stages."""

    decode_sms: int
    compute_sms: int


def align_splits(
    requested: list[int],
    total_sms: int,
    granularity: int = H100_GRANULARITY,
    min_partition: int | None = None,
) -> list[PartitionSpec]:
    """Requested decode SM counts → the partitions the driver will make (rounded up to `granularity`).

    Raises ValueError for a split that leaves either side below the minimum partition size.
    Duplicates after rounding are merged; order follows the request.
    """
    if total_sms <= 0 or granularity <= 0:
        raise ValueError(
            f"total_sms and granularity must be positive, got {total_sms} and {granularity}"
        )
    floor = min_partition or granularity
    specs: dict[int, PartitionSpec] = {}
    for s in requested:
        if not isinstance(s, int) or s <= 0:
            raise ValueError(f"decode SM count must be a positive integer, got {s!r}")
        aligned = -(-s // granularity) * granularity
        rest = total_sms - aligned
        if aligned < floor or rest < floor:
            largest = (total_sms - floor) // granularity * granularity
            raise ValueError(
                f"cannot split {s} decode SMs off a {total_sms}-SM GPU: rounded to {aligned}, "
                f"it leaves {rest} SMs for vision/prefill; accepted: {floor}..{largest} "
                f"in steps of {granularity}"
            )
        specs.setdefault(aligned, PartitionSpec(aligned, rest))
    return list(specs.values())


class NoopPartitioner:
    """No partitions: every stage runs on its worker's ordinary stream (CPU, tests, multi-stream)."""

    switch_cost_ms = 0.0

    def __init__(self, total_sms: int = 132):
        self.total_sms = total_sms
        self.splits: list[int] = []

    def setup(self, splits: list[int]) -> None:
        self.splits = list(splits)

    def stream(self, stage: str, sms: int | None):
        return None

    @contextlib.contextmanager
    def capture_context(self, stage: str, sms: int | None):
        yield

    def close(self) -> None:
        pass


class GreenContextPartitioner:
    """Disjoint SM partitions from CUDA green contexts (driver API via `cuda.bindings.driver`)."""

    def __init__(self, device_index: int = 0):
        self.device_index = device_index
        self.total_sms = 0
        self.granularity = H100_GRANULARITY
        self.create_ms: dict[int, float] = {}
        self.switch_cost_ms: float | None = None
        self._streams: dict[
            tuple[str, int], object
        ] = {}  # ("decode"|"compute", sms) -> torch stream
        self._contexts: dict[tuple[str, int], object] = {}
        self._handles: list[tuple] = []  # (green ctx, CUstream) to destroy

    # -- driver plumbing ------------------------------------------------------------------------
    def _driver(self):
        try:
            from cuda.bindings import driver  # lazy: CPU machines import this module without CUDA
        except ImportError as e:
            raise RuntimeError(
                "GreenContextPartitioner needs the cuda-bindings package "
                "(pip install cuda-bindings matching the driver); use NoopPartitioner on CPU"
            ) from e
        return driver

    def _chk(self, result):
        drv = self._driver()
        if int(result[0]) != 0:
            raise RuntimeError(f"CUDA driver call failed: {drv.cuGetErrorName(result[0])[1]}")
        return None if len(result) == 1 else (result[1] if len(result) == 2 else result[1:])

    def _green_stream(self, res, dev):
        import torch

        drv = self._driver()
        desc = self._chk(drv.cuDevResourceGenerateDesc([res], 1))
        gctx = self._chk(
            drv.cuGreenCtxCreate(desc, dev, drv.CUgreenCtxCreate_flags.CU_GREEN_CTX_DEFAULT_STREAM)
        )
        cs = self._chk(
            drv.cuGreenCtxStreamCreate(gctx, drv.CUstream_flags.CU_STREAM_NON_BLOCKING, 0)
        )
        self._handles.append((gctx, cs))
        return gctx, torch.cuda.ExternalStream(int(cs), device=f"cuda:{self.device_index}")

    # -- Partitioner interface ------------------------------------------------------------------
    def setup(self, splits: list[int]) -> None:
        """Create a green-context pair (decode group + compute remainder) for every split."""
        import torch

        drv = self._driver()
        torch.empty(1, device=f"cuda:{self.device_index}")  # the primary context must exist first
        dev = self._chk(drv.cuDeviceGet(self.device_index))
        full = self._chk(
            drv.cuDeviceGetDevResource(dev, drv.CUdevResourceType.CU_DEV_RESOURCE_TYPE_SM)
        )
        self.total_sms = int(full.sm.smCount)
        reported = max(
            int(getattr(full.sm, "smCoscheduledAlignment", 0) or 0),
            int(getattr(full.sm, "minSmPartitionSize", 0) or 0),
        )
        self.granularity = reported or H100_GRANULARITY
        for spec in align_splits(splits, self.total_sms, self.granularity):
            t0 = time.perf_counter()
            groups, nb, rest = self._chk(
                drv.cuDevSmResourceSplitByCount(1, full, 0, spec.decode_sms)
            )
            got = (int(groups[0].sm.smCount) if nb else 0, int(rest.sm.smCount))
            if nb != 1 or got != (spec.decode_sms, spec.compute_sms):
                raise RuntimeError(
                    f"green-context split for {spec.decode_sms} decode SMs returned {nb} group(s) "
                    f"with {got[0]} SMs and {got[1]} remaining; expected 1 group of "
                    f"{spec.decode_sms} and {spec.compute_sms} remaining"
                )
            for side, res, sms in (
                (DECODE, groups[0], spec.decode_sms),
                ("compute", rest, spec.compute_sms),
            ):
                gctx, stream = self._green_stream(res, dev)
                self._streams[(side, sms)], self._contexts[(side, sms)] = stream, gctx
            self.create_ms[spec.decode_sms] = (time.perf_counter() - t0) * 1e3
        self.switch_cost_ms = self.measure_switch_cost()

    def _key(self, stage: str, sms: int) -> tuple[str, int]:
        side = DECODE if stage == DECODE else "compute" if stage in COMPUTE_STAGES else None
        if side is None:
            raise ValueError(f"unknown stage {stage!r}; stages are decode, vision, prefill")
        key = (side, sms)
        if key not in self._streams:
            have = sorted(s for k, s in self._streams if k == side)
            raise ValueError(
                f"no {side} partition of {sms} SMs; set up: {have} (pass the split to setup())"
            )
        return key

    def stream(self, stage: str, sms: int | None):
        """The stream of `stage`'s partition of `sms` SMs; None for the whole GPU (unpartitioned)."""
        if sms is None or sms >= self.total_sms:
            return None
        return self._streams[self._key(stage, sms)]

    @contextlib.contextmanager
    def capture_context(self, stage: str, sms: int | None):
        """Make the partition's green context current, e.g. while capturing a CUDA graph for it."""
        if sms is None or sms >= self.total_sms:
            yield
            return
        drv = self._driver()
        gctx = self._contexts[self._key(stage, sms)]
        self._chk(drv.cuCtxPushCurrent(self._chk(drv.cuCtxFromGreenCtx(gctx))))
        try:
            yield
        finally:
            self._chk(drv.cuCtxPopCurrent())

    def measure_switch_cost(self, iters: int = 50) -> float:
        """Host ms to hand work from one partition's stream to another's (event + wait + launch),
        minus the same on one stream: what re-partitioning costs once the pool exists."""
        import torch

        if len(self._streams) < 2:
            return 0.0
        streams = list(self._streams.values())[:2]
        x = torch.zeros(1024, device=f"cuda:{self.device_index}")

        def hop(a, b) -> float:
            t0 = time.perf_counter()
            ev = torch.cuda.Event()
            with torch.cuda.stream(a):
                x.add_(1)
                ev.record(a)
            b.wait_event(ev)
            with torch.cuda.stream(b):
                x.add_(1)
            b.synchronize()
            return (time.perf_counter() - t0) * 1e3

        same = statistics.median(hop(streams[0], streams[0]) for _ in range(iters))
        cross = statistics.median(hop(streams[0], streams[1]) for _ in range(iters))
        return max(0.0, cross - same)

    def close(self) -> None:
        drv = self._driver()
        for gctx, cs in reversed(self._handles):
            drv.cuStreamDestroy(cs)
            drv.cuGreenCtxDestroy(gctx)
        self._handles.clear()
        self._streams.clear()
        self._contexts.clear()


def make_partitioner(kind: str, device_index: int = 0, total_sms: int = 132):
    """`green` on a GPU, `noop` on CPU / for the multi-stream baseline."""
    if kind == "green":
        return GreenContextPartitioner(device_index)
    if kind == "noop":
        return NoopPartitioner(total_sms)
    raise ValueError(f"unknown partitioner {kind!r}; choose 'green' or 'noop'")
