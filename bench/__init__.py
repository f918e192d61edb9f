"""Benchmarks: each script prints a table and saves its result JSON under `bench/results/`."""

from __future__ import annotations

import json
import os


def write_json(path: str, doc, indent: int = 1) -> None:
    """Save a result as the scripts always have: `json.dump` at `indent`, no trailing newline (the
    committed results end at their closing brace), its folder created if need be."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=indent)
