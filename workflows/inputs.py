"""Seeded heavy-tailed input generation shared by the shipped workflows' `gen_inputs.py`.

Run time of every shipped function grows with its input (pixels, frames, rows), and real
input sizes are heavy-tailed; these samplers give a few large inputs among many small ones,
always the same for the same seed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np


def lognormal(
    rng: np.random.Generator, median: float, sigma: float, low: float, high: float
) -> float:
    return float(np.clip(median * np.exp(sigma * rng.standard_normal()), low, high))


def pareto(rng: np.random.Generator, minimum: float, alpha: float, high: float) -> float:
    """Pareto (type I) with scale `minimum` and shape `alpha`, capped at `high`."""
    return float(min(minimum * (1.0 + rng.pareto(alpha)), high))


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def cli(
    here: str,
    generate: Callable[[np.random.Generator, int], list[dict]],
    count: int = 40,
    seed: int = 2025,
) -> None:
    """`python gen_inputs.py [--count N] [--seed S] [--out FILE]` for one workflow folder."""
    parser = argparse.ArgumentParser(description="write this workflow's inputs.jsonl")
    parser.add_argument("--count", type=int, default=count)
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--out", type=Path, default=Path(here).parent / "inputs.jsonl")
    args = parser.parse_args()
    rows = generate(np.random.default_rng(args.seed), args.count)
    write_jsonl(args.out, rows)
    print(f"wrote {len(rows)} inputs to {args.out}")
