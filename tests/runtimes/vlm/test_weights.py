"""Loading the Nova VLM: HF checkpoint directories (transformers 5 and legacy layouts, sharded), tokenizers,
and seeded random presets. Checkpoints are written by the tests themselves from a tiny HF model."""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import save_file

from runtimes.vlm.config import PRESETS, to_hf_config
from runtimes.vlm.model import KVCache
from runtimes.vlm.tokenizer import SPECIAL_NAMES, ByteTokenizer, HFTokenizer
from runtimes.vlm.weights import load_vlm

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

CFG = PRESETS["tiny"]
GRID = torch.tensor([[1, 4, 4]])


@pytest.fixture(scope="module")
def hf_model():
    torch.manual_seed(99)
    model = transformers.Qwen2VLForConditionalGeneration(
        transformers.Qwen2VLConfig(**to_hf_config(CFG))
    ).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return model


def _write_tokenizer(path: str) -> None:
    """A word-level tokenizer.json whose special tokens land on the tiny preset's ids (300..305)."""
    words = ["[UNK]", "hello", "world", "click", "the", "button", "user", "assistant", "\n"]
    vocab = {w: i for i, w in enumerate(words)}
    vocab.update({f"w{i}": i for i in range(len(words), 300)})
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    specials = [
        "<|endoftext|>",
        "<|im_start|>",
        "<|im_end|>",
        "<|vision_start|>",
        "<|vision_end|>",
        "<|image_pad|>",
    ]
    tok.add_special_tokens([tokenizers.AddedToken(s, special=True) for s in specials])
    tok.save(os.path.join(path, "tokenizer.json"))


@pytest.fixture(scope="module")
def checkpoint(hf_model, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("tiny-qwen2-vl"))
    hf_model.save_pretrained(path)
    _write_tokenizer(path)
    return path


@pytest.fixture(scope="module")
def legacy_sharded_checkpoint(hf_model, tmp_path_factory):
    """transformers-4 names and flat config.json, split over two safetensors shards with an index."""
    path = str(tmp_path_factory.mktemp("legacy-qwen2-vl"))
    state = {
        k.replace("model.language_model.", "model.").replace(
            "model.visual.", "visual."
        ): v.contiguous()
        for k, v in hf_model.state_dict().items()
    }
    names = sorted(state)
    shards = {
        "model-00001-of-00002.safetensors": names[::2],
        "model-00002-of-00002.safetensors": names[1::2],
    }
    for file, keys in shards.items():
        save_file({k: state[k] for k in keys}, os.path.join(path, file))
    with open(os.path.join(path, "model.safetensors.index.json"), "w") as f:
        json.dump({"weight_map": {k: file for file, keys in shards.items() for k in keys}}, f)
    nested = to_hf_config(CFG)
    flat = {**{k: v for k, v in nested.items() if k != "text_config"}, **nested["text_config"]}
    flat["rope_scaling"] = {"type": "mrope", "mrope_section": list(CFG.text.mrope_section)}
    flat["rope_theta"] = flat.pop("rope_parameters")["rope_theta"]
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(flat, f)
    return path


def _reference(hf_model):
    torch.manual_seed(5)
    pixel_values = torch.randn(int(GRID.prod()), CFG.vision.patch_dim)
    prompt = [CFG.vision_start_id, CFG.vision_end_id, 3, 1, 2]
    return pixel_values, prompt


def _prefill_logits(model, pixel_values, prompt):
    with torch.no_grad():
        embeds = model.vision(pixel_values, GRID)
        ids, positions = model.build_inputs(prompt, embeds.shape[0], GRID)
        return model.prefill(ids, positions, embeds, KVCache(model.config, 1, 64), slot=0), ids


@pytest.mark.parametrize("which", ["checkpoint", "legacy_sharded_checkpoint"])
def test_checkpoint_directory_loads_to_the_reference_outputs(request, hf_model, which):
    path = request.getfixturevalue(which)
    model, _ = load_vlm(path, device="cpu", dtype=torch.float32)
    assert model.config.text == CFG.text and model.config.vision == CFG.vision
    pixel_values, prompt = _reference(hf_model)
    logits, ids = _prefill_logits(model, pixel_values, prompt)
    with torch.no_grad():
        want = hf_model(
            input_ids=ids,
            pixel_values=pixel_values,
            image_grid_thw=GRID,
            mm_token_type_ids=(ids == CFG.image_pad_id).int(),
        ).logits[:, -1]
    torch.testing.assert_close(logits, want, atol=1e-4, rtol=1e-4)


def test_checkpoint_loads_in_bfloat16_with_fp32_rotary_tables(checkpoint):
    model, _ = load_vlm(checkpoint, device="cpu", dtype=torch.bfloat16)
    assert model.text.lm_head.weight.dtype == torch.bfloat16
    assert model.text.inv_freq.dtype == torch.float32


def test_checkpoint_tokenizer_json_is_used(checkpoint):
    _, tok = load_vlm(checkpoint)
    assert isinstance(tok, HFTokenizer)
    assert tok.special["image_pad_id"] == CFG.image_pad_id and tok.special["im_start_id"] == 301
    assert tok.decode(tok.encode("click the button")) == "click the button"
    prompt = tok.chat_prompt("click the button")
    start = prompt.index(CFG.vision_start_id)
    assert prompt[0] == 301 and prompt[start + 1] == CFG.vision_end_id


def test_directory_without_weights_is_reported(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(to_hf_config(CFG)))
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_vlm(str(tmp_path))


def test_random_preset_is_seeded_and_gets_the_byte_tokenizer():
    (a, tok), (b, _) = load_vlm("tiny", seed=4), load_vlm("tiny", seed=4)
    c, _ = load_vlm("tiny", seed=5)
    assert all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=False)
    )
    assert not torch.equal(a.text.lm_head.weight, c.text.lm_head.weight)
    assert isinstance(tok, ByteTokenizer)
    ids = tok.chat_prompt("tap «OK»")
    assert tok.decode(ids) == "user\ntap «OK»\nassistant\n"
    assert SPECIAL_NAMES["image_pad_id"] in tok.decode(ids + [CFG.image_pad_id], skip_special=False)
    assert tok.decode([65, 290]) == "A<|290|>"
