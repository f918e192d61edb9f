"""image-pipeline / thumbnail: saliency-aware square crop, then thumbnails at 256/128/64 px.

Input: decode's output. Saliency is the Sobel gradient energy of the luminance (row bands in
parallel); the crop is the square window with the most energy (integral image search); the
thumbnails are Lanczos-resampled and sharpened with an unsharp mask.
"""

import actionlib  # noqa: F401  (before numpy: one BLAS thread per worker)
import numpy as np
from actionlib import codec, cpu
from PIL import Image

SIZES = (256, 128, 64)


def main(params: dict) -> dict:
    workers = cpu.worker_count()
    image = codec.decode(params["image"])
    energy = saliency(image, workers)
    x, y, side = best_square(energy)
    crop = Image.fromarray(image[y : y + side, x : x + side])

    def thumb(size):
        small = np.asarray(crop.resize((size, size), Image.LANCZOS), np.float32)
        return str(size), codec.encode(unsharp(small), quality=85)

    thumbs = dict(cpu.parallel_map(thumb, SIZES, workers))
    return {"thumbnails": thumbs, "crop": [x, y, side], "workers": workers}


def saliency(image: np.ndarray, workers: int) -> np.ndarray:
    luma = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    padded = np.pad(luma, 1, mode="edge")
    out = np.empty_like(luma)

    def sobel(band):
        r0, r1 = band
        p = padded[r0 : r1 + 2]
        gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (
            p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2]
        )
        gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (
            p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:]
        )
        out[r0:r1] = np.sqrt(gx * gx + gy * gy)

    cpu.parallel_map(sobel, cpu.bands(luma.shape[0], workers * 2), workers)
    return out


def best_square(energy: np.ndarray, fraction: float = 0.6, steps: int = 24) -> tuple[int, int, int]:
    h, w = energy.shape
    side = max(1, int(min(h, w) * fraction))
    integral = np.pad(energy.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    ys = np.linspace(0, h - side, steps).astype(int)
    xs = np.linspace(0, w - side, steps).astype(int)
    Y, X = np.meshgrid(ys, xs, indexing="ij")
    total = (
        integral[Y + side, X + side]
        - integral[Y, X + side]
        - integral[Y + side, X]
        + integral[Y, X]
    )
    iy, ix = np.unravel_index(int(np.argmax(total)), total.shape)
    return int(xs[ix]), int(ys[iy]), side


def unsharp(image: np.ndarray, amount: float = 0.6) -> np.ndarray:
    p = np.pad(image, ((1, 1), (1, 1), (0, 0)), mode="edge")
    blur = (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] + 4 * p[1:-1, 1:-1]) / 8
    return np.clip(image + amount * (image - blur), 0, 255).astype(np.uint8)
