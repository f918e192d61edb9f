"""Qwen2-VL dynamic-resolution image preprocessing (CPU, before the vision stage).

A screenshot keeps roughly its aspect ratio and pixel count: `smart_resize` picks the nearest size
whose sides are multiples of patch_size * merge (28) within [min_pixels, max_pixels]; the image is
resized (bicubic), scaled to [0, 1], normalised with the CLIP mean/std, repeated to the temporal
patch size (a still image is a 2-frame clip) and cut into patch rows [N, C*T*P*P] in the
block-major order the vision encoder's merger expects. Called by the runtime server per request.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from runtimes.vlm.config import VisionConfig

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_DEFAULT_VISION = VisionConfig(depth=0, embed_dim=0, num_heads=1, intermediate_size=0, out_hidden=0)


def smart_resize(
    height: int,
    width: int,
    factor: int = 28,
    min_pixels: int = 56 * 56,
    max_pixels: int = 14 * 14 * 4 * 1280,
) -> tuple[int, int]:
    """(height, width), multiples of `factor`, pixel count within [min_pixels, max_pixels]."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"image {width}x{height}: aspect ratio must be below 200")
    h_bar, w_bar = round(height / factor) * factor, round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar, w_bar = (
            math.ceil(height * beta / factor) * factor,
            math.ceil(width * beta / factor) * factor,
        )
    return h_bar, w_bar


def patchify(frames: np.ndarray, cfg: VisionConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames [T, C, H, W] (T a multiple of the temporal patch) -> (pixel_values [N, C*T*P*P], grid_thw [1, 3])."""
    tp, p, m = cfg.temporal_patch_size, cfg.patch_size, cfg.spatial_merge_size
    t, c, h, w = frames.shape
    gt, gh, gw = t // tp, h // p, w // p
    x = frames.reshape(gt, tp, c, gh // m, m, p, gw // m, m, p)
    x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)  # (gt, bh, bw, mh, mw, c, tp, p, p)
    pixel_values = torch.from_numpy(np.ascontiguousarray(x).reshape(gt * gh * gw, c * tp * p * p))
    return pixel_values, torch.tensor([[gt, gh, gw]], dtype=torch.long)


def preprocess_image(
    image: Image.Image,
    min_pixels: int = 56 * 56,
    max_pixels: int = 14 * 14 * 4 * 1280,
    cfg: VisionConfig = _DEFAULT_VISION,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(pixel_values [N, C*T*P*P] float32, grid_thw [1, 3]) for one still image."""
    factor = cfg.patch_size * cfg.spatial_merge_size
    height, width = smart_resize(image.height, image.width, factor, min_pixels, max_pixels)
    rgb = image.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    arr = np.asarray(rgb, dtype=np.float32) / 255.0
    arr = (arr - np.array(CLIP_MEAN, dtype=np.float32)) / np.array(CLIP_STD, dtype=np.float32)
    frames = np.repeat(arr.transpose(2, 0, 1)[None], cfg.temporal_patch_size, axis=0)
    return patchify(frames, cfg)
