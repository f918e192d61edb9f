"""FP8 (e4m3) weights for the decode step's projections: a decode that reads half the bytes.

A batch-1 decode step is a read of every weight once (7B: 14.1 GB in bf16), so storing the
projections (fused QKV, output, gate/up, down, LM head) as float8 e4m3 with one fp32 scale per
output channel halves what the step reads. The product runs as `torch._scaled_mm` on Hopper with
row-wise scales: the activation rows are quantised on the fly (one scale per row, amax / 448), the
weight rows once at start-up (`quantize_rows`), and the result comes back in the model's dtype.
Prefill keeps the bf16 weights (compute-bound: nothing to gain, and its accuracy is the prompt's).

Opt-in per action: `EngineConfig.fp8` / the runtime's `/init` `"fp8": true` calls
`TextModel.quantize_fp8()` before the decode graphs are captured. Where `_scaled_mm` cannot run
(the CPU, a GPU before Hopper, shapes it refuses), `fp8_linear` computes the same quantised
product by dequantising in fp32 (`reference_fp8_linear`), so the numbers, not the speed, are the
same everywhere and can be tested on a CPU. `bench/nova_rounding.py --fp8` compares the logits
with bf16 against the bf16 rounding yardstick; `bench/nova_micro.py --parts fp8` times the step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

E4M3 = torch.float8_e4m3fn
E4M3_MAX = 448.0  # largest finite e4m3fn value


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row symmetric e4m3 quantisation of a 2-D tensor: (q [R, C] e4m3, scale [R, 1] fp32)
    with x ≈ q · scale; an all-zero row gets scale 1."""
    if x.dim() != 2:
        raise ValueError(f"quantize_rows takes a 2-D tensor, got shape {tuple(x.shape)}")
    amax = x.detach().abs().amax(dim=1, keepdim=True).float()
    scale = torch.where(amax > 0, amax / E4M3_MAX, torch.ones_like(amax))
    q = (x.float() / scale).clamp(-E4M3_MAX, E4M3_MAX).to(E4M3)
    return q, scale


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.float() * scale


def reference_fp8_linear(
    x: torch.Tensor, w_q: torch.Tensor, w_scale: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """The quantised product in fp32: activation rows quantised as `_scaled_mm` sees them, both
    operands dequantised, one rounding to x's dtype. The CPU path and the tests' reference."""
    shape = x.shape
    x2 = x.reshape(-1, shape[-1])
    x_q, x_scale = quantize_rows(x2)
    y = dequantize(x_q, x_scale) @ dequantize(w_q, w_scale).t()
    if bias is not None:
        y = y + bias.float()
    return y.to(x.dtype).reshape(*shape[:-1], w_q.shape[0])


_SCALED_MM = False  # set by `configure` (a plain global, so torch.compile reads it as a constant)


def configure(device: torch.device) -> bool:
    """Decide once, outside any traced code, whether this device runs `torch._scaled_mm`
    (CUDA with compute capability >= 8.9: Ada, Hopper). Returns the decision."""
    global _SCALED_MM
    _SCALED_MM = (
        device.type == "cuda"
        and hasattr(torch, "_scaled_mm")
        and torch.cuda.get_device_capability(device) >= (8, 9)
    )
    return _SCALED_MM


def scaled_mm_ok(x: torch.Tensor, w_q: torch.Tensor) -> bool:
    """Whether `torch._scaled_mm` takes this product: a configured device, and the inner and
    output dimensions multiples of 16."""
    n, k = w_q.shape
    return _SCALED_MM and x.is_cuda and k % 16 == 0 and n % 16 == 0


def fp8_linear(
    x: torch.Tensor, w_q: torch.Tensor, w_scale: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """y = x · (w_q · w_scale)ᵀ + bias, with x quantised per row to e4m3: `_scaled_mm` where it
    runs, else `reference_fp8_linear`. `w_q` [N, K] e4m3, `w_scale` [N, 1] fp32."""
    if not scaled_mm_ok(x, w_q):
        return reference_fp8_linear(x, w_q, w_scale, bias)
    shape = x.shape
    x2 = x.reshape(-1, shape[-1])
    m = x2.shape[0]
    pad = -m % 16  # row counts padded to a multiple of 16 (a few rows of zeros at decode sizes)
    if pad:
        x2 = F.pad(x2, (0, 0, 0, pad))
    x_q, x_scale = quantize_rows(x2)
    y = torch._scaled_mm(
        x_q, w_q.t(), scale_a=x_scale, scale_b=w_scale.reshape(1, -1), out_dtype=x.dtype
    )  # w_q.t(): the column-major [K, N] operand _scaled_mm wants, no copy
    if pad:
        y = y[:m]
    if bias is not None:
        y = y + bias
    return y.reshape(*shape[:-1], w_q.shape[0])
