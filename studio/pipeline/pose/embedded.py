"""The embedded pose model: a small top-down heatmap network for drawn figures that ships with the studio.

It runs in plain torch on a CPU, on one thread. Pre- and post-processing follow pose_decode (mmpose's
conventions) at a smaller input: the box, padded 1.25× to the input's 3:4 aspect, is warped to 96×128 px; the
network gives 17 COCO heatmaps at 24×32 for the crop and for its mirror image, averaged (flip test); each
keypoint is the heatmap's peak (limb_decode: a rival peak goes to the one nearest the parent joint) moved a
quarter pixel towards the higher neighbour, mapped back to image px, with the peak value as its score.

Network (``build_network``): an encoder of four stride-2 stages (conv-BN-ReLU pairs) and a decoder of two
upsampling stages with skip connections, then a 1×1 head: about 1.9 M parameters (7.5 MB as float32).
Weights live in ``studio/resources/pose_embedded.pt`` as a plain state dict with a small header, loaded with
``torch.load(weights_only=True)``. Their sha256 is in ``pose_embedded.pt.sha256`` beside them (``sha256sum -c``
reads it; save_weights writes it): a damaged copy of the shipped weights loads without complaint and gives
scores in the hundreds, so it is refused when loaded (hashing the 7.7 MB costs a few ms). A weights file the
user names (--checkpoint) is not checksummed; the outputs of every model are checked by pose.check_keypoints.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from studio.pipeline.files.atomic import atomic_write_path
from studio.pipeline.intake.box import find_figure_box
from studio.pipeline.pose.backend import BackendError, Box, Detection, PoseResult, check_box
from studio.pipeline.pose.limbs import decode_limbs
from studio.pipeline.pose.decode import (box_center_size, crop_input, decode_heatmaps, flip_back, heatmap_to_image,
                                         mirror_shift)

INPUT_WH = (96, 128)  # network input, width × height
HEATMAP_WH = (24, 32)  # network output, width × height (stride 4)
WIDTH = 32  # channels of the first stage; each later stage doubles it
THREADS = 1  # torch threads per pose: a small network gains little from two, and two stall when the CPU is busy
FLIP_SHIFT = mirror_shift(INPUT_WH[0] // HEATMAP_WH[0])  # 0.75 heatmap px: the exact mirror (not mmpose's 1)
FORMAT = "drawing-studio-pose-v1"
WEIGHTS = Path(str(resources.files("studio") / "resources" / "pose_embedded.pt"))  # shipped inside the package


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise BackendError("the embedded pose model needs PyTorch: pip install torch") from exc
    return torch


def build_network(width: int = WIDTH) -> Any:
    """The network, randomly initialised: (B, 3, 128, 96) float32 → (B, 17, 32, 24) heatmaps."""
    torch = _torch()
    nn = torch.nn

    def pair(cin: int, cout: int, stride: int) -> Any:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class DrawnPoseNet(nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            w = width
            self.enc1, self.enc2 = pair(3, w, 2), pair(w, 2 * w, 2)  # 1/2, 1/4
            self.enc3, self.enc4 = pair(2 * w, 4 * w, 2), pair(4 * w, 8 * w, 2)  # 1/8, 1/16
            self.dec3 = pair(8 * w + 4 * w, 4 * w, 1)  # back to 1/8
            self.dec2 = pair(4 * w + 2 * w, 2 * w, 1)  # back to 1/4
            self.head = nn.Conv2d(2 * w, 17, 1)

        def forward(self, x: Any) -> Any:
            f = torch.nn.functional
            e1 = self.enc1(x)
            e2 = self.enc2(e1)
            e3 = self.enc3(e2)
            e4 = self.enc4(e3)
            d3 = self.dec3(torch.cat([f.interpolate(e4, size=e3.shape[2:], mode="nearest"), e3], 1))
            d2 = self.dec2(torch.cat([f.interpolate(d3, size=e2.shape[2:], mode="nearest"), e2], 1))
            return self.head(d2)

    return DrawnPoseNet()


def save_weights(network: Any, path: Path, meta: dict[str, Any] | None = None) -> None:
    """Write a state dict the loader accepts (tensors plus a header of plain values) and its sha256 beside it,
    each file replaced whole."""
    torch = _torch()
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "width": WIDTH, "meta": dict(meta or {}), "state_dict": state}, buffer)
    data = buffer.getvalue()
    with atomic_write_path(path) as tmp:
        tmp.write_bytes(data)
    with atomic_write_path(checksum_file(path)) as tmp:
        tmp.write_text(f"{hashlib.sha256(data).hexdigest()}  {path.name}\n", encoding="ascii")


def checksum_file(weights: Path) -> Path:
    """Where the sha256 of a weights file is recorded: ``<name>.sha256`` beside it, as sha256sum writes it."""
    return weights.with_name(weights.name + ".sha256")


def _verified(path: Path) -> bytes:
    """The bytes of the shipped weights at ``path``, after checking them against their recorded sha256."""
    record = checksum_file(path)
    try:
        expected = record.read_text(encoding="ascii").split()[0].lower()
    except (OSError, UnicodeDecodeError, IndexError):
        raise BackendError(f"cannot load the embedded pose weights {path.name}: their checksum file {record.name} "
                           "is missing or unreadable, so they cannot be verified; reinstall the package") from None
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected:
        raise BackendError(f"cannot load the embedded pose weights {path.name}: they are damaged (their sha256 "
                           f"does not match {record.name}); reinstall the package, or restore the file with "
                           "git checkout")
    return data


def load_network(path: str | Path | None = None, device: str = "cpu") -> Any:
    """The trained network in eval mode, from ``path`` (default: the shipped weights, checked against their
    sha256 first)."""
    torch = _torch()
    given = path is not None
    path = WEIGHTS if path is None else Path(path)
    if not path.is_file():
        if given:
            raise BackendError(f"no weights file at {path}" + (" (it is a folder)" if path.is_dir() else ""))
        raise BackendError(f"the embedded pose model's weights are missing ({path}); train them with "
                           "training/train.py, or pick another backend (manual, torchserve, torch, mm)")
    source: Path | io.BytesIO = path if given else io.BytesIO(_verified(path))
    try:
        data = torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = ("it holds Python objects, which the studio never unpickles: save a plain state dict"
                  if "Unsupported global" in str(exc) else "it is not a torch weights file, or it is damaged")
        raise BackendError(f"cannot load the embedded pose weights {path.name}: {reason}") from None
    except Exception:  # truncated, empty, or not a torch file at all
        raise BackendError(f"cannot load the embedded pose weights {path.name}: it is not a torch weights file, "
                           "or it is damaged") from None
    width = data.get("width", WIDTH) if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("state_dict"), dict):
        raise BackendError(f"{path.name} is not a Drawing Studio pose model ({FORMAT})")
    if not isinstance(width, int) or not 4 <= width <= 256:
        raise BackendError(f"{path.name} is damaged: its network width {width!r:.20} is not a whole number of "
                           "channels between 4 and 256")
    network = build_network(width)
    try:
        network.load_state_dict(data["state_dict"])
    except (KeyError, RuntimeError) as exc:
        raise BackendError(f"{path.name} does not fit the embedded network: {_state_dict_problem(str(exc))}") from None
    return network.to(device).eval()


def _state_dict_problem(message: str) -> str:
    """torch's load_state_dict error, which starts with a bare header line, as one line that says what is wrong."""
    lines = [line.strip() for line in message.splitlines()[1:] if line.strip()]
    text = "; ".join(lines) if lines else message.strip()
    return text if len(text) <= 200 else text[:197] + "..."


def predict(network: Any, image_rgb: np.ndarray, box: Box, flip: bool = True, limbs: bool = True) -> np.ndarray:
    """(17, 3) float64 COCO keypoints [x, y, score] in image px for the figure in ``box``.

    ``flip`` also runs the mirrored crop and averages the two heatmaps (one batch of two: steadier peaks);
    ``limbs`` reads the peaks with decode_limbs, so an ambiguous hand or foot follows its elbow or knee and is
    scored unsure, where plain argmax takes whichever peak is a hair stronger."""
    torch = _torch()
    center, size = box_center_size(box, INPUT_WH)
    x = torch.from_numpy(crop_input(image_rgb, center, size, INPUT_WH))
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)  # restored below: other torch users in the process keep theirs
    try:
        heatmaps = _heatmaps(torch, network, x, flip)
    finally:
        torch.set_num_threads(threads)
    coords, scores = decode_limbs(heatmaps)[:2] if limbs else decode_heatmaps(heatmaps)
    xy = heatmap_to_image(coords, center, size, HEATMAP_WH)
    return np.concatenate([xy, scores[:, None]], axis=1)


def _heatmaps(torch: Any, network: Any, x: Any, flip: bool) -> np.ndarray:
    """(17, h, w) heatmaps of the crop x (1, 3, H, W), averaged with its mirror image's when ``flip``."""
    with torch.inference_mode():
        if flip:
            out = network(torch.cat([x, torch.flip(x, [3])])).float().numpy()
            heatmaps = 0.5 * (out[0] + flip_back(out[1], shift=FLIP_SHIFT))
        else:
            heatmaps = network(x)[0].float().numpy()
    return heatmaps  # type: ignore[no-any-return]


class EmbeddedBackend:
    """The studio's own pose model (no download, no server); the box comes from the classical finder."""

    name = "embedded"

    def __init__(self, weights: str | Path | None = None, flip: bool = True, limbs: bool = True) -> None:
        self.network = load_network(weights)
        self.flip, self.limbs = flip, limbs

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        return [find_figure_box(image_rgb)]

    def pose(self, image_rgb: np.ndarray, box: Box) -> PoseResult:
        keypoints = predict(self.network, image_rgb, check_box(box), self.flip, self.limbs)
        return PoseResult(keypoints)


def available(weights: str | Path | None = None) -> bool:
    """Whether the embedded model can run here: torch importable and the weights present."""
    try:
        _torch()
    except BackendError:
        return False
    return Path(weights or WEIGHTS).is_file()
