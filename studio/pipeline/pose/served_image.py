"""The image in one TorchServe request, as packaging/torchserve/handlers read it: decoded at most at the studio's
working size, with the factors that carry boxes and keypoints back to the received image's px; and the error a
handler replies with.

A request's image is never decoded into the models at its own size: an 8900×8900 PNG of 288 KB kept a worker busy
for minutes at 1 GB. The models gain nothing from more: AD's detector resizes to 1333×800 itself, its pose model
sees a 192×256 crop, and AD's client and the studio send images at most MAX_SIDE on a side anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from studio.pipeline.intake.images import MAX_SIDE, ImageError, decode_image

SERVED_MAX_SIDE = MAX_SIDE  # the longest side, px, a handler's model works on


def prediction_error(message: str, code: int = 500) -> Exception:
    """TorchServe's error for a reply: its message reaches the client with the status ``code``."""
    from ts.utils.util import PredictionException

    return PredictionException(message, code)


@dataclass(frozen=True, eq=False)
class ServedImage:
    """rgb: (h, w, 3) uint8, the image the model works on, longest side ≤ the cap.
    received_size: (width, height) of the image as received, after EXIF rotation: the px replies are in."""

    rgb: np.ndarray
    received_size: tuple[int, int]

    @property
    def factors(self) -> tuple[float, float]:
        """Received px per working px along x and along y: (1.0, 1.0) for an image within the cap."""
        h, w = self.rgb.shape[:2]
        return self.received_size[0] / w, self.received_size[1] / h

    def points_to_received(self, xy: Any) -> np.ndarray:
        """xy: (n, 2) float, working px → (n, 2) float64, received px."""
        return np.asarray(xy, np.float64).reshape(-1, 2) * np.asarray(self.factors)

    def box_to_received(self, box: Sequence[float]) -> list[float]:
        """[x1, y1, x2, y2] in working px → the same box in received px, as plain floats."""
        return [float(v) for v in self.points_to_received(np.asarray(box[:4], np.float64)).ravel()]


def request_bytes(row: dict[str, Any]) -> bytes:
    """The encoded image of one request: multipart field ``data`` or the raw body. TorchServe hands a text/* body
    over decoded as UTF-8 (a plain PPM is text), so a str is encoded back the same way. Raises a 400 otherwise."""
    payload = row.get("data") or row.get("body")
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if not isinstance(payload, (bytes, bytearray)):
        raise prediction_error("expected image bytes in multipart field 'data' or the request body", 400)
    return bytes(payload)


def read_request_image(row: dict[str, Any], max_side: int = SERVED_MAX_SIDE) -> ServedImage:
    """One request's image, any format Pillow reads, downscaled so its longest side is at most ``max_side``.
    Raises a 400 naming the reason when the bytes are not a usable image or exceed the studio's pixel cap."""
    data = request_bytes(row)
    try:
        loaded = decode_image(data, "the request's image", max_side=max_side)
    except ImageError as exc:
        raise prediction_error(str(exc), 400) from None
    return ServedImage(loaded.rgb, loaded.original_size)
