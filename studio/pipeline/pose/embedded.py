"""The embedded pose model: a small top-down heatmap network for drawn figures that ships with the studio.

It runs in plain torch on a CPU, on one thread. Pre- and post-processing follow pose_decode (mmpose's
conventions) at a smaller input: the box, padded 1.25× to the input's 3:4 aspect, is warped to 96×128 px; the
network gives 17 COCO heatmaps at 24×32 for the crop and for its mirror image, and for a crop 1.1× wider and its
mirror (SCALES), all averaged in the first crop's frame (flip test, two box scales); each
keypoint is the heatmap's peak (limb_decode: a rival peak goes to the one nearest the parent joint) placed to a
fraction of a pixel where a Gaussian through it peaks (decode.taylor_peak), mapped back to image px, with the peak
value as its score.

Network (``build_network``): an encoder of four stride-2 stages (conv-BN-ReLU pairs) and a decoder of two
upsampling stages with skip connections, then a 1×1 head: about 1.9 M parameters (7.5 MB as float32). A third
decoder stage gives 64×48 heatmaps (output stride 2, recorded in the weights' header).
Weights live in ``studio/resources/pose_embedded.pt`` as a plain state dict with a small header, loaded with
``torch.load(weights_only=True)``. Their sha256 is in ``pose_embedded.pt.sha256`` beside them (``sha256sum -c``
reads it; save_weights writes it): a damaged copy of the shipped weights loads without complaint and gives
scores in the hundreds, so it is refused when loaded (hashing the 7.7 MB costs a few ms). A weights file the
user names (--checkpoint) is not checksummed; the outputs of every model are checked by pose.check_keypoints.

The same weights also ship exported to ONNX (``pose_embedded.onnx``, written by export_onnx), which OpenCV's dnn
module runs without torch: importing torch took 0.85 s of a fresh ``studio pose``'s 1.5 s. OpenCV's heatmaps
equal torch's within 1e-6. The ONNX file's record (``pose_embedded.onnx.sha256``) holds its own sha256 and that of
the .pt it was exported from, so a damaged or stale export is never run: the backend then uses torch.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from studio.pipeline.files.atomic import atomic_write_path
from studio.pipeline.intake.box import find_figure_box
from studio.pipeline.pose.backend import UNSURE_SCORE, BackendError, Box, Detection, PoseResult, check_box
from studio.pipeline.pose.limbs import decode_limbs
from studio.pipeline.pose.decode import (box_center_size, crop_input, decode_heatmaps, flip_back, heatmap_to_image,
                                         mirror_shift, quarter_shift, taylor_peak)

INPUT_WH = (96, 128)  # network input, width × height
STRIDE = 4  # the shipped network's output stride (build_network also makes 2)
HEATMAP_WH = (INPUT_WH[0] // STRIDE, INPUT_WH[1] // STRIDE)  # its output, width × height: 24×32
WIDTH = 32  # channels of the first stage; each later stage doubles it
THREADS = 1  # torch threads per pose: a small network gains little from two, and two stall when the CPU is busy
FLIP_SHIFT = mirror_shift(STRIDE)  # 0.75 heatmap px at stride 4: the exact mirror (not mmpose's 1)
FORMAT = "drawing-studio-pose-v1"
# A joint whose (flip-averaged) heatmap peak is below this is scored unsure, so the user is asked to check it. Chosen
# on generated figures of the training families (a tuning seed, never the evaluation's): with the leave-style-out
# model it rings 0.85 of the joints more than 8 % off there, at a precision of 0.30; 0.3 (UNSURE_SCORE) rang 0.54.
LOW_PEAK = 0.5
# Box scales averaged at test time: the crop at the box's usual padding and one 1.1× wider, each with its mirror
# image, in one batch of four; the wider crop's heatmaps are warped into the first's frame before averaging. Chosen
# on the tuning seed with the leave-style-out model: out of style 2.38 -> 2.26 %, in style 1.35 -> 1.33 %; a third
# scale (0.95, 1.05, 1.15) gave 2.23 % for 1.5× the time.
SCALES = (1.0, 1.1)
WEIGHTS = Path(str(resources.files("studio") / "resources" / "pose_embedded.pt"))  # shipped inside the package


def onnx_path() -> Path:
    """The shipped ONNX export beside the shipped weights (WEIGHTS, read when called: tests move it)."""
    return WEIGHTS.with_suffix(".onnx")


class OnnxNetwork:
    """The exported network run by OpenCV's dnn: (B, 3, 128, 96) float32 → (B, 17, 32, 24), no torch."""

    def __init__(self, data: bytes) -> None:
        import cv2

        try:
            self.net = cv2.dnn.readNetFromONNX(np.frombuffer(data, np.uint8))
        except cv2.error as exc:
            raise BackendError(f"OpenCV cannot run the embedded model's ONNX export: {str(exc).strip()[:200]}") from None

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.net.setInput(np.ascontiguousarray(batch, np.float32))
        return np.asarray(self.net.forward(), np.float32)


def _verified_onnx() -> bytes | None:
    """The shipped ONNX export's bytes when its record vouches for them and for the shipped .pt's checksum (an
    export of other weights is stale); None when there is none, or it does not match."""
    path = onnx_path()
    try:
        lines = checksum_file(path).read_text(encoding="ascii").split("\n")
        own, source = lines[0].split()[0].lower(), lines[1].split()[0].lower()
        weights = checksum_file(WEIGHTS).read_text(encoding="ascii").split()[0].lower()
        data = path.read_bytes()
    except (OSError, UnicodeDecodeError, IndexError):
        return None
    return data if hashlib.sha256(data).hexdigest() == own and source == weights else None


def export_onnx(network: Any, weights: Path) -> Path:
    """Write ``network`` (loaded from ``weights``) as ``<weights>.onnx`` beside it, with its record: its own sha256
    and the weights'. Needs torch and the ``onnx`` package (training only; the studio only reads the export)."""
    torch = _torch()
    weights = Path(weights)
    target = weights.with_suffix(".onnx")
    buffer = io.BytesIO()
    example = torch.zeros(2, 3, INPUT_WH[1], INPUT_WH[0])
    torch.onnx.export(network.eval(), example, buffer, opset_version=13, dynamo=False, input_names=["crops"],
                      output_names=["heatmaps"], dynamic_axes={"crops": {0: "n"}, "heatmaps": {0: "n"}})
    data = buffer.getvalue()
    with atomic_write_path(target) as tmp:
        tmp.write_bytes(data)
    source = hashlib.sha256(weights.read_bytes()).hexdigest()
    with atomic_write_path(checksum_file(target)) as tmp:
        tmp.write_text(f"{hashlib.sha256(data).hexdigest()}  {target.name}\n{source}  {weights.name}\n",
                       encoding="ascii")
    return target


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise BackendError("the embedded pose model needs PyTorch: pip install torch") from exc
    return torch


def build_network(width: int = WIDTH, stride: int = STRIDE) -> Any:
    """The network, randomly initialised: (B, 3, 128, 96) float32 → (B, 17, 128 / stride, 96 / stride) heatmaps
    (stride 4: 32×24, the shipped model's; stride 2 adds a third decoder stage for 64×48)."""
    if stride not in (2, 4):
        raise BackendError(f"the embedded network's output stride is 2 or 4, not {stride!r:.20}")
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
            self.stride = stride
            self.enc1, self.enc2 = pair(3, w, 2), pair(w, 2 * w, 2)  # 1/2, 1/4
            self.enc3, self.enc4 = pair(2 * w, 4 * w, 2), pair(4 * w, 8 * w, 2)  # 1/8, 1/16
            self.dec3 = pair(8 * w + 4 * w, 4 * w, 1)  # back to 1/8
            self.dec2 = pair(4 * w + 2 * w, 2 * w, 1)  # back to 1/4
            if stride == 2:
                self.dec1 = pair(2 * w + w, w, 1)  # back to 1/2
            self.head = nn.Conv2d(2 * w if stride == 4 else w, 17, 1)

        def forward(self, x: Any) -> Any:
            f = torch.nn.functional
            e1 = self.enc1(x)
            e2 = self.enc2(e1)
            e3 = self.enc3(e2)
            e4 = self.enc4(e3)
            d3 = self.dec3(torch.cat([f.interpolate(e4, size=e3.shape[2:], mode="nearest"), e3], 1))
            d = self.dec2(torch.cat([f.interpolate(d3, size=e2.shape[2:], mode="nearest"), e2], 1))
            if stride == 2:
                d = self.dec1(torch.cat([f.interpolate(d, size=e1.shape[2:], mode="nearest"), e1], 1))
            return self.head(d)

    return DrawnPoseNet()


def save_weights(network: Any, path: Path, meta: dict[str, Any] | None = None) -> None:
    """Write a state dict the loader accepts (tensors plus a header of plain values) and its sha256 beside it,
    each file replaced whole."""
    torch = _torch()
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    header = {"format": FORMAT, "width": WIDTH, "stride": getattr(network, "stride", STRIDE), "meta": dict(meta or {})}
    torch.save({**header, "state_dict": state}, buffer)
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
    stride = data.get("stride", STRIDE)
    if stride not in (2, 4):
        raise BackendError(f"{path.name} is damaged: its output stride {stride!r:.20} is neither 2 nor 4")
    network = build_network(width, stride)
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


def predict(network: Any, image_rgb: np.ndarray, box: Box, flip: bool = True, limbs: bool = True,
            taylor: bool = True, scales: tuple[float, ...] = SCALES) -> np.ndarray:
    """(17, 3) float64 COCO keypoints [x, y, score] in image px for the figure in ``box``.

    ``flip`` also runs the mirrored crop and averages the two heatmaps (steadier peaks); ``scales`` crops the box
    at each of these multiples of its padded size and averages their heatmaps in the first crop's frame (all crops
    in one batch); ``limbs`` reads the peaks with decode_limbs, so an ambiguous hand or foot follows its elbow or
    knee and is scored unsure, where plain argmax takes whichever peak is a hair stronger; it also scores unsure every
    joint whose peak is below LOW_PEAK. ``taylor`` places each peak to a fraction of a heatmap px by
    decode.taylor_peak (False: mmpose's quarter px step)."""
    if not scales or any(not 0.5 <= s <= 2.0 for s in scales):
        raise ValueError(f"box scales must be between 0.5 and 2, got {scales!r:.40}")
    center, padded = box_center_size(box, INPUT_WH)
    size = padded * scales[0]  # the first crop's: the frame the others are averaged in
    crops = [crop_input(image_rgb, center, padded * s, INPUT_WH) for s in scales]
    if flip:
        crops += [x[:, :, :, ::-1] for x in crops]
    out = _forward(network, np.concatenate(crops))
    n = len(scales)
    shift = mirror_shift(INPUT_WH[0] // out.shape[-1])
    views = [0.5 * (out[i] + flip_back(out[n + i], shift=shift)) if flip else out[i] for i in range(n)]
    heatmaps = np.mean([_into_first_frame(v, s / scales[0]) for v, s in zip(views, scales)], axis=0)
    refine = taylor_peak if taylor else quarter_shift
    coords, scores = decode_limbs(heatmaps, refine)[:2] if limbs else decode_heatmaps(heatmaps, refine)
    if limbs:  # the studio's decoding also rings weak peaks (limbs=False is mmpose's plain argmax and peak scores)
        weak = heatmaps.reshape(len(heatmaps), -1).max(axis=1) < LOW_PEAK
        scores[weak] = np.minimum(scores[weak], 0.5 * UNSURE_SCORE)
    xy = heatmap_to_image(coords, center, size, (heatmaps.shape[-1], heatmaps.shape[-2]))
    return np.concatenate([xy, scores[:, None]], axis=1)


def _into_first_frame(heatmaps: np.ndarray, k: float) -> np.ndarray:
    """Heatmaps (K, h, w) of a crop ``k`` times as wide as the first, about the same centre, warped into the first
    crop's heatmap frame: its px u lies at k * u + (1 - k) * w / 2 there (heatmap_to_image's convention)."""
    if k == 1.0:
        return heatmaps
    h, w = heatmaps.shape[1:]
    m = np.array([[k, 0.0, 0.5 * w * (1 - k)], [0.0, k, 0.5 * h * (1 - k)]])
    return np.stack([cv2.warpAffine(hm, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
                     for hm in heatmaps])


def _forward(network: Any, batch: np.ndarray) -> np.ndarray:
    """(B, 17, h, w) float32 heatmaps of ``batch`` (B, 3, H, W) float32, by the ONNX export or a torch network."""
    if isinstance(network, OnnxNetwork):
        return network(batch)
    torch = _torch()
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)  # restored below: other torch users in the process keep theirs
    try:
        with torch.inference_mode():
            return network(torch.from_numpy(np.ascontiguousarray(batch))).float().numpy()  # type: ignore[no-any-return]
    finally:
        torch.set_num_threads(threads)


class EmbeddedBackend:
    """The studio's own pose model (no download, no server); the box comes from the classical finder."""

    name = "embedded"

    def __init__(self, weights: str | Path | None = None, flip: bool = True, limbs: bool = True,
                 taylor: bool = True, scales: tuple[float, ...] = SCALES) -> None:
        exported = _verified_onnx() if weights is None else None  # the shipped model runs without torch
        self.network: Any = OnnxNetwork(exported) if exported is not None else load_network(weights)
        self.flip, self.limbs, self.taylor, self.scales = flip, limbs, taylor, tuple(scales)

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        return [find_figure_box(image_rgb)]

    def pose(self, image_rgb: np.ndarray, box: Box) -> PoseResult:
        keypoints = predict(self.network, image_rgb, check_box(box), self.flip, self.limbs, self.taylor, self.scales)
        return PoseResult(keypoints)


def available(weights: str | Path | None = None) -> bool:
    """Whether the embedded model can run here: the shipped ONNX export (OpenCV runs it), or torch importable
    and the weights present. Asking imports nothing heavy."""
    import importlib.util

    if weights is None and onnx_path().is_file():
        return True
    return importlib.util.find_spec("torch") is not None and Path(weights or WEIGHTS).is_file()
