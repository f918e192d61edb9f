"""The data the Nova scheduler decides over and the decision it returns.

The engine (`runtimes/vlm/engine.py`) builds a `SchedulerState` snapshot whenever something
happens (a request arrives, a stage finishes, a decode step ends), hands it to a policy's
`decide`, and executes the returned `Plan`. The scheduler never touches CUDA: these are plain
frozen dataclasses, so every policy can be tested on a CPU in milliseconds (vLLM v1 style).

Units: times in milliseconds, arrival rates in requests per second, SM counts as integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

VISION, PREFILL, DECODE = "vision", "prefill", "decode"
STAGES = (VISION, PREFILL, DECODE)
COMPUTE_STAGES = (VISION, PREFILL)  # compute-bound stages; they share one partition, one at a time


@dataclass(frozen=True)
class RequestView:
    """A request that has not yet joined the decode batch, as the scheduler sees it."""

    rid: str
    arrival_ms: float
    patches: int  # ViT patches of its image (0: text only, it skips vision)
    prompt_tokens: int  # LLM prefill length, image tokens included
    max_new_tokens: int
    prefilled: int = 0  # prompt tokens already prefilled (chunked prefill)
    deadline_ms: float | None = None  # absolute, on the state's clock (None: no deadline)

    @property
    def prefill_left(self) -> int:
        return self.prompt_tokens - self.prefilled


@dataclass(frozen=True)
class DecodeView:
    """A request in the running decode batch: its KV-cache slot and tokens still to generate."""

    rid: str
    slot: int
    remaining_tokens: int
    arrival_ms: float = 0.0
    deadline_ms: float | None = None


@dataclass(frozen=True)
class SchedulerState:
    """Snapshot of the runtime at `now_ms`.

    `waiting` still need vision encode, `ready` are encoded (or text only) and wait for (the
    rest of) their prefill; both in arrival order. `in_vision` / `in_prefill` are running now.
    `prefills_since_decode` counts prefills completed since the last decode step (the engine
    keeps it; `pf-limit` caps it). A request starts its prefill only with a free KV slot; a
    partly prefilled request (chunked prefill) already holds one.
    """

    now_ms: float = 0.0
    waiting: tuple[RequestView, ...] = ()
    ready: tuple[RequestView, ...] = ()
    in_vision: RequestView | None = None
    in_prefill: RequestView | None = None
    decoding: tuple[DecodeView, ...] = ()
    arrival_rate: float = 0.0  # requests per second, from `queueing.ArrivalRateEstimator`
    prefills_since_decode: int = 0
    free_slots: int | None = None  # free KV-cache slots (None: unlimited); a prefill needs one

    @property
    def pending(self) -> int:
        """Requests queued for the compute stages and not yet being served (Nova's queue length)."""
        return len(self.waiting) + len(self.ready)

    @property
    def compute_busy(self) -> bool:
        return self.in_vision is not None or self.in_prefill is not None


@dataclass(frozen=True)
class PrefillChunk:
    """Prefill prompt tokens [start, start + tokens) of request `rid`; `final` = prompt done."""

    rid: str
    start: int
    tokens: int
    final: bool


@dataclass(frozen=True)
class Plan:
    """What to run next.

    `vision`: request ids to start encoding; `prefill`: the prefill (chunk) to start; `decode`:
    KV slots of the next decode step's batch (empty: no step).
    `sm_split`: SMs per stage that has work, e.g. {"decode": 48, "vision": 84}; vision and prefill
    share the compute partition (never both at once). A stage given `total_sms` runs unpartitioned.
    None means no partitioning at all (plain streams sharing the GPU).
    `pipelined`: True, stages run concurrently on their own workers and the plan only starts work
    on idle stages; False, the engine runs this plan's work one after another (vision, prefill,
    decode step) on the whole GPU, then asks again (time-multiplexed baselines).
    `decode_gap_ms`: decode pacing. The decode worker idles up to this long before the step while
    a compute stage runs (it starts at once when the compute stages fall idle), so the compute
    stage has the whole GPU part of the time and requests that finish prefill meanwhile join a
    larger batch. 0: steps back to back.
    """

    vision: tuple[str, ...] = ()
    prefill: PrefillChunk | None = None
    decode: tuple[int, ...] = ()
    sm_split: Mapping[str, int] | None = None
    pipelined: bool = True
    decode_gap_ms: float = 0.0
    reason: str = field(default="", compare=False)  # short why, for /metrics and debugging

    @property
    def is_idle(self) -> bool:
        return not self.vision and self.prefill is None and not self.decode


class Policy(Protocol):
    """A scheduling policy: a pure decider from state to plan."""

    name: str

    def decide(self, state: SchedulerState) -> Plan: ...

    def splits(self) -> list[int]:
        """Decode SM counts this policy may ask for; the partitioner creates them at start-up."""
        ...
