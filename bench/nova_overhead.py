"""Where the engine's compute-stage time goes, on one GPU.

The Nova benchmark shows vision encode and prefill taking up to twice as long inside the engine
as alone, for every policy and even at low load. This measures one screenshot request's vision
and prefill:

- `alone`: called directly from the main thread on the default stream (what the bench's
  capacity measurement does);
- `engine`: the same request through the engine (worker threads, stage streams), one at a time,
  max_tokens=1 so no decode runs;
- `engine, GIL 0.5 ms`: the same with Python's thread switch interval cut from 5 ms to 0.5 ms
  (if kernel launches wait for the GIL, this moves);
- `engine + decode`: the request arriving while another request decodes;
- `kernels`: the GPU time of the engine's kernels for one no-decode request (torch.profiler),
  against its wall time: equal means the GPU is busy throughout, far less means it waits on the
  host.

    python bench/nova_overhead.py --preset qwen2-vl-7b --out bench/results/nova
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from bench import write_json  # noqa: E402
from bench.nova_bench import card  # noqa: E402
from bench.nova_workload import screenshot  # noqa: E402
from runtimes.vlm.engine import Engine, EngineConfig  # noqa: E402
from runtimes.vlm.model import KVCache  # noqa: E402
from runtimes.vlm.partition import make_partitioner  # noqa: E402
from runtimes.vlm.preprocess import preprocess_image  # noqa: E402
from runtimes.vlm.scheduler.policies import make_policy  # noqa: E402
from runtimes.vlm.scheduler.tables import default_tables  # noqa: E402
from runtimes.vlm.weights import load_vlm  # noqa: E402


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def median(xs):
    return round(statistics.median(xs), 2)


def alone(model, pv, grid, ids, reps: int) -> dict:
    cache = KVCache(model.config, 1, 2048, pv.device, next(model.text.parameters()).dtype)
    vis, pre = [], []
    with torch.inference_mode():
        for _ in range(reps):
            sync()
            t0 = time.perf_counter()
            emb = model.vision(pv, grid.to(pv.device))
            sync()
            t1 = time.perf_counter()
            inp, pos = model.build_inputs(ids, emb.shape[0], grid)
            model.prefill(inp, pos, emb, cache, 0)
            sync()
            vis.append((t1 - t0) * 1e3)
            pre.append((time.perf_counter() - t1) * 1e3)
    return {"vision_ms": median(vis[1:]), "prefill_ms": median(pre[1:])}


def through_engine(engine, pv, grid, ids, reps: int, decode_beside: bool = False) -> dict:
    vis, pre = [], []
    for _ in range(reps):
        long = engine.submit(ids, 150, pv, grid) if decode_beside else None
        if long is not None:  # let it reach decode
            while not long.output_ids:
                time.sleep(0.002)
        r = engine.submit(ids, 1, pv, grid).wait(60)
        t = r.timings()
        vis.append(t["vision_ms"])
        pre.append(t["prefill_ms"])
        if long is not None:
            long.wait(60)
    return {"vision_ms": median(vis), "prefill_ms": median(pre)}


def kernels(engine, pv, grid, ids) -> dict:
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=acts) as prof:
        r = engine.submit(ids, 1, pv, grid).wait(60)
        sync()
    t = r.timings()
    gpu_us = sum(e.self_device_time_total for e in prof.key_averages())
    wall = t["vision_ms"] + t["prefill_ms"]
    return {
        "wall_ms": round(wall, 2),
        "kernel_ms": round(gpu_us / 1e3, 2),
        "gpu_busy": round(gpu_us / 1e3 / wall, 3),
        "vision_ms": t["vision_ms"],
        "prefill_ms": t["prefill_ms"],
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="qwen2-vl-7b")
    p.add_argument("--policy", default="multi-stream")
    p.add_argument("--reps", type=int, default=6)
    p.add_argument("--max-pixels", type=int, default=1280 * 28 * 28)
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", default="bench/results/nova")
    args = p.parse_args(argv)
    cuda = args.device.startswith("cuda")
    dtype = torch.bfloat16 if cuda else torch.float32
    model = load_vlm(args.preset, args.device, dtype, seed=0)[0]
    cfg = model.config
    pv, grid = preprocess_image(
        screenshot("phone"), cfg.min_pixels, min(cfg.max_pixels, args.max_pixels), cfg.vision
    )
    pv = pv.to(args.device, dtype)
    ids = [cfg.vision_start_id, cfg.vision_end_id] + [1] * 65
    out = {
        "command": "python " + " ".join(shlex.quote(x) for x in sys.argv),
        "card": card(args.device),
        "preset": args.preset,
        "policy": args.policy,
        "patches": int(pv.shape[0]),
    }
    out["alone"] = alone(model, pv, grid, ids, args.reps + 1)
    policy = make_policy(args.policy, default_tables(), max_batch=16)
    engine = Engine(
        model,
        policy,
        make_partitioner("green" if cuda else "noop"),
        EngineConfig(max_batch=16, max_len=2048, stop_at_eos=False),
    ).start()
    try:
        through_engine(engine, pv, grid, ids, 2)  # warm-up
        out["engine"] = through_engine(engine, pv, grid, ids, args.reps)
        old = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)
        try:
            out["engine_gil_0.5ms"] = through_engine(engine, pv, grid, ids, args.reps)
        finally:
            sys.setswitchinterval(old)
        out["engine_with_decode"] = through_engine(
            engine, pv, grid, ids, max(2, args.reps // 2), decode_beside=True
        )
        out["kernels"] = kernels(engine, pv, grid, ids)
    finally:
        engine.close()
    print(f"{'case':>20} {'vision ms':>10} {'prefill ms':>11}")
    for case in ("alone", "engine", "engine_gil_0.5ms", "engine_with_decode"):
        print(f"{case:>20} {out[case]['vision_ms']:10.1f} {out[case]['prefill_ms']:11.1f}")
    k = out["kernels"]
    print(
        f"engine request: wall {k['wall_ms']} ms, GPU kernels {k['kernel_ms']} ms (busy {k['gpu_busy']:.0%})"
    )
    path = os.path.join(args.out, f"overhead_{args.preset}.json")
    write_json(path, out)
    print("wrote", path)


if __name__ == "__main__":
    main()
