"""TorchServe handler for the test detector: the box of the received image's non-white pixels, in AD's reply shape."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

WHITE = 245  # a pixel whose darkest channel is at least this is paper, not ink


def _image(row: dict[str, Any]) -> np.ndarray:
    """(H, W, 3) uint8 RGB from a request row: multipart field ``data`` or a raw body."""
    payload = row.get("data") or row.get("body")
    if isinstance(payload, str):
        payload = payload.encode("latin-1")
    if not isinstance(payload, (bytes, bytearray)):
        raise ValueError("expected image bytes in field 'data' or the request body")
    return np.asarray(Image.open(io.BytesIO(payload)).convert("RGB"))


def ink_box(image: np.ndarray) -> list[dict[str, Any]]:
    """AD's detector reply for one image: one box around the ink, or no box on a blank page."""
    ys, xs = np.nonzero(image.min(axis=2) < WHITE)
    if xs.size == 0:
        return []
    box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
    return [{"bbox": box, "score": 0.99, "class_name": "human"}]


def handle(data: list[dict[str, Any]] | None, context: Any) -> list[Any] | None:
    """TorchServe entry point: one reply per request in the batch (None for the load-time call)."""
    if data is None:
        return None
    return [ink_box(_image(row)) for row in data]
