"""Tokenizers for the Nova VLM runtime: a checkpoint's `tokenizer.json`, or a byte-level fallback.

The runtime server turns an instruction into prompt ids with `chat_prompt` and generated ids into
text with `decode`. With a real checkpoint directory the Hugging Face `tokenizer.json` is loaded
through `tokenizers` (offline); random-weight presets get `ByteTokenizer`, which is deterministic
and uses the same special-token ids as the model config, so prompts have the same structure.
"""

from __future__ import annotations

import os

from runtimes.vlm.config import VLMConfig

SPECIAL_NAMES = {
    "bos_id": "<|endoftext|>",
    "im_start_id": "<|im_start|>",
    "im_end_id": "<|im_end|>",
    "vision_start_id": "<|vision_start|>",
    "vision_end_id": "<|vision_end|>",
    "image_pad_id": "<|image_pad|>",
}


class _ChatFormat:
    """Qwen2-VL chat template for one user turn holding one image and an instruction."""

    special: dict[str, int]

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def chat_prompt(self, instruction: str) -> list[int]:
        s = self.special
        return (
            [s["im_start_id"]]
            + self.encode("user\n")
            + [s["vision_start_id"], s["vision_end_id"]]
            + self.encode(instruction)
            + [s["im_end_id"]]
            + self.encode("\n")
            + [s["im_start_id"]]
            + self.encode("assistant\n")
        )


class ByteTokenizer(_ChatFormat):
    """UTF-8 bytes are ids 0..255; ids of the config's special tokens map to their names; any other id
    (random weights generate them) renders as `<|id|>` so output stays printable and reversible."""

    def __init__(self, config: VLMConfig):
        self.special = config.special_ids()
        self.eos_id = config.eos_id
        if min(self.special.values()) < 256:
            raise ValueError(
                f"{config.name}: special token ids must be >= 256 for the byte-level tokenizer"
            )
        self._names = {i: SPECIAL_NAMES[k] for k, i in self.special.items() if k in SPECIAL_NAMES}

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int], skip_special: bool = True) -> str:
        out, pending = [], bytearray()
        for i in ids:
            if i < 256:
                pending.append(i)
                continue
            out.append(pending.decode("utf-8", errors="replace"))
            pending = bytearray()
            if i in self._names:
                out.append("" if skip_special else self._names[i])
            else:
                out.append(f"<|{i}|>")
        out.append(pending.decode("utf-8", errors="replace"))
        return "".join(out)


class HFTokenizer(_ChatFormat):
    """A checkpoint's `tokenizer.json`; special ids looked up by their token text."""

    def __init__(self, path: str, config: VLMConfig):
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(path)
        self.special = dict(config.special_ids())
        for key, name in SPECIAL_NAMES.items():
            found = self._tok.token_to_id(name)
            if found is not None:
                self.special[key] = found
        self.eos_id = config.eos_id

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int], skip_special: bool = True) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=skip_special)


def load_tokenizer(config: VLMConfig, checkpoint_dir: str | None):
    """`HFTokenizer` when the checkpoint directory has tokenizer.json, else `ByteTokenizer`."""
    if checkpoint_dir:
        path = os.path.join(checkpoint_dir, "tokenizer.json")
        if os.path.exists(path):
            return HFTokenizer(path, config)
    return ByteTokenizer(config)
