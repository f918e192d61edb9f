"""Numerical agreement of the Nova VLM with the transformers reference (Qwen2VLForConditionalGeneration).

Both models hold IDENTICAL weights: a seeded tiny HF model's state_dict goes through
`runtimes.vlm.weights.hf_to_native`, the same mapping used for real checkpoints. Compared on CPU in
fp32: M-RoPE positions, vision embeddings, prefill logits and greedy decode steps.
"""

from __future__ import annotations

import pytest
import torch

from runtimes.vlm.config import PRESETS, to_hf_config
from runtimes.vlm.model import VLM, KVCache
from runtimes.vlm.model.rope import mrope_positions
from runtimes.vlm.weights import hf_to_native

transformers = pytest.importorskip("transformers")

TOL = dict(atol=1e-4, rtol=1e-4)
CFG = PRESETS["tiny"]
GRIDS = torch.tensor([[1, 4, 6], [1, 6, 4]])  # two images, landscape and portrait patch grids
DECODE_STEPS = 5


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(1234)
    hf = transformers.Qwen2VLForConditionalGeneration(
        transformers.Qwen2VLConfig(**to_hf_config(CFG))
    ).eval()
    with (
        torch.no_grad()
    ):  # O(1) activations, so that a wrong rotary section or mask moves the logits
        for name, p in hf.named_parameters():
            p.copy_(
                1 + 0.1 * torch.randn_like(p)
                if "norm" in name or "ln_q" in name
                else torch.randn_like(p) / p.shape[-1] ** 0.5
            )
    ours = VLM(CFG).eval()
    ours.load_state_dict(hf_to_native(hf.state_dict(), None, ours))
    return hf, ours


@pytest.fixture(scope="module")
def request_inputs(models):
    _, ours = models
    torch.manual_seed(7)
    n_patches = int(GRIDS.prod(-1).sum())
    pixel_values = torch.randn(n_patches, CFG.vision.patch_dim)
    c = CFG
    prompt = [
        c.im_start_id,
        10,
        11,
        c.vision_start_id,
        c.vision_end_id,
        12,
        13,
        14,
        c.vision_start_id,
        c.vision_end_id,
        15,
        16,
        c.im_end_id,
        c.im_start_id,
        17,
    ]
    n_embeds = sum(ours.image_tokens(GRIDS))
    input_ids, position_ids = ours.build_inputs(prompt, n_embeds, GRIDS)
    return pixel_values, input_ids, position_ids


def test_mrope_positions_match_get_rope_index(models, request_inputs):
    hf, _ = models
    _, input_ids, position_ids = request_inputs
    mm = (input_ids == CFG.image_pad_id).int()
    ref, ref_delta = hf.model.get_rope_index(input_ids, mm, image_grid_thw=GRIDS)
    assert torch.equal(position_ids, ref)
    _, delta = mrope_positions(input_ids[0].tolist(), GRIDS.tolist(), CFG.image_pad_id, 2)
    assert delta == int(ref_delta) and delta != 0


def test_vision_embeddings_agree(models, request_inputs):
    hf, ours = models
    pixel_values, _, _ = request_inputs
    with torch.no_grad():
        ref = hf.model.visual(pixel_values, grid_thw=GRIDS).pooler_output
        got = ours.vision(pixel_values, GRIDS)
    assert got.shape == (int(GRIDS.prod(-1).sum()) // 4, CFG.text.hidden_size)
    torch.testing.assert_close(got, ref, **TOL)


def test_prefill_and_greedy_decode_agree(models, request_inputs):
    hf, ours = models
    pixel_values, input_ids, position_ids = request_inputs
    mm = (input_ids == CFG.image_pad_id).int()
    with torch.no_grad():
        ref = hf.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            pixel_values=pixel_values,
            image_grid_thw=GRIDS,
            mm_token_type_ids=mm,
            max_new_tokens=DECODE_STEPS + 1,
            min_new_tokens=DECODE_STEPS + 1,
            do_sample=False,
            output_logits=True,
            return_dict_in_generate=True,
            pad_token_id=0,
        )
        cache = KVCache(CFG, max_slots=3, max_len=128)
        embeds = ours.vision(pixel_values, GRIDS)
        logits = [ours.prefill(input_ids, position_ids, embeds, cache, slot=1)]
        for _ in range(DECODE_STEPS):
            token = logits[-1].argmax(-1)
            logits.append(ours.decode(token, None, cache, torch.tensor([1])))
    assert len(ref.logits) == DECODE_STEPS + 1
    for step, (got, want) in enumerate(zip(logits, ref.logits, strict=False)):
        torch.testing.assert_close(got, want, **TOL, msg=lambda m, step=step: f"step {step}: {m}")
    generated = torch.stack([lg.argmax(-1) for lg in logits], dim=1)
    assert torch.equal(generated, ref.sequences[:, input_ids.shape[1] :])
