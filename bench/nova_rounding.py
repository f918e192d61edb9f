"""How far apart two correct bf16 decode steps can be: the yardstick for kernel agreement.

A decode-step kernel that accumulates in fp32 in another order than cuBLAS and rounds once to
bf16 (what `runtimes/vlm/model/gemv.py` does) is as correct as cuBLAS, yet changes the last bit
of some outputs, and through every layer of a random-weight model those bits grow. This runs one
decode step of a preset (random weights, bf16, a KV cache of random keys and values, batch B at
lengths 5, 102, 199, ... as `nova_micro --parts gemv` sets them) twice, on the CPU: every
projection and the LM head through `F.linear`, then through fp32 products rounded once to bf16.
It reports the largest logit difference as a fraction of the largest logit (the measure
`nova_micro` reports for the Triton kernels against cuBLAS) and whether the argmax agrees.

    python3 bench/nova_rounding.py --presets tiny,qwen2-vl-2b,qwen2-vl-7b --batch 8

`--fp8` also runs the step with the decode projections and the LM head on e4m3 weights
(`model/fp8.py`; `_scaled_mm` with `--device cuda` on Hopper, its fp32 reference elsewhere) and
reports its difference from bf16 in the same measure, and as a multiple of the yardstick.

The 7B preset needs ~16 GB of memory and a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import write_json  # noqa: E402
from runtimes.vlm.config import get_preset  # noqa: E402
from runtimes.vlm.model import KVCache, text  # noqa: E402
from runtimes.vlm.weights import random_vlm  # noqa: E402


def fp32_once(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    kernels: bool = False,
    scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """`F.linear` computed as fp32 products and sums in torch's fp32 order, rounded once (the
    signature of `gemv.linear`, which it stands in for; `kernels` is ignored)."""
    if scale is not None:
        raise ValueError("fp32_once is the bf16 yardstick: run it with fp8 off")
    y = x.float() @ weight.float().t()
    if bias is not None:
        y = y + bias.float()
    return y.to(x.dtype)


def decode_logits(model, cfg, batch: int, linear, device: str = "cpu") -> torch.Tensor:
    cache = KVCache(cfg, max_slots=batch + 1, max_len=1536, device=device, dtype=torch.bfloat16)
    gen = torch.Generator().manual_seed(1)
    for t in (cache.k, cache.v):  # drawn on the CPU, so every device gets the same cache
        t.copy_(torch.empty(t.shape, dtype=t.dtype).normal_(0, 1, generator=gen))
    cache.lengths[:batch] = torch.arange(batch, device=device) * 97 + 5
    original = text.gemv.linear
    text.gemv.linear = (
        linear or original
    )  # text.py calls gemv.linear for every projection and the logits
    try:
        with torch.inference_mode():
            return model.text.decode(
                torch.arange(1, batch + 1, device=device),
                None,
                cache,
                torch.arange(batch, device=device),
            ).float()
    finally:
        text.gemv.linear = original


def measure(preset: str, batch: int, fp8: bool = False, device: str = "cpu") -> dict:
    started = time.time()
    cfg = get_preset(preset)
    model = random_vlm(cfg, dtype=torch.bfloat16, seed=0).to(device)
    blas = decode_logits(model, cfg, batch, None, device)  # kernels off: F.linear
    other = decode_logits(model, cfg, batch, fp32_once, device)
    scale = blas.abs().max().item()
    extra = {}
    if fp8:
        model.text.quantize_fp8()
        try:
            q = decode_logits(model, cfg, batch, None, device)
        finally:
            model.text.fp8 = False
        yardstick = (other - blas).abs().max().item() / scale
        err = (q - blas).abs().max().item() / scale
        extra = {
            "fp8_max_rel_err": float(f"{err:.4g}"),
            "fp8_vs_yardstick": round(err / yardstick, 3) if yardstick else None,
            "fp8_rows_with_argmax_changed": int((q.argmax(-1) != blas.argmax(-1)).sum()),
            "fp8_path": "scaled_mm" if device.startswith("cuda") else "fp32 reference",
        }
    return {
        "preset": preset,
        "layers": cfg.text.num_layers,
        "batch": batch,
        "max_rel_err": float(f"{(other - blas).abs().max().item() / scale:.4g}"),
        "argmax_equal": bool(torch.equal(other.argmax(-1), blas.argmax(-1))),
        "rows_with_argmax_changed": int((other.argmax(-1) != blas.argmax(-1)).sum()),
        "max_abs_logit": round(scale, 4),
        "seconds": round(time.time() - started, 1),
        **extra,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", default="tiny,qwen2-vl-2b,qwen2-vl-7b")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--out", default="bench/results/nova/rounding.json")
    p.add_argument("--fp8", action="store_true", help="also the e4m3 decode step against bf16")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    print(
        f"{'preset':>12} {'layers':>6} {'batch':>5} {'max diff / max logit':>21} {'argmax equal':>13}"
    )
    for preset in args.presets.split(","):
        r = measure(preset, args.batch, args.fp8, args.device)
        rows.append(r)
        print(
            f"{r['preset']:>12} {r['layers']:>6} {r['batch']:>5} {r['max_rel_err']:>21.4f} {str(r['argmax_equal']):>13}"
            + (
                f"  fp8 {r['fp8_max_rel_err']:.4f} = {r['fp8_vs_yardstick']}x yardstick, "
                f"argmax changed in {r['fp8_rows_with_argmax_changed']} rows"
                if args.fp8
                else ""
            ),
            flush=True,
        )
    write_json(
        args.out,
        {
            "command": "python3 bench/nova_rounding.py "
            + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:])),
            "host": {
                "cpu": platform.processor() or platform.machine(),
                "threads": args.threads,
                "torch": torch.__version__,
                "device": args.device
                + (f" ({torch.cuda.get_device_name(0)})" if args.device.startswith("cuda") else ""),
            },
            "compared": "F.linear (bf16) against fp32 products rounded once to bf16, one decode step",
            "results": rows,
        },
    )
    print("wrote", args.out)


if __name__ == "__main__":
    main()
