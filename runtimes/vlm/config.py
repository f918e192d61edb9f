"""Architecture presets of the Nova VLM (Qwen2-VL module structure).

One typed configuration (`VLMConfig` = `VisionConfig` + `TextConfig` + special token ids) is the
single source of every tensor shape in `runtimes.vlm.model`, the weight loader, the encoder
weight streamer and the engine's KV-cache sizing. `PRESETS` names real model shapes so that
random-weight benchmarks cost what the real model costs; `from_hf_config` reads a Hugging Face
`config.json` (legacy flat layout or transformers-5 nested layout) of a Qwen2-VL checkpoint.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# Qwen2-VL's special tokens (tokenizer.json of Qwen/Qwen2-VL-*-Instruct).
QWEN_SPECIAL_IDS = dict(
    bos_id=151643,
    im_start_id=151644,
    im_end_id=151645,
    eos_id=151645,
    vision_start_id=151652,
    vision_end_id=151653,
    image_pad_id=151655,
)

# Qwen2-VL processor limits (preprocessor_config.json: min_pixels 56*56, max_pixels 12845056).
QWEN_MIN_PIXELS = 56 * 56
QWEN_MAX_PIXELS = 12845056


@dataclass(frozen=True)
class VisionConfig:
    """Vision transformer: patch embedding, `depth` pre-norm blocks with 2-D RoPE, 2x2 merger."""

    depth: int
    embed_dim: int
    num_heads: int
    intermediate_size: int
    out_hidden: int  # merger output width = the text model's hidden size
    patch_size: int = 14
    temporal_patch_size: int = 2
    spatial_merge_size: int = 2
    in_channels: int = 3
    layer_norm_eps: float = 1e-6
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def patch_dim(self) -> int:
        """Length of one flattened patch row of `pixel_values`: C * T * P * P."""
        return self.in_channels * self.temporal_patch_size * self.patch_size**2

    @property
    def merge_dim(self) -> int:
        """Width of one merged token before the merger MLP (spatial_merge_size**2 patches)."""
        return self.embed_dim * self.spatial_merge_size**2

    @property
    def mlp_ratio(self) -> float:
        return self.intermediate_size / self.embed_dim


@dataclass(frozen=True)
class TextConfig:
    """Qwen2 decoder: GQA attention with M-RoPE, RMSNorm, SwiGLU MLP."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    rope_theta: float = 1_000_000.0
    mrope_section: tuple[int, int, int] = (16, 24, 24)
    rms_norm_eps: float = 1e-6
    max_position: int = 32768
    tie_word_embeddings: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def kv_bytes_per_token(self) -> int:
        """KV-cache bytes per token at 2 bytes per element (bf16), all layers, K and V."""
        return 2 * 2 * self.num_layers * self.num_kv_heads * self.head_dim


@dataclass(frozen=True)
class VLMConfig:
    """A whole VLM: vision encoder, text decoder, special tokens and image size limits."""

    name: str
    vision: VisionConfig
    text: TextConfig
    image_pad_id: int = QWEN_SPECIAL_IDS["image_pad_id"]
    vision_start_id: int = QWEN_SPECIAL_IDS["vision_start_id"]
    vision_end_id: int = QWEN_SPECIAL_IDS["vision_end_id"]
    eos_id: int = QWEN_SPECIAL_IDS["eos_id"]
    bos_id: int = QWEN_SPECIAL_IDS["bos_id"]
    im_start_id: int = QWEN_SPECIAL_IDS["im_start_id"]
    im_end_id: int = QWEN_SPECIAL_IDS["im_end_id"]
    min_pixels: int = QWEN_MIN_PIXELS
    max_pixels: int = QWEN_MAX_PIXELS
    notes: str = field(default="", compare=False)

    def special_ids(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in QWEN_SPECIAL_IDS}

    def replace(self, **changes) -> VLMConfig:
        return dataclasses.replace(self, **changes)


def _qwen_vision(out_hidden: int) -> VisionConfig:
    # Qwen2-VL's ViT is the same for 2B/7B/72B; only the merger output width changes.
    return VisionConfig(
        depth=32, embed_dim=1280, num_heads=16, intermediate_size=5120, out_hidden=out_hidden
    )


PRESETS: dict[str, VLMConfig] = {
    # CPU tests: every code path (GQA 2:1, 3-way M-RoPE sections, 2 images) at toy size.
    "tiny": VLMConfig(
        name="tiny",
        vision=VisionConfig(
            depth=2, embed_dim=32, num_heads=2, intermediate_size=64, out_hidden=64
        ),
        text=TextConfig(
            vocab_size=320,
            hidden_size=64,
            intermediate_size=128,
            num_layers=2,
            num_heads=4,
            num_kv_heads=2,
            mrope_section=(2, 3, 3),
            max_position=4096,
        ),
        bos_id=300,
        im_start_id=301,
        im_end_id=302,
        eos_id=302,
        vision_start_id=303,
        vision_end_id=304,
        image_pad_id=305,
        min_pixels=56 * 56,
        max_pixels=112 * 112,
    ),
    # Qwen/Qwen2-VL-2B-Instruct: 2.21 B parameters (tied embeddings).
    "qwen2-vl-2b": VLMConfig(
        name="qwen2-vl-2b",
        vision=_qwen_vision(1536),
        text=TextConfig(
            vocab_size=151936,
            hidden_size=1536,
            intermediate_size=8960,
            num_layers=28,
            num_heads=12,
            num_kv_heads=2,
            tie_word_embeddings=True,
        ),
    ),
    # Qwen/Qwen2-VL-7B-Instruct: 8.29 B parameters.
    "qwen2-vl-7b": VLMConfig(
        name="qwen2-vl-7b",
        vision=_qwen_vision(3584),
        text=TextConfig(
            vocab_size=152064,
            hidden_size=3584,
            intermediate_size=18944,
            num_layers=28,
            num_heads=28,
            num_kv_heads=4,
        ),
    ),
    # CogAgent-9B-like: an EVA2-CLIP-E-sized ViT (63 x 1792, MLP 15360: ~4.3 B params) that dominates the
    # compute, and a GLM-4-9B-sized decoder (40 x 4096, GQA 32/2, FFN 13696). Expressed in the Qwen2-VL
    # module structure (2-D RoPE ViT, 2x2 merger, Qwen2 decoder), not CogAgent's own layers; 1120x1120 input.
    "cogagent-9b": VLMConfig(
        name="cogagent-9b",
        vision=VisionConfig(
            depth=63, embed_dim=1792, num_heads=16, intermediate_size=15360, out_hidden=4096
        ),
        # GLM-4's 151552 tokens, grown to 151680 so the Qwen2-VL special-token ids (up to ~151656) exist.
        text=TextConfig(
            vocab_size=151680,
            hidden_size=4096,
            intermediate_size=13696,
            num_layers=40,
            num_heads=32,
            num_kv_heads=2,
        ),
        max_pixels=1120 * 1120,
        notes="approximation of CogAgent-9B shapes in the Qwen2-VL module structure",
    ),
}


def get_preset(name: str) -> VLMConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown VLM preset {name!r}; known presets: {', '.join(sorted(PRESETS))}"
        ) from None


def _hf_text_section(d: dict) -> dict:
    """The text half of an HF config: nested `text_config` (transformers 5) or the flat legacy layout."""
    text = dict(d)
    text.update(d.get("text_config") or {})
    return text


def _hf_rope(text: dict) -> tuple[float, tuple[int, int, int]]:
    rope = text.get("rope_parameters") or text.get("rope_scaling") or {}
    theta = rope.get("rope_theta", text.get("rope_theta", 1_000_000.0))
    section = tuple(rope.get("mrope_section", (16, 24, 24)))
    if len(section) != 3:
        raise ValueError(
            f"config.json: mrope_section must have 3 entries (t, h, w), got {list(section)}"
        )
    return float(theta), section  # type: ignore[return-value]


def from_hf_config(d: dict, name: str = "checkpoint") -> VLMConfig:
    """Build a `VLMConfig` from a Hugging Face Qwen2-VL `config.json` dict.

    Accepts the legacy flat layout (Hub checkpoints) and the nested `text_config` layout that
    transformers 5 writes. Raises ValueError naming the field when the model type is not Qwen2-VL.
    """
    model_type = d.get("model_type")
    if model_type != "qwen2_vl":
        raise ValueError(
            f"config.json: model_type {model_type!r} is not supported; accepted: 'qwen2_vl' "
            "(Qwen2.5-VL's windowed-attention ViT is not implemented)"
        )
    v, t = d.get("vision_config") or {}, _hf_text_section(d)
    embed_dim = int(v.get("embed_dim", 1280))
    theta, section = _hf_rope(t)
    hidden = int(t["hidden_size"])
    vision_rope = (v.get("rope_parameters") or {}).get("rope_theta", 10000.0)
    vision = VisionConfig(
        depth=int(v.get("depth", 32)),
        embed_dim=embed_dim,
        num_heads=int(v.get("num_heads", 16)),
        intermediate_size=int(embed_dim * v.get("mlp_ratio", 4)),
        out_hidden=int(v.get("hidden_size", hidden)),
        patch_size=int(v.get("patch_size", v.get("spatial_patch_size", 14))),
        temporal_patch_size=int(v.get("temporal_patch_size", 2)),
        spatial_merge_size=int(v.get("spatial_merge_size", 2)),
        in_channels=int(v.get("in_channels", v.get("in_chans", 3))),
        rope_theta=float(vision_rope),
    )
    tie = bool(d.get("tie_word_embeddings", False) or t.get("tie_word_embeddings", False))
    text = TextConfig(
        vocab_size=int(t["vocab_size"]),
        hidden_size=hidden,
        intermediate_size=int(t["intermediate_size"]),
        num_layers=int(t["num_hidden_layers"]),
        num_heads=int(t["num_attention_heads"]),
        num_kv_heads=int(t.get("num_key_value_heads") or t["num_attention_heads"]),
        rope_theta=theta,
        mrope_section=section,
        rms_norm_eps=float(t.get("rms_norm_eps", 1e-6)),
        max_position=int(t.get("max_position_embeddings", 32768)),
        tie_word_embeddings=tie,
    )
    eos = t.get("eos_token_id", d.get("eos_token_id", QWEN_SPECIAL_IDS["eos_id"]))
    eos = eos[0] if isinstance(eos, list) else eos
    return VLMConfig(
        name=name,
        vision=vision,
        text=text,
        image_pad_id=int(d.get("image_token_id", QWEN_SPECIAL_IDS["image_pad_id"])),
        vision_start_id=int(d.get("vision_start_token_id", QWEN_SPECIAL_IDS["vision_start_id"])),
        vision_end_id=int(d.get("vision_end_token_id", QWEN_SPECIAL_IDS["vision_end_id"])),
        eos_id=int(eos if eos is not None else QWEN_SPECIAL_IDS["eos_id"]),
        bos_id=int(t.get("bos_token_id", d.get("bos_token_id")) or QWEN_SPECIAL_IDS["bos_id"]),
    )


def to_hf_config(config: VLMConfig) -> dict:
    """The transformers-5 `config.json` dict of a config (inverse of `from_hf_config`).

    Lets a preset be instantiated as a reference `Qwen2VLForConditionalGeneration` (agreement
    tests, HF baselines) or written next to exported weights."""
    v, t = config.vision, config.text
    if v.intermediate_size % v.embed_dim:
        raise ValueError(
            f"{config.name}: HF Qwen2-VL needs an integer mlp_ratio, got {v.mlp_ratio}"
        )
    return {
        "model_type": "qwen2_vl",
        "architectures": ["Qwen2VLForConditionalGeneration"],
        "image_token_id": config.image_pad_id,
        "vision_start_token_id": config.vision_start_id,
        "vision_end_token_id": config.vision_end_id,
        "tie_word_embeddings": t.tie_word_embeddings,
        "vision_config": {
            "depth": v.depth,
            "embed_dim": v.embed_dim,
            "num_heads": v.num_heads,
            "mlp_ratio": v.intermediate_size // v.embed_dim,
            "hidden_size": v.out_hidden,
            "patch_size": v.patch_size,
            "temporal_patch_size": v.temporal_patch_size,
            "spatial_merge_size": v.spatial_merge_size,
            "in_channels": v.in_channels,
            "rope_parameters": {"rope_type": "axial", "rope_theta": v.rope_theta},
        },
        "text_config": {
            "vocab_size": t.vocab_size,
            "hidden_size": t.hidden_size,
            "intermediate_size": t.intermediate_size,
            "num_hidden_layers": t.num_layers,
            "num_attention_heads": t.num_heads,
            "num_key_value_heads": t.num_kv_heads,
            "rms_norm_eps": t.rms_norm_eps,
            "max_position_embeddings": t.max_position,
            "tie_word_embeddings": t.tie_word_embeddings,
            "bos_token_id": config.bos_id,
            "eos_token_id": config.eos_id,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": t.rope_theta,
                "mrope_section": list(t.mrope_section),
            },
        },
    }
