"""Building a `VLM` with weights: a Hugging Face checkpoint directory, or random real-shape weights.

`load_vlm(preset_or_path, device, dtype)` is what the runtime's `/init` calls. A directory must
hold `config.json` and `model.safetensors` (or a sharded `model.safetensors.index.json`), in the
Hugging Face Qwen2-VL layout of either transformers 4 (`model.layers.*`, `visual.*`) or 5
(`model.language_model.*`, `model.visual.*`); `tokenizer.json` is used when present. Anything else
is a preset name from `runtimes.vlm.config.PRESETS`, built with seeded random weights.
`hf_to_native` is the one name/shape mapping, used for real checkpoints and in the agreement
test against transformers.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import torch

from runtimes.vlm.config import VLMConfig, from_hf_config, get_preset
from runtimes.vlm.model import VLM, rope
from runtimes.vlm.tokenizer import load_tokenizer

# native parameter name -> HF names (canonical: visual.*, language_model.*, lm_head.*). Several HF
# names are concatenated along dim 0 (fused projections).
_RULES: list[tuple[str, list[str]]] = [
    (r"vision\.patch_embed\.proj\.weight", ["visual.patch_embed.proj.weight"]),
    (r"vision\.blocks\.(\d+)\.(qkv|proj)\.(weight|bias)", [r"visual.blocks.\1.attn.\2.\3"]),
    (r"vision\.blocks\.(\d+)\.(fc1|fc2)\.(weight|bias)", [r"visual.blocks.\1.mlp.\2.\3"]),
    (r"vision\.blocks\.(\d+)\.(norm1|norm2)\.(weight|bias)", [r"visual.blocks.\1.\2.\3"]),
    (r"vision\.merger\.ln_q\.(weight|bias)", [r"visual.merger.ln_q.\1"]),
    (r"vision\.merger\.fc1\.(weight|bias)", [r"visual.merger.mlp.0.\1"]),
    (r"vision\.merger\.fc2\.(weight|bias)", [r"visual.merger.mlp.2.\1"]),
    (r"text\.embed_tokens\.weight", ["language_model.embed_tokens.weight"]),
    (r"text\.norm\.weight", ["language_model.norm.weight"]),
    (r"text\.lm_head\.weight", ["lm_head.weight"]),
    (
        r"text\.layers\.(\d+)\.attn\.wqkv\.(weight|bias)",
        [rf"language_model.layers.\1.self_attn.{p}_proj.\2" for p in "qkv"],
    ),
    (
        r"text\.layers\.(\d+)\.attn\.wo\.weight",
        [r"language_model.layers.\1.self_attn.o_proj.weight"],
    ),
    (
        r"text\.layers\.(\d+)\.mlp\.w_gate_up\.weight",
        [
            r"language_model.layers.\1.mlp.gate_proj.weight",
            r"language_model.layers.\1.mlp.up_proj.weight",
        ],
    ),
    (
        r"text\.layers\.(\d+)\.mlp\.w_down\.weight",
        [r"language_model.layers.\1.mlp.down_proj.weight"],
    ),
    (
        r"text\.layers\.(\d+)\.(input_layernorm|post_attention_layernorm)\.weight",
        [r"language_model.layers.\1.\2.weight"],
    ),
]

# Where each canonical prefix lives in transformers 5 and in transformers 4 checkpoints.
_PREFIXES = {
    "visual.": ("model.visual.", "visual."),
    "language_model.": ("model.language_model.", "model."),
    "lm_head.": ("lm_head.",),
}


def hf_sources(native_name: str) -> list[str]:
    """Canonical HF names that make up one native parameter."""
    for pattern, templates in _RULES:
        m = re.fullmatch(pattern, native_name)
        if m:
            return [m.expand(t) for t in templates]
    raise KeyError(f"no Hugging Face mapping for parameter {native_name!r}")


def _resolve(canonical: str, keys: set[str]) -> str | None:
    for short, options in _PREFIXES.items():
        if canonical.startswith(short):
            for prefix in options:
                if prefix + canonical[len(short) :] in keys:
                    return prefix + canonical[len(short) :]
    return None


def hf_to_native(
    get: Callable[[str], torch.Tensor] | Mapping[str, torch.Tensor],
    keys: set[str] | None,
    model: VLM,
) -> dict[str, torch.Tensor]:
    """State dict for `model` from HF tensors (`get(name)`, or a mapping such as an HF state_dict).

    Raises KeyError naming the missing HF tensors. Tied output embeddings may be absent."""
    if isinstance(get, Mapping):
        keys, mapping = set(get), get
        get = mapping.__getitem__
    if keys is None:
        raise TypeError(
            "hf_to_native needs the checkpoint's tensor names (keys) with a get function"
        )
    out: dict[str, torch.Tensor] = {}
    missing: list[str] = []
    tied = model.config.text.tie_word_embeddings
    for name, param in model.state_dict(keep_vars=True).items():
        if name == "text.inv_freq":
            continue
        sources = [(_resolve(c, keys), c) for c in hf_sources(name)]
        if name == "text.lm_head.weight" and tied and sources[0][0] is None:
            sources = [
                (
                    _resolve("language_model.embed_tokens.weight", keys),
                    "language_model.embed_tokens.weight",
                )
            ]
        found = [k for k, _ in sources if k is not None]
        if len(found) < len(sources):
            missing.extend(c for k, c in sources if k is None)
            continue
        tensor = torch.cat([get(k) for k in found], dim=0) if len(found) > 1 else get(found[0])
        out[name] = tensor.reshape(param.shape)  # Conv3d patch kernel -> Linear
    if missing:
        raise KeyError(f"checkpoint lacks {len(missing)} tensors, e.g. {missing[:3]}")
    return out


# ---------------------------------------------------------------- building


def _finish(model: VLM, device) -> VLM:
    """Recreate fp32 non-persistent buffers on the device and restore weight tying."""
    cfg = model.config.text
    model.text.inv_freq = rope.inv_freq(cfg.head_dim, cfg.rope_theta, device=device)
    if cfg.tie_word_embeddings:
        model.text.lm_head.weight = model.text.embed_tokens.weight
    return model.eval().requires_grad_(False)


def meta_vlm(config: VLMConfig) -> VLM:
    """The model's structure without memory: for counting parameters and sizing buffers."""
    with torch.device("meta"):
        return VLM(config)


def count_params(config: VLMConfig) -> dict[str, int]:
    """Parameter counts (total, vision, text; tied weights counted once), computed on 'meta'."""
    model = meta_vlm(config)
    vision = sum(p.numel() for p in model.vision.parameters())
    text = sum(p.numel() for p in model.text.parameters())
    return {"total": vision + text, "vision": vision, "text": text}


def random_vlm(config: VLMConfig, device="cpu", dtype=torch.float32, seed: int = 0) -> VLM:
    """Real shapes, seeded random weights (normal std 0.02, norms 1, biases 0): real compute cost."""
    model = meta_vlm(config).to(dtype).to_empty(device=device)
    gen = torch.Generator(device=device).manual_seed(seed)
    for name, p in model.named_parameters():
        if name.endswith(".bias"):
            p.data.zero_()
        elif "norm" in name or "ln_q" in name:
            p.data.fill_(1.0)
        else:
            p.data.normal_(0.0, 0.02, generator=gen)
    return _finish(model, device)


def _checkpoint_reader(path: str):
    """(get, keys) over the safetensors file(s) of a checkpoint directory, read lazily."""
    from safetensors import safe_open

    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            where = {k: os.path.join(path, v) for k, v in json.load(f)["weight_map"].items()}
    else:
        single = os.path.join(path, "model.safetensors")
        if not os.path.exists(single):
            raise FileNotFoundError(f"{path}: no model.safetensors or model.safetensors.index.json")
        with safe_open(single, framework="pt") as f:
            where = {k: single for k in f.keys()}
    handles: dict[str, Any] = {}  # safetensors handles (the package ships no types)

    def get(key: str) -> torch.Tensor:
        file = where[key]
        if file not in handles:
            handles[file] = safe_open(file, framework="pt")
        return handles[file].get_tensor(key)

    return get, set(where)


def load_checkpoint(path: str, device="cpu", dtype=torch.float32) -> VLM:
    """A `VLM` from a Hugging Face Qwen2-VL checkpoint directory."""
    config_file = os.path.join(path, "config.json")
    if not os.path.exists(config_file):
        raise FileNotFoundError(
            f"{path}: no config.json (expected a Hugging Face Qwen2-VL checkpoint directory)"
        )
    with open(config_file) as f:
        config = from_hf_config(json.load(f), name=os.path.basename(os.path.normpath(path)))
    model = meta_vlm(config).to(dtype)
    get, keys = _checkpoint_reader(path)
    converted = {
        k: v.to(device=device, dtype=dtype) for k, v in hf_to_native(get, keys, model).items()
    }
    model.load_state_dict(converted, assign=True)
    return _finish(model, device)


def load_vlm(preset_or_path: str, device="cpu", dtype=torch.float32, seed: int = 0):
    """(VLM, tokenizer): a checkpoint directory when `preset_or_path` is one, else a random preset."""
    if os.path.isdir(preset_or_path):
        model = load_checkpoint(preset_or_path, device, dtype)
        return model, load_tokenizer(model.config, preset_or_path)
    config = get_preset(preset_or_path)
    return random_vlm(config, device, dtype, seed), load_tokenizer(config, None)
