"""Deterministic data sources: the same seed always gives the same photo, video or dataset.

They stand in for the object store a real pipeline reads its inputs from: a step receives a
small reference (seed and dimensions) and materialises exactly the part it needs, with real
cost proportional to its size. Rendering is split over row bands / frames / row blocks so it
also scales with the container's CPU quota.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .cpu import bands, parallel_map

# ------------------------------------------------------------------------------ photos


def photo(seed: int, width: int, height: int, workers: int = 1) -> np.ndarray:
    """An RGB uint8 'photo': sky/ground gradient, a few shapes, texture and sensor noise."""
    shapes = _photo_shapes(seed)
    out: np.ndarray = np.empty((height, width, 3), np.uint8)

    def render(band: tuple[int, int]) -> None:
        r0, r1 = band
        out[r0:r1] = _render_photo_rows(seed, shapes, width, height, r0, r1)

    parallel_map(render, bands(height, workers * 2, align=NOISE_BLOCK), workers)
    return out


def _photo_shapes(seed: int) -> list[tuple]:
    rng = np.random.default_rng([seed, 1])
    n = int(rng.integers(3, 9))
    return [
        (
            rng.uniform(0.05, 0.95),
            rng.uniform(0.1, 0.95),  # centre (x, y) as fractions
            rng.uniform(0.04, 0.3),
            rng.uniform(0.04, 0.3),  # radii
            rng.uniform(0, 255, 3),
            bool(rng.integers(0, 2)),
        )  # colour, ellipse or box
        for _ in range(n)
    ]


def _render_photo_rows(seed, shapes, width, height, r0, r1) -> np.ndarray:
    y = (np.arange(r0, r1, dtype=np.float32) / height)[:, None]
    x = (np.arange(width, dtype=np.float32) / width)[None, :]
    horizon = 0.45 + 0.1 * np.sin(x * 6.0 + seed % 7)
    sky = y < horizon
    img = np.empty((r1 - r0, width, 3), np.float32)
    img[..., 0] = np.where(sky, 90 + 80 * y, 60 + 40 * y)
    img[..., 1] = np.where(sky, 140 + 60 * y, 110 - 30 * y)
    img[..., 2] = np.where(sky, 220 - 40 * y, 50 + 20 * y)
    for cx, cy, rx, ry, colour, ellipse in shapes:
        dx, dy = (x - cx) / rx, (y - cy) / ry
        inside = (dx * dx + dy * dy < 1.0) if ellipse else ((np.abs(dx) < 1) & (np.abs(dy) < 1))
        img[inside] = colour
    texture = 12 * np.sin(x * width / 9.0) * np.cos(y * height / 7.0)
    img += (texture + _noise_rows(seed, width, r0, r1))[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


NOISE_BLOCK = 64  # noise is drawn per fixed block of rows, so banding never changes the image


def _noise_rows(seed: int, width: int, r0: int, r1: int) -> np.ndarray:
    first = r0 - r0 % NOISE_BLOCK
    blocks = [
        np.random.default_rng([seed, 2, b]).normal(0, 4, (NOISE_BLOCK, width))
        for b in range(first, r1, NOISE_BLOCK)
    ]
    return np.concatenate(blocks)[r0 - first : r1 - first].astype(np.float32)


# ------------------------------------------------------------------------------ videos

SCENE_FRAMES = 90  # a cut to a new background every 3 s at 30 fps (varied by seed)


def scene_of(seed: int, index: int) -> int:
    """Scene number of a frame; scene lengths vary between 0.5x and 1.5x SCENE_FRAMES."""
    rng = np.random.default_rng([seed, 3])
    lengths = rng.integers(
        SCENE_FRAMES // 2, SCENE_FRAMES * 3 // 2, size=index // (SCENE_FRAMES // 2) + 2
    )
    return int(np.searchsorted(np.cumsum(lengths), index, side="right"))


@lru_cache(maxsize=8)
def _background(seed: int, scene: int, width: int, height: int) -> np.ndarray:
    grey = photo(seed * 1000 + scene, width, height).mean(axis=2)
    return grey.astype(np.float32)


def video_frame(seed: int, index: int, width: int, height: int) -> np.ndarray:
    """Greyscale float32 frame: a static scene, moving objects, flicker and sensor noise."""
    scene = scene_of(seed, index)
    frame = _background(seed, scene, width, height).copy()
    frame *= 1.0 + 0.03 * np.sin(index / 15.0)  # lighting flicker
    rng = np.random.default_rng([seed, 4, scene])
    for _ in range(int(rng.integers(1, 5))):  # moving objects
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        vx, vy = rng.uniform(-4, 4), rng.uniform(-3, 3)
        size = rng.uniform(0.04, 0.12) * min(width, height)
        active = rng.uniform(0, 1) < 0.7
        if not active:
            continue
        cx, cy = (x0 + vx * index) % width, (y0 + vy * index) % height
        xa, xb = int(max(cx - size, 0)), int(min(cx + size, width))
        ya, yb = int(max(cy - size, 0)), int(min(cy + size, height))
        frame[ya:yb, xa:xb] = rng.uniform(0, 255)
    noise = np.random.default_rng([seed, 5, index]).normal(0, 3, frame.shape)
    frame += noise.astype(np.float32)
    return frame


# ------------------------------------------------------------------------------ tables

BLOCK_ROWS = 4096


def dataset(
    seed: int, start: int, stop: int, features: int, classes: int = 2, workers: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Rows [start, stop) of a classification table (X float64 with NaNs and outliers, y int).

    Generated in fixed blocks of BLOCK_ROWS seeded by block number, so any row range is the
    same whichever step reads it and however it is split over threads.
    """
    first, last = start // BLOCK_ROWS, (stop - 1) // BLOCK_ROWS
    blocks = parallel_map(
        lambda b: _dataset_block(seed, b, features, classes), range(first, last + 1), workers
    )
    X = np.concatenate([b[0] for b in blocks])
    y = np.concatenate([b[1] for b in blocks])
    off = first * BLOCK_ROWS
    return X[start - off : stop - off], y[start - off : stop - off]


def _class_model(seed: int, features: int, classes: int):
    rng = np.random.default_rng([seed, 6])
    informative = max(2, features // 3)
    centres = rng.normal(0, 1.2, (classes, informative))
    mixing = rng.normal(0, 1, (informative, features)) / np.sqrt(informative)
    scales = np.exp(rng.normal(0, 1.0, features))  # wildly different units
    return centres, mixing, scales


def _dataset_block(seed: int, block: int, features: int, classes: int):
    centres, mixing, scales = _class_model(seed, features, classes)
    rng = np.random.default_rng([seed, 7, block])
    y = rng.integers(0, classes, BLOCK_ROWS)
    latent = centres[y] + rng.normal(0, 1, (BLOCK_ROWS, centres.shape[1]))
    latent[:, 0] += 0.8 * np.sin(3 * latent[:, 1])  # a non-linear interaction
    X = (latent @ mixing + rng.normal(0, 0.5, (BLOCK_ROWS, features))) * scales
    X[rng.random(X.shape) < 0.02] = np.nan  # missing values
    outliers = rng.random(BLOCK_ROWS) < 0.005
    X[outliers] *= 25
    return X, y
