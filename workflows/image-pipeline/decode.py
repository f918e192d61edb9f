"""image-pipeline / decode: read the uploaded JPEG, decode it, level it, make the working copy.

Input: {"seed", "width", "height"} names an uploaded photo (materialised by
`actionlib.synthetic.photo`, standing in for the object store). The full-size image is
decoded and auto-levelled, then block-averaged to a working copy of at most ~1 MP, which is
what the next steps receive (base64 JPEG, well under the 1 MB payload limit).
"""

import math

import actionlib  # noqa: F401  (before numpy: one BLAS thread per worker)
import numpy as np
from actionlib import codec, cpu, synthetic

WORKING_PIXELS = 1_000_000


def main(params: dict) -> dict:
    workers = cpu.worker_count()
    seed, width, height = int(params["seed"]), int(params["width"]), int(params["height"])
    upload = codec.jpeg_bytes(synthetic.photo(seed, width, height, workers), quality=90)
    image = codec.decode_bytes(upload)
    low, high = _levels(image)
    factor = max(1, math.ceil(math.sqrt(width * height / WORKING_PIXELS)))
    work_h, work_w = height // factor, width // factor
    work = np.empty((work_h, work_w, 3), np.uint8)

    def level_and_shrink(band):
        r0, r1 = band
        rows = image[r0 * factor : r1 * factor, : work_w * factor].astype(np.float32)
        rows = np.clip((rows - low) * (255.0 / (high - low)), 0, 255)
        rows = rows.reshape(r1 - r0, factor, work_w, factor, 3).mean(axis=(1, 3))
        work[r0:r1] = rows.astype(np.uint8)

    cpu.parallel_map(level_and_shrink, cpu.bands(work_h, workers * 2), workers)
    return {
        "image": codec.encode(work, quality=88),
        "width": width,
        "height": height,
        "work_width": work_w,
        "work_height": work_h,
        "upload_bytes": len(upload),
        "workers": workers,
    }


def _levels(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel 1st/99th percentiles on a sample: the auto-levels stretch."""
    step = max(1, int(math.sqrt(image.shape[0] * image.shape[1] / 250_000)))
    sample = image[::step, ::step].reshape(-1, 3).astype(np.float32)
    low, high = np.percentile(sample, 1, axis=0), np.percentile(sample, 99, axis=0)
    return low, np.maximum(high, low + 1.0)
