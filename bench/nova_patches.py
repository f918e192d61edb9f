"""Two local fixes the Nova GPU benchmarks apply until the owning modules carry them (reported to
the lead); every result JSON lists them under "patches".

- vision attention: `runtimes/vlm/model/vision.py` calls SDPA with 3-D [heads, N, d] tensors;
  PyTorch's flash and memory-efficient kernels take only 4-D input, so on the GPU it falls back
  to the math kernel (fp32, N x N scores): 310 ms instead of ~30 ms for a 5184-patch screenshot
  on the H100. The shim adds the batch axis; same result.
- profiler decode graphs: `runtimes/vlm/profile_stages.py` captures each decode graph from a
  closure whose inputs nothing keeps alive; once the allocator reuses that memory (co-run phase)
  replays index the KV cache with garbage (device-side assert). One kept closure per batch size.
"""
import types

import torch.nn.functional as F

APPLIED: list[str] = []


def _sdpa_4d(q, k, v, *args, **kwargs):
    if q.dim() == 3:
        return F.scaled_dot_product_attention(q[None], k[None], v[None], *args, **kwargs)[0]
    return F.scaled_dot_product_attention(q, k, v, *args, **kwargs)


class _Functional(types.ModuleType):
    """torch.nn.functional with a 4-D SDPA, for the vision module only."""

    def __getattr__(self, name):
        return getattr(F, name)


def vision_flash_attention() -> None:
    from runtimes.vlm.model import vision
    if isinstance(vision.F, _Functional):
        return
    shim = _Functional("F_vision")
    shim.scaled_dot_product_attention = _sdpa_4d
    vision.F = shim
    APPLIED.append("vision SDPA with 4-D inputs (flash/efficient kernels)")


def profiler_keeps_graph_inputs() -> None:
    from runtimes.vlm import profile_stages
    decode = profile_stages.Workloads.decode
    if getattr(decode, "_kept", False):
        return

    def kept_decode(self, batch: int):
        kept = self.__dict__.setdefault("_kept_decode", {})
        if batch not in kept:
            kept[batch] = decode(self, batch)
        return kept[batch]

    kept_decode._kept = True
    profile_stages.Workloads.decode = kept_decode
    APPLIED.append("profiler keeps decode-graph inputs alive")


def apply_all() -> list[str]:
    vision_flash_attention()
    profiler_keeps_graph_inputs()
    return APPLIED


def load_model(preset: str, device: str, dtype):
    """`load_vlm(preset)`, except for presets whose special-token ids lie beyond the vocabulary
    (cogagent-9b: Qwen ids ~151650 with GLM's 151552 tokens), where the embedding lookup of an
    image placeholder faults on the GPU: the vocabulary grows to cover them (+0.07% of its rows)."""
    import dataclasses

    from runtimes.vlm.config import get_preset
    from runtimes.vlm.weights import load_vlm, random_vlm

    cfg = get_preset(preset) if not preset.startswith("/") else None
    if cfg is None or max(cfg.special_ids().values()) < cfg.text.vocab_size:
        return load_vlm(preset, device, dtype, seed=0)[0]
    vocab = max(cfg.special_ids().values()) + 1
    APPLIED.append(f"{preset}: vocab_size {cfg.text.vocab_size} -> {vocab} to hold its special-token ids")
    return random_vlm(cfg.replace(text=dataclasses.replace(cfg.text, vocab_size=vocab)), device, dtype, seed=0)
