"""Writes ml-pipeline/inputs.jsonl: tables with Pareto row counts (4k-150k rows)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from workflows.inputs import cli, pareto  # noqa: E402


def generate(rng, count):
    rows = []
    for i in range(count):
        rows.append(
            {
                "seed": 3000 + i,
                "rows": int(pareto(rng, minimum=4000, alpha=1.3, high=150000)),
                "features": int(rng.integers(16, 49)),
                "classes": int(rng.choice([2, 3])),
            }
        )
    return rows


if __name__ == "__main__":
    cli(__file__, generate)
