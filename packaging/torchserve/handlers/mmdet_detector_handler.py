"""TorchServe handler for AD's detector archive (``drawn_humanoid_detector.mar``: an mmdet 2.27 Mask R-CNN
checkpoint and its config.py) on the mm stack, for the image that carries it.

UNTESTED HERE: no machine of this project has the mm stack installed with a GPU that runs it (DESIGN.md §3), so
this file has not been run. Where mmdet 2.27 runs, pack it as::

    torch-model-archiver --model-name drawn_humanoid_detector --version 1.0 \\
        --serialized-file CHECKPOINT.pth --extra-files config.py \\
        --handler packaging/torchserve/handlers/mmdet_detector_handler.py --export-path model_store

mmdet's own ``init_detector(config, checkpoint)`` unpickles the checkpoint with torch's default, which fails on
OpenMMLab's numpy meta under torch >= 2.6; this builds the model from config.py (mmcv runs it: ship only configs
you trust, as with the handler itself) and loads the weights with ``torch.load(weights_only=True)`` and the
studio's numpy allowlist. The reply is AD's detector's, per image
``[{"bbox": [x1, y1, x2, y2], "score": s, "class_name": name, "detector": "mmdet"}, ...]``, boxes scoring at
least SCORE_THRESHOLD, best first, in the received image's px; the response header ``X-Detector: mmdet`` says
which detector answered. The model sees the image downscaled to the studio's working size, as AD's client sends it
anyway (studio.pipeline.pose.served_image); the boxes are carried back to the received px.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.pipeline.pose.archive import safe_member_name
from studio.pipeline.pose.served_image import ServedImage, read_request_image
from studio.pipeline.pose.torch_backend import numpy_allowlist

DETECTOR = "mmdet"
HEADER = "X-Detector"
SCORE_THRESHOLD = 0.5
_model: Any = None


def load(context: Any) -> Any:
    """mmdet's model from the archive's config.py, with the archive's weights loaded safely."""
    import torch
    from mmdet.apis import init_detector

    props = context.system_properties
    model_dir = Path(props["model_dir"]).resolve()
    name = context.manifest["model"]["serializedFile"]
    checkpoint = (model_dir / name).resolve()
    if not safe_member_name(name) or model_dir not in checkpoint.parents:
        raise RuntimeError(f"refused the serialized file {name!r}: it lies outside the model's folder")
    gpu = props.get("gpu_id")
    device = f"cuda:{int(gpu)}" if gpu is not None and torch.cuda.is_available() else "cpu"
    with torch.serialization.safe_globals(numpy_allowlist()):
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = saved.get("state_dict", saved)
    model = init_detector(str(model_dir / "config.py"), None, device=device)
    model.load_state_dict({k.removeprefix("module."): v for k, v in state.items()}, strict=True)
    classes = (saved.get("meta") or {}).get("CLASSES")
    if classes:
        model.CLASSES = tuple(classes)
    return model.eval()


def reply(per_class: Any, class_names: Any, image: ServedImage) -> list[dict[str, Any]]:
    """AD's detector reply from mmdet's per-class (n, 5) [x1, y1, x2, y2, score] arrays in working px: the boxes
    scoring at least SCORE_THRESHOLD, in received px, best first."""
    found = [{"bbox": image.box_to_received(row[:4]), "score": float(row[4]), "class_name": str(class_names[label]),
              "detector": DETECTOR}
             for label, rows in enumerate(per_class) for row in rows if float(row[4]) >= SCORE_THRESHOLD]
    return sorted(found, key=lambda item: -item["score"])


def boxes(model: Any, image: ServedImage) -> list[dict[str, Any]]:
    """The detector's reply for one request's image."""
    from mmdet.apis import inference_detector

    result = inference_detector(model, image.rgb[:, :, ::-1].copy())  # mmdet takes BGR
    per_class = result[0] if isinstance(result, tuple) else result  # Mask R-CNN: (boxes, masks)
    return reply(per_class, model.CLASSES, image)


def handle(data: list[dict[str, Any]] | None, context: Any) -> list[Any] | None:
    """TorchServe entry point: loads the model on the load-time call (data None), then one reply per request."""
    global _model
    if _model is None:
        _model = load(context)
    if data is None:
        return None
    replies = []
    for index, row in enumerate(data):
        replies.append(boxes(_model, read_request_image(row)))
        context.set_response_header(index, HEADER, DETECTOR)
    return replies
