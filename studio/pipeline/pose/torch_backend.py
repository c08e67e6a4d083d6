"""Pose backend that runs mmpose top-down SimpleBaseline checkpoints (AD's pose model) in plain torch, no mmcv."""

from __future__ import annotations

import functools
import importlib
import inspect
import pickle
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from studio.pipeline.pose.archive import extract_checkpoint, is_archive
from studio.pipeline.pose.backend import BackendError, Box, Detection, PoseResult
from studio.pipeline.pose.decode import box_center_size, crop_input, flip_back, keypoints_from_heatmaps

if TYPE_CHECKING:
    import torch

RESNET_DEPTHS: dict[tuple[str, tuple[int, ...]], int] = {
    ("basic", (2, 2, 2, 2)): 18, ("basic", (3, 4, 6, 3)): 34, ("bottleneck", (3, 4, 6, 3)): 50,
    ("bottleneck", (3, 4, 23, 3)): 101, ("bottleneck", (3, 8, 36, 3)): 152}


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BackendError("the torch pose backend needs PyTorch: pip install torch") from exc
    return torch


# --- safe loading -------------------------------------------------------------------------------------------

def numpy_allowlist() -> list[Any]:
    """The numpy globals OpenMMLab checkpoints pickle into ``meta``: arrays, scalars and dtypes; nothing
    callable beyond numpy's own array/scalar reconstructors."""
    multiarray = _numpy_multiarray()
    allowed: list[Any] = [np.ndarray, np.dtype]
    for fn in ("_reconstruct", "scalar"):
        obj = getattr(multiarray, fn)
        allowed += [(obj, f"numpy.core.multiarray.{fn}"), (obj, f"numpy._core.multiarray.{fn}")]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        allowed += [t for t in vars(dtypes).values() if isinstance(t, type) and issubclass(t, np.dtype)]
    return allowed


def _numpy_multiarray() -> Any:
    """numpy's multiarray module: ``numpy._core.multiarray`` on numpy 2, ``numpy.core.multiarray`` on 1.x
    (where ``numpy._core`` may exist as an incomplete shim, as on 1.26)."""
    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "_reconstruct"):
            return module
    raise BackendError(f"this numpy ({np.__version__}) has no multiarray module the checkpoint loader knows")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _load_pickle(path: Path, shown: str) -> Any:
    torch = _torch()
    try:
        with torch.serialization.safe_globals(numpy_allowlist()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" not in str(exc).lower():
            raise BackendError(f"cannot read {shown} as a PyTorch checkpoint: {_first_line(exc)}") from exc
        found = re.search(r"GLOBAL (\S+)", str(exc))
        what = f"the Python object {found.group(1)}" if found else "Python objects"
        raise BackendError(f"refused to load {shown}: it needs {what}, which is not on the safe allowlist "
                           "(loading it could run code). Use a checkpoint from a trusted source.") from exc
    except Exception as exc:  # torch.load raises many kinds on a corrupt or foreign file
        raise BackendError(f"cannot read {shown} as a PyTorch checkpoint: {_first_line(exc)}") from exc


def load_state_dict(checkpoint: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a bare .pth or of the .pth inside a TorchServe .mar, loaded with ``weights_only=True``.

    Takes ``state_dict`` when present (else the dict itself) and strips a ``module.`` prefix."""
    path = Path(checkpoint)
    if not path.is_file():
        raise BackendError(f"no pose checkpoint at {path}")
    if is_archive(path):
        with tempfile.TemporaryDirectory(prefix="studio-pose-") as tmp:
            obj = _load_pickle(extract_checkpoint(path, tmp), f"{path.name} (.pth inside)")
    else:
        obj = _load_pickle(path, path.name)
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    torch = _torch()
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise BackendError(f"{path.name} holds no state_dict of tensors")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}


# --- the network ----------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _network_class() -> type:
    """Builds the nn.Module classes on first use, so importing this module does not import torch."""
    _torch()
    import torch
    from torch import nn

    class Block(nn.Module):
        """A ResNet basic (two 3×3) or bottleneck (1×1, 3×3 with the stride, 1×1 ×4) block."""

        def __init__(self, cin: int, width: int, stride: int, bottleneck: bool) -> None:
            super().__init__()
            cout = width * 4 if bottleneck else width
            self.bottleneck = bottleneck
            if bottleneck:
                self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
                self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
                self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
                self.bn3 = nn.BatchNorm2d(cout)
            else:
                self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
                self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
            self.bn1, self.bn2 = nn.BatchNorm2d(width), nn.BatchNorm2d(width)
            self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                               if stride != 1 or cin != cout else None)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = torch.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            if self.bottleneck:
                out = self.bn3(self.conv3(torch.relu(out)))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    class Backbone(nn.Module):
        """ResNet (pytorch style) returning the last stage only, as mmpose's ResNet with out_indices=(3,)."""

        def __init__(self, blocks: tuple[int, ...], bottleneck: bool) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            cin = 64
            for i, n in enumerate(blocks):
                width = 64 << i
                layer = [Block(cin if b == 0 else width * (4 if bottleneck else 1), width,
                               (1 if i == 0 else 2) if b == 0 else 1, bottleneck) for b in range(n)]
                cin = width * (4 if bottleneck else 1)
                setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
            self.out_channels = cin

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
            for i in range(1, 5):
                x = getattr(self, f"layer{i}")(x)
            return x

    class Head(nn.Module):
        """mmpose's TopdownHeatmapSimpleHead: deconv (no bias), BN, ReLU repeated, then a conv to K heatmaps."""

        def __init__(self, cin: int, deconvs: tuple[tuple[int, int], ...], joints: int, final_kernel: int) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            for cout, k in deconvs:
                pad, out_pad = {4: (1, 0), 3: (1, 1), 2: (0, 0)}[k]
                layers += [nn.ConvTranspose2d(cin, cout, k, 2, pad, out_pad, bias=False), nn.BatchNorm2d(cout),
                           nn.ReLU(inplace=True)]
                cin = cout
            self.deconv_layers = nn.Sequential(*layers)
            self.final_layer = nn.Conv2d(cin, joints, final_kernel, 1, (final_kernel - 1) // 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.final_layer(self.deconv_layers(x))

    class SimpleBaseline(nn.Module):
        """Top-down SimpleBaseline: (N, 3, 256, 192) normalised RGB → (N, K, 64, 48) heatmaps."""

        def __init__(self, depth: int = 50, joints: int = 17,
                     deconvs: tuple[tuple[int, int], ...] = ((256, 4),) * 3, final_kernel: int = 1) -> None:
            super().__init__()
            kind, blocks = next(key for key, d in RESNET_DEPTHS.items() if d == depth)
            self.backbone = Backbone(blocks, kind == "bottleneck")
            self.keypoint_head = Head(self.backbone.out_channels, deconvs, joints, final_kernel)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.keypoint_head(self.backbone(x))

    return SimpleBaseline


def build_network(depth: int = 50, joints: int = 17, deconvs: tuple[tuple[int, int], ...] = ((256, 4),) * 3,
                  final_kernel: int = 1) -> torch.nn.Module:
    """A randomly initialised SimpleBaseline whose state_dict keys match mmpose 0.x's TopDown model."""
    if depth not in RESNET_DEPTHS.values():
        raise BackendError(f"unsupported ResNet depth {depth}; supported: {sorted(RESNET_DEPTHS.values())}")
    return _network_class()(depth, joints, deconvs, final_kernel)


def network_for(state: Mapping[str, Any], device: str = "cpu") -> torch.nn.Module:
    """The network described by a state_dict's keys and shapes, with the weights loaded, on ``device``.

    It is built on torch's meta device (shapes, no memory), then takes the checkpoint's own tensors as its weights
    (``load_state_dict(assign=True)``, torch ≥ 2.1, when their dtypes are the network's) and moves once to
    ``device``; else it is given uninitialised memory on ``device`` and the weights are copied in. Built for real,
    as before, a ResNet-50 took 0.22-0.24 s of CPU (one thread) to initialise randomly, load and move, all of the
    initialisation overwritten; 0.15-0.16 s copying into fresh memory, 0.07-0.10 s taking the tensors. Raises
    BackendError naming missing or unexpected keys, or an unsupported architecture."""
    kind = "bottleneck" if "backbone.layer1.0.conv3.weight" in state else "basic"
    blocks = tuple(1 + max((int(k.split(".")[2]) for k in state if k.startswith(f"backbone.layer{i}.")),
                           default=-1) for i in range(1, 5))
    depth = RESNET_DEPTHS.get((kind, blocks))
    if depth is None:
        raise BackendError(f"unsupported pose backbone: {kind} blocks per stage {blocks}; this runner knows "
                           f"ResNet-{'/'.join(map(str, sorted(RESNET_DEPTHS.values())))} (mmpose SimpleBaseline)")
    deconvs = tuple((int(v.shape[1]), int(v.shape[2])) for k, v in sorted(
        ((k, v) for k, v in state.items() if re.fullmatch(r"keypoint_head\.deconv_layers\.\d+\.weight", k)
         and v.ndim == 4), key=lambda kv: int(kv[0].split(".")[2])))
    final = state.get("keypoint_head.final_layer.weight")
    joints, kernel = (int(final.shape[0]), int(final.shape[2])) if final is not None and final.ndim == 4 else (17, 1)
    if any(k not in (2, 3, 4) for _, k in deconvs):
        raise BackendError(f"unsupported deconvolution kernels {[k for _, k in deconvs]} in the pose head")
    torch = _torch()
    with torch.device("meta"):
        net = build_network(depth, joints, deconvs, kernel)
    expected = net.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = [f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})" if missing else "",
                 f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})" if unexpected else ""]
        raise BackendError(f"the checkpoint does not match a ResNet-{depth} SimpleBaseline: "
                           + "; ".join(p for p in parts if p))
    assign = _assigns(torch) and all(state[k].dtype == v.dtype for k, v in expected.items() if k in state)
    _materialise(net, "cpu" if assign else device, parameters=not assign)
    try:
        net.load_state_dict(dict(state), strict=False, **({"assign": True} if assign else {}))
    except RuntimeError as exc:
        raise BackendError(f"the checkpoint's tensor shapes do not fit ResNet-{depth} SimpleBaseline: "
                           f"{str(exc).strip().splitlines()[-1].strip()}") from exc
    return net.to(device).eval()


def _assigns(torch: Any) -> bool:
    """Whether this torch's load_state_dict can take the given tensors as they are (``assign``, torch ≥ 2.1)."""
    return "assign" in inspect.signature(torch.nn.Module.load_state_dict).parameters


def _materialise(net: torch.nn.Module, device: str, parameters: bool = True) -> None:
    """Give a network built on the meta device memory on ``device``: buffers zero (a checkpoint may lack
    num_batches_tracked) and, with ``parameters``, parameters uninitialised (the checkpoint fills them). Not torch's
    ``to_empty``: that imported sympy, 0.25-0.4 s of a cold start, to allocate what takes 1 ms here."""
    torch = _torch()
    for module in net.modules():
        for name, param in list(module.named_parameters(recurse=False)) if parameters else ():
            setattr(module, name, torch.nn.Parameter(torch.empty(param.shape, dtype=param.dtype, device=device),
                                                     requires_grad=param.requires_grad))
        for name, buffer in list(module.named_buffers(recurse=False)):
            setattr(module, name, torch.zeros(buffer.shape, dtype=buffer.dtype, device=device))


# --- the backend ----------------------------------------------------------------------------------------------

class TorchPoseBackend:
    """Runs an mmpose top-down SimpleBaseline checkpoint (.pth, or a TorchServe .mar holding one) in torch."""

    name = "torch"

    def __init__(self, checkpoint: str | Path, device: str | None = None, flip_test: bool = True) -> None:
        torch = _torch()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError(f"device {self.device!r} asked for, but torch sees no CUDA GPU; use device='cpu'")
        self.flip_test = flip_test
        self.net = network_for(load_state_dict(checkpoint), self.device)

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """This runner only does pose: the box comes from the classical finder for ink drawings on paper."""
        from studio.pipeline.intake.box import find_figure_box

        return [find_figure_box(np.asarray(image_rgb))]

    def heatmaps(self, batch: np.ndarray) -> np.ndarray:
        """Network input (N, 3, 256, 192) float32 → heatmaps (N, K, 64, 48) float32."""
        torch = _torch()
        with torch.inference_mode():
            out = self.net(torch.from_numpy(batch).to(self.device))
        return out.float().cpu().numpy()

    def pose(self, image_rgb: np.ndarray, box: Box) -> PoseResult:
        """17 COCO keypoints (17, 3) [x, y, score] in image px for the figure in ``box``.

        The spec (mmpose 0.x top-down, test mode):
        1. box (left, top, right, bottom) → centre and size: the short side padded to 192:256 (w:h), ×1.25;
        2. bilinear affine warp (cv2.warpAffine, black outside) of the RGB image to 192×256; /255, then
           ImageNet mean [0.485, 0.456, 0.406] and std [0.229, 0.224, 0.225];
        3. the network gives 17 heatmaps of 48×64; with flip_test the mirrored input's heatmaps are mirrored
           back, left/right swapped, shifted 1 px right and averaged in;
        4. per heatmap the argmax (score = its value), a quarter px towards the higher neighbour along x and
           y, then heatmap px → image px through the inverse crop transform."""
        image = np.asarray(image_rgb)
        if image.ndim != 3 or image.shape[2] != 3:
            raise BackendError(f"the pose backend needs an (H, W, 3) RGB image, got shape {image.shape}")
        try:
            center, size = box_center_size(box)
        except ValueError as exc:
            raise BackendError(f"cannot pose an empty box: {exc}") from exc
        x = crop_input(image.astype(np.uint8, copy=False), center, size)
        batch = np.concatenate([x, x[:, :, :, ::-1]]) if self.flip_test else x
        hm = self.heatmaps(np.ascontiguousarray(batch))
        maps = (hm[0] + flip_back(hm[1])) * 0.5 if self.flip_test else hm[0]
        keypoints = keypoints_from_heatmaps(maps, center, size)
        dead = int((keypoints[:, 2] <= 0).sum())
        notes = (f"{dead} of 17 keypoints have no positive heatmap response: they sit at the crop's corner "
                 "(as mmpose puts them); place them by hand",) if dead else ()
        return PoseResult(keypoints=keypoints, notes=notes)
