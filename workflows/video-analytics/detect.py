"""video-analytics / detect: motion detection over one chunk (one activation per chunk).

Input (foreach item of split.chunks): {"video": {...}, "cuts": [...], "item": {"start",
"count", "scene"}, "index"}. Decodes the chunk's frames at full size, models the background as
the per-pixel median of the chunk, subtracts it, cleans the foreground mask with a 3x3
opening, and reports per frame the moving fraction and the bounding box of the motion.
Frames are processed in parallel.
"""

import actionlib  # noqa: F401  (before numpy: one BLAS thread per worker)
import numpy as np
from actionlib import cpu, synthetic

THRESHOLD = 25.0  # grey levels above the background that count as foreground
MOTION = 0.002  # moving fraction above which a frame has motion


def main(params: dict) -> dict:
    workers = cpu.worker_count()
    video, item = params["video"], params["item"]
    indices = range(item["start"], item["start"] + item["count"])
    frames = cpu.parallel_map(
        lambda i: synthetic.video_frame(video["seed"], i, video["width"], video["height"]),
        indices,
        workers,
    )
    background = _median(frames, workers)
    per_frame = cpu.parallel_map(lambda f: _foreground(f, background), frames, workers)
    return {
        "chunk": params.get("index"),
        "start": item["start"],
        "scene": item["scene"],
        "motion": [round(m, 5) for m, _ in per_frame],
        "boxes": [b for _, b in per_frame],
        "moving_frames": sum(1 for m, _ in per_frame if m > MOTION),
        "workers": workers,
    }


def _median(frames: list, workers: int) -> np.ndarray:
    stack = np.stack(frames)
    out = np.empty(stack.shape[1:], np.float32)

    def rows(band):
        out[band[0] : band[1]] = np.median(stack[:, band[0] : band[1]], axis=0)

    cpu.parallel_map(rows, cpu.bands(stack.shape[1], workers * 2), workers)
    return out


def _foreground(frame: np.ndarray, background: np.ndarray):
    mask = np.abs(frame - background) > THRESHOLD
    mask = _dilate(_erode(mask))
    fraction = float(mask.mean())
    if not mask.any():
        return fraction, None
    ys, xs = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return fraction, [int(xs[0]), int(ys[0]), int(xs[-1]), int(ys[-1])]


def _erode(m: np.ndarray) -> np.ndarray:
    p = np.pad(m, 1)
    out = m.copy()
    for dy in range(3):
        for dx in range(3):
            out &= p[dy : dy + m.shape[0], dx : dx + m.shape[1]]
    return out


def _dilate(m: np.ndarray) -> np.ndarray:
    p = np.pad(m, 1)
    out = m.copy()
    for dy in range(3):
        for dx in range(3):
            out |= p[dy : dy + m.shape[0], dx : dx + m.shape[1]]
    return out
