"""Static, slot-indexed KV cache for the text decoder.

Allocated once for `max_slots` concurrent requests of up to `max_len` tokens each, so decode
steps have fixed shapes and can be captured as CUDA graphs. A request owns one slot from its
prefill until it finishes; `lengths[slot]` is the number of cached tokens and `rope_delta[slot]`
turns a cache index into the token's M-RoPE position (index + delta). The engine owns slot
allocation; batch-size buckets pad their unused entries with a scratch slot it reserves.
"""

from __future__ import annotations

import torch

from runtimes.vlm.config import VLMConfig


class KVCache:
    def __init__(
        self, config: VLMConfig, max_slots: int, max_len: int, device="cpu", dtype=torch.float32
    ):
        t = config.text
        self.max_slots, self.max_len = max_slots, max_len
        # Rows rounded up to a multiple of 128: decode attention works in 128-key blocks.
        shape = (t.num_layers, max_slots, t.num_kv_heads, self.rows(max_len), t.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.lengths = torch.zeros(max_slots, device=device, dtype=torch.long)
        self.rope_delta = torch.zeros(max_slots, device=device, dtype=torch.long)
        # Key indices, kept so decode masks need no per-step allocation outside a graph.
        self.key_index = torch.arange(shape[3], device=device)

    @staticmethod
    def bytes_for(config: VLMConfig, max_slots: int, max_len: int, dtype=torch.bfloat16) -> int:
        """Memory a cache of this size takes, for sizing before allocating."""
        t = config.text
        elem = torch.empty((), dtype=dtype).element_size()
        return (
            2
            * t.num_layers
            * max_slots
            * t.num_kv_heads
            * KVCache.rows(max_len)
            * t.head_dim
            * elem
        )

    @staticmethod
    def rows(max_len: int, block: int = 128) -> int:
        return -(-max_len // block) * block

    def nbytes(self) -> int:
        return self.k.numel() * self.k.element_size() * 2

    def check_slot(self, slot: int) -> None:
        if not 0 <= slot < self.max_slots:
            raise ValueError(
                f"KV slot {slot} out of range: this cache has slots 0..{self.max_slots - 1}"
            )

    def reset(self, slot: int) -> None:
        """Free a slot for the next request (its stale KV is masked out by the length)."""
        self.check_slot(slot)
        self.lengths[slot] = 0
        self.rope_delta[slot] = 0
