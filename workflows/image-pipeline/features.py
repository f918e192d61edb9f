"""image-pipeline / features: a small CNN in numpy gives an embedding and class scores.

Input: decode's output. Three 3x3 convolutions (3->16->32->64 channels, ReLU, 2x2 max-pool
after the first two) over the working copy, then global average and max pooling -> a
128-d embedding, projected onto 10 classes. The weights are fixed pseudo-random (seeded): the cost
is that of a real network of this shape. The image is split into row bands with an 8-row
halo, so the result does not depend on how many threads ran it.
"""

import actionlib  # noqa: F401  (before numpy: one BLAS thread per worker)
import numpy as np
from actionlib import codec, cpu

CHANNELS = (3, 16, 32, 64)
HALO = 8  # rows of context a band needs so its interior is exact (3 convs, 2 pools)
CLASSES = (
    "sky",
    "field",
    "water",
    "building",
    "vehicle",
    "person",
    "animal",
    "plant",
    "object",
    "text",
)


def _weights():
    rng = np.random.default_rng(20250220)
    convs = [
        (rng.standard_normal((3, 3, cin, cout)) * np.sqrt(2.0 / (9 * cin))).astype(np.float32)
        for cin, cout in zip(CHANNELS, CHANNELS[1:], strict=False)
    ]
    head = rng.standard_normal((2 * CHANNELS[-1], len(CLASSES))).astype(np.float32) / 8
    return convs, head


CONVS, HEAD = _weights()


def main(params: dict) -> dict:
    workers = cpu.worker_count()
    image = codec.decode(params["image"])
    fmap = feature_map(image, workers)
    embedding = np.concatenate([fmap.mean(axis=(0, 1)), fmap.max(axis=(0, 1))])
    logits = embedding @ HEAD
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    top = np.argsort(probs)[::-1][:3]
    return {
        "embedding": [round(float(v), 5) for v in embedding],
        "labels": [{"label": CLASSES[i], "score": round(float(probs[i]), 4)} for i in top],
        "workers": workers,
    }


def feature_map(image: np.ndarray, workers: int) -> np.ndarray:
    """The last conv layer's activations at 1/4 resolution, computed band by band."""
    h = image.shape[0] - image.shape[0] % 4
    w = image.shape[1] - image.shape[1] % 4
    x = image[:h, :w].astype(np.float32) / 127.5 - 1.0
    x = np.pad(x, ((HALO, HALO), (0, 0), (0, 0)))

    def band(rows):
        r0, r1 = rows
        y = _network(x[r0 : r1 + 2 * HALO])
        return y[HALO // 4 : HALO // 4 + (r1 - r0) // 4]

    return np.concatenate(cpu.parallel_map(band, cpu.bands(h, workers * 2, align=4), workers))


def _network(x: np.ndarray) -> np.ndarray:
    for i, kernel in enumerate(CONVS):
        x = np.maximum(_conv3x3(x, kernel), 0)
        if i < 2:
            x = _maxpool2(x)
    return x


def _conv3x3(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    h, w, _ = x.shape
    p = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    out = np.zeros((h, w, kernel.shape[3]), np.float32)
    for dy in range(3):
        for dx in range(3):
            out += p[dy : dy + h, dx : dx + w] @ kernel[dy, dx]
    return out


def _maxpool2(x: np.ndarray) -> np.ndarray:
    h, w, c = x.shape
    return x[: h - h % 2, : w - w % 2].reshape(h // 2, 2, w // 2, 2, c).max(axis=(1, 3))
