"""TorchServe handler for the test pose model: a standing skeleton laid out in the received image, in AD's reply shape.

An extra file ``variant.txt`` in the archive makes it misbehave on purpose, for the client's tests:
``two`` returns two skeletons (the second more confident), ``none`` returns none, ``fault`` answers 500
with a message, ``crash`` raises (TorchServe answers 503), ``badjson`` replies with text that is not JSON, and
``wild`` replies in the right shape with values no pose model gives (scores of 50, the nose at 1e9 px), as
damaged weights do.
"""

from __future__ import annotations

import io
import os
from typing import Any

from PIL import Image

# A standing figure as fractions of the image (x, y), COCO order: nose, eyes, ears, shoulders, elbows,
# wrists, hips, knees, ankles. "left" is the figure's left, which appears on the image's right.
LAYOUT = ((0.50, 0.10), (0.54, 0.07), (0.46, 0.07), (0.58, 0.09), (0.42, 0.09),
          (0.65, 0.25), (0.35, 0.25), (0.78, 0.38), (0.22, 0.38), (0.88, 0.50), (0.12, 0.50),
          (0.60, 0.55), (0.40, 0.55), (0.62, 0.75), (0.38, 0.75), (0.64, 0.95), (0.36, 0.95))
VARIANTS = ("normal", "two", "none", "fault", "crash", "badjson", "wild")


def _size(row: dict[str, Any]) -> tuple[int, int]:
    """(width, height) of the image in a request row: multipart field ``data`` or a raw body."""
    payload = row.get("data") or row.get("body")
    if not isinstance(payload, (bytes, bytearray)):
        raise ValueError("expected image bytes in field 'data' or the request body")
    return Image.open(io.BytesIO(payload)).size


def skeleton(width: int, height: int, score: float = 0.9, shrink: float = 1.0) -> dict[str, Any]:
    """One skeleton in AD's reply shape: 17 [x, y, score] in the received image's px."""
    cx, cy = width / 2, height / 2
    kps = [[cx + (fx * width - cx) * shrink, cy + (fy * height - cy) * shrink, score - 0.01 * (i % 3)]
           for i, (fx, fy) in enumerate(LAYOUT)]
    return {"keypoints": kps, "bbox": [0.0, 0.0, float(width), float(height), 1.0]}


def _variant(context: Any) -> str:
    """The behaviour this archive was built with (``variant.txt`` among its extra files)."""
    props = getattr(context, "system_properties", None) or {}
    path = os.path.join(props.get("model_dir", "."), "variant.txt")
    if not os.path.exists(path):
        return "normal"
    with open(path, encoding="utf-8") as f:
        name = f.read().strip()
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; expected one of {VARIANTS}")
    return name


def handle(data: list[dict[str, Any]] | None, context: Any) -> list[Any] | None:
    """TorchServe entry point: one reply per request in the batch (None for the load-time call)."""
    if data is None:
        return None
    variant = _variant(context)
    if variant == "fault":
        from ts.utils.util import PredictionException

        raise PredictionException("pose head failed: simulated fault for tests", 500)
    if variant == "crash":
        raise RuntimeError("simulated handler crash for tests")
    if variant == "badjson":
        return ["{'keypoints': not json" for _ in data]
    replies: list[Any] = []
    for row in data:
        width, height = _size(row)
        if variant == "none":
            replies.append([])
        elif variant == "wild":
            wild = skeleton(width, height, score=50.0)
            wild["keypoints"][0][:2] = [1e9, 1e9]
            replies.append([wild])
        elif variant == "two":
            replies.append([skeleton(width, height, 0.5, 0.5), skeleton(width, height, 0.95)])
        else:
            replies.append([skeleton(width, height)])
    return replies
