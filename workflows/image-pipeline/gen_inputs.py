"""Writes image-pipeline/inputs.jsonl: photos with log-normal megapixels (0.2-16 MP)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from workflows.inputs import cli, lognormal  # noqa: E402

ASPECTS = (4 / 3, 3 / 2, 16 / 9, 1.0, 3 / 4)


def generate(rng, count):
    rows = []
    for i in range(count):
        pixels = lognormal(rng, median=1.5e6, sigma=0.9, low=2e5, high=16e6)
        aspect = ASPECTS[int(rng.integers(len(ASPECTS)))]
        width = int((pixels * aspect) ** 0.5)
        rows.append({"seed": 1000 + i, "width": width, "height": int(pixels / width)})
    return rows


if __name__ == "__main__":
    cli(__file__, generate)
