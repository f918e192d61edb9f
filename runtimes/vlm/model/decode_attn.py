"""Decode attention in three Triton kernels a layer, reading each slot's keys in place.

The eager decode attention (`text.decode_attention` → `text.attend`) writes this step's K and V
with two indexing kernels, gathers every slot's first kv_len keys and values into new tensors
(`index_select`), and runs blocked softmax attention over them: about nine kernels a layer, and
all kv_len rows of every slot read (and copied) whatever its length. kv_len is static for a CUDA
graph, so it is the cache's whole length (4096 rows in the engine): at batch 8, ~1.9 GB a step for
7B, a tenth of what the weights cost.

Here, per layer:

1. `_write_kv`: this step's k and v [B, KV, hd] into row `last[b]` of slot `slots[b]` (one launch);
2. `_attn_partial`: grid (B, KV, splits); each program owns SPLIT keys of one slot and KV head,
   reads them straight from the cache (no gather), does an online softmax for the query heads that
   share that KV head (their q rows padded to 16 for `tl.dot`; fp32 throughout: the work is tiny
   beside the reads, and it is what Triton's interpreter computes too), and stores its max, sum
   and weighted values. A program whose keys all lie past the slot's last row returns at once, so
   a step reads what the slots hold, not kv_len rows each;
3. `_attn_combine`: grid (B, KV); merges the splits exactly (flash-decoding) into [B, 1, H * hd].

`text.TextModel.decode` uses them where `uses_kernel` says so (the kernels on, as for the GEMV:
`gemv.kernels_for`) and the eager attention elsewhere. Checked against `text.attend` through the
interpreter (tests/runtimes/vlm/test_gemv.py); on an H200 they were slower (docs/nova.md).
"""

from __future__ import annotations

import torch

from runtimes.vlm.model import gemv

SPLIT = 128  # keys per program (a multiple of BLOCK_T)
BLOCK_T = 64  # keys per inner step


def uses_kernel(x: torch.Tensor, k_cache: torch.Tensor, rep: int, on: bool = True) -> bool:
    """Whether a decode step on activations `x` over cache `k_cache` [slots, KV, rows, hd] with
    `rep` query heads per KV head runs these kernels when asked to (`on`; static per step, as a
    graph needs)."""
    hd = k_cache.shape[-1]
    return (
        gemv.kernels_for(x, on)
        and k_cache.dtype == x.dtype
        and hd >= 16
        and hd & (hd - 1) == 0
        and rep <= 16
        and k_cache.stride(-1) == 1
    )


if gemv.triton is not None:
    import triton
    import triton.language as tl

    @triton.jit
    def _write_kv(
        k_ptr,
        v_ptr,
        kc_ptr,
        vc_ptr,
        slots_ptr,
        last_ptr,
        stride_kb,
        stride_kh,
        stride_cs,
        stride_ch,
        stride_ct,
        HD: tl.constexpr,
    ):
        b, h = tl.program_id(0), tl.program_id(1)
        slot, row = tl.load(slots_ptr + b), tl.load(last_ptr + b)
        rd = tl.arange(0, HD)
        src = b * stride_kb + h * stride_kh + rd
        dst = slot * stride_cs + h * stride_ch + row * stride_ct + rd
        tl.store(kc_ptr + dst, tl.load(k_ptr + src))
        tl.store(vc_ptr + dst, tl.load(v_ptr + src))

    @triton.jit
    def _attn_partial(
        q_ptr,
        kc_ptr,
        vc_ptr,
        slots_ptr,
        last_ptr,
        m_ptr,
        l_ptr,
        o_ptr,
        stride_qb,
        stride_qh,
        stride_qr,
        stride_cs,
        stride_ch,
        stride_ct,
        scale,
        N_SPLITS: tl.constexpr,
        REP: tl.constexpr,
        REP_PAD: tl.constexpr,
        HD: tl.constexpr,
        SPLIT: tl.constexpr,
        BLOCK_T: tl.constexpr,
    ):
        b, h, s = tl.program_id(0), tl.program_id(1), tl.program_id(2)
        kv_heads = tl.num_programs(1)
        slot, last = tl.load(slots_ptr + b), tl.load(last_ptr + b)
        rr, rd = tl.arange(0, REP_PAD), tl.arange(0, HD)
        q = tl.load(
            q_ptr + b * stride_qb + h * stride_qh + rr[:, None] * stride_qr + rd[None, :],
            mask=rr[:, None] < REP,
            other=0.0,
        ).to(tl.float32)
        m_i = tl.full((REP_PAD,), float("-inf"), tl.float32)
        l_i = tl.zeros((REP_PAD,), tl.float32)
        acc = tl.zeros((REP_PAD, HD), tl.float32)
        start = s * SPLIT
        base = slot * stride_cs + h * stride_ch
        if start <= last:  # else: every key of this split lies past the slot's length
            for t0 in tl.static_range(0, SPLIT, BLOCK_T):
                rt = start + t0 + tl.arange(0, BLOCK_T)
                ok = rt <= last
                offs = base + rt[:, None] * stride_ct + rd[None, :]
                k = tl.load(kc_ptr + offs, mask=ok[:, None], other=0.0).to(tl.float32)
                sc = tl.dot(q, tl.trans(k), input_precision="ieee") * scale  # [REP_PAD, BLOCK_T]
                sc = tl.where(ok[None, :], sc, float("-inf"))
                m_new = tl.maximum(m_i, tl.max(sc, 1))  # finite: the split's first key is visible
                p = tl.exp(sc - m_new[:, None])
                alpha = tl.exp(m_i - m_new)
                v = tl.load(vc_ptr + offs, mask=ok[:, None], other=0.0).to(tl.float32)
                acc = acc * alpha[:, None] + tl.dot(p, v, input_precision="ieee")
                l_i = l_i * alpha + tl.sum(p, 1)
                m_i = m_new
        part = (b * kv_heads + h) * N_SPLITS + s
        tl.store(m_ptr + part * REP_PAD + rr, m_i)
        tl.store(l_ptr + part * REP_PAD + rr, l_i)
        tl.store(o_ptr + (part * REP_PAD + rr[:, None]) * HD + rd[None, :], acc)

    @triton.jit
    def _attn_combine(
        m_ptr,
        l_ptr,
        o_ptr,
        out_ptr,
        N_SPLITS: tl.constexpr,
        REP: tl.constexpr,
        REP_PAD: tl.constexpr,
        HD: tl.constexpr,
    ):
        b, h = tl.program_id(0), tl.program_id(1)
        kv_heads = tl.num_programs(1)
        rr, rd = tl.arange(0, REP_PAD), tl.arange(0, HD)
        first = (b * kv_heads + h) * N_SPLITS
        m = tl.full((REP_PAD,), float("-inf"), tl.float32)
        for s in tl.static_range(N_SPLITS):
            m = tl.maximum(m, tl.load(m_ptr + (first + s) * REP_PAD + rr))
        denom = tl.zeros((REP_PAD,), tl.float32)
        acc = tl.zeros((REP_PAD, HD), tl.float32)
        for s in tl.static_range(N_SPLITS):
            ms = tl.load(m_ptr + (first + s) * REP_PAD + rr)
            w = tl.where(
                ms == float("-inf"), 0.0, tl.exp(ms - m)
            )  # a split past the length weighs 0
            denom += w * tl.load(l_ptr + (first + s) * REP_PAD + rr)
            acc += w[:, None] * tl.load(
                o_ptr + ((first + s) * REP_PAD + rr[:, None]) * HD + rd[None, :]
            )
        out = acc / denom[:, None]
        dst = out_ptr + (b * kv_heads + h) * REP * HD + rr[:, None] * HD + rd[None, :]
        tl.store(dst, out.to(out_ptr.dtype.element_ty), mask=rr[:, None] < REP)

    def _run(q, k, v, k_cache, v_cache, slots, last, kv_len: int) -> torch.Tensor:
        b, nkv, rep, hd = q.shape
        rep_pad = max(16, triton.next_power_of_2(rep))
        n_splits = -(-kv_len // SPLIT)
        k, v = k.contiguous(), v.contiguous()
        slots, last = slots.contiguous(), last.contiguous()
        _write_kv[(b, nkv)](
            k,
            v,
            k_cache,
            v_cache,
            slots,
            last,
            k.stride(0),
            k.stride(1),
            k_cache.stride(0),
            k_cache.stride(1),
            k_cache.stride(2),
            HD=hd,
        )
        m = torch.empty((b, nkv, n_splits, rep_pad), device=q.device, dtype=torch.float32)
        l_ = torch.empty_like(m)
        o = torch.empty((b, nkv, n_splits, rep_pad, hd), device=q.device, dtype=torch.float32)
        _attn_partial[(b, nkv, n_splits)](
            q,
            k_cache,
            v_cache,
            slots,
            last,
            m,
            l_,
            o,
            q.stride(0),
            q.stride(1),
            q.stride(2),
            k_cache.stride(0),
            k_cache.stride(1),
            k_cache.stride(2),
            hd**-0.5,
            N_SPLITS=n_splits,
            REP=rep,
            REP_PAD=rep_pad,
            HD=hd,
            SPLIT=SPLIT,
            BLOCK_T=BLOCK_T,
            num_warps=4,
        )
        out = torch.empty((b, 1, nkv * rep * hd), device=q.device, dtype=q.dtype)
        _attn_combine[(b, nkv)](
            m, l_, o, out, N_SPLITS=n_splits, REP=rep, REP_PAD=rep_pad, HD=hd, num_warps=4
        )
        return out

    @torch.library.custom_op("tango::decode_attention", mutates_args=("k_cache", "v_cache"))
    def _decode_attention_op(
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
        slots: torch.Tensor,
        last: torch.Tensor,
        kv_len: int,
    ) -> torch.Tensor:
        return _run(q, k, v, k_cache, v_cache, slots, last, kv_len)

    @_decode_attention_op.register_fake
    def _(q, k, v, k_cache, v_cache, slots, last, kv_len):
        b, nkv, rep, hd = q.shape
        return q.new_empty((b, 1, nkv * rep * hd))


def decode_attention(q, k, v, k_cache, v_cache, slots, last, kv_len: int) -> torch.Tensor:
    """Write k, v [B, KV, hd] at row `last[b]` of slot `slots[b]`, then attend q [B, KV, rep, hd]
    over rows 0..last[b] of that slot -> [B, 1, H * hd]. `kv_len` bounds the rows (static)."""
    return torch.ops.tango.decode_attention(q, k, v, k_cache, v_cache, slots, last, kv_len)
