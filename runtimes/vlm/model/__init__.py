"""The Nova VLM: a Qwen2-VL-family model in plain PyTorch (gpt-fast style).

`VLM` joins the vision encoder (`vision.py`) and the M-RoPE text decoder (`text.py`) and gives the
engine's stage workers their three entry points:

- vision stage:  `vlm.vision(pixel_values, grid_thw) -> image_embeds`
- prefill stage: `input_ids, position_ids = vlm.build_inputs(prompt_ids, n_embeds, grid_thw)`, then
  `vlm.prefill(input_ids, position_ids, image_embeds, cache, slot)` (or `prefill_chunk` piecewise)
- decode stage:  `vlm.decode(tokens, None, cache, slots)` over the static `KVCache`.

Weights come from `runtimes.vlm.weights.load_vlm`.
"""

from __future__ import annotations

import torch
from torch import nn

from runtimes.vlm.config import VLMConfig
from runtimes.vlm.model.kv_cache import KVCache
from runtimes.vlm.model.rope import mrope_positions
from runtimes.vlm.model.text import TextModel
from runtimes.vlm.model.vision import VisionEncoder

__all__ = ["VLM", "KVCache", "VisionEncoder", "TextModel"]


def _grid_rows(grid_thw) -> list[list[int]]:
    if grid_thw is None:
        return []
    rows = grid_thw.tolist() if isinstance(grid_thw, torch.Tensor) else list(grid_thw)
    return [[int(v) for v in row] for row in rows]


class VLM(nn.Module):
    def __init__(self, config: VLMConfig):
        super().__init__()
        self.config = config
        self.vision = VisionEncoder(config.vision)
        self.text = TextModel(config.text)

    # ------------------------------------------------------------ request preparation
    def image_tokens(self, grid_thw) -> list[int]:
        """Number of LLM tokens (merged patches) each image becomes."""
        m2 = self.config.vision.spatial_merge_size**2
        return [t * h * w // m2 for t, h, w in _grid_rows(grid_thw)]

    def build_inputs(
        self, prompt_ids: list[int], image_embeds_count: int, grid_thw
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids [1, L] with image-pad runs expanded, and their M-RoPE positions [3, 1, L].

        Each `vision_start, vision_end` pair in `prompt_ids` receives the next image's pad tokens;
        images without a pair are placed as `vision_start pads vision_end` before the prompt."""
        c = self.config
        counts = self.image_tokens(grid_thw)
        if sum(counts) != image_embeds_count:
            raise ValueError(
                f"grid_thw describes {sum(counts)} image tokens but {image_embeds_count} embeddings "
                "were given"
            )
        ids, remaining = [], list(counts)
        for i, tok in enumerate(prompt_ids):
            ids.append(tok)
            if (
                tok == c.vision_start_id
                and i + 1 < len(prompt_ids)
                and prompt_ids[i + 1] == c.vision_end_id
            ):
                if not remaining:
                    raise ValueError("prompt has more vision_start/vision_end pairs than images")
                ids.extend([c.image_pad_id] * remaining.pop(0))
        prefix = [
            t
            for n in remaining
            for t in [c.vision_start_id] + [c.image_pad_id] * n + [c.vision_end_id]
        ]
        ids = prefix + ids
        positions, _ = mrope_positions(
            ids, _grid_rows(grid_thw), c.image_pad_id, c.vision.spatial_merge_size
        )
        return torch.tensor([ids], dtype=torch.long), positions[:, None, :]

    def embed(
        self, input_ids: torch.Tensor, image_embeds: torch.Tensor | None, start: int, end: int
    ) -> torch.Tensor:
        """Token embeddings [1, end - start, D] of a span, image-pad rows replaced by image embeddings."""
        ids = input_ids[:, start:end]
        x = self.text.embed_tokens(ids)
        is_pad = ids[0] == self.config.image_pad_id
        n = int(is_pad.sum())
        if n:
            before = int((input_ids[0, :start] == self.config.image_pad_id).sum())
            if image_embeds is None or image_embeds.shape[0] < before + n:
                have = 0 if image_embeds is None else image_embeds.shape[0]
                raise ValueError(
                    f"input has {before + n} image-pad tokens up to {end} but {have} image embeddings"
                )
            x[0, is_pad] = image_embeds[before : before + n].to(device=x.device, dtype=x.dtype)
        return x

    # ------------------------------------------------------------ stages
    def prefill(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        image_embeds: torch.Tensor | None,
        cache: KVCache,
        slot: int,
        start: int = 0,
        end: int | None = None,
    ) -> torch.Tensor:
        """Prefill tokens [start, end) of one request into `slot`; logits [1, vocab] of token end-1.

        `input_ids` [1, L] and `position_ids` [3, 1, L] (or [3, L]) are the whole request as built by
        `build_inputs`; `image_embeds` are all its image embeddings. With start=0 and end=L this is a
        whole prefill; successive [start, end) spans give chunked prefill with identical results."""
        device = self.text.embed_tokens.weight.device
        input_ids = input_ids.reshape(1, -1).to(device)
        position_ids = position_ids.reshape(3, 1, -1).to(device)
        total = input_ids.shape[1]
        end = total if end is None else end
        if not 0 <= start < end <= total:
            raise ValueError(
                f"prefill span [{start}, {end}) is not inside the request's {total} tokens"
            )
        if start and start != int(cache.lengths[slot]):  # start 0 begins a new request in the slot
            raise ValueError(
                f"prefill chunk starts at {start} but slot {slot} holds {int(cache.lengths[slot])} tokens"
            )
        x = self.embed(input_ids, image_embeds, start, end)
        logits = self.text.prefill(x, position_ids[:, :, start:end], cache, slot, start)
        cache.lengths[slot] = end
        cache.rope_delta[slot] = int(position_ids.max()) + 1 - total
        return logits

    def prefill_chunk(
        self,
        input_ids,
        position_ids,
        image_embeds,
        cache: KVCache,
        slot: int,
        start: int,
        end: int | None = None,
    ) -> torch.Tensor:
        """One chunk of a chunked prefill (the `chunk` policy's token budget); see `prefill`."""
        return self.prefill(input_ids, position_ids, image_embeds, cache, slot, start, end)

    def decode(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor | None,
        cache: KVCache,
        slots: torch.Tensor,
        kv_len: int | None = None,
    ) -> torch.Tensor:
        """One decode step for B requests in cache `slots`; see `TextModel.decode`."""
        return self.text.decode(tokens, positions, cache, slots, kv_len)
