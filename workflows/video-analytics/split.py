"""video-analytics / split: probe the video for scene cuts and cut it into chunks.

Input: {"seed", "frames", "width", "height", "fps", "chunk"?} names a stored video
(materialised by `actionlib.synthetic.video_frame`). Every frame is decoded at 1/4 scale and
compared with the previous one by grey-level histogram; a large jump is a scene cut. Chunks
hold at most `chunk` frames and never straddle a cut, so each chunk's background model sees
one scene. Output: the video reference plus `chunks` for the `detect` fan-out.
"""

import actionlib  # noqa: F401  (before numpy: one BLAS thread per worker)
import numpy as np
from actionlib import cpu, synthetic

CUT_DISTANCE = 0.25  # L1 distance between normalised histograms that counts as a cut


def main(params: dict) -> dict:
    workers = cpu.worker_count()
    video = {k: int(params[k]) for k in ("seed", "frames", "width", "height")}
    video["fps"] = int(params.get("fps", 30))
    chunk = int(params.get("chunk", 24))
    hists = np.concatenate(
        cpu.parallel_map(
            lambda band: _histograms(video, *band), cpu.bands(video["frames"], workers * 2), workers
        )
    )
    distance = np.abs(np.diff(hists, axis=0)).sum(axis=1)
    cuts = [0] + [int(i) + 1 for i in np.flatnonzero(distance > CUT_DISTANCE)] + [video["frames"]]
    chunks = [
        {"start": s, "count": min(chunk, stop - s), "scene": n}
        for n, (a, stop) in enumerate(zip(cuts, cuts[1:], strict=False))
        for s in range(a, stop, chunk)
    ]
    return {"video": video, "chunks": chunks, "cuts": cuts[1:-1], "workers": workers}


def _histograms(video: dict, start: int, stop: int) -> np.ndarray:
    w, h = video["width"] // 4, video["height"] // 4
    out = np.empty((stop - start, 32))
    for i in range(start, stop):
        frame = synthetic.video_frame(video["seed"], i, w, h)
        counts, _ = np.histogram(frame, bins=32, range=(0, 255))
        out[i - start] = counts / counts.sum()
    return out
