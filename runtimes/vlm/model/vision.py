"""Qwen2-VL vision encoder: patch embedding, ViT blocks with 2-D RoPE, 2x2 patch merger.

`VisionEncoder.forward(pixel_values [N, C*T*P*P], grid_thw [n_img, 3]) -> [N / merge**2, out_hidden]`.
The forward is split into `prepare_attention` (positions and attention segments, no weights), the `blocks`
loop and the `merger` so that `runtimes.vlm.offload.StreamedVisionEncoder` can run the very same
block code with weights streamed from host memory. Called by `VLM` and by the engine's vision
stage worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from runtimes.vlm.config import VisionConfig
from runtimes.vlm.model import rope


@dataclass
class VisionAttention:
    """Per-forward inputs shared by every block: rotary tables and per-frame attention segments."""

    cos: torch.Tensor  # [N, head_dim] fp32
    sin: torch.Tensor
    segments: list[int]  # patches per frame; attention never crosses a segment boundary


class PatchEmbed(nn.Module):
    """Conv3d with kernel == stride over one patch is a linear map of the flattened patch."""

    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.proj = nn.Linear(cfg.patch_dim, cfg.embed_dim, bias=False)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.proj(pixel_values.to(self.proj.weight.dtype))


class VisionBlock(nn.Module):
    """Pre-LayerNorm block: bidirectional attention (fused qkv) with 2-D RoPE, quick-GELU MLP."""

    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.num_heads, self.head_dim = cfg.num_heads, cfg.head_dim
        self.norm1 = nn.LayerNorm(cfg.embed_dim, eps=cfg.layer_norm_eps)
        self.norm2 = nn.LayerNorm(cfg.embed_dim, eps=cfg.layer_norm_eps)
        self.qkv = nn.Linear(cfg.embed_dim, 3 * cfg.embed_dim)
        self.proj = nn.Linear(cfg.embed_dim, cfg.embed_dim)
        self.fc1 = nn.Linear(cfg.embed_dim, cfg.intermediate_size)
        self.fc2 = nn.Linear(cfg.intermediate_size, cfg.embed_dim)

    def attention(self, x: torch.Tensor, attn: VisionAttention) -> torch.Tensor:
        n = x.shape[0]
        q, k, v = self.qkv(x).view(n, 3, self.num_heads, self.head_dim).unbind(1)
        cos, sin = attn.cos[:, None, :], attn.sin[:, None, :]
        # Rotate in fp32 like the reference, so bf16 runs see the same rounding.
        q = rope.apply_rotary(q.float(), cos, sin).to(x.dtype).transpose(0, 1)
        k = rope.apply_rotary(k.float(), cos, sin).to(x.dtype).transpose(0, 1)
        v = v.transpose(0, 1)
        # SDPA gets a batch axis: its flash and memory-efficient kernels take only 4-D input, and
        # the math fallback costs ~10x on a GPU for a screenshot's thousands of patches.
        if len(attn.segments) == 1:
            out = F.scaled_dot_product_attention(q[None], k[None], v[None])[0]
        else:
            out = torch.cat(
                [
                    F.scaled_dot_product_attention(qs[None], ks[None], vs[None])[0]
                    for qs, ks, vs in zip(
                        q.split(attn.segments, 1),
                        k.split(attn.segments, 1),
                        v.split(attn.segments, 1),
                        strict=False,
                    )
                ],
                dim=1,
            )
        return self.proj(out.transpose(0, 1).reshape(n, -1))

    def forward(self, x: torch.Tensor, attn: VisionAttention) -> torch.Tensor:
        x = x + self.attention(self.norm1(x), attn)
        h = self.fc1(self.norm2(x))
        return x + self.fc2(h * torch.sigmoid(1.702 * h))


class PatchMerger(nn.Module):
    """LayerNorm, then each merge x merge window of patches concatenated and mapped by a GELU MLP."""

    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.merge_dim = cfg.merge_dim
        self.ln_q = nn.LayerNorm(cfg.embed_dim, eps=cfg.layer_norm_eps)
        self.fc1 = nn.Linear(cfg.merge_dim, cfg.merge_dim)
        self.fc2 = nn.Linear(cfg.merge_dim, cfg.out_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(self.ln_q(x).view(-1, self.merge_dim))))


class VisionEncoder(nn.Module):
    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg)
        self.blocks = nn.ModuleList(VisionBlock(cfg) for _ in range(cfg.depth))
        self.merger = PatchMerger(cfg)

    def forward(self, pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(pixel_values)
        attn = prepare_attention(self.cfg, grid_thw, x)
        for block in self.blocks:
            x = block(x, attn)
        return self.merger(x)


def prepare_attention(
    cfg: VisionConfig, grid_thw: torch.Tensor, x: torch.Tensor
) -> VisionAttention:
    """Rotary tables and attention segments for the patches `x` of a batch of images (no weights)."""
    grid = [[int(v) for v in row] for row in grid_thw.tolist()]
    merge = cfg.spatial_merge_size
    for t, h, w in grid:
        if h % merge or w % merge:
            raise ValueError(
                f"grid_thw row {t}x{h}x{w}: height and width must be multiples of {merge}"
            )
    segments = [h * w for t, h, w in grid for _ in range(t)]
    if sum(segments) != x.shape[0]:
        raise ValueError(
            f"pixel_values has {x.shape[0]} patches but grid_thw describes {sum(segments)}"
        )
    positions = rope.vision_patch_positions(grid, merge).to(x.device)
    cos, sin = rope.vision_cos_sin(positions, cfg.head_dim, cfg.rope_theta)
    return VisionAttention(cos, sin, segments)
