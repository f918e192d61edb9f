"""Linear layers for the decode step at small batch: a Triton GEMV that streams the weight once.

A decode step at batch B <= 8 multiplies a handful of rows by every weight matrix of the model,
so its time is the time to read the weights. cuBLAS picks GEMM tiles for these shapes that read
at 70-85 % of HBM bandwidth (H100 profile in `bench/results/nova/micro_qwen2-vl-7b.json`: the
QKV and output projections ~69 %, gate/up ~82 %), and on an H200, whose memory is faster but
whose launches and tails are not, less. `linear` sends such products to `_gemv_kernel`: each
program owns BLOCK_N rows of W [N, K] (row-major, as `nn.Linear` keeps it) and walks K in
BLOCK_K steps with every load a long contiguous run, the weight loaded once and evicted first,
the B input rows kept in cache, the B x BLOCK_N accumulators in fp32. The tile shape is
autotuned per (N, K, B) on first use, which in the engine is the decode warm-up before graph
capture (a tuning run cannot happen inside a capture).

Off by default, because measured on an H200 (docs/nova.md, session 5) this kernel is 0.6-0.94x
cuBLAS's speed at batch 1 and far slower at batch 8, and the attention kernels slower still. A
model turns them on for itself (`TextModel.kernels`, which the engine sets from
`EngineConfig.kernels`, the runtime's `/init` `"kernels": true`) and each call says whether it may
use them (`linear(..., kernels=True)`), so two models in one process can differ.
`linear` falls back to `F.linear` for everything else (CPU tensors, prefill's long sequences,
dtypes other than bf16/fp16, no Triton, or the kernels off), so the CPU path and the tests of the
model are unchanged. `bench/nova_micro.py --parts gemv` measures both on the card and checks the
kernel against `F.linear` there; the tests check it through Triton's interpreter on the CPU.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

try:  # Triton ships with CUDA builds of PyTorch; CPU builds have none
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - depends on the install
    triton = None

MAX_ROWS = 8  # products with more rows than this go to cuBLAS (a real GEMM by then)
_DTYPES = (torch.bfloat16, torch.float16)


def available() -> bool:
    """Whether the kernel can run here: Triton importable, and a GPU or Triton's CPU interpreter."""
    return triton is not None and (torch.cuda.is_available() or interpreting())


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def rows_of(x: torch.Tensor) -> int:
    return x.numel() // x.shape[-1] if x.shape[-1] else 0


def kernels_for(x: torch.Tensor, on: bool) -> bool:
    """Whether the Triton decode kernels (this GEMV, `decode_attn`) may take activations `x`: asked
    for (`on`), Triton present, a half-precision tensor on the GPU (or the CPU under the interpreter)."""
    return on and triton is not None and x.dtype in _DTYPES and (x.is_cuda or interpreting())


def uses_kernel(x: torch.Tensor, weight: torch.Tensor, on: bool = True) -> bool:
    """Whether `linear(x, weight, kernels=on)` goes to the Triton kernel (the switch, shape, dtype
    and device decide, so the choice is static for a CUDA graph or a compiled function)."""
    return (
        kernels_for(x, on)
        and weight.dtype == x.dtype
        and 0 < rows_of(x) <= MAX_ROWS
        and weight.dim() == 2
        and weight.stride(-1) == 1
        and x.shape[-1] == weight.shape[1]
    )


def linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    kernels: bool = False,
    scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """`F.linear(x, weight, bias)`; with `kernels`, a GEMV kernel for a few rows of bf16/fp16 on the
    GPU; with a `scale`, `weight` is e4m3 with that per-row scale (`fp8.fp8_linear`)."""
    if scale is not None:
        from runtimes.vlm.model.fp8 import fp8_linear

        return fp8_linear(x, weight, scale, bias)
    if not uses_kernel(x, weight, kernels):
        return F.linear(x, weight, bias)
    return torch.ops.tango.gemv(x, weight, bias)


if triton is not None:

    def _prune(configs, named_args, **kwargs):
        # Keep the per-thread product tile (B_PAD x BLOCK_N x BLOCK_K / threads) within registers.
        b_pad = kwargs.get("B_PAD", named_args.get("B_PAD", 1))
        kept = [
            c
            for c in configs
            if b_pad * c.kwargs["BLOCK_N"] * c.kwargs["BLOCK_K"] <= 64 * 32 * c.num_warps
        ]
        return kept or configs[:1]

    def _bench(kernel_call, quantiles):
        return triton.testing.do_bench(kernel_call, warmup=5, rep=25, quantiles=quantiles)

    _CONFIGS = [
        triton.Config({"BLOCK_N": n, "BLOCK_K": k}, num_warps=w, num_stages=3)
        for n, k, w in [
            (4, 512, 4),
            (2, 1024, 4),
            (8, 256, 4),
            (8, 512, 4),
            (4, 1024, 8),
            (16, 256, 8),
        ]
    ]
    if os.environ.get("TRITON_INTERPRET") == "1":  # the interpreter runs every config: keep one
        _CONFIGS = _CONFIGS[1:2]

    # The shape is compile-time (a decode step has a handful: one kernel each, tuned once).
    @triton.autotune(
        configs=_CONFIGS,
        key=["N", "K", "B_PAD"],
        prune_configs_by={"early_config_prune": _prune},
        do_bench=_bench,
    )
    @triton.jit
    def _gemv_kernel(
        x_ptr,
        w_ptr,
        bias_ptr,
        y_ptr,
        stride_xb,
        stride_wn,
        stride_yb,
        B: tl.constexpr,
        N: tl.constexpr,
        K: tl.constexpr,
        B_PAD: tl.constexpr,
        HAS_BIAS: tl.constexpr,
        BLOCK_N: tl.constexpr,
        BLOCK_K: tl.constexpr,
    ):
        """y[b, n] = sum_k x[b, k] * w[n, k] (+ bias[n]) for b < B, n in this program's BLOCK_N rows."""
        rn = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
        rb = tl.arange(0, B_PAD)
        n_ok = rn < N
        b_ok = rb < B
        acc = tl.zeros((B_PAD, BLOCK_N), dtype=tl.float32)
        for k0 in range(0, K, BLOCK_K):
            rk = k0 + tl.arange(0, BLOCK_K)
            k_ok = rk < K
            w = tl.load(
                w_ptr + rn[:, None] * stride_wn + rk[None, :],
                mask=n_ok[:, None] & k_ok[None, :],
                other=0.0,
                eviction_policy="evict_first",
            )
            x = tl.load(
                x_ptr + rb[:, None] * stride_xb + rk[None, :],
                mask=b_ok[:, None] & k_ok[None, :],
                other=0.0,
                eviction_policy="evict_last",
            )
            acc += tl.sum(x.to(tl.float32)[:, None, :] * w.to(tl.float32)[None, :, :], axis=2)
        if HAS_BIAS:
            acc += tl.load(bias_ptr + rn, mask=n_ok, other=0.0).to(tl.float32)[None, :]
        tl.store(
            y_ptr + rb[:, None] * stride_yb + rn[None, :],
            acc.to(y_ptr.dtype.element_ty),
            mask=b_ok[:, None] & n_ok[None, :],
        )

    def _launch(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        n, k = weight.shape
        x2 = x.reshape(-1, k)
        if x2.stride(-1) != 1:
            x2 = x2.contiguous()
        b = x2.shape[0]
        y = torch.empty((b, n), dtype=x.dtype, device=x.device)
        b_pad = max(1, triton.next_power_of_2(b))

        def grid(meta):
            return (triton.cdiv(n, meta["BLOCK_N"]),)

        _gemv_kernel[grid](
            x2,
            weight,
            bias if bias is not None else weight,
            y,
            x2.stride(0),
            weight.stride(0),
            y.stride(0),
            B=b,
            N=n,
            K=k,
            B_PAD=b_pad,
            HAS_BIAS=bias is not None,
        )
        return y.reshape(*x.shape[:-1], n)

    @torch.library.custom_op("tango::gemv", mutates_args=())
    def _gemv_op(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return _launch(x, weight, bias)

    @_gemv_op.register_fake
    def _(x, weight, bias):
        return x.new_empty((*x.shape[:-1], weight.shape[0]))
