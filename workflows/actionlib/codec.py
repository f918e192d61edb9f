"""Images to and from base64 strings for the small payloads passed between workflow steps."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def encode(image: np.ndarray, fmt: str = "JPEG", quality: int = 85) -> str:
    buf = io.BytesIO()
    options = {"quality": quality} if fmt == "JPEG" else {"optimize": False}
    Image.fromarray(image).save(buf, format=fmt, **options)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def decode(data: str, mode: str = "RGB") -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(data))) as im:
        return np.asarray(im.convert(mode))


def decode_bytes(raw: bytes, mode: str = "RGB") -> np.ndarray:
    with Image.open(io.BytesIO(raw)) as im:
        return np.asarray(im.convert(mode))


def jpeg_bytes(image: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
