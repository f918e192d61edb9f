"""image-pipeline / merge: combine thumbnails and features into the catalogue entry.

Input (fan-in): {"thumbnail": ..., "features": ..., "_input": the request}. Adds a perceptual
hash (dHash of the thumbnail) and a 5-colour palette (k-means over the thumbnail's pixels,
over every other pixel, two restarts in
parallel, best inertia kept).
"""

import actionlib  # noqa: F401  (before numpy: one BLAS thread per worker)
import numpy as np
from actionlib import codec, cpu
from PIL import Image

PALETTE = 5
RESTARTS = 2


def main(params: dict) -> dict:
    workers = cpu.worker_count()
    thumbs, features = params["thumbnail"]["thumbnails"], params["features"]
    image = codec.decode(thumbs["256"])
    pixels = image[::2, ::2].reshape(-1, 3).astype(np.float32)
    runs = cpu.parallel_map(lambda r: _kmeans(pixels, PALETTE, seed=r), range(RESTARTS), workers)
    centres, counts, _ = min(runs, key=lambda run: run[2])
    order = np.argsort(counts)[::-1]
    request = params.get("_input", {})
    return {
        "image": {
            "seed": request.get("seed"),
            "width": request.get("width"),
            "height": request.get("height"),
        },
        "labels": features["labels"],
        "hash": dhash(image),
        "palette": ["#" + "".join(f"{int(c):02x}" for c in centres[i]) for i in order],
        "crop": params["thumbnail"]["crop"],
        "thumbnail": thumbs["64"],
        "workers": workers,
    }


def dhash(image: np.ndarray) -> str:
    grey = np.asarray(Image.fromarray(image).convert("L").resize((9, 8), Image.LANCZOS), np.int16)
    bits = (grey[:, 1:] > grey[:, :-1]).flatten()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def _kmeans(pixels: np.ndarray, k: int, seed: int, iterations: int = 12):
    rng = np.random.default_rng(seed)
    centres = pixels[rng.choice(len(pixels), k, replace=False)]
    for _ in range(iterations):
        d = ((pixels[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        nearest = d.argmin(axis=1)
        for j in range(k):
            members = pixels[nearest == j]
            if len(members):
                centres[j] = members.mean(axis=0)
    inertia = float(d[np.arange(len(pixels)), nearest].sum())
    return centres, np.bincount(nearest, minlength=k), inertia
