"""Qwen2-VL image preprocessing: smart_resize, normalisation and patch order, against transformers' processor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from runtimes.vlm.config import PRESETS
from runtimes.vlm.preprocess import preprocess_image, smart_resize

pil_processor = pytest.importorskip("transformers.models.qwen2_vl.image_processing_pil_qwen2_vl")


def _screenshot(width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(width * 7 + height)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    "width,height,max_pixels", [(500, 300, 200 * 200), (390, 844, 300 * 300), (60, 40, 10**6)]
)
def test_matches_the_transformers_image_processor(width, height, max_pixels):
    image = _screenshot(width, height)
    proc = pil_processor.Qwen2VLImageProcessorPil(
        size={"shortest_edge": 56 * 56, "longest_edge": max_pixels}
    )
    want = proc(images=[image], return_tensors="pt")
    pixel_values, grid = preprocess_image(image, 56 * 56, max_pixels)
    assert torch.equal(grid, want["image_grid_thw"])
    torch.testing.assert_close(pixel_values, want["pixel_values"], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "h,w,lo,hi", [(756, 1344, 3136, 12845056), (2532, 1170, 3136, 1003520), (20, 30, 3136, 10**6)]
)
def test_smart_resize_keeps_multiples_of_28_within_the_pixel_budget(h, w, lo, hi):
    rh, rw = smart_resize(h, w, 28, lo, hi)
    assert rh % 28 == 0 and rw % 28 == 0 and lo <= rh * rw <= hi
    assert abs(rh / rw - h / w) / (h / w) < 0.1


def test_desktop_screenshot_grid():
    # 1344x756 is already a multiple of 28: 54 x 96 patches, 1296 LLM tokens (the GPU probe's workload, docs/design.md §8.2).
    _, grid = preprocess_image(
        _screenshot(1344, 756), max_pixels=12845056, cfg=PRESETS["qwen2-vl-7b"].vision
    )
    assert grid.tolist() == [[1, 54, 96]]


def test_extreme_aspect_ratio_is_rejected():
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(10, 3000)
