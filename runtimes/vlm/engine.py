"""The Nova engine: executes the scheduler's Plans on three stage workers.

Who calls it: `runtimes.vlm.server` (the `/run` handler submits requests and waits for them) and
`bench/nova_bench.py` (in-process, on the GPU). The scheduler (`runtimes.vlm.scheduler`) decides
what runs next; this module only executes that decision.

Shape of the executor:

- one `StageWorker` per stage (vision encode, prefill, decode), each with its own thread and its
  own CUDA stream per SM share (from the `Partitioner`; `None` on CPU, where the very same code
  runs without streams or graphs);
- hand-off between stages with CUDA events: a stage's stream waits on the event recorded after
  the previous stage's work, so GPU work is ordered without the host in the way. A worker thread
  waits for its *own* event only where a result must reach Python (first token, sampled tokens)
  or to stamp the stage's end time, and that wait blocks no other stage;
- decode with continuous batching over the static, slot-indexed `KVCache`: requests join the
  running batch after their prefill and leave it when done, one slot each (one scratch slot pads
  batch-size buckets);
- CUDA graphs for decode, captured per (decode SM share, batch bucket) in `DecodeRunner.capture`,
  the one place graphs are captured (a graph stays bound to the partition it was captured on,
  see docs/design.md §8.2), at start-up so that no capture ever lands on the hot path.

Every event (arrival, stage done, decode step done) takes one lock, builds a `SchedulerState`,
asks the policy for a `Plan` and starts work on idle workers. Pipelined plans run stages
concurrently; non-pipelined plans (time-multiplexed baselines) run their vision, prefill and
decode work one after another, each still on its own stage worker, before the policy is asked
again.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from runtimes.vlm.model import KVCache
from runtimes.vlm.scheduler.plan import (
    DECODE,
    PREFILL,
    STAGES,
    VISION,
    DecodeView,
    Plan,
    PrefillChunk,
    RequestView,
    SchedulerState,
)
from runtimes.vlm.scheduler.queueing import ArrivalRateEstimator

log = logging.getLogger(__name__)

_ids = itertools.count(1)


# ---------------------------------------------------------------------------------------- requests
@dataclass
class Request:
    """One screenshot + instruction, from arrival to its last token, with its stage timestamps."""

    prompt_ids: list[int]
    max_tokens: int
    pixel_values: torch.Tensor | None = None
    grid_thw: torch.Tensor | None = None
    deadline: float | None = None  # absolute, time.perf_counter() seconds
    rid: str = field(default_factory=lambda: f"r{next(_ids)}")
    arrival: float = field(default_factory=time.perf_counter)
    # Filled by the engine.
    input_ids: torch.Tensor | None = None
    position_ids: torch.Tensor | None = None
    image_embeds: torch.Tensor | None = None
    ready_event: object | None = (
        None  # CUDA event after this request's last GPU stage (None on CPU)
    )
    slot: int | None = None
    prefilled: int = 0
    output_ids: list[int] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    step_ms: list[float] = field(default_factory=list)
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def patches(self) -> int:
        return 0 if self.pixel_values is None else int(self.pixel_values.shape[0])

    @property
    def prompt_tokens(self) -> int:
        assert self.input_ids is not None, "the prompt is built before it is counted"
        return int(self.input_ids.shape[1])

    def wait(self, timeout: float | None = None) -> Request:
        if not self.done.wait(timeout):
            raise TimeoutError(f"request {self.rid} did not finish within {timeout} s")
        return self

    def timings(self) -> dict:
        """Per-stage timings in ms, measured from arrival (what `/run` returns)."""
        m, t0 = self.marks, self.arrival

        def span(a, b):
            return round((m[b] - m[a]) * 1e3, 3) if a in m and b in m else None

        out = {
            "queue_ms": round((m.get("vision_start", m.get("prefill_start", t0)) - t0) * 1e3, 3),
            "vision_ms": span("vision_start", "vision_end"),
            "prefill_ms": span("prefill_start", "prefill_end"),
            "ttft_ms": round((m["prefill_end"] - t0) * 1e3, 3) if "prefill_end" in m else None,
            "decode_ms": [round(x, 3) for x in self.step_ms],
            "tpot_ms": round(sum(self.step_ms) / len(self.step_ms), 3) if self.step_ms else None,
            "total_ms": round((m["end"] - t0) * 1e3, 3) if "end" in m else None,
        }
        return out


def _view(r: Request, t0: float) -> RequestView:
    return RequestView(
        rid=r.rid,
        arrival_ms=(r.arrival - t0) * 1e3,
        patches=r.patches,
        prompt_tokens=r.prompt_tokens,
        max_new_tokens=r.max_tokens,
        prefilled=r.prefilled,
        deadline_ms=_deadline_ms(r, t0),
    )


def _deadline_ms(r: Request, t0: float) -> float | None:
    return None if r.deadline is None else (r.deadline - t0) * 1e3


class DeadlineUnreachable(ValueError):
    """Early admission refused a request: it is predicted to finish past its deadline."""


# ---------------------------------------------------------------------------------------- devices
def _stream_ctx(stream):
    return torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext()


def _record(stream) -> object | None:
    """An event after the work queued so far on `stream` (None on CPU)."""
    if stream is None:
        return None
    ev = torch.cuda.Event()
    ev.record(stream)
    return ev


def _wait(stream, event) -> None:
    if stream is not None and event is not None:
        stream.wait_event(event)


def _sync(event) -> None:
    if event is not None:
        event.synchronize()


def batch_buckets(max_batch: int) -> list[int]:
    """Decode batch sizes a graph is captured for: powers of two up to max_batch, and max_batch."""
    out, b = [], 1
    while b < max_batch:
        out.append(b)
        b *= 2
    return out + [max_batch]


class DecodeRunner:
    """One greedy decode step over a batch of KV slots.

    Pads the batch to a bucket with the scratch slot, then replays the CUDA graph captured for
    (decode SM share, bucket), or runs the same code eagerly (CPU, or graphs off). Graphs are
    captured only in `capture`, on the partition's own stream, so each graph keeps its partition.
    """

    def __init__(self, model, cache: KVCache, max_batch: int, scratch_slot: int):
        self.model, self.cache, self.scratch = model, cache, scratch_slot
        self.buckets = batch_buckets(max_batch)
        dev = cache.lengths.device
        self.cuda = dev.type == "cuda"
        self.tokens = {b: torch.zeros(b, dtype=torch.long, device=dev) for b in self.buckets}
        self.slots = {
            b: torch.full((b,), scratch_slot, dtype=torch.long, device=dev) for b in self.buckets
        }
        self.out = {b: torch.zeros(b, dtype=torch.long, device=dev) for b in self.buckets}
        pin = self.cuda
        self.host_in = {
            b: torch.zeros(2, b, dtype=torch.long, pin_memory=pin) for b in self.buckets
        }
        self.host_out = {b: torch.zeros(b, dtype=torch.long, pin_memory=pin) for b in self.buckets}
        self.graphs: dict[tuple[int | None, int], torch.cuda.CUDAGraph] = {}

    def bucket(self, n: int) -> int:
        for b in self.buckets:
            if b >= n:
                return b
        raise ValueError(f"decode batch of {n} exceeds max_batch {self.buckets[-1]}")

    def _forward(self, b: int) -> None:
        logits = self.model.decode(self.tokens[b], None, self.cache, self.slots[b])
        self.out[b].copy_(torch.argmax(logits, dim=-1))
        # Padding rows must not walk the scratch slot to max_len (a kernel: no host copy in a graph).
        self.cache.lengths.narrow(0, self.scratch, 1).zero_()

    def capture(self, streams: dict[int | None, object], context=None) -> None:
        """Capture one graph per (SM share, bucket) on that share's stream; the only capture site.

        `context(sms)` (the partitioner's `capture_context`) makes the partition current meanwhile."""
        if not self.cuda:
            return
        torch.cuda.synchronize()
        pool = torch.cuda.graph_pool_handle()
        with torch.inference_mode():
            self._capture_all(streams, pool, context or (lambda sms: contextlib.nullcontext()))
        torch.cuda.synchronize()

    def _capture_all(self, streams, pool, context) -> None:
        for sms, stream in streams.items():
            for b in self.buckets:
                self.slots[b].fill_(self.scratch)
                with torch.cuda.stream(
                    stream
                ):  # warm-up (lazy inits, cuBLAS handles) on that stream
                    self._forward(b)
                stream.synchronize()
                g = torch.cuda.CUDAGraph()
                with context(sms), torch.cuda.graph(g, stream=stream, pool=pool):
                    self._forward(b)
                self.graphs[(sms, b)] = g

    def step(
        self, tokens: list[int], slots: list[int], sms: int | None, stream
    ) -> tuple[list[int], object]:
        """Queue one step on `stream`; return (next tokens, event) once they reached the host."""
        n, b = len(tokens), self.bucket(len(tokens))
        host = self.host_in[b]
        host[0, :n] = torch.tensor(tokens, dtype=torch.long)
        host[0, n:] = 0
        host[1, :n] = torch.tensor(slots, dtype=torch.long)
        host[1, n:] = self.scratch
        with _stream_ctx(stream):
            self.tokens[b].copy_(host[0], non_blocking=True)
            self.slots[b].copy_(host[1], non_blocking=True)
            graph = self.graphs.get((sms, b))
            if graph is not None:
                graph.replay()
            else:
                self._forward(b)
            self.host_out[b].copy_(self.out[b], non_blocking=True)
        ev = _record(stream)
        _sync(ev)  # the sampled tokens must reach Python: the one wait of the decode hot path
        return self.host_out[b][:n].tolist(), ev


# ---------------------------------------------------------------------------------------- workers
class StageWorker:
    """A thread that runs one stage's jobs, one at a time, and reports each back to the engine."""

    def __init__(self, stage: str, run: Callable, on_done: Callable):
        self.stage, self._run, self._on_done = stage, run, on_done
        self.busy = False
        self.inbox: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name=f"nova-{stage}", daemon=True)

    def submit(self, job) -> None:
        self.busy = True
        self.inbox.put(job)

    def _loop(self) -> None:
        while True:
            job = self.inbox.get()
            if job is None:
                return
            try:
                result, error = self._run(job), None
            except Exception as exc:  # a failed job fails its requests, never the engine
                log.exception("%s stage failed", self.stage)
                result, error = None, exc
            self._on_done(self.stage, job, result, error)


@dataclass(frozen=True)
class VisionJob:
    """Encode these requests' images together on `sms` SMs (None: plain stream)."""

    requests: list[Request]
    sms: int | None


@dataclass(frozen=True)
class PrefillJob:
    """Prefill `chunk` of `request` into its KV slot on `sms` SMs (None: plain stream)."""

    request: Request
    chunk: PrefillChunk
    sms: int | None


@dataclass(frozen=True)
class DecodeJob:
    """One decode step of the requests in `slots` (same order), idling up to `gap_ms` first."""

    slots: list[int]
    sms: int | None
    requests: list[Request]
    gap_ms: float = 0.0


Job = VisionJob | PrefillJob | DecodeJob


@dataclass(frozen=True)
class EngineConfig:
    max_batch: int = 8  # decode slots (continuous batch size limit)
    max_len: int = 4096  # tokens per slot (image tokens + prompt + output)
    use_graphs: bool = True  # CUDA graphs for decode (ignored on CPU)
    compile: bool = (
        True  # torch.compile the decode step's element-wise work (CUDA only; see model/text.py)
    )
    kernels: bool = False  # opt-in Triton decode kernels: small-batch GEMV, in-place attention (CUDA; model/gemv.py)
    fp8: bool = False  # decode projections and LM head on e4m3 weights (model/fp8.py), opt-in
    stop_at_eos: bool = True  # False: always generate max_tokens (benchmarks with random weights)
    latency_window: int = 2000  # completed requests kept for /metrics percentiles
    compute_priority: bool = (
        False  # vision/prefill plain streams at high CUDA priority (decode normal)
    )


# ---------------------------------------------------------------------------------------- engine
class Engine:
    """Runs requests through vision → prefill → decode as the policy's Plans say."""

    def __init__(
        self, model, policy, partitioner=None, config: EngineConfig = EngineConfig(), vision=None
    ):
        """`vision` replaces `model.vision` (e.g. an `offload.StreamedVisionEncoder`)."""
        self.model, self.policy, self.config = model, policy, config
        self.vision = vision if vision is not None else model.vision
        p = next(model.text.parameters())
        self.device, self.dtype = p.device, p.dtype
        if partitioner is None:
            from runtimes.vlm.partition import NoopPartitioner

            partitioner = NoopPartitioner()
        self.partitioner = partitioner
        self.scratch = config.max_batch
        self.cache = KVCache(
            model.config, config.max_batch + 1, config.max_len, self.device, self.dtype
        )
        self.decoder = DecodeRunner(model, self.cache, config.max_batch, self.scratch)
        self._plain = {
            s: (
                torch.cuda.Stream(
                    self.device, priority=-1 if config.compute_priority and s != DECODE else 0
                )
                if self.device.type == "cuda"
                else None
            )
            for s in STAGES
        }
        self._lock = threading.RLock()
        self._t0 = time.perf_counter()
        self._waiting: collections.deque[Request] = collections.deque()
        self._ready: collections.deque[Request] = collections.deque()
        self._in_vision: list[Request] = []
        self._in_prefill: Request | None = None
        self._decoding: dict[int, Request] = {}
        self._free_slots = list(range(config.max_batch))
        self._prefills_since_decode = 0
        self._decode_steps, self._decode_running = 0, False  # co-run detection for observations
        self._serial: collections.deque = (
            collections.deque()
        )  # remaining steps of a non-pipelined plan
        self._rate = ArrivalRateEstimator()  # the simulator's too: one estimate of λ
        self.last_plan: Plan = Plan()
        self._done: collections.deque[Request] = collections.deque(maxlen=config.latency_window)
        self._batch_hist: collections.Counter = collections.Counter()
        self._decide_ms: collections.deque[float] = collections.deque(maxlen=config.latency_window)
        self._counts: collections.Counter[str] = collections.Counter()
        self.workers = {
            VISION: StageWorker(VISION, self._run_vision, self._on_done),
            PREFILL: StageWorker(PREFILL, self._run_prefill, self._on_done),
            DECODE: StageWorker(DECODE, self._run_decode, self._on_done),
        }
        self._started = False

    # ------------------------------------------------------------------ life cycle
    def start(self) -> Engine:
        """Create the partition pool and capture decode graphs (slow, once), then start workers."""
        splits = list(self.policy.splits()) if hasattr(self.policy, "splits") else []
        self.partitioner.setup(splits)
        self.model.text.kernels = (
            self.config.kernels
        )  # this model's decode: graphs captured below keep it
        if self.config.fp8:  # before the graphs: they capture the e4m3 products
            self.model.text.quantize_fp8()
        else:
            self.model.text.fp8 = False
        if self.config.compile:
            self.model.text.compile_decode()  # compiles during the graph warm-up below
        if self.config.use_graphs and self.device.type == "cuda":
            shares = {
                self._graph_key(sms): self._stream(DECODE, {DECODE: sms}) for sms in [None, *splits]
            }
            self.decoder.capture(shares, lambda sms: self.partitioner.capture_context(DECODE, sms))
        self._warm_compute_streams(splits)
        for w in self.workers.values():
            w.thread.start()
        self._started = True
        return self

    def _warm_compute_streams(self, splits: list[int]) -> None:
        """One vision encode and one prefill of a screenshot-sized request on every stream a compute
        stage may run on: the plain ones and each partition's.

        The first kernels on a green-context stream pay one-off costs (modules load lazily per
        context, libraries set up per stream), tens of ms on a ~40 ms stage. Unwarmed, a request pays
        them the first time the policy picks that split, and nova's calibration reads them as a slow
        partition. Decode needs none of this: its graphs are captured per partition above."""
        cfg = self.model.config
        merge = cfg.vision.spatial_merge_size
        prompt = [cfg.vision_start_id, cfg.vision_end_id] + [0] * 64
        side = (
            72  # 72 x 72 patches: a screenshot at Qwen2-VL's GUI pixel budget (~1300 image tokens)
        )
        while side > merge and (side // merge) ** 2 + len(prompt) > self.config.max_len:
            side -= merge
        if (side // merge) ** 2 + len(prompt) > self.config.max_len:
            return  # KV slots too short for any image request: nothing worth warming
        grid = torch.tensor([[1, side, side]])
        pixels = torch.randn(
            side * side, cfg.vision.patch_dim, dtype=self.dtype, device=self.device
        )
        ids, pos = self.model.build_inputs(prompt, sum(self.model.image_tokens(grid)), grid)
        total = getattr(self.partitioner, "total_sms", None)
        streams = [self._plain[VISION], self._plain[PREFILL]]
        streams += [self.partitioner.stream(VISION, total - s) for s in splits if total]
        with torch.inference_mode():  # on the CPU (no streams) once, which checks the shapes
            for stream in {id(s): s for s in streams if s is not None}.values() or [None]:
                with _stream_ctx(stream):
                    embeds = self.vision(pixels, grid.to(self.device))
                    self.model.prefill(ids, pos, embeds, self.cache, self.scratch, 0, ids.shape[1])
                if stream is not None:
                    stream.synchronize()
        self.cache.lengths[self.scratch] = 0  # the scratch slot only pads decode batches

    def close(self) -> None:
        for w in self.workers.values():
            w.inbox.put(None)
        for w in self.workers.values():
            if w.thread.is_alive():
                w.thread.join(timeout=10)
        with self._lock:
            for r in list(self._waiting) + list(self._ready) + list(self._decoding.values()):
                self._fail(r, "the engine was shut down before this request finished")

    def __enter__(self):
        return self if self._started else self.start()

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ requests
    def submit(
        self,
        prompt_ids: list[int],
        max_tokens: int,
        pixel_values: torch.Tensor | None = None,
        grid_thw: torch.Tensor | None = None,
        deadline: float | None = None,
        arrival: float | None = None,
    ) -> Request:
        """Queue one request (thread-safe); `Request.wait()` returns it finished."""
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        r = Request(
            prompt_ids=list(prompt_ids),
            max_tokens=int(max_tokens),
            pixel_values=pixel_values,
            grid_thw=grid_thw,
            deadline=deadline,
        )
        if arrival is not None:
            r.arrival = arrival
        n_embeds = sum(self.model.image_tokens(grid_thw)) if grid_thw is not None else 0
        r.input_ids, r.position_ids = self.model.build_inputs(r.prompt_ids, n_embeds, grid_thw)
        need = r.prompt_tokens + r.max_tokens
        if need > self.config.max_len:
            raise ValueError(
                f"request needs {need} tokens (prompt with image tokens {r.prompt_tokens} + "
                f"max_tokens {r.max_tokens}) but a KV slot holds {self.config.max_len}; "
                "send a smaller image, a shorter prompt or fewer max_tokens"
            )
        with self._lock:
            self._rate.observe(self._ms(r.arrival))
            admit = getattr(self.policy, "admit", None)
            if admit is not None and r.deadline is not None:
                verdict = admit(self._state(), _view(r, self._t0))
                if not verdict.admitted:
                    self._counts["refused"] += 1
                    raise DeadlineUnreachable(f"refused at admission: {verdict.reason}")
            (self._waiting if r.patches else self._ready).append(r)
            self._counts["submitted"] += 1
            self._reschedule()
        return r

    def generate(self, *args, timeout: float | None = None, **kw) -> Request:
        return self.submit(*args, **kw).wait(timeout)

    # ------------------------------------------------------------------ deciding
    def _ms(self, t: float) -> float:
        """A time.perf_counter() instant as ms on the scheduler's clock (0 = engine created)."""
        return (t - self._t0) * 1e3

    def _state(self) -> SchedulerState:
        t0 = self._t0
        now_ms = self._ms(time.perf_counter())
        return SchedulerState(
            now_ms=now_ms,
            waiting=tuple(_view(r, t0) for r in self._waiting),
            ready=tuple(_view(r, t0) for r in self._ready),
            in_vision=_view(self._in_vision[0], t0) if self._in_vision else None,
            in_prefill=_view(self._in_prefill, t0) if self._in_prefill else None,
            decoding=tuple(
                DecodeView(
                    rid=r.rid,
                    slot=s,
                    remaining_tokens=r.max_tokens - len(r.output_ids),
                    arrival_ms=(r.arrival - t0) * 1e3,
                    deadline_ms=_deadline_ms(r, t0),
                )
                for s, r in sorted(self._decoding.items())
            ),
            arrival_rate=self._rate.rate_per_s(now_ms),
            free_slots=len(self._free_slots),
            prefills_since_decode=self._prefills_since_decode,
        )

    def _reschedule(self) -> None:
        """Ask the policy and start what it says on idle workers (called with the lock held)."""
        if (
            self._serial
            or any(w.busy for w in self.workers.values())
            and not self.last_plan.pipelined
        ):
            return
        self._expire_deadlines()
        t = time.perf_counter()
        plan = self.policy.decide(self._state())
        self._decide_ms.append(
            (time.perf_counter() - t) * 1e3
        )  # under the lock: every worker waits
        self.last_plan = plan
        steps = self._steps(plan)
        if plan.pipelined:
            for stage, job in steps:
                if not self.workers[stage].busy:
                    self._start(stage, job)
        elif steps and not any(w.busy for w in self.workers.values()):
            self._serial.extend(steps)
            self._advance_serial()

    def _steps(self, plan: Plan) -> list[tuple[str, Job]]:
        """The plan's work as (stage, job) pairs the engine can start now, in stage order."""
        split = plan.sm_split
        out: list[tuple[str, Job]] = []
        by_id = {r.rid: r for r in self._waiting}
        vis = [by_id[rid] for rid in plan.vision if rid in by_id]
        if vis:
            out.append((VISION, VisionJob(vis, self._share(split, VISION))))
        if plan.prefill is not None:
            r = next((x for x in self._ready if x.rid == plan.prefill.rid), None)
            if r is not None and (r.slot is not None or self._free_slots):
                out.append((PREFILL, PrefillJob(r, plan.prefill, self._share(split, PREFILL))))
        slots = [s for s in plan.decode if s in self._decoding]
        if slots:
            reqs = [self._decoding[s] for s in slots]
            out.append(
                (DECODE, DecodeJob(slots, self._share(split, DECODE), reqs, plan.decode_gap_ms))
            )
        return out

    @staticmethod
    def _share(split, stage) -> int | None:
        return None if split is None else split.get(stage)

    def _graph_key(self, sms: int | None) -> int | None:
        """Decode graphs are per partition; every whole-GPU share is the one plain-stream key None."""
        total = getattr(self.partitioner, "total_sms", None)
        return None if sms is None or (total and sms >= total) else sms

    def _stream(self, stage: str, split) -> object | None:
        sms = self._share(split, stage)
        if sms is None or self.device.type != "cuda":
            return self._plain[stage]
        return self.partitioner.stream(stage, sms) or self._plain[stage]

    def _start(self, stage: str, job: Job) -> None:
        if isinstance(job, VisionJob):
            for r in job.requests:
                self._waiting.remove(r)
            self._in_vision = list(job.requests)
        elif isinstance(job, PrefillJob):
            r = job.request
            if r.slot is None:
                r.slot = self._free_slots.pop(0)
            self._ready.remove(r)
            self._in_prefill = r
        elif job.gap_ms > 0:
            self._counts["paced_steps"] += 1
        self.workers[stage].submit(job)

    def _advance_serial(self) -> None:
        while self._serial:
            stage, job = self._serial.popleft()
            if isinstance(job, VisionJob) and not all(r in self._waiting for r in job.requests):
                continue
            self._start(stage, job)
            return

    def _expire_deadlines(self) -> None:
        now = time.perf_counter()
        for q in (self._waiting, self._ready):
            expired = [
                (r, d) for r in q if (d := r.deadline) is not None and now > d and r.prefilled == 0
            ]
            for r, deadline in expired:
                q.remove(r)
                self._fail(
                    r,
                    f"deadline passed {1e3 * (now - deadline):.0f} ms before the request could start",
                )

    # ------------------------------------------------------------------ stage work (worker threads)
    def _run_vision(self, job: VisionJob) -> object | None:
        reqs, sms = job.requests, job.sms
        stream = self._stream(VISION, {VISION: sms} if sms else None)
        now = time.perf_counter()
        for r in reqs:
            r.marks["vision_start"] = now
        steps0 = self._decode_steps
        with torch.inference_mode(), _stream_ctx(stream):
            pixels = torch.cat([r.pixel_values for r in reqs]).to(self.device, non_blocking=True)
            grid = torch.cat([r.grid_thw for r in reqs])
            embeds = self.vision(pixels, grid.to(self.device))
            counts = [sum(self.model.image_tokens(r.grid_thw)) for r in reqs]
            parts = torch.split(embeds, counts)
        ev = _record(stream)
        for r, e in zip(reqs, parts, strict=False):
            r.image_embeds, r.ready_event = e, ev
        _sync(ev)  # stamps the stage's end for the scheduler; blocks only this worker
        self._report_compute(VISION, sms, sum(r.patches for r in reqs), steps0, now)
        return ev

    def _run_prefill(self, job: PrefillJob) -> int | None:
        r, chunk, sms = job.request, job.chunk, job.sms
        stream = self._stream(PREFILL, {PREFILL: sms} if sms else None)
        start = time.perf_counter()
        r.marks.setdefault("prefill_start", start)
        steps0 = self._decode_steps
        end = chunk.start + chunk.tokens
        with torch.inference_mode(), _stream_ctx(stream):
            _wait(stream, r.ready_event)
            if r.image_embeds is not None and stream is not None:
                r.image_embeds.record_stream(stream)
            logits = self.model.prefill(
                r.input_ids, r.position_ids, r.image_embeds, self.cache, r.slot, chunk.start, end
            )
            first = torch.argmax(logits, dim=-1) if chunk.final else None
        ev = _record(stream)
        r.ready_event = ev
        _sync(ev)
        self._report_compute(PREFILL, sms, chunk.tokens, steps0, start)
        return None if first is None else int(first[0])

    def _run_decode(self, job: DecodeJob) -> tuple[list[int], float]:
        slots, sms, reqs, gap_ms = job.slots, job.sms, job.requests, job.gap_ms
        if gap_ms > 0:
            self._pace(gap_ms)
        stream = self._stream(DECODE, {DECODE: sms} if sms else None)
        for r in reqs:  # first step after its prefill: wait for that prefill's KV on the GPU
            if r.ready_event is not None:
                _wait(stream, r.ready_event)
                r.ready_event = None
        graph_key = self._graph_key(sms) if self.config.use_graphs else -1
        corunner = VISION if self._in_vision else PREFILL if self._in_prefill else None
        t = time.perf_counter()
        self._decode_running = True
        try:
            with torch.inference_mode():
                nxt, _ = self.decoder.step(
                    [r.output_ids[-1] for r in reqs], slots, graph_key, stream
                )
        finally:
            self._decode_running = False
            self._decode_steps += 1
        step_ms = (time.perf_counter() - t) * 1e3
        self._report(DECODE, sms, len(slots), corunner, step_ms)
        return nxt, step_ms

    def _report_compute(
        self, stage: str, sms: int | None, size: int, steps0: int, start: float
    ) -> None:
        """Report a finished compute stage: beside decode if a step ended or ran meanwhile."""
        beside = DECODE if self._decode_steps != steps0 or self._decode_running else None
        self._report(stage, sms, size, beside, (time.perf_counter() - start) * 1e3)

    def _report(
        self, stage: str, sms: int | None, size: int, corunner: str | None, ms: float
    ) -> None:
        """Hand a measured stage time to the policy (nova corrects its tables with it)."""
        observe = getattr(self.policy, "observe", None)
        if observe is not None and size > 0:
            with self._lock:
                observe(stage, sms, size, corunner, ms)

    def _pace(self, gap_ms: float) -> None:
        """Idle the decode worker up to `gap_ms` while a compute stage runs (a paced step)."""
        end = time.perf_counter() + gap_ms / 1e3
        while self._in_vision or self._in_prefill:
            left = end - time.perf_counter()
            if left <= 0:
                break
            time.sleep(min(left, 0.0005))

    # ------------------------------------------------------------------ completion (worker threads)
    def _on_done(self, stage: str, job: Job, result, error) -> None:
        with self._lock:
            self.workers[stage].busy = False
            now = time.perf_counter()
            if isinstance(job, VisionJob):
                self._vision_done(job, now, error)
            elif isinstance(job, PrefillJob):
                self._prefill_done(job, result, now, error)
            else:
                self._decode_done(job, result, now, error)
            if self._serial:
                self._advance_serial()
            if not self._serial:
                self._reschedule()

    def _vision_done(self, job: VisionJob, now: float, error) -> None:
        self._in_vision = []
        for r in job.requests:
            if error is not None:
                self._fail(r, f"vision encode failed: {error}")
                continue
            r.marks["vision_end"] = now
            self._ready.append(r)
        self._ready = collections.deque(sorted(self._ready, key=lambda x: x.arrival))

    def _prefill_done(self, job: PrefillJob, first, now: float, error) -> None:
        r, chunk = job.request, job.chunk
        self._in_prefill = None
        if error is not None:
            self._release(r)
            self._fail(r, f"prefill failed: {error}")
            return
        r.prefilled = chunk.start + chunk.tokens
        if not chunk.final:
            self._ready.appendleft(r)  # keeps its place at the head for the next chunk
            return
        r.image_embeds = None  # the KV holds what prefill needed; free the embeddings
        r.marks["prefill_end"] = now
        r.output_ids.append(first)
        self._prefills_since_decode += 1
        self._counts["prefills"] += 1
        if self._finished(r):
            self._complete(r, now)
        else:
            assert r.slot is not None, "a prefilled request holds a cache slot"
            self._decoding[r.slot] = r

    def _decode_done(self, job: DecodeJob, result, now: float, error) -> None:
        slots = job.slots
        if error is not None:
            for s in slots:
                r = self._decoding.pop(s)
                self._release(r)
                self._fail(r, f"decode failed: {error}")
            return
        tokens, step_ms = result
        self._prefills_since_decode = 0
        self._batch_hist[len(slots)] += 1
        for s, tok in zip(slots, tokens, strict=False):
            r = self._decoding[s]
            r.output_ids.append(tok)
            r.step_ms.append(step_ms)
            if self._finished(r):
                del self._decoding[s]
                self._complete(r, now)

    def _finished(self, r: Request) -> bool:
        return len(r.output_ids) >= r.max_tokens or (
            self.config.stop_at_eos and r.output_ids[-1] == self.model.config.eos_id
        )

    def _release(self, r: Request) -> None:
        # No cache.reset: a prefill from token 0 sets the slot's length and rope delta on its own
        # stream, where a reset from this thread's stream could land after it.
        if r.slot is not None:
            self._free_slots.append(r.slot)
            r.slot = None

    def _complete(self, r: Request, now: float) -> None:
        self._release(r)
        r.marks["end"] = now
        self._done.append(r)
        self._counts["completed"] += 1
        r.done.set()

    def _fail(self, r: Request, message: str) -> None:
        r.error = message
        r.marks.setdefault("end", time.perf_counter())
        self._counts["failed"] += 1
        r.done.set()

    # ------------------------------------------------------------------ metrics
    def metrics(self) -> dict:
        """Queue lengths, partition shares, decode batch sizes and latency percentiles per stage."""
        with self._lock:
            done = list(self._done)
            plan = self.last_plan
            out = {
                "policy": getattr(self.policy, "name", type(self.policy).__name__),
                "queues": {
                    "waiting": len(self._waiting),
                    "ready": len(self._ready),
                    "in_vision": len(self._in_vision),
                    "in_prefill": int(self._in_prefill is not None),
                    "decoding": len(self._decoding),
                },
                "partition": {
                    "sm_split": dict(plan.sm_split) if plan.sm_split is not None else None,
                    "total_sms": getattr(self.partitioner, "total_sms", None),
                    "pipelined": plan.pipelined,
                    "decode_gap_ms": plan.decode_gap_ms,
                    "reason": plan.reason,
                },
                "decode_batch": {
                    "histogram": {str(k): v for k, v in sorted(self._batch_hist.items())},
                    "max": max(self._batch_hist, default=0),
                },
                "arrival_rate": self._rate.rate_per_s(self._ms(time.perf_counter())),
                "counts": dict(self._counts),
                "decide_ms": percentiles(list(self._decide_ms)),
            }
            corrections = getattr(getattr(self.policy, "tables", None), "corrections", None)
            if corrections is not None:  # nova: observed / profiled stage times it now applies
                out["calibration"] = corrections()
        timings = [r.timings() for r in done]
        out["latency_ms"] = {
            k: percentiles([t[k] for t in timings if t[k] is not None])
            for k in ("queue_ms", "vision_ms", "prefill_ms", "ttft_ms", "tpot_ms", "total_ms")
        }
        return out


def percentiles(xs: list[float]) -> dict:
    """count, mean, p50, p90, p99 and max of a sample (nearest-rank percentiles)."""
    if not xs:
        return {"count": 0}
    s = sorted(xs)

    def pct(p):
        return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]

    return {
        "count": len(s),
        "mean": round(sum(s) / len(s), 3),
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
        "max": s[-1],
    }
