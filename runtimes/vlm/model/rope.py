"""Rotary position embeddings of the Qwen2-VL family, as pure tensor functions.

- Vision: 2-D (row, column) RoPE over the patch grid, patches listed block-major over the
  spatial-merge windows (the order the merger expects).
- Text: M-RoPE. Every token has three positions (temporal, height, width); the rotary
  frequencies are split into `mrope_section` groups, each driven by one of the three axes.
  `mrope_positions` reproduces transformers' `get_rope_index` for image tokens: text tokens
  count up on all three axes, an image block takes (t, row, col) positions offset by the
  running position, and the text after it resumes at start + max(h, w) / merge.

Called by `vision.py` and `text.py`, and by `VLM.build_inputs` (request preparation).
"""

from __future__ import annotations

import torch


def inv_freq(dim: int, theta: float, device=None) -> torch.Tensor:
    """Standard RoPE inverse frequencies for a rotary width `dim` (fp32, length dim // 2)."""
    return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float32, device=device) / dim))


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos + rotate_half(x) * sin


# ---------------------------------------------------------------- vision (2-D)


def vision_patch_positions(grid_thw: list[list[int]], merge: int, device=None) -> torch.Tensor:
    """(row, col) of every patch, block-major over merge x merge windows, frames repeated: [N, 2]."""
    out = []
    for t, h, w in grid_thw:
        hpos = torch.arange(h, device=device)[:, None].expand(h, w)
        wpos = torch.arange(w, device=device)[None, :].expand(h, w)
        shape = (h // merge, merge, w // merge, merge)
        hpos = hpos.reshape(shape).transpose(1, 2).flatten()
        wpos = wpos.reshape(shape).transpose(1, 2).flatten()
        out.append(torch.stack([hpos, wpos], dim=-1).repeat(t, 1))
    return torch.cat(out, dim=0)


def vision_cos_sin(
    positions: torch.Tensor, head_dim: int, theta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """fp32 cos/sin [N, head_dim] for 2-D positions [N, 2]: half the frequencies per axis."""
    freqs = positions[..., None].float() * inv_freq(
        head_dim // 2, theta, positions.device
    )  # [N, 2, hd/4]
    freqs = torch.cat([freqs[:, 0], freqs[:, 1]], dim=-1)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


# ---------------------------------------------------------------- text (M-RoPE)


def mrope_cos_sin(
    positions: torch.Tensor,
    inv_freq_: torch.Tensor,
    section: tuple[int, int, int],
    dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin [B, L, head_dim] from M-RoPE positions [3, B, L]; static shapes (graph-capturable)."""
    freqs = positions[..., None].float() * inv_freq_  # [3, B, L, hd/2]
    parts = freqs.split(list(section), dim=-1)
    freqs = torch.cat([p[i % 3] for i, p in enumerate(parts)], dim=-1)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def mrope_positions(
    input_ids: list[int], grid_thw: list[list[int]], image_pad_id: int, merge: int
) -> tuple[torch.Tensor, int]:
    """M-RoPE positions [3, L] for one sequence, and its rope delta (max position + 1 - L).

    Each maximal run of `image_pad_id` tokens is one image, matched in order with `grid_thw`.
    The delta lets decode derive a generated token's position from its cache index alone.
    """
    runs, i, n = [], 0, len(input_ids)
    while i < n:
        j = i
        is_image = input_ids[i] == image_pad_id
        while j < n and (input_ids[j] == image_pad_id) == is_image:
            j += 1
        runs.append((is_image, j - i))
        i = j
    image_runs = [length for is_image, length in runs if is_image]
    if len(image_runs) != len(grid_thw):
        raise ValueError(
            f"found {len(image_runs)} image-token runs but {len(grid_thw)} grid_thw rows"
        )
    pieces, pos, images = [], 0, iter(grid_thw)
    for is_image, length in runs:
        if not is_image:
            pieces.append(torch.arange(length).expand(3, length) + pos)
            pos += length
            continue
        t, h, w = next(images)
        gh, gw = h // merge, w // merge
        if t * gh * gw != length:
            raise ValueError(
                f"image run of {length} tokens does not match grid {t}x{h}x{w} / merge {merge}"
            )
        tt = torch.arange(t)[:, None, None].expand(t, gh, gw)
        hh = torch.arange(gh)[None, :, None].expand(t, gh, gw)
        ww = torch.arange(gw)[None, None, :].expand(t, gh, gw)
        pieces.append(torch.stack([tt, hh, ww]).reshape(3, -1) + pos)
        pos += max(gh, gw)
    positions = torch.cat(pieces, dim=1) if pieces else torch.zeros(3, 0, dtype=torch.long)
    delta = int(positions.max()) + 1 - n if n else 0
    return positions, delta
