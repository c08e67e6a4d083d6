"""TorchServe handler for AD's pose archive on the studio's pure-torch runner: no mmcv at all.

It serves the archive AD ships (``drawn_humanoid_pose_estimator.mar``: a checkpoint such as
``best_AP_epoch_72.pth`` and an mmpose ``config.py``), with this file as its handler, or one packed the same way::

    torch-model-archiver --model-name drawn_humanoid_pose_estimator --version 1.0 \\
        --serialized-file best_AP_epoch_72.pth --extra-files config.py \\
        --handler packaging/torchserve/handlers/pose_handler.py --export-path model_store

The worker's Python needs the studio installed (``pip install drawing-studio[torch]``). The checkpoint is loaded
with ``torch.load(weights_only=True)`` and a numpy allowlist (studio.pipeline.pose.torch_backend), never unpickled
otherwise, so mmpose 0.29's weights-only failure under torch >= 2.6 does not arise. config.py is read as text,
never run: only its ``image_size``, which must be the runner's 192×256.

The reply is AD's mmpose handler's: per image, a list with one skeleton
``{"keypoints": [[x, y, score] × 17], "bbox": [0, 0, w, h, 1.0]}`` in the received image's px, the whole image
being the person box (AD's client sends the crop of the detected box). The runner sees the image downscaled to the
studio's working size (studio.pipeline.pose.served_image); the keypoints are carried back to the received px.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np

from studio.pipeline.pose.archive import CHECKPOINT_SUFFIXES, safe_member_name
from studio.pipeline.pose.backend import BackendError
from studio.pipeline.pose.decode import INPUT_WH
from studio.pipeline.pose.served_image import ServedImage, read_request_image
from studio.pipeline.pose.torch_backend import TorchPoseBackend

_runner: TorchPoseBackend | None = None


def checkpoint_path(model_dir: Path, manifest: dict[str, Any] | None) -> Path:
    """The archive's checkpoint inside ``model_dir``: the manifest's serializedFile, else its one .pth/.pt/.ckpt.

    Raises ValueError for a name that would lead outside ``model_dir``, or when there is none or several."""
    model_dir = model_dir.resolve()
    name = ((manifest or {}).get("model") or {}).get("serializedFile")
    if name:
        path = (model_dir / name).resolve()
        if not safe_member_name(name) or model_dir not in path.parents:
            raise ValueError(f"refused the serialized file {name!r}: it lies outside the model's folder")
        if not path.is_file():
            raise ValueError(f"the archive names the serialized file {name!r}, which it does not hold")
        return path
    found = sorted(p for p in model_dir.iterdir() if p.is_file() and p.suffix.lower() in CHECKPOINT_SUFFIXES)
    if len(found) != 1:
        raise ValueError(f"the archive holds {len(found)} checkpoints ({', '.join(p.name for p in found) or 'none'}), "
                         "and its manifest names none: pack it with --serialized-file")
    return found[0]


def config_image_size(config: Path) -> tuple[int, int] | None:
    """The ``image_size=[w, h]`` an mmpose config.py declares, read from its syntax tree (never run), or None."""
    try:
        tree = ast.parse(config.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        value = None
        if isinstance(node, ast.keyword) and node.arg == "image_size":
            value = node.value
        elif isinstance(node, ast.Dict):
            value = next((v for k, v in zip(node.keys, node.values)
                          if isinstance(k, ast.Constant) and k.value == "image_size"), None)
        if value is not None:
            try:
                size = ast.literal_eval(value)
            except ValueError:
                continue
            if isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(v, int) for v in size):
                return int(size[0]), int(size[1])
    return None


def device_for(gpu_id: Any) -> str:
    """The worker's device: the GPU TorchServe gave it when torch sees one, else the CPU."""
    import torch

    if gpu_id is None or not torch.cuda.is_available():
        return "cpu"
    return f"cuda:{int(gpu_id)}"


def load(context: Any) -> TorchPoseBackend:
    """The runner for this worker's archive, checked: a config for another input size is refused."""
    props = getattr(context, "system_properties", None) or {}
    model_dir = Path(props.get("model_dir", "."))
    try:
        checkpoint = checkpoint_path(model_dir, getattr(context, "manifest", None))
        size = config_image_size(model_dir / "config.py") if (model_dir / "config.py").is_file() else None
        if size is not None and size != INPUT_WH:
            raise ValueError(f"config.py declares image_size {list(size)}; this runner takes {list(INPUT_WH)} "
                             "(AD's pose model): serve this archive with mmpose instead")
        return TorchPoseBackend(checkpoint, device=device_for(props.get("gpu_id")))
    except (BackendError, ValueError) as exc:
        raise RuntimeError(f"pose_handler cannot load {model_dir.name}: {exc}") from None


def skeletons(runner: TorchPoseBackend, image: ServedImage) -> list[dict[str, Any]]:
    """AD's reply for one request's image: one skeleton in received px, the whole image as the person box."""
    h, w = image.rgb.shape[:2]
    result = runner.pose(image.rgb, (0.0, 0.0, float(w), float(h)))
    keypoints = result.keypoints.astype(np.float64)
    keypoints[:, :2] = image.points_to_received(keypoints[:, :2])
    width, height = image.received_size
    return [{"keypoints": [[float(v) for v in row] for row in keypoints],
             "bbox": [0.0, 0.0, float(width), float(height), 1.0]}]


def handle(data: list[dict[str, Any]] | None, context: Any) -> list[Any] | None:
    """TorchServe entry point: loads the model on the load-time call (data None), then one reply per request."""
    global _runner
    if _runner is None:
        _runner = load(context)
    if data is None:
        return None
    return [skeletons(_runner, read_request_image(row)) for row in data]
