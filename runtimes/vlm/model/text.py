"""Qwen2 text decoder with M-RoPE: prefill (whole or chunked) and decode over a static KV cache.

gpt-fast style: fused QKV and gate/up projections (one weight read each), SDPA attention, and a
decode step whose shapes depend only on the batch size, so the engine can capture it as a CUDA
graph per batch-size bucket (no `.item()`, no shape-dependent Python branches, the cache and its
key index preallocated). Called through `runtimes.vlm.model.VLM`.

A decode step is memory-bound: at batch 1 it should cost little more than reading the weights
once. Eagerly, each layer is ~45 kernels (the norms, M-RoPE, SwiGLU and residuals are chains of
small element-wise kernels), and their launch gaps add up even inside a CUDA graph. The layer's
work around attention is therefore written as two pure functions over tensors, `attn_in` (norm,
QKV projection, M-RoPE) and `attn_out_mlp` (output projection, residual, norm, SwiGLU, residual),
which `TextModel.compile_decode()` hands to `torch.compile` (one compiled graph serves every layer:
the weights are arguments, not captured module state). The KV-cache writes, the gather of each
slot's keys and SDPA stay eager between them. Prefill and the CPU path use the same functions
uncompiled.

The decode step's projections and the logits go through `gemv.linear`, and its attention through
`decode_attn` when the opt-in Triton kernels are on for this model (`TextModel.kernels`, set by
the engine from `EngineConfig.kernels`; see `gemv.py` for why they are off by default); otherwise
`F.linear` and the eager attention above.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from runtimes.vlm.config import TextConfig
from runtimes.vlm.model import decode_attn, gemv, rope
from runtimes.vlm.model.kv_cache import KVCache


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    # Normalise in fp32 and scale in the model dtype, as the reference does.
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return weight * xf.to(x.dtype)


def swiglu(
    x: torch.Tensor,
    w_gate_up: torch.Tensor,
    w_down: torch.Tensor,
    kernels: bool = False,
    s_gate_up: torch.Tensor | None = None,
    s_down: torch.Tensor | None = None,
) -> torch.Tensor:
    gate, up = gemv.linear(x, w_gate_up, kernels=kernels, scale=s_gate_up).chunk(2, dim=-1)
    return gemv.linear(F.silu(gate) * up, w_down, kernels=kernels, scale=s_down)


def qkv_rope(
    h, wqkv, bqkv, cos, sin, heads: tuple[int, int, int], kernels: bool = False, s_qkv=None
):
    """q [B, L, H, hd], k/v [B, L, KV, hd] from normed h [B, L, D]: one fused projection, M-RoPE on q, k.
    A scale `s_qkv` means `wqkv` is e4m3 (`fp8.py`); likewise for the other `s_*` arguments."""
    nh, nkv, hd = heads
    b, n, _ = h.shape
    q, k, v = gemv.linear(h, wqkv, bqkv, kernels=kernels, scale=s_qkv).split(
        [nh * hd, nkv * hd, nkv * hd], dim=-1
    )
    cos, sin = cos[:, :, None, :], sin[:, :, None, :]
    q = rope.apply_rotary(q.view(b, n, nh, hd), cos, sin)
    k = rope.apply_rotary(k.view(b, n, nkv, hd), cos, sin)
    return q, k, v.view(b, n, nkv, hd)


def attn_in(
    x,
    norm_w,
    eps: float,
    wqkv,
    bqkv,
    cos,
    sin,
    heads: tuple[int, int, int],
    kernels: bool = False,
    s_qkv=None,
):
    """Decode, before attention: norm, QKV, M-RoPE. q [B, KV, H/KV, hd] (the query heads sharing a
    KV head folded into the query-length axis: no K/V repeat), k and v [B, KV, hd]."""
    nh, nkv, hd = heads
    q, k, v = qkv_rope(rms_norm(x, norm_w, eps), wqkv, bqkv, cos, sin, heads, kernels, s_qkv)
    return q.reshape(x.shape[0], nkv, nh // nkv, hd), k[:, 0], v[:, 0]


def attn_out_mlp(
    x,
    attn,
    wo,
    norm_w,
    eps: float,
    w_gate_up,
    w_down,
    kernels: bool = False,
    s_o=None,
    s_gate_up=None,
    s_down=None,
):
    """Decode, after attention: output projection and residual, then norm, SwiGLU and residual."""
    x = x + gemv.linear(attn, wo, kernels=kernels, scale=s_o)
    return x + swiglu(rms_norm(x, norm_w, eps), w_gate_up, w_down, kernels, s_gate_up, s_down)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.weight, self.eps)


class Attention(nn.Module):
    """Grouped-query attention; q/k/v projected by one fused matmul."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.num_heads, self.num_kv_heads, self.head_dim = (
            cfg.num_heads,
            cfg.num_kv_heads,
            cfg.head_dim,
        )
        self.q_size, self.kv_size = cfg.num_heads * cfg.head_dim, cfg.num_kv_heads * cfg.head_dim
        self.wqkv = nn.Linear(cfg.hidden_size, self.q_size + 2 * self.kv_size, bias=True)
        self.wo = nn.Linear(self.q_size, cfg.hidden_size, bias=False)

    @property
    def heads(self) -> tuple[int, int, int]:
        return self.num_heads, self.num_kv_heads, self.head_dim

    def project(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        """q [B, H, L, hd], k/v [B, KV, L, hd] with M-RoPE applied to q and k."""
        q, k, v = qkv_rope(x, self.wqkv.weight, self.wqkv.bias, cos, sin, self.heads)
        return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)

    def prefill(self, x, cos, sin, k_cache, v_cache, slot: int, start: int) -> torch.Tensor:
        b, n, _ = x.shape
        end = start + n
        q, k, v = self.project(x, cos, sin)
        k_cache[slot, :, start:end] = k[0]
        v_cache[slot, :, start:end] = v[0]
        rep = self.num_heads // self.num_kv_heads
        keys = k_cache[slot : slot + 1, :, :end].repeat_interleave(rep, dim=1)
        values = v_cache[slot : slot + 1, :, :end].repeat_interleave(rep, dim=1)
        if start == 0:
            out = F.scaled_dot_product_attention(q, keys, values, is_causal=True)
        else:  # a later chunk sees every earlier token and the causal part of itself
            query_pos = torch.arange(start, end, device=x.device)
            mask = torch.arange(end, device=x.device)[None, :] <= query_pos[:, None]
            out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        return self.wo(out.transpose(1, 2).reshape(b, n, self.q_size))


MASKED = -1e30  # additive mask value: finite, so a block of keys that is all masked gives no NaN


def kv_block(kv_len: int, largest: int = 128) -> int:
    """Keys per block of split-KV attention: the largest power of two up to `largest` dividing kv_len."""
    block = largest
    while kv_len % block:
        block //= 2
    return block


def attend(q, k_cache, v_cache, slots, mask) -> torch.Tensor:
    """Decode attention of q [B, KV, rep, hd] over the first kv_len keys of each slot's cache
    (`mask` [B, 1, 1, kv_len], additive) -> [B, 1, H * hd].

    Split-KV ("flash-decoding"): the keys are cut into blocks, each block gives a partial softmax
    (its max, sum and weighted values) and the blocks are combined exactly. A fused attention
    kernel gives a one-token query only a handful of thread blocks (one per KV head), which
    leaves most of the GPU idle for ~40 us a layer; the blocked form spreads the work over
    batch x heads x blocks with two batched matmuls."""
    b, nkv, rep, hd = q.shape
    kv_len = mask.shape[-1]
    block = kv_block(kv_len)
    n = kv_len // block
    keys = k_cache[:, :, :kv_len].index_select(0, slots).view(b, nkv, n, block, hd)
    values = v_cache[:, :, :kv_len].index_select(0, slots).view(b, nkv, n, block, hd)
    scores = (
        torch.matmul(q[:, :, None], keys.transpose(-1, -2)).float() * hd**-0.5
    )  # [B, KV, n, rep, block]
    scores = scores + mask.float().view(b, 1, n, 1, block)
    peak = scores.amax(-1, keepdim=True)
    p = torch.exp(scores - peak)
    part = torch.matmul(p.to(values.dtype), values).float()  # [B, KV, n, rep, hd]
    weight = torch.exp(peak - peak.amax(2, keepdim=True))  # [B, KV, n, rep, 1]
    out = (part * weight).sum(2) / (p.sum(-1, keepdim=True) * weight).sum(2)
    return out.to(q.dtype).reshape(b, 1, nkv * rep * hd)


def decode_attention(
    q, k, v, k_cache, v_cache, slots, write_at, mask, attend_fn=attend
) -> torch.Tensor:
    """Write this step's k/v [B, KV, hd] at `write_at` of each slot, then attend (see `attend`)."""
    k_cache[slots, :, write_at] = k
    v_cache[slots, :, write_at] = v
    return attend_fn(q, k_cache, v_cache, slots, mask)


class MLP(nn.Module):
    """SwiGLU with the gate and up projections fused into one matmul."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.w_gate_up = nn.Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=False)
        self.w_down = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return swiglu(x, self.w_gate_up.weight, self.w_down.weight)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def finish(self, x: torch.Tensor, attn_out: torch.Tensor) -> torch.Tensor:
        x = x + attn_out
        return x + self.mlp(self.post_attention_layernorm(x))


class TextModel(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        self.register_buffer(
            "inv_freq", rope.inv_freq(cfg.head_dim, cfg.rope_theta), persistent=False
        )
        self._attn_in, self._attend, self._attn_out_mlp = (
            attn_in,
            attend,
            attn_out_mlp,
        )  # compile_decode() swaps
        self.decode_compiled = False
        self.kernels = False  # the opt-in Triton decode kernels (gemv, decode_attn) for this model
        self.fp8 = False  # decode projections on e4m3 weights (quantize_fp8; fp8.py)
        self._fp8: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def quantize_fp8(self) -> None:
        """Quantise the decode projections and the LM head to e4m3 with per-row scales (once) and
        decode on them (`fp8 = True`); the bf16 weights stay for prefill."""
        from runtimes.vlm.model.fp8 import configure, quantize_rows

        configure(self.lm_head.weight.device)
        if not self._fp8:
            with torch.no_grad():
                named = {"lm_head": self.lm_head.weight}
                for i, layer in enumerate(self.layers):
                    named[f"{i}.wqkv"] = layer.attn.wqkv.weight
                    named[f"{i}.wo"] = layer.attn.wo.weight
                    named[f"{i}.gate_up"] = layer.mlp.w_gate_up.weight
                    named[f"{i}.down"] = layer.mlp.w_down.weight
                self._fp8 = {k: quantize_rows(w) for k, w in named.items()}
        self.fp8 = True

    def _w(self, key: str, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(weight, scale) the decode step multiplies by: e4m3 and its scales when fp8 is on."""
        return self._fp8[key] if self.fp8 else (weight, None)

    def compile_decode(self, backend: str | None = None) -> bool:
        """Fuse the decode step's element-wise chains with `torch.compile` (on CUDA; returns False and
        stays eager elsewhere unless a `backend` is named, as tests do).

        Compilation happens on the first steps (the engine's graph warm-up), once for the first
        batch size and once more with a dynamic batch axis. Returns whether it is on."""
        if backend is None and self.embed_tokens.weight.device.type != "cuda":
            return False
        if self.decode_compiled:  # one set of compiled functions per model (engines come and go)
            return True
        opts = {"fullgraph": True, **({"backend": backend} if backend else {})}
        self._attn_in = torch.compile(attn_in, **opts)
        self._attend = torch.compile(attend, **opts)
        self._attn_out_mlp = torch.compile(attn_out_mlp, **opts)
        self.decode_compiled = True
        return True

    def eager_decode(self) -> None:
        """Undo `compile_decode` (graphs captured meanwhile keep the kernels they captured)."""
        self._attn_in, self._attend, self._attn_out_mlp = attn_in, attend, attn_out_mlp
        self.decode_compiled = False

    def cos_sin(self, positions: torch.Tensor, dtype: torch.dtype):
        return rope.mrope_cos_sin(positions, self.inv_freq, self.cfg.mrope_section, dtype)

    def logits(self, x: torch.Tensor, decode: bool = False) -> torch.Tensor:
        w, s = self._w("lm_head", self.lm_head.weight) if decode else (self.lm_head.weight, None)
        return gemv.linear(self.norm(x), w, kernels=self.kernels, scale=s)

    def prefill(
        self, embeds: torch.Tensor, positions: torch.Tensor, cache: KVCache, slot: int, start: int
    ) -> torch.Tensor:
        """Run tokens [start, start + L) of one request (embeds [1, L, D], positions [3, 1, L]);
        write their KV into `slot`; return the last position's logits [1, vocab]."""
        cache.check_slot(slot)
        end = start + embeds.shape[1]
        if end > cache.max_len:
            raise ValueError(
                f"prefill to token {end} exceeds the KV cache's max_len {cache.max_len}"
            )
        cos, sin = self.cos_sin(positions, embeds.dtype)
        x = embeds
        for i, layer in enumerate(self.layers):
            x = layer.finish(
                x,
                layer.attn.prefill(
                    layer.input_layernorm(x), cos, sin, cache.k[i], cache.v[i], slot, start
                ),
            )
        return self.logits(x[:, -1])

    def decode(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor | None,
        cache: KVCache,
        slots: torch.Tensor,
        kv_len: int | None = None,
    ) -> torch.Tensor:
        """One step for B requests: tokens [B] go into cache slots [B]; returns logits [B, vocab].

        `positions` [3, B] are the tokens' M-RoPE positions; None derives them from the cache
        (length + rope delta of each slot). `kv_len` (static, > every slot's length) bounds the keys
        read per step; default all the cache's rows (max_len rounded up to a 128-key block). Static shapes per (B, kv_len): graph-capturable."""
        b = tokens.shape[0]
        x = self.embed_tokens(tokens)[:, None, :]
        index = cache.lengths.index_select(0, slots)
        if positions is None:
            positions = (index + cache.rope_delta.index_select(0, slots)).expand(3, b)
        cos, sin = self.cos_sin(positions.reshape(3, b, 1), x.dtype)
        kv_len = cache.k.shape[3] if kv_len is None else kv_len
        write_at = index.clamp(max=kv_len - 1)  # scratch/padding slots must not write out of bounds
        on = self.kernels
        fused = decode_attn.uses_kernel(
            x, cache.k[0], self.cfg.num_heads // self.cfg.num_kv_heads, on
        )
        if (
            not fused
        ):  # additive mask, built once per step (a boolean one is converted in every layer)
            visible = (cache.key_index[None, :kv_len] <= write_at[:, None])[:, None, None, :]
            mask = torch.zeros(visible.shape, dtype=x.dtype, device=x.device).masked_fill_(
                ~visible, MASKED
            )
        for i, layer in enumerate(self.layers):
            a, mlp = layer.attn, layer.mlp
            wqkv, s_qkv = self._w(f"{i}.wqkv", a.wqkv.weight)
            q, k, v = self._attn_in(
                x,
                layer.input_layernorm.weight,
                self.cfg.rms_norm_eps,
                wqkv,
                a.wqkv.bias,
                cos,
                sin,
                a.heads,
                on,
                s_qkv,
            )
            if (
                fused
            ):  # Triton: write and attend in place, reading each slot's rows up to its length
                out = decode_attn.decode_attention(
                    q, k, v, cache.k[i], cache.v[i], slots, write_at, kv_len
                )
            else:
                out = decode_attention(
                    q, k, v, cache.k[i], cache.v[i], slots, write_at, mask, self._attend
                )
            wo, s_o = self._w(f"{i}.wo", a.wo.weight)
            wgu, s_gu = self._w(f"{i}.gate_up", mlp.w_gate_up.weight)
            wd, s_d = self._w(f"{i}.down", mlp.w_down.weight)
            x = self._attn_out_mlp(
                x,
                out,
                wo,
                layer.post_attention_layernorm.weight,
                self.cfg.rms_norm_eps,
                wgu,
                wd,
                on,
                s_o,
                s_gu,
                s_d,
            )
        cache.lengths.index_copy_(0, slots, index + 1)
        return self.logits(x[:, 0], decode=True)
