"""Nova micro-measurements on one GPU, with the engine's own pieces (decode graphs per partition,
green-context partitioner, streamed vision encoder):

- decode step time (batch B, CUDA graph) alone vs co-running with a vision encode, on green
  partitions and on two plain streams (no partitioning);
- decode batch-1 step time against the weight-read time at HBM bandwidth (the card's datasheet
  figure, `DATASHEET_HBM_BPS`, and the device-copy bandwidth measured here);
- vision-encoder weight streaming: GPU bytes and encode latency, resident vs streamed (and the
  outputs compared bit for bit), on the whole GPU and on the vision partition;
- green-context cost: creating a partition pair, and switching partitions between decode steps;
- `gemv`: each decode projection's shape at batch 1..8, cuBLAS (`F.linear`) against the Triton
  GEMV of `runtimes/vlm/model/gemv.py` (time, bandwidth, agreement), and the whole decode step
  (its logits, and its CUDA graph at batch 1 and `--batch`) with the Triton kernels (GEMV and
  `decode_attn.py`) on and off.

    python bench/nova_micro.py --preset qwen2-vl-7b --out bench/results/nova
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from bench import write_json  # noqa: E402
from bench.nova_bench import card  # noqa: E402
from bench.nova_workload import SCREENS, screenshot  # noqa: E402
from runtimes.vlm.engine import DecodeRunner  # noqa: E402
from runtimes.vlm.engine import _stream_ctx as stream_ctx
from runtimes.vlm.model import KVCache, gemv  # noqa: E402
from runtimes.vlm.offload import StreamedVisionEncoder  # noqa: E402
from runtimes.vlm.partition import make_partitioner  # noqa: E402
from runtimes.vlm.preprocess import preprocess_image  # noqa: E402
from runtimes.vlm.weights import load_vlm  # noqa: E402

# HBM bandwidth by the vendor's datasheet, by the name torch reports (SXM parts).
DATASHEET_HBM_BPS = {"NVIDIA H100 80GB HBM3": 3.35e12, "NVIDIA H200": 4.8e12}


def datasheet_bps(card_name: str) -> float | None:
    """The datasheet HBM bandwidth of `card_name`, or None for a card not in the table."""
    return DATASHEET_HBM_BPS.get(card_name)


def rounded(ms: float | None) -> float | None:
    """A GPU time to 4 decimals; None where no graph was captured for it."""
    return None if ms is None else round(ms, 4)


def sync(cuda: bool) -> None:
    if cuda:
        torch.cuda.synchronize()


class Micro:
    def __init__(self, args):
        self.args, self.cuda = args, args.device.startswith("cuda")
        dtype = torch.bfloat16 if self.cuda else torch.float32
        self.model = load_vlm(args.preset, args.device, dtype, seed=0)[0]
        self.model.text.kernels = args.kernels  # --kernels: decode on the Triton GEMV and attention
        cfg = self.model.config
        self.device, self.dtype = torch.device(args.device), dtype
        px = min(cfg.max_pixels, args.max_pixels)
        self.images = {
            s: preprocess_image(screenshot(s), cfg.min_pixels, px, cfg.vision) for s in SCREENS
        }
        self.part = make_partitioner("green" if self.cuda else "noop")
        t0 = time.perf_counter()
        self.part.setup(args.splits)
        self.setup_ms = (time.perf_counter() - t0) * 1e3
        self.total = self.part.total_sms
        b = args.batch
        self.compiled = not args.no_compile and self.model.text.compile_decode()
        self.cache = KVCache(cfg, b + 1, args.ctx + 512, self.device, dtype)
        self.runner = DecodeRunner(self.model, self.cache, b, scratch_slot=b)
        self.plain = torch.cuda.Stream() if self.cuda else None
        self.vision_plain = torch.cuda.Stream() if self.cuda else None
        streams = {None: self.plain}
        for s in args.splits:
            streams[s] = self.part.stream("decode", s)
        self.runner.capture(streams, lambda s: self.part.capture_context("decode", s))

    def vision_stream(self, decode_sms):
        return (
            self.vision_plain
            if decode_sms is None
            else self.part.stream("vision", self.total - decode_sms)
        )

    # -------------------------------------------------------------- decode steps
    def decode_steps(
        self, batch: int, sms, n: int, stop: threading.Event | None = None
    ) -> list[float]:
        """Host ms per decode step (graph replay + sampled tokens to the host), as the engine sees it."""
        stream = self.plain if sms is None else self.part.stream("decode", sms)
        self.cache.lengths[:batch] = self.args.ctx
        out: list[float] = []
        with torch.inference_mode():
            while len(out) < n and not (stop is not None and stop.is_set()):
                t = time.perf_counter()
                self.runner.step([1] * batch, list(range(batch)), sms, stream)
                out.append((time.perf_counter() - t) * 1e3)
        return out

    def encode(self, vision, screen: str, stream) -> float:
        pv, grid = self.images[screen]
        with torch.inference_mode(), stream_ctx(stream):
            t = time.perf_counter()
            vision(pv.to(self.device), grid.to(self.device))
            if stream is not None:
                stream.synchronize()
        return (time.perf_counter() - t) * 1e3

    def corun(self, batch: int, sms, reps: int) -> dict:
        """Decode steps while `reps` vision encodes run on the complementary partition (or a plain stream)."""
        vstream = self.vision_stream(sms)
        stop, vis_ms = threading.Event(), []

        def vision_loop():
            for _ in range(reps):
                vis_ms.append(self.encode(self.model.vision, "phone", vstream))
            stop.set()

        self.decode_steps(batch, sms, 3)  # warm
        th = threading.Thread(target=vision_loop)
        th.start()
        time.sleep(0.002)
        steps = self.decode_steps(batch, sms, 100000, stop)
        th.join()
        steps = steps[1:-1] or steps  # drop the edges that may not overlap
        if not steps:  # the encode ended before one decode step began: nothing overlapped
            return {
                "decode_step_ms": None,
                "steps": 0,
                "vision_ms": round(statistics.median(vis_ms), 3),
            }
        return {
            "decode_step_ms": round(statistics.median(steps), 4),
            "steps": len(steps),
            "vision_ms": round(statistics.median(vis_ms), 3),
        }

    def decode_vs_vision(self) -> dict:
        a, rows = self.args, []
        for sms in [None, *a.splits]:
            b = a.batch
            alone = statistics.median(self.decode_steps(b, sms, a.steps))
            vis_alone = statistics.median(
                self.encode(self.model.vision, "phone", self.vision_stream(sms)) for _ in range(2)
            )
            co = self.corun(b, sms, a.vision_reps)
            rows.append(
                {
                    "decode_sms": sms or "shared (plain streams)",
                    "vision_sms": self.total - sms if sms else "shared",
                    "batch": b,
                    "decode_alone_ms": round(alone, 4),
                    "decode_corun_ms": co["decode_step_ms"],
                    "decode_slowdown": round(co["decode_step_ms"] / alone - 1, 4)
                    if co["steps"]
                    else None,
                    "vision_alone_ms": round(vis_alone, 3),
                    "vision_corun_ms": co["vision_ms"],
                    "overlapped_steps": co["steps"],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
        full = statistics.median(self.decode_steps(a.batch, None, a.steps))
        for r in rows:
            r["corun_vs_full_gpu_alone"] = (
                round(r["decode_corun_ms"] / full - 1, 4) if r["overlapped_steps"] else None
            )
        return {"decode_full_gpu_alone_ms": round(full, 4), "rows": rows}

    # -------------------------------------------------------------- roofline
    def copy_bandwidth(self) -> float:
        if not self.cuda:
            return float("nan")
        x = torch.empty(2**30, dtype=torch.uint8, device=self.device)
        y = torch.empty_like(x)
        y.copy_(x)
        sync(True)
        times = []
        for _ in range(5):
            t = time.perf_counter()
            y.copy_(x)
            sync(True)
            times.append(time.perf_counter() - t)
        del x, y
        return 2 * 2**30 / min(times)

    def decode_roofline(self) -> dict:
        text = self.model.text
        embed = (
            text.embed_tokens.weight
        )  # decode reads one row of it, unless it is also the lm_head
        weight_bytes = sum(
            p.numel() * p.element_size() for p in text.parameters() if p is not embed
        )
        if text.lm_head.weight is embed:
            weight_bytes += embed.numel() * embed.element_size()
        kv_bytes = (
            self.args.ctx * self.model.config.text.kv_bytes_per_token * (self.dtype.itemsize / 2)
        )
        step = statistics.median(self.decode_steps(1, None, self.args.steps))
        gpu = self.graph_ms(self.runner, 1)
        bw = self.copy_bandwidth()
        spec = datasheet_bps(torch.cuda.get_device_name(self.device)) if self.cuda else None
        floor_spec = spec and (weight_bytes + kv_bytes) / spec * 1e3
        floor_meas = (weight_bytes + kv_bytes) / bw * 1e3
        out = {
            "weight_bytes": weight_bytes,
            "kv_bytes_read": int(kv_bytes),
            "ctx": self.args.ctx,
            "compiled": bool(self.compiled),
            "decode_b1_step_ms": round(step, 4),
            "decode_b1_gpu_ms": gpu and round(gpu, 4),
            "copy_bandwidth_Bps": bw,
            "datasheet_Bps": spec,
            "read_time_at_datasheet_ms": floor_spec and round(floor_spec, 4),
            "read_time_at_copy_bw_ms": round(floor_meas, 4),
            "ratio_vs_datasheet": floor_spec and round(step / floor_spec, 3),
            "ratio_vs_copy_bw": round(step / floor_meas, 3),
        }
        if self.compiled:  # the same step without torch.compile, for comparison
            text.eager_decode()
            eager = DecodeRunner(self.model, self.cache, 1, scratch_slot=self.args.batch)
            eager.capture({None: self.plain})
            self.cache.lengths[:1] = self.args.ctx
            with torch.inference_mode():
                times = []
                for _ in range(self.args.steps):
                    t = time.perf_counter()
                    eager.step([1], [0], None, self.plain)
                    times.append((time.perf_counter() - t) * 1e3)
            text.compile_decode()
            out.update(
                eager_b1_step_ms=round(statistics.median(times), 4),
                eager_b1_gpu_ms=rounded(self.graph_ms(eager, 1)),
            )
        return out

    def kernels(self) -> dict:
        """Where a batch-1 decode step's GPU time goes: kernels of 3 eager steps (the same kernels
        its graph replays), by total time, with launch counts per step."""
        from torch.profiler import ProfilerActivity, profile

        if not self.cuda:
            return {}
        self.cache.lengths[:1] = self.args.ctx
        tokens, slots = (
            torch.ones(1, dtype=torch.long, device=self.device),
            torch.zeros(1, dtype=torch.long, device=self.device),
        )
        with torch.inference_mode():
            for _ in range(2):
                self.model.decode(tokens, None, self.cache, slots)
            sync(True)
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for _ in range(3):
                    self.model.decode(tokens, None, self.cache, slots)
                sync(True)
        rows = [
            (e.key, e.count / 3, e.self_device_time_total / 3 / 1e3)
            for e in prof.key_averages()
            if e.self_device_time_total > 0
        ]
        rows.sort(key=lambda r: -r[2])
        total = sum(r[2] for r in rows)
        return {
            "gpu_ms_per_step": round(total, 4),
            "launches_per_step": round(sum(r[1] for r in rows), 1),
            "top": [{"kernel": k[:120], "per_step": c, "ms": round(t, 4)} for k, c, t in rows[:25]],
        }

    def graph_ms(self, runner, batch: int, n: int = 50) -> float | None:
        """GPU time of one decode step: `n` back-to-back replays of its graph, timed by CUDA events."""
        graph = runner.graphs.get((None, batch))
        if graph is None:
            return None
        self.cache.lengths[:batch] = self.args.ctx
        with torch.cuda.stream(self.plain):
            graph.replay()
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            for _i in range(n):
                graph.replay()
            b.record()
        b.synchronize()
        return a.elapsed_time(b) / n

    # -------------------------------------------------------------- small-batch GEMV
    def projection_shapes(self) -> dict[str, tuple[torch.Tensor, torch.Tensor | None]]:
        text = self.model.text
        a, m = text.layers[0].attn, text.layers[0].mlp
        return {
            "qkv+bias": (a.wqkv.weight, a.wqkv.bias),
            "o": (a.wo.weight, None),
            "gate_up": (m.w_gate_up.weight, None),
            "down": (m.w_down.weight, None),
            "lm_head": (text.lm_head.weight, None),
        }

    def gemv(self) -> dict:
        """cuBLAS against the Triton GEMV on every decode projection, then the decode step with each."""
        import triton.testing

        if not (self.cuda and gemv.available()):
            return {"skipped": "needs a GPU and Triton"}
        bw = self.copy_bandwidth()
        spec = datasheet_bps(torch.cuda.get_device_name(self.device))
        shapes, gen = [], torch.Generator(device=self.device).manual_seed(0)
        with torch.inference_mode():
            for name, (w, bias) in self.projection_shapes().items():
                for b in (1, 2, 4, 8):
                    x = torch.randn(
                        b, 1, w.shape[1], device=self.device, dtype=self.dtype, generator=gen
                    )
                    ref = torch.nn.functional.linear(x, w, bias)
                    out = torch.ops.tango.gemv(x, w, bias)
                    err = ((out.float() - ref.float()).abs().max() / ref.float().abs().max()).item()
                    nbytes = w.numel() * w.element_size() + (
                        bias.numel() * bias.element_size() if bias is not None else 0
                    )
                    t_blas = triton.testing.do_bench(
                        lambda x=x, w=w, bias=bias: torch.nn.functional.linear(x, w, bias),
                        warmup=10,
                        rep=100,
                    )
                    t_gemv = triton.testing.do_bench(
                        lambda x=x, w=w, bias=bias: torch.ops.tango.gemv(x, w, bias),
                        warmup=10,
                        rep=100,
                    )
                    row = {
                        "proj": name,
                        "n": w.shape[0],
                        "k": w.shape[1],
                        "batch": b,
                        "mbytes": round(nbytes / 1e6, 1),
                        "cublas_us": round(t_blas * 1e3, 2),
                        "gemv_us": round(t_gemv * 1e3, 2),
                        "cublas_of_copy_bw": round(nbytes / (t_blas * 1e-3) / bw, 3),
                        "gemv_of_copy_bw": round(nbytes / (t_gemv * 1e-3) / bw, 3),
                        "speedup": round(t_blas / t_gemv, 3),
                        "max_rel_err": float(f"{err:.3g}"),
                    }
                    shapes.append(row)
                    print(json.dumps(row), flush=True)
        logits = {}  # one eager step from the same cache state with each setting: they must agree
        tokens = torch.arange(1, self.args.batch + 1, device=self.device)
        slots = torch.arange(self.args.batch, device=self.device)
        for on in (True, False):
            self.model.text.kernels = on
            self.cache.lengths[: self.args.batch] = (
                torch.arange(self.args.batch, device=self.device) * 97 + 5
            )
            with torch.inference_mode():
                logits[on] = self.model.decode(tokens, None, self.cache, slots).float()
        agree = {
            "max_rel_err": float(
                f"{((logits[True] - logits[False]).abs().max() / logits[False].abs().max()).item():.3g}"
            ),
            "argmax_equal": bool(torch.equal(logits[True].argmax(-1), logits[False].argmax(-1))),
        }
        print(json.dumps(agree), flush=True)
        steps = {}
        for on in (True, False):  # a fresh runner per setting: captured graphs keep their kernels
            self.model.text.kernels = on
            runner = DecodeRunner(
                self.model, self.cache, self.args.batch, scratch_slot=self.args.batch
            )
            runner.capture({None: self.plain})
            steps["gemv" if on else "cublas"] = {
                f"b{b}_gpu_ms": rounded(self.graph_ms(runner, b))
                for b in sorted({1, self.args.batch})
                if (None, b) in runner.graphs
            }
            del runner
        self.model.text.kernels = self.args.kernels
        print(json.dumps(steps), flush=True)
        return {
            "copy_bandwidth_Bps": bw,
            "datasheet_Bps": spec,
            "compiled": bool(self.compiled),
            "shapes": shapes,
            "decode_logits_kernels_vs_cublas": agree,
            "decode_step": steps,
        }

    # -------------------------------------------------------------- fp8 decode
    def fp8(self) -> dict:
        """The decode step with its projections and LM head on e4m3 weights (`model/fp8.py`)
        against bf16: GPU time of its graph at batch 1 and `--batch`, host time per step at batch
        1 as the engine sees it, and the logits of one eager step from the same cache state."""
        text, b = self.model.text, self.args.batch
        tokens = torch.arange(1, b + 1, device=self.device)
        slots = torch.arange(b, device=self.device)
        logits = {}
        for on in (False, True):
            if on:
                text.quantize_fp8()
            text.fp8 = on
            self.cache.lengths[:b] = torch.arange(b, device=self.device) * 97 + 5
            with torch.inference_mode():
                logits[on] = self.model.decode(tokens, None, self.cache, slots).float()
        scale = logits[False].abs().max()
        drift = {
            "max_rel_err": float(
                f"{((logits[True] - logits[False]).abs().max() / scale).item():.4g}"
            ),
            "rows_with_argmax_changed": int(
                (logits[True].argmax(-1) != logits[False].argmax(-1)).sum()
            ),
            "batch": b,
        }
        steps: dict[str, dict[str, Any]] = {}
        for on in (False, True):  # a fresh runner per setting: captured graphs keep their kernels
            text.fp8 = on
            runner = DecodeRunner(self.model, self.cache, b, scratch_slot=b)
            runner.capture({None: self.plain})
            row = {
                f"b{n}_gpu_ms": rounded(self.graph_ms(runner, n))
                for n in sorted({1, b})
                if (None, n) in runner.graphs
            }
            self.cache.lengths[:1] = self.args.ctx
            host = []
            with torch.inference_mode():
                for _ in range(self.args.steps):
                    t = time.perf_counter()
                    runner.step([1], [0], None, self.plain)
                    host.append((time.perf_counter() - t) * 1e3)
            row["b1_step_ms"] = round(statistics.median(host), 4)
            steps["fp8" if on else "bf16"] = row
            del runner
        text.fp8 = False
        ratio = {
            k: round(steps["fp8"][k] / steps["bf16"][k], 4)
            for k in steps["bf16"]
            if steps["bf16"].get(k) and steps["fp8"].get(k)
        }
        out = {
            "compiled": bool(self.compiled),
            "steps": steps,
            "fp8_over_bf16": ratio,
            "logits": drift,
        }
        print(json.dumps(out), flush=True)
        return out

    # -------------------------------------------------------------- streaming
    def streaming(self) -> dict:
        vision = self.model.vision
        resident_bytes = sum(p.numel() * p.element_size() for p in vision.parameters())
        streamed = StreamedVisionEncoder(vision, slots=2, device=self.device)
        out = {
            "resident_bytes": resident_bytes,
            "streamed_bytes": streamed.resident_bytes(),
            "host_pinned_bytes": streamed.host_bytes(),
            "memory_reduction": round(1 - streamed.resident_bytes() / resident_bytes, 4),
            "rows": [],
        }
        for screen in SCREENS:
            pv, grid = self.images[screen]
            with torch.inference_mode():
                same = torch.equal(
                    vision(pv.to(self.device), grid.to(self.device)),
                    streamed(pv.to(self.device), grid.to(self.device)),
                )
            for sms in [None, self.args.splits[len(self.args.splits) // 2]]:
                st = self.vision_stream(sms)
                for enc in (vision, streamed):
                    self.encode(enc, screen, st)
                res = statistics.median(
                    self.encode(vision, screen, st) for _ in range(self.args.reps)
                )
                stm = statistics.median(
                    self.encode(streamed, screen, st) for _ in range(self.args.reps)
                )
                row = {
                    "screen": screen,
                    "patches": int(pv.shape[0]),
                    "vision_sms": self.total - sms if sms else self.total,
                    "resident_ms": round(res, 3),
                    "streamed_ms": round(stm, 3),
                    "overhead": round(stm / res - 1, 4),
                    "bit_identical": bool(same),
                }
                out["rows"].append(row)
                print(json.dumps(row), flush=True)
        return out

    # -------------------------------------------------------------- partition switching
    def switching(self) -> dict:
        a = self.args
        s1, s2 = a.splits[0], a.splits[-1]
        same = statistics.median(self.decode_steps(1, s1, a.steps))
        alt = []
        for i in range(a.steps):
            alt += self.decode_steps(1, s1 if i % 2 else s2, 1)
        other = statistics.median(self.decode_steps(1, s2, a.steps))
        return {
            "setup_ms_all_splits": round(self.setup_ms, 3),
            "splits": a.splits,
            "create_ms_per_split": getattr(self.part, "create_ms", {}),
            "partitioner_switch_cost_ms": self.part.switch_cost_ms,
            "decode_b1_step_same_partition_ms": [round(same, 4), round(other, 4)],
            "decode_b1_step_alternating_ms": round(statistics.median(alt), 4),
        }


def main(argv=None):
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="qwen2-vl-7b")
    p.add_argument("--device", default="cuda")
    p.add_argument("--splits", type=ints, default=[24, 48, 72], help="decode SM shares to measure")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--ctx", type=int, default=1400)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--vision-reps", type=int, default=3)
    p.add_argument("--max-pixels", type=int, default=1280 * 28 * 28)
    p.add_argument("--parts", default="corun,roofline,streaming,switching")
    p.add_argument("--out", default="bench/results/nova")
    p.add_argument("--no-compile", action="store_true", help="decode without torch.compile")
    p.add_argument(
        "--kernels",
        action="store_true",
        help="decode on the Triton kernels (GEMV, attention in place)",
    )
    args = p.parse_args(argv)
    m = Micro(args)
    result = {
        "command": "python " + " ".join(shlex.quote(x) for x in sys.argv),
        "card": card(args.device),
        "preset": args.preset,
        "images": {s: int(pv.shape[0]) for s, (pv, _) in m.images.items()},
    }
    parts = {
        "corun": m.decode_vs_vision,
        "roofline": m.decode_roofline,
        "streaming": m.streaming,
        "switching": m.switching,
        "kernels": m.kernels,
        "gemv": m.gemv,
        "fp8": m.fp8,
    }
    for name in args.parts.split(","):
        result[name] = parts[name]()
        print(name, json.dumps(result[name])[:2000], flush=True)
    path = os.path.join(args.out, f"micro_{args.preset}.json")
    write_json(path, result)
    print("wrote", path)


if __name__ == "__main__":
    main()
