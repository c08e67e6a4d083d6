"""TorchServe handler for a detector with no mm stack and no weights: the studio's classical box finder.

It answers in the shape of AD's detector (``drawn_humanoid_detector``), so the studio, AD's own client and the
seed's server work unchanged, for the slim image that carries no mmdet::

    torch-model-archiver --model-name drawn_humanoid_detector --version 1.0 \\
        --handler packaging/torchserve/handlers/detector_fallback_handler.py --export-path model_store

Per image the reply is ``[]`` (no figure on the page) or one box::

    [{"bbox": [x1, y1, x2, y2], "score": s, "class_name": "drawn_humanoid", "detector": "classical"}]

``detector`` says which detector answered (an mmdet handler's replies carry none), and so does the response
header ``X-Detector: classical``, which an empty reply has too. The box is studio.pipeline.intake.box's
find_figure_box on the received image, in its px; ``score`` is that finder's score, the share of the box its
strokes cover, for it has no confidence to give. The worker's Python needs the studio installed.
"""

from __future__ import annotations

from typing import Any

from studio.pipeline.intake.box import BoxError, find_figure_box
from studio.pipeline.intake.images import ImageError, decode_image

DETECTOR = "classical"
HEADER = "X-Detector"
CLASS_NAME = "drawn_humanoid"  # one class, as AD's detector has; the studio's client reads only bbox and score
NO_DOWNSCALE = 1 << 30  # boxes are in the received image's px: the image is decoded at its own size


def _fail(message: str, code: int) -> Exception:
    """TorchServe's error for a reply: its message reaches the client with the status ``code``."""
    from ts.utils.util import PredictionException

    return PredictionException(message, code)


def image_from(row: dict[str, Any]) -> Any:
    """(H, W, 3) uint8 RGB from one request: multipart field ``data`` or the raw body, any format Pillow reads."""
    payload = row.get("data") or row.get("body")
    if isinstance(payload, str):
        payload = payload.encode("latin-1")
    if not isinstance(payload, (bytes, bytearray)):
        raise _fail("expected image bytes in multipart field 'data' or the request body", 400)
    try:
        return decode_image(bytes(payload), "the request's image", max_side=NO_DOWNSCALE).rgb
    except ImageError as exc:
        raise _fail(str(exc), 400) from None


def boxes(image: Any) -> list[dict[str, Any]]:
    """The detector's reply for one (H, W, 3) uint8 RGB image: one box around the figure, or none."""
    try:
        found = find_figure_box(image)
    except BoxError:
        return []
    return [{"bbox": [float(v) for v in found.box], "score": float(found.score), "class_name": CLASS_NAME,
             "detector": DETECTOR}]


def handle(data: list[dict[str, Any]] | None, context: Any) -> list[Any] | None:
    """TorchServe entry point: one reply per request in the batch (None for the load-time call)."""
    if data is None:
        return None
    replies = []
    for index, row in enumerate(data):
        replies.append(boxes(image_from(row)))
        context.set_response_header(index, HEADER, DETECTOR)
    return replies
