"""Measure the Nova stage tables on this machine: `python -m runtimes.vlm.profile_stages`.

Runs the real model code (`runtimes.vlm.weights.load_vlm`, random weights of the preset's real
shapes unless a checkpoint directory is given) and writes a `StageTables` JSON that the engine
loads for the nova policies (`runtimes/vlm/scheduler/tables.py`). Measured:
- solo: vision time per SM share × patch count, prefill per SM share × prompt tokens, decode
  step per SM share × batch size (each on a green-context partition of that many SMs);
- co-run: for every split s, decode on s SMs while vision (or prefill) runs on the other N - s,
  giving `decode|vision`, `decode|prefill` (per s × batch) and `vision|decode`, `prefill|decode`
  (per N - s, at a representative size; other sizes scaled by the same co-run/solo ratio);
- shared: the same pairs on two plain streams without partitioning (multi-stream baseline).
Decode runs as a CUDA graph captured on its partition when possible (a graph keeps the partition
it was captured on); the compute stage runs eagerly in its own thread, as in the engine.

On a GPU (the H100 the tables are for):
    python -m runtimes.vlm.profile_stages --preset qwen2-vl-7b --out bench/results/nova_tables_qwen2-vl-7b.json
On a CPU (smoke test; "partitions" are all the same CPU):
    python -m runtimes.vlm.profile_stages --preset tiny --device cpu --partitioner noop --out /tmp/t.json \\
        --sms 16,48 --patches 64,256 --tokens 16,64 --batches 1,2 --ctx 32 --iters 1
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import threading
import time

import torch

from runtimes.vlm.partition import make_partitioner
from runtimes.vlm.scheduler.tables import Grid, StageTables


class Clock:
    """Timestamps on a stream: CUDA events on a GPU, host time on a CPU."""

    def __init__(self, cuda: bool):
        self.cuda = cuda

    def mark(self, stream=None):
        if not self.cuda:
            return time.perf_counter()
        ev = torch.cuda.Event(enable_timing=True)
        ev.record(stream or torch.cuda.current_stream())
        return ev

    def ms(self, a, b) -> float:
        return a.elapsed_time(b) if self.cuda else (b - a) * 1e3

    def done(self, mark) -> bool:
        return mark.query() if self.cuda else True

    def wait(self, mark) -> None:
        """Block until `mark` is reached (on a GPU the GIL is released meanwhile)."""
        if self.cuda:
            mark.synchronize()

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()


def on(stream):
    return torch.cuda.stream(stream) if stream is not None else _null()


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


class Workloads:
    """Synthetic inputs of the requested sizes for the three stages of one loaded model."""

    def __init__(self, model, device, dtype, max_batch: int, max_tokens: int, ctx: int):
        from runtimes.vlm.model import KVCache

        self.model, self.device, self.dtype, self.ctx = model, device, dtype, ctx
        cfg = model.config
        self.vocab = min(
            cfg.text.vocab_size, 256
        )  # byte-level ids: clear of every preset's special tokens
        self.cache = KVCache(cfg, max_batch, max(max_tokens, ctx) + 1024, device, dtype)
        self.patch_dim = cfg.vision.patch_dim

    def grid(self, patches: int) -> tuple[int, int]:
        """An even h × w patch grid close to `patches` (the merger pools 2 × 2)."""
        h = max(2, 2 * round(patches**0.5 / 2))
        w = max(2, 2 * round(patches / h / 2))
        return h, w

    def vision(self, patches: int):
        h, w = self.grid(patches)
        pix = torch.randn(h * w, self.patch_dim, device=self.device, dtype=self.dtype)
        thw = torch.tensor([[1, h, w]], device=self.device)
        return h * w, lambda: self.model.vision(pix, thw)

    def prefill(self, tokens: int):
        ids = torch.randint(0, self.vocab, (1, tokens), device=self.device)
        pos = torch.arange(tokens, device=self.device).expand(3, 1, tokens)
        slot = self.cache.max_slots - 1
        return lambda: self.model.prefill(ids, pos, None, self.cache, slot)

    def decode(self, batch: int):
        """The decode step for `batch`, one per batch size: a CUDA graph captured from it reads
        its input tensors, so they must stay alive as long as the graph is replayed."""
        kept = self.__dict__.setdefault("_decode_steps", {})
        if batch not in kept:
            tokens = torch.randint(0, self.vocab, (batch,), device=self.device)
            slots = torch.arange(batch, device=self.device)

            def step():
                return self.model.decode(tokens, None, self.cache, slots)

            kept[batch] = step
        return kept[batch]

    def reset_decode(self, batch: int):
        self.cache.lengths[:batch] = self.ctx


class Profiler:
    def __init__(self, args, model, partitioner, clock: Clock):
        self.a, self.part, self.clock = args, partitioner, clock
        self.total = partitioner.total_sms
        self.w = Workloads(
            model,
            args.device,
            getattr(torch, args.dtype),
            max(args.batches),
            max(args.tokens),
            args.ctx,
        )
        self.graphs: dict[tuple, object] = {}
        self.graph_failures: list[str] = []

    # -- timing helpers ---------------------------------------------------------------------------
    def stream(self, sms: int | None, side: str = "decode"):
        """A stream restricted to `sms` SMs (a decode group or a compute remainder); None: whole GPU."""
        if sms is None or sms >= self.total:
            return None
        return self.part.stream(side if side == "decode" else "vision", sms)

    def time(self, fn, stream, iters=None, warmup=1, before=None) -> float:
        iters = iters or self.a.iters
        out = []
        with torch.inference_mode(), on(stream):
            for i in range(warmup + iters):
                if before:
                    before()
                a = self.clock.mark(stream)
                fn()
                b = self.clock.mark(stream)
                self.clock.sync()
                if i >= warmup:
                    out.append(self.clock.ms(a, b))
        return statistics.median(out)

    def decode_fn(self, batch: int, sms: int | None, stream):
        """The decode step for `batch`: a CUDA graph captured on this partition, else eager."""
        eager = self.w.decode(batch)
        if not self.clock.cuda or self.a.no_graphs:
            return eager
        key = (batch, sms)
        if key not in self.graphs:
            try:
                capture_stream = stream or torch.cuda.Stream()
                with (
                    torch.inference_mode(),
                    self.part.capture_context("decode", sms if stream else None),
                ):
                    self.w.reset_decode(batch)
                    with torch.cuda.stream(capture_stream):
                        eager()
                    capture_stream.synchronize()
                    g = torch.cuda.CUDAGraph()
                    self.w.reset_decode(batch)
                    with torch.cuda.graph(g, stream=capture_stream):
                        eager()
                    torch.cuda.synchronize()
                self.graphs[key] = g.replay
            except Exception as e:  # keep profiling eagerly, but say so in the output
                self.graph_failures.append(
                    f"batch {batch} on {sms} SMs: {type(e).__name__}: {e}"[:300]
                )
                self.graphs[key] = eager
        return self.graphs[key]

    # -- tables -----------------------------------------------------------------------------------
    def solo(self) -> dict[str, Grid]:
        sms_axis = sorted(set(self.a.sms) | {self.total})
        vis_rows, pre_rows, dec_rows = [], [], []
        patches_axis: tuple[int, ...] = ()
        for sms in sms_axis:
            st = self.stream(sms)
            vis = [self.w.vision(p) for p in self.a.patches]
            patches_axis = tuple(n for n, _ in vis)
            vis_rows.append(tuple(self.time(fn, st) for _, fn in vis))
            pre_rows.append(tuple(self.time(self.w.prefill(t), st) for t in self.a.tokens))
            dec_rows.append(
                tuple(
                    self.time(
                        self.decode_fn(b, sms, st),
                        st,
                        iters=self.a.iters * 5,
                        before=lambda b=b: self.w.reset_decode(b),
                    )
                    for b in self.a.batches
                )
            )
            self.log(
                stage="solo",
                sms=sms,
                vision=vis_rows[-1],
                prefill=pre_rows[-1],
                decode=dec_rows[-1],
            )
        axis = tuple(sms_axis)
        return {
            "vision": Grid(axis, patches_axis, tuple(vis_rows)),
            "prefill": Grid(axis, tuple(self.a.tokens), tuple(pre_rows)),
            "decode": Grid(axis, tuple(self.a.batches), tuple(dec_rows)),
        }

    def corun_once(
        self, work, dec_stream, comp_stream, batch: int, sms: int | None
    ) -> tuple[float, float]:
        """(compute-stage ms, median decode step ms during it) with both stages running together."""
        step = self.decode_fn(batch, sms, dec_stream)
        self.w.reset_decode(batch)
        marks, box = [], {}

        def compute():
            try:
                with torch.inference_mode(), on(comp_stream):
                    # Once untimed: the first run in a fresh thread on a fresh stream pays lazy set-up
                    # (library handles, workspaces) that the engine's long-lived workers pay once.
                    work()
                    self.clock.wait(self.clock.mark(comp_stream))
                    box["a"] = self.clock.mark(comp_stream)
                    for _ in range(self.a.corun_reps):
                        work()
                    box["b"] = self.clock.mark(comp_stream)
            except BaseException as e:  # surfaced in the main thread below
                box["error"] = e

        thread = threading.Thread(target=compute)
        with torch.inference_mode(), on(dec_stream):
            marks.append(self.clock.mark(dec_stream))
            thread.start()
            # At least one step, even if the compute stage ended before the loop began.
            while (
                len(marks) < 2
                or thread.is_alive()
                or ("b" in box and not self.clock.done(box["b"]))
            ):
                # One step at a time, waiting for each as the engine's decode worker does: a loop
                # that queued steps ahead would hold the GIL and starve the compute thread's
                # kernel launches, which measures Python, not the GPU.
                step()
                marks.append(self.clock.mark(dec_stream))
                self.clock.wait(marks[-1])
                if len(marks) % 8 == 0:
                    self.w.reset_decode(batch)  # keep the context length steady
                if len(marks) > self.a.max_steps:
                    break
        thread.join()
        if "error" in box:
            raise RuntimeError(
                f"compute stage failed while co-running with decode: {box['error']}"
            ) from box["error"]
        self.clock.sync()
        end = self.clock.ms(box["a"], box["b"])
        steps = [
            self.clock.ms(x, y)
            for x, y in zip(marks, marks[1:], strict=False)
            if self.clock.ms(box["a"], x) >= 0 and self.clock.ms(box["a"], y) <= end
        ]
        if not steps:  # the compute stage was shorter than one decode step
            steps = [self.clock.ms(marks[0], marks[1])]
        return end / self.a.corun_reps, statistics.median(steps)

    def corun(self, solo: dict[str, Grid]) -> tuple[dict[str, Grid], dict[str, float]]:
        splits = [s for s in sorted(self.a.sms) if s < self.total]
        rep = {
            "vision": self.w.vision(self.a.patches[len(self.a.patches) // 2]),
            "prefill": (
                self.a.tokens[len(self.a.tokens) // 2],
                self.w.prefill(self.a.tokens[len(self.a.tokens) // 2]),
            ),
        }
        corun, shared = {}, {}
        for co, (size, work) in rep.items():
            dec_rows, comp_ratio = [], {}
            for s in splits:
                ds, cs = self.stream(s), self.stream(self.total - s, side="compute")
                row, ratios = [], []
                for b in self.a.batches:
                    comp_ms, dec_ms = self.corun_once(work, ds, cs, b, s)
                    row.append(dec_ms)
                    ratios.append(comp_ms / solo[co].at(self.total - s, size))
                dec_rows.append(tuple(row))
                comp_ratio[self.total - s] = max(1.0, statistics.median(ratios))
                self.log(
                    stage="corun",
                    co_runner=co,
                    decode_sms=s,
                    decode_ms=row,
                    compute_slowdown=comp_ratio[self.total - s],
                )
            corun[f"decode|{co}"] = Grid(tuple(splits), tuple(self.a.batches), tuple(dec_rows))
            comp_axis = tuple(sorted(comp_ratio))
            g = solo[co]
            corun[f"{co}|decode"] = Grid(
                comp_axis,
                g.sizes,
                tuple(tuple(g.at(n, z) * comp_ratio[n] for z in g.sizes) for n in comp_axis),
            )
            # multi-stream: the same pair on plain streams over the whole GPU
            b = self.a.batches[len(self.a.batches) // 2]
            plain = (torch.cuda.Stream(), torch.cuda.Stream()) if self.clock.cuda else (None, None)
            comp_ms, dec_ms = self.corun_once(work, plain[0], plain[1], b, None)
            shared[f"decode|{co}"] = max(1.0, dec_ms / solo["decode"].at(self.total, b))
            shared[f"{co}|decode"] = max(1.0, comp_ms / g.at(self.total, size))
            self.log(
                stage="shared",
                co_runner=co,
                decode_slowdown=shared[f"decode|{co}"],
                compute_slowdown=shared[f"{co}|decode"],
            )
        return corun, shared

    def log(self, **kw):
        print(
            json.dumps(kw, default=lambda x: round(x, 3) if isinstance(x, float) else str(x)),
            flush=True,
        )


def parse_args(argv=None):
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    p = argparse.ArgumentParser(
        prog="python -m runtimes.vlm.profile_stages", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "--preset",
        required=True,
        help="preset name (tiny, qwen2-vl-2b, qwen2-vl-7b, cogagent-9b) or checkpoint dir",
    )
    p.add_argument("--out", required=True, help="stage-table JSON to write")
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default=None, help="bfloat16 on cuda, float32 on cpu by default")
    p.add_argument(
        "--partitioner",
        choices=["green", "noop"],
        default=None,
        help="green on cuda, noop on cpu by default",
    )
    p.add_argument(
        "--total-sms", type=int, default=None, help="SM count to assume with the noop partitioner"
    )
    p.add_argument(
        "--sms", type=ints, default=[8, 16, 32, 48, 64, 96], help="decode shares (8-SM steps)"
    )
    p.add_argument("--patches", type=ints, default=[1024, 2484, 5184])
    p.add_argument("--tokens", type=ints, default=[128, 512, 1360, 2048])
    p.add_argument("--batches", type=ints, default=[1, 8, 16])
    p.add_argument("--ctx", type=int, default=1400, help="context length of the decode steps")
    p.add_argument("--iters", type=int, default=3)
    p.add_argument(
        "--corun-reps", type=int, default=2, help="compute-stage repetitions per co-run measurement"
    )
    p.add_argument("--max-steps", type=int, default=4000)
    p.add_argument("--no-graphs", action="store_true", help="time decode eagerly (no CUDA graphs)")
    p.add_argument(
        "--no-compile",
        action="store_true",
        help="decode without torch.compile (as engines with compile off)",
    )
    a = p.parse_args(argv)
    cuda = a.device.startswith("cuda")
    a.dtype = a.dtype or ("bfloat16" if cuda else "float32")
    a.partitioner = a.partitioner or ("green" if cuda else "noop")
    for name in ("sms", "patches", "tokens", "batches"):
        setattr(a, name, sorted(set(getattr(a, name))))
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    from runtimes.vlm.weights import load_vlm

    cuda = a.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        sys.exit(
            "profile_stages: --device cuda but no GPU is visible; use --device cpu --partitioner noop"
        )
    model, _ = load_vlm(a.preset, a.device, getattr(torch, a.dtype))
    model.eval()
    if not a.no_compile:
        model.text.compile_decode()  # as the engine runs it (CUDA only)
    part = make_partitioner(a.partitioner, total_sms=a.total_sms or 132)
    part.setup(
        [s for s in a.sms if s < (a.total_sms or 10**6)] if a.partitioner == "noop" else a.sms
    )
    prof = Profiler(a, model, part, Clock(cuda))
    t0 = time.time()
    solo = prof.solo()
    corun, shared = prof.corun(solo)
    device = torch.cuda.get_device_name() if cuda else "cpu"
    tables = StageTables(
        prof.total,
        solo,
        corun,
        shared,
        meta={
            "source": "measured by runtimes.vlm.profile_stages",
            "derived": False,
            "device": device,
            "preset": a.preset,
            "dtype": a.dtype,
            "partitioner": a.partitioner,
            "ctx": a.ctx,
            "command": "python -m runtimes.vlm.profile_stages "
            + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:])),
            "torch": torch.__version__,
            "switch_cost_ms": getattr(part, "switch_cost_ms", None),
            "partition_create_ms": getattr(part, "create_ms", {}),
            "decode_graph_failures": prof.graph_failures,
            "seconds": round(time.time() - t0, 1),
        },
    )
    tables.save(a.out)
    part.close()
    print(
        f"wrote {a.out}: {len(solo)} solo, {len(corun)} co-run tables on {device} ({prof.total} SMs)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
