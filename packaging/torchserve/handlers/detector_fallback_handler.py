"""TorchServe handler for a detector with no mm stack and no weights: the studio's classical box finder.

It answers in the shape of AD's detector (``drawn_humanoid_detector``), so the studio, AD's own client and the
seed's server work unchanged, for the slim image that carries no mmdet::

    torch-model-archiver --model-name drawn_humanoid_detector --version 1.0 \\
        --handler packaging/torchserve/handlers/detector_fallback_handler.py --export-path model_store

Per image the reply is ``[]`` (no figure on the page) or one box::

    [{"bbox": [x1, y1, x2, y2], "score": s, "class_name": "drawn_humanoid", "detector": "classical"}]

``detector`` says which detector answered (an mmdet handler's replies carry none), and so does the response
header ``X-Detector: classical``, which an empty reply has too. The box is studio.pipeline.intake.box's
find_figure_box on the received image downscaled to the studio's working size (studio.pipeline.pose.served_image),
carried back to the received image's px; ``score`` is that finder's score, the share of the box its strokes cover,
for it has no confidence to give. The worker's Python needs the studio installed.
"""

from __future__ import annotations

from typing import Any

from studio.pipeline.intake.box import BoxError, find_figure_box
from studio.pipeline.pose.served_image import ServedImage, read_request_image

DETECTOR = "classical"
HEADER = "X-Detector"
CLASS_NAME = "drawn_humanoid"  # one class, as AD's detector has; the studio's client reads only bbox and score


def boxes(image: ServedImage) -> list[dict[str, Any]]:
    """The detector's reply for one request's image: one box around the figure in received px, or none."""
    try:
        found = find_figure_box(image.rgb)
    except BoxError:
        return []
    return [{"bbox": image.box_to_received(found.box), "score": float(found.score), "class_name": CLASS_NAME,
             "detector": DETECTOR}]


def handle(data: list[dict[str, Any]] | None, context: Any) -> list[Any] | None:
    """TorchServe entry point: one reply per request in the batch (None for the load-time call)."""
    if data is None:
        return None
    replies = []
    for index, row in enumerate(data):
        replies.append(boxes(read_request_image(row)))
        context.set_response_header(index, HEADER, DETECTOR)
    return replies
