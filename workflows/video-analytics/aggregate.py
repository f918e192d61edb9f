"""video-analytics / aggregate: motion events over the whole video and a contact sheet.

Input (fan-in of the foreach results): {"detect": [chunk results in order], "_input": ...}.
Joins the per-frame motion series, smooths it, turns runs of motion into events (with their
peak frame and union bounding box), and renders the peak frames of the strongest events into
a small JPEG contact sheet (frames decoded in parallel).
"""

import actionlib  # noqa: F401  (before numpy: one BLAS thread per worker)
import numpy as np
from actionlib import codec, cpu, synthetic

MOTION = 0.002
SHEET = 6  # peak frames on the contact sheet
TILE = (160, 120)


def main(params: dict) -> dict:
    workers = cpu.worker_count()
    chunks = params["detect"]
    request = params.get("_input", {})
    motion = (
        np.concatenate([np.asarray(c["motion"], float) for c in chunks]) if chunks else np.zeros(0)
    )
    boxes = [b for c in chunks for b in c["boxes"]]
    smooth = np.convolve(motion, np.ones(5) / 5, mode="same") if len(motion) else motion
    events = _events(smooth, boxes)
    strongest = sorted(events, key=lambda e: e["peak_motion"], reverse=True)[:SHEET]
    sheet = _contact_sheet(request, [e["peak"] for e in strongest], workers) if strongest else None
    fps = float(request.get("fps", 30))
    return {
        "frames": int(len(motion)),
        "chunks": len(chunks),
        "events": events,
        "moving_seconds": round(float((smooth > MOTION).sum()) / fps, 3),
        "contact_sheet": sheet,
        "workers": workers,
    }


def _events(smooth: np.ndarray, boxes: list) -> list[dict]:
    active = smooth > MOTION
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(int), [0]])))
    events = []
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        peak = int(start + np.argmax(smooth[start:stop]))
        inside = [b for b in boxes[start:stop] if b]
        box = (
            [
                min(b[0] for b in inside),
                min(b[1] for b in inside),
                max(b[2] for b in inside),
                max(b[3] for b in inside),
            ]
            if inside
            else None
        )
        events.append(
            {
                "start": int(start),
                "end": int(stop),
                "peak": peak,
                "peak_motion": round(float(smooth[peak]), 5),
                "box": box,
            }
        )
    return events


def _contact_sheet(video: dict, peaks: list[int], workers: int) -> str:
    from PIL import Image

    def tile(index):
        frame = synthetic.video_frame(
            int(video["seed"]), index, int(video["width"]), int(video["height"])
        )
        return np.asarray(Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8)).resize(TILE))

    tiles = cpu.parallel_map(tile, peaks, workers)
    sheet = np.concatenate(tiles, axis=1)
    return codec.encode(sheet, quality=80)
