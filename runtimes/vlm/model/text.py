"""Qwen2 text decoder with M-RoPE: prefill (whole or chunked) and decode over a static KV cache.

gpt-fast style: fused QKV and gate/up projections (one weight read each), SDPA attention, and a
decode step whose shapes depend only on the batch size, so the engine can capture it as a CUDA
graph per batch-size bucket (no `.item()`, no shape-dependent Python branches, the cache and its
key index preallocated). Called through `runtimes.vlm.model.VLM`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from runtimes.vlm.config import TextConfig
from runtimes.vlm.model import rope
from runtimes.vlm.model.kv_cache import KVCache


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in fp32 and scale in the model dtype, as the reference does.
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(x.dtype)


class Attention(nn.Module):
    """Grouped-query attention; q/k/v projected by one fused matmul."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.num_heads, self.num_kv_heads, self.head_dim = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.q_size, self.kv_size = cfg.num_heads * cfg.head_dim, cfg.num_kv_heads * cfg.head_dim
        self.wqkv = nn.Linear(cfg.hidden_size, self.q_size + 2 * self.kv_size, bias=True)
        self.wo = nn.Linear(self.q_size, cfg.hidden_size, bias=False)

    def project(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        """q [B, H, L, hd], k/v [B, KV, L, hd] with M-RoPE applied to q and k."""
        b, n, _ = x.shape
        q, k, v = self.wqkv(x).split([self.q_size, self.kv_size, self.kv_size], dim=-1)
        cos, sin = cos[:, :, None, :], sin[:, :, None, :]
        q = rope.apply_rotary(q.view(b, n, self.num_heads, self.head_dim), cos, sin)
        k = rope.apply_rotary(k.view(b, n, self.num_kv_heads, self.head_dim), cos, sin)
        return q.transpose(1, 2), k.transpose(1, 2), v.view(b, n, self.num_kv_heads, self.head_dim).transpose(1, 2)

    def prefill(self, x, cos, sin, k_cache, v_cache, slot: int, start: int) -> torch.Tensor:
        b, n, _ = x.shape
        end = start + n
        q, k, v = self.project(x, cos, sin)
        k_cache[slot, :, start:end] = k[0]
        v_cache[slot, :, start:end] = v[0]
        rep = self.num_heads // self.num_kv_heads
        keys = k_cache[slot:slot + 1, :, :end].repeat_interleave(rep, dim=1)
        values = v_cache[slot:slot + 1, :, :end].repeat_interleave(rep, dim=1)
        if start == 0:
            out = F.scaled_dot_product_attention(q, keys, values, is_causal=True)
        else:  # a later chunk sees every earlier token and the causal part of itself
            query_pos = torch.arange(start, end, device=x.device)
            mask = torch.arange(end, device=x.device)[None, :] <= query_pos[:, None]
            out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        return self.wo(out.transpose(1, 2).reshape(b, n, self.q_size))

    def decode(self, x, cos, sin, k_cache, v_cache, slots, write_at, mask) -> torch.Tensor:
        b, kv_len = x.shape[0], mask.shape[-1]
        q, k, v = self.project(x, cos, sin)
        k_cache[slots, :, write_at] = k[:, :, 0]
        v_cache[slots, :, write_at] = v[:, :, 0]
        keys = k_cache[:, :, :kv_len].index_select(0, slots)
        values = v_cache[:, :, :kv_len].index_select(0, slots)
        # Fold the query heads that share a KV head into the query-length axis: no K/V repeat.
        rep = self.num_heads // self.num_kv_heads
        q = q.reshape(b, self.num_kv_heads, rep, self.head_dim)
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        return self.wo(out.reshape(b, 1, self.q_size))


class MLP(nn.Module):
    """SwiGLU with the gate and up projections fused into one matmul."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.w_gate_up = nn.Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=False)
        self.w_down = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.w_gate_up(x).chunk(2, dim=-1)
        return self.w_down(F.silu(gate) * up)


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
        self.register_buffer("inv_freq", rope.inv_freq(cfg.head_dim, cfg.rope_theta), persistent=False)

    def cos_sin(self, positions: torch.Tensor, dtype: torch.dtype):
        return rope.mrope_cos_sin(positions, self.inv_freq, self.cfg.mrope_section, dtype)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.norm(x))

    def prefill(self, embeds: torch.Tensor, positions: torch.Tensor, cache: KVCache, slot: int,
                start: int) -> torch.Tensor:
        """Run tokens [start, start + L) of one request (embeds [1, L, D], positions [3, 1, L]);
        write their KV into `slot`; return the last position's logits [1, vocab]."""
        cache.check_slot(slot)
        end = start + embeds.shape[1]
        if end > cache.max_len:
            raise ValueError(f"prefill to token {end} exceeds the KV cache's max_len {cache.max_len}")
        cos, sin = self.cos_sin(positions, embeds.dtype)
        x = embeds
        for i, layer in enumerate(self.layers):
            x = layer.finish(x, layer.attn.prefill(layer.input_layernorm(x), cos, sin, cache.k[i], cache.v[i],
                                                   slot, start))
        return self.logits(x[:, -1])

    def decode(self, tokens: torch.Tensor, positions: torch.Tensor | None, cache: KVCache,
               slots: torch.Tensor, kv_len: int | None = None) -> torch.Tensor:
        """One step for B requests: tokens [B] go into cache slots [B]; returns logits [B, vocab].

        `positions` [3, B] are the tokens' M-RoPE positions; None derives them from the cache
        (length + rope delta of each slot). `kv_len` (static, > every slot's length) bounds the keys
        read per step; default the cache's max_len. Static shapes per (B, kv_len): graph-capturable."""
        b = tokens.shape[0]
        x = self.embed_tokens(tokens)[:, None, :]
        index = cache.lengths.index_select(0, slots)
        if positions is None:
            positions = (index + cache.rope_delta.index_select(0, slots)).expand(3, b)
        cos, sin = self.cos_sin(positions.reshape(3, b, 1), x.dtype)
        kv_len = cache.max_len if kv_len is None else kv_len
        write_at = index.clamp(max=kv_len - 1)  # scratch/padding slots must not write out of bounds
        mask = (cache.key_index[None, :kv_len] <= write_at[:, None])[:, None, None, :]
        for i, layer in enumerate(self.layers):
            x = layer.finish(x, layer.attn.decode(layer.input_layernorm(x), cos, sin, cache.k[i], cache.v[i],
                                                  slots, write_at, mask))
        cache.lengths.index_copy_(0, slots, index + 1)
        return self.logits(x[:, 0])
