"""Writes video-analytics/inputs.jsonl: videos with Pareto lengths (48-900 frames)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from workflows.inputs import cli, pareto  # noqa: E402

RESOLUTIONS = ((320, 240), (480, 360), (640, 480))


def generate(rng, count):
    rows = []
    for i in range(count):
        width, height = RESOLUTIONS[int(rng.choice(3, p=[0.5, 0.3, 0.2]))]
        frames = int(pareto(rng, minimum=48, alpha=1.4, high=900))
        rows.append(
            {
                "seed": 2000 + i,
                "frames": frames,
                "width": width,
                "height": height,
                "fps": 30,
                "chunk": 24,
            }
        )
    return rows


if __name__ == "__main__":
    cli(__file__, generate)
