"""Vision-encoder weight streaming (Nova §5): encoder weights in pinned host memory, K GPU slots.

`StreamedVisionEncoder(encoder, slots=K, device)` has the `VisionEncoder` forward signature and
output (bit for bit: the very same block code runs on the very same weights, only their storage
moves). Every block's weights are one flat pinned host buffer; the GPU holds an *arena* of K
block-sized slots (block i computes from slot i mod K). A dedicated copy stream prefetches block
i + K - 1 while block i computes, with CUDA events both ways: copy-done before compute reads a
slot, compute-done before a copy overwrites it. The merger (bigger than a block in Qwen2-VL)
streams into the same arena after the last block; the patch embedding stays resident (tiny).
After each forward the first K - 1 blocks are prefetched for the next request.

On CPU the same schedule runs with synchronous copies (tests). The engine's vision stage worker
calls it on its partition's stream; `resident_bytes()` is what `/metrics` reports.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from runtimes.vlm.config import VisionConfig
from runtimes.vlm.model.vision import (
    PatchEmbed,
    PatchMerger,
    VisionBlock,
    VisionEncoder,
    prepare_attention,
)

_ALIGN_BYTES = 256  # every tensor in a flat buffer starts 256-byte aligned, like a fresh allocation


@dataclass(frozen=True)
class FlatLayout:
    """Where each parameter of a module lives inside one flat buffer (element offsets)."""

    entries: tuple[tuple[str, torch.Size, int], ...]
    numel: int

    @classmethod
    def of(cls, module: nn.Module, elem_size: int) -> FlatLayout:
        align, offset, entries = max(1, _ALIGN_BYTES // elem_size), 0, []
        for name, p in module.named_parameters():
            entries.append((name, p.shape, offset))
            offset += -(-p.numel() // align) * align
        return cls(tuple(entries), offset)

    def pack(self, module: nn.Module, flat: torch.Tensor) -> None:
        params = dict(module.named_parameters())
        for name, shape, offset in self.entries:
            flat[offset : offset + shape.numel()].view(shape).copy_(params[name].detach())

    def bind(self, module: nn.Module, flat: torch.Tensor) -> nn.Module:
        """Make `module`'s parameters views into `flat` (no copy)."""
        for name, shape, offset in self.entries:
            owner_name, _, leaf = name.rpartition(".")
            owner = module.get_submodule(owner_name) if owner_name else module
            setattr(
                owner,
                leaf,
                nn.Parameter(
                    flat[offset : offset + shape.numel()].view(shape), requires_grad=False
                ),
            )
        return module


def _meta(factory, cfg: VisionConfig) -> nn.Module:
    with torch.device("meta"):
        return factory(cfg)


def _layouts(cfg: VisionConfig, dtype: torch.dtype) -> tuple[FlatLayout, FlatLayout]:
    elem = torch.empty((), dtype=dtype).element_size()
    return FlatLayout.of(_meta(VisionBlock, cfg), elem), FlatLayout.of(
        _meta(PatchMerger, cfg), elem
    )


def resident_weight_bytes(cfg: VisionConfig, dtype=torch.bfloat16) -> int:
    """GPU bytes of the whole encoder's weights when it is fully resident."""
    elem = torch.empty((), dtype=dtype).element_size()
    return sum(p.numel() for p in _meta(VisionEncoder, cfg).parameters()) * elem


def streamed_weight_bytes(cfg: VisionConfig, slots: int = 2, dtype=torch.bfloat16) -> int:
    """GPU bytes of vision weights under streaming: the K-slot arena plus the resident patch embedding."""
    elem = torch.empty((), dtype=dtype).element_size()
    block, merger = _layouts(cfg, dtype)
    patch = sum(p.numel() for p in _meta(PatchEmbed, cfg).parameters())
    return (max(slots * block.numel, merger.numel) + patch) * elem


class StreamedVisionEncoder:
    """Callable like a `VisionEncoder`. Deliberately not an `nn.Module`: `.to()` must never move the
    slot views out of the arena. Drop the source encoder afterwards to free its memory."""

    def __init__(self, encoder: VisionEncoder, slots: int = 2, device=None):
        if not 2 <= slots <= encoder.cfg.depth:
            raise ValueError(
                f"slots must be between 2 and the encoder depth {encoder.cfg.depth}, got {slots}"
            )
        cfg, weight = encoder.cfg, encoder.patch_embed.proj.weight
        self.cfg, self.slots, self.dtype = cfg, slots, weight.dtype
        self.device = torch.device(device) if device is not None else weight.device
        self._cuda = self.device.type == "cuda"
        self.block_layout, self.merger_layout = _layouts(cfg, self.dtype)
        self.patch_embed = copy.deepcopy(encoder.patch_embed).to(self.device)
        # Host side: one flat (pinned) buffer per block, plus the merger.
        self.host = [self._host_flat(self.block_layout, b) for b in encoder.blocks]
        self.host.append(self._host_flat(self.merger_layout, encoder.merger))
        # Device side: the arena; K slot blocks and the merger are views into it.
        arena_numel = max(slots * self.block_layout.numel, self.merger_layout.numel)
        self.arena = torch.empty(arena_numel, dtype=self.dtype, device=self.device)
        self.slot_blocks = [
            self.block_layout.bind(_meta(VisionBlock, cfg), self._slot(k)) for k in range(slots)
        ]
        self.merger = self.merger_layout.bind(
            _meta(PatchMerger, cfg), self.arena[: self.merger_layout.numel]
        )
        self._prefetched = 0  # blocks 0.. already copied (or in flight) for the next forward
        if self._cuda:
            self.copy_stream = torch.cuda.Stream(self.device)
            self._ready = [torch.cuda.Event() for _ in range(cfg.depth + 1)]
            self._free = [torch.cuda.Event() for _ in range(slots)]

    # ------------------------------------------------------------ buffers
    def _host_flat(self, layout: FlatLayout, module: nn.Module) -> torch.Tensor:
        flat = torch.empty(layout.numel, dtype=self.dtype, pin_memory=self._cuda)
        layout.pack(module, flat)
        return flat

    def _slot(self, k: int) -> torch.Tensor:
        n = self.block_layout.numel
        return self.arena[k * n : (k + 1) * n]

    def resident_bytes(self) -> int:
        """GPU bytes held for vision weights (arena + patch embedding)."""
        return (
            self.arena.numel() + sum(p.numel() for p in self.patch_embed.parameters())
        ) * self.arena.element_size()

    def host_bytes(self) -> int:
        return sum(h.numel() for h in self.host) * self.arena.element_size()

    # ------------------------------------------------------------ schedule
    def _issue(self, stage: int) -> None:
        """Start copying stage `stage` (a block index, or depth = the merger) into its place."""
        depth = self.cfg.depth
        target = (
            self._slot(stage % self.slots)
            if stage < depth
            else self.arena[: self.merger_layout.numel]
        )
        if not self._cuda:
            target.copy_(self.host[stage])
            return
        with torch.cuda.stream(self.copy_stream):
            for k in [stage % self.slots] if stage < depth else range(self.slots):
                self.copy_stream.wait_event(self._free[k])  # compute-done before overwrite
            target.copy_(self.host[stage], non_blocking=True)
            self._ready[stage].record(self.copy_stream)

    def _await(self, stage: int) -> None:
        if self._cuda:
            torch.cuda.current_stream(self.device).wait_event(
                self._ready[stage]
            )  # copy-done before use

    def _release(self, stage: int) -> None:
        if self._cuda:
            compute = torch.cuda.current_stream(self.device)
            for k in [stage % self.slots] if stage < self.cfg.depth else range(self.slots):
                self._free[k].record(compute)

    @torch.no_grad()
    def __call__(self, pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> torch.Tensor:
        depth, ahead = self.cfg.depth, self.slots - 1
        x = self.patch_embed(pixel_values.to(self.device))
        attn = prepare_attention(self.cfg, grid_thw, x)
        for j in range(self._prefetched, ahead):
            self._issue(j)
        for i in range(depth):
            if i + ahead < depth:
                self._issue(i + ahead)  # its slot was last used by block i - 1, already enqueued
            self._await(i)
            x = self.slot_blocks[i % self.slots](x, attn)
            self._release(i)
        self._issue(depth)
        self._await(depth)
        out = self.merger(x)
        self._release(depth)
        for j in range(ahead):  # warm the first slots for the next request
            self._issue(j)
        self._prefetched = ahead
        return out
