"""Encoder weight streaming: bit-identical output to the resident encoder, and the GPU memory it saves."""

from __future__ import annotations

import pytest
import torch

from runtimes.vlm.config import PRESETS
from runtimes.vlm.offload import StreamedVisionEncoder, resident_weight_bytes, streamed_weight_bytes
from runtimes.vlm.weights import random_vlm

CFG = PRESETS["tiny"].replace(
    vision=PRESETS["tiny"].vision.__class__(
        depth=5, embed_dim=32, num_heads=2, intermediate_size=64, out_hidden=64
    )
)


def _encoder():
    vision = random_vlm(CFG, seed=3).vision
    with torch.no_grad():  # distinct, non-trivial weights in every block
        for p in vision.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return vision


def _images():
    torch.manual_seed(0)
    grids = torch.tensor([[1, 4, 4], [1, 2, 6]])
    return torch.randn(int(grids.prod(-1).sum()), CFG.vision.patch_dim), grids


@pytest.mark.parametrize("slots", [2, 3])
def test_streamed_encoder_is_bit_identical_on_cpu(slots):
    encoder = _encoder()
    pixel_values, grids = _images()
    with torch.no_grad():
        want = encoder(pixel_values, grids)
    streamed = StreamedVisionEncoder(encoder, slots=slots, device="cpu")
    for _ in range(2):  # the second call starts from blocks prefetched by the first
        assert torch.equal(streamed(pixel_values, grids), want)


def test_streamed_encoder_uses_its_host_copy_not_the_source():
    encoder = _encoder()
    pixel_values, grids = _images()
    streamed = StreamedVisionEncoder(encoder, slots=2, device="cpu")
    with torch.no_grad():
        want = encoder(pixel_values, grids)
        for p in encoder.parameters():
            p.zero_()
    assert torch.equal(streamed(pixel_values, grids), want)
    assert streamed.resident_bytes() < streamed.host_bytes()


def test_resident_bytes_matches_the_shape_formula():
    streamed = StreamedVisionEncoder(_encoder(), slots=2, device="cpu")
    assert streamed.resident_bytes() == streamed_weight_bytes(CFG.vision, 2, torch.float32)


@pytest.mark.parametrize("preset", ["qwen2-vl-7b", "cogagent-9b"])
def test_two_slots_save_at_least_90_percent_of_vision_weight_memory(preset):
    vision = PRESETS[preset].vision
    full = resident_weight_bytes(vision, torch.bfloat16)
    streamed = streamed_weight_bytes(vision, 2, torch.bfloat16)
    assert streamed <= 0.10 * full, (
        f"{preset}: {streamed / 2**20:.0f} MiB of {full / 2**20:.0f} MiB"
    )


def test_slot_count_is_checked():
    with pytest.raises(ValueError, match="slots must be between 2"):
        StreamedVisionEncoder(_encoder(), slots=1, device="cpu")


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (run by the engine helper)"
)
def test_streamed_encoder_is_bit_identical_on_cuda():
    encoder = _encoder().to("cuda", torch.bfloat16)
    pixel_values, grids = _images()
    with torch.no_grad():
        want = encoder(pixel_values.cuda(), grids)
    streamed = StreamedVisionEncoder(encoder.cpu(), slots=2, device="cuda")
    for _ in range(3):
        assert torch.equal(streamed(pixel_values.cuda(), grids), want)
