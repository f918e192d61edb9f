"""The decode step's small-batch GEMV (runtimes/vlm/model/gemv.py).

Which products go to the kernel is decided by shape, dtype and device alone (tested here in
process). The kernel itself runs on the CPU through Triton's interpreter, which must be chosen
before the kernel is defined, so those checks run in a child process with TRITON_INTERPRET=1:
against `F.linear` over odd shapes, batch sizes and both half dtypes, and through the tiny
model's decode step (eager and traced by torch.compile), against the same step on `F.linear`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F

from runtimes.vlm.model import gemv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_only_a_few_half_precision_rows_on_a_kernel_device_take_the_kernel(monkeypatch):
    w = torch.randn(16, 32, dtype=torch.bfloat16)
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # the CPU counts as a kernel device here
    expect = gemv.triton is not None
    assert gemv.uses_kernel(torch.randn(8, 32, dtype=torch.bfloat16), w) is expect
    assert gemv.uses_kernel(torch.randn(2, 1, 32, dtype=torch.bfloat16), w) is expect
    assert not gemv.uses_kernel(torch.randn(9, 32, dtype=torch.bfloat16), w)  # a real GEMM: cuBLAS
    assert not gemv.uses_kernel(
        torch.randn(1, 12, 32, dtype=torch.bfloat16), w
    )  # prefill of 12 tokens
    assert not gemv.uses_kernel(torch.randn(1, 32), w.float())  # fp32
    assert not gemv.uses_kernel(torch.randn(1, 32, dtype=torch.float16), w)  # mixed dtypes
    assert not gemv.uses_kernel(
        torch.randn(1, 32, dtype=torch.bfloat16), w.t().contiguous().t()
    )  # strided rows
    assert not gemv.uses_kernel(
        torch.randn(1, 32, dtype=torch.bfloat16), w, on=False
    )  # not asked for
    monkeypatch.delenv("TRITON_INTERPRET")
    assert not gemv.uses_kernel(
        torch.randn(1, 32, dtype=torch.bfloat16), w
    )  # CPU tensor, no interpreter


def test_linear_off_the_kernel_is_f_linear(monkeypatch):
    x, w, b = torch.randn(3, 5, 24), torch.randn(7, 24), torch.randn(7)
    assert torch.equal(gemv.linear(x, w, b), F.linear(x, w, b))
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    x, w = x.to(torch.bfloat16)[:1, :1], w.to(torch.bfloat16)
    assert gemv.uses_kernel(x, w) is (gemv.triton is not None)
    assert torch.equal(gemv.linear(x, w), F.linear(x, w))  # kernels not asked for: F.linear itself


CHILD = textwrap.dedent("""
    import json, torch
    import torch.nn.functional as F
    from runtimes.vlm.config import PRESETS
    from runtimes.vlm.model import KVCache, gemv
    from runtimes.vlm.weights import random_vlm

    out = {"products": []}
    gen = torch.Generator().manual_seed(0)
    for dtype in (torch.bfloat16, torch.float16):
        for b, n, k, bias in [(1, 40, 64, True), (3, 33, 1000, False), (8, 7, 2048, True), (5, 130, 96, False)]:
            x = torch.randn(b, 1, k, generator=gen).to(dtype)
            w = torch.randn(n, k, generator=gen).to(dtype)
            bb = torch.randn(n, generator=gen).to(dtype) if bias else None
            got = gemv.linear(x, w, bb, kernels=True)
            ref = F.linear(x.double(), w.double(), None if bb is None else bb.double())
            out["products"].append({"dtype": str(dtype), "b": b, "n": n, "k": k, "kernel": gemv.uses_kernel(x, w),
                                    "shape": list(got.shape), "dtype_out": str(got.dtype),
                                    "rel_err": ((got.double() - ref).abs().max() / ref.abs().max()).item()})

    from runtimes.vlm.model import decode_attn, text
    out["attention"] = []
    for (b, nkv, rep, hd, rows, kv_len, last) in [(3, 2, 2, 16, 256, 256, [0, 129, 255]),
                                                   (2, 4, 7, 128, 384, 300, [299, 64]),
                                                   (1, 1, 16, 32, 128, 128, [77])]:
        dt = torch.bfloat16
        kc = torch.randn(b + 1, nkv, rows, hd, generator=gen).to(dt)
        vc = torch.randn(b + 1, nkv, rows, hd, generator=gen).to(dt)
        q = torch.randn(b, nkv, rep, hd, generator=gen).to(dt)
        k = torch.randn(b, nkv, hd, generator=gen).to(dt)
        v = torch.randn(b, nkv, hd, generator=gen).to(dt)
        slots = torch.arange(b).flip(0) + 1  # not the identity: slot 0 is never read
        last_t = torch.tensor(last)
        kf, vf = kc.float(), vc.float()  # the eager path writes these
        kc2_before = kf.clone()
        assert decode_attn.uses_kernel(q, kc, rep)
        got = decode_attn.decode_attention(q, k, v, kc, vc, slots, last_t, kv_len)
        visible = (torch.arange(kv_len)[None, :] <= last_t[:, None])[:, None, None, :]
        mask = torch.zeros(visible.shape, dtype=dt).masked_fill_(~visible, text.MASKED)
        want = text.decode_attention(q.float(), k.float(), v.float(), kf, vf, slots, last_t, mask.float())
        out["attention"].append({"case": [b, nkv, rep, hd, kv_len], "shape_ok": list(got.shape) == list(want.shape),
                                 "cache_written": bool(torch.equal(kc.float(), kf) and torch.equal(vc.float(), vf)
                                                      and not torch.equal(kf[slots[0], :, last[0]], kc2_before[slots[0], :, last[0]])),
                                 "err": (got.float() - want).abs().max().item() / want.abs().max().item()})

    cfg = PRESETS["tiny"]
    model = random_vlm(cfg, seed=3).to(torch.bfloat16)
    tokens, slots = torch.tensor([5, 9, 11]), torch.arange(3)

    def step(compiled):
        cache = KVCache(cfg, max_slots=3, max_len=64, dtype=torch.bfloat16)
        cache.lengths[:] = torch.tensor([4, 7, 2])
        with torch.no_grad():
            return model.decode(tokens, None, cache, slots).float()

    model.text.kernels = True
    kernel = step(False)
    other = random_vlm(cfg, seed=3).to(torch.bfloat16)  # a second model in the process, kernels off
    assert other.text.kernels is False
    cache = KVCache(cfg, max_slots=3, max_len=64, dtype=torch.bfloat16)
    cache.lengths[:] = torch.tensor([4, 7, 2])
    with torch.no_grad():
        blas = other.decode(tokens, None, cache, slots).float()
    model.text.kernels = False
    out["decode_model_off_equal"] = bool(torch.equal(step(False), blas))  # the same weights, the same path
    model.text.kernels = True
    torch._dynamo.reset()
    model.text.compile_decode(backend="aot_eager")
    traced = step(True)
    scale = blas.abs().max().item()
    out["decode"] = {"kernel_vs_blas": (kernel - blas).abs().max().item() / scale,
                     "traced_vs_kernel": (traced - kernel).abs().max().item() / scale,
                     "argmax_equal": bool(torch.equal(kernel.argmax(-1), blas.argmax(-1)))}
    print("RESULT" + json.dumps(out))
""")


@pytest.fixture(scope="module")
def interpreted():
    pytest.importorskip(
        "triton", reason="Triton's interpreter runs the kernel on the CPU (pip install triton)"
    )
    env = {
        **os.environ,
        "TRITON_INTERPRET": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p),
    }
    proc = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    return json.loads(line[len("RESULT") :])


def test_kernel_matches_f_linear_on_odd_shapes_and_batches(interpreted):
    rows = interpreted["products"]
    assert len(rows) == 8 and all(r["kernel"] for r in rows)
    for r in rows:
        assert r["shape"] == [r["b"], 1, r["n"]] and r["dtype_out"] == r["dtype"]
        # fp32 accumulation, one rounding to the output dtype: bf16 keeps 8 bits, fp16 11
        assert r["rel_err"] < (8e-3 if "bfloat16" in r["dtype"] else 1e-3), r


def test_fused_decode_attention_writes_the_cache_and_matches_the_eager_attention(interpreted):
    """Slots out of order, lengths from 1 key to the whole kv_len, GQA from 2 to 16 query heads per
    KV head, a kv_len that is not a multiple of the split."""
    rows = interpreted["attention"]
    assert len(rows) == 3
    for r in rows:
        assert r["shape_ok"] and r["cache_written"], r
        assert r["err"] < 1e-2, r  # bf16 inputs and output, fp32 softmax in both


def test_decode_step_on_the_kernel_matches_cublas_path_eager_and_compiled(interpreted):
    """The switch is the model's: a second model in the process, with the kernels off, decodes on
    F.linear and the eager attention (bit-equal to the first once it turns them off)."""
    d = interpreted["decode"]
    assert interpreted["decode_model_off_equal"]
    assert 0 < d["kernel_vs_blas"] < 0.03, (
        d
    )  # bf16 logits through every layer, two summation orders
    assert d["traced_vs_kernel"] < 1e-6, (
        d
    )  # torch.compile calls the same op (custom op, fake shape)
    assert d["argmax_equal"]
