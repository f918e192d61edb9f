"""Writes blob-pipeline/inputs.jsonl: blobs with Pareto sizes (2-200 MB), link 50-200 MB/s."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from workflows.inputs import cli, pareto  # noqa: E402


def generate(rng, count):
    return [
        {
            "seed": 5000 + i,
            "mb": round(pareto(rng, minimum=2, alpha=0.9, high=200), 1),
            "link_mb_s": float(rng.choice([50, 100, 200])),
        }
        for i in range(count)
    ]


if __name__ == "__main__":
    cli(__file__, generate)
