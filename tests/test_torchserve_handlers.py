"""packaging/torchserve/handlers inside a real TorchServe: the mmcv-free pose handler serving a random-init archive
packed like AD's, and the classical fallback detector; their replies have AD's shapes, and the keypoints equal
`studio pose --backend torch` on the same weights and the same box."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest
from torchserve_fixture import LocalTorchServe, _bin, missing_tools, start_torchserve

from studio.core.sample import sample_image
from studio.pipeline.intake.box import find_figure_box

HANDLERS = Path(__file__).resolve().parents[1] / "packaging" / "torchserve" / "handlers"
DETECTOR, POSE = "drawn_humanoid_detector", "drawn_humanoid_pose_estimator"  # AD's model names
# AD's config.py is mmpose's; the handler reads image_size from its syntax and must never run it.
CONFIG_PY = """\
raise SystemExit("config.py was run: the handler must only read it")
data_cfg = dict(image_size=[192, 256], heatmap_size=[48, 64], num_output_channels=17)
"""


def handler_module(name: str) -> ModuleType:
    """A handler file imported as a module, as TorchServe does."""
    spec = importlib.util.spec_from_file_location(name, HANDLERS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_checkpoint(path: Path) -> Path:
    """A random-init SimpleBaseline (ResNet-18, small head) saved as mmpose saves one: numpy objects in meta.

    Its BatchNorm statistics come from one pass over the sample and noise, and its last layer is scaled so the
    heatmaps sit around 0.5 ± 0.1: random keypoints spread over the figure with scores in 0..1, which
    `studio pose` accepts (plain random init gives flat heatmaps, every joint on one spot)."""
    import torch

    from studio.pipeline.pose.decode import box_center_size, crop_input
    from studio.pipeline.pose.torch_backend import build_network

    torch.manual_seed(17)
    net = build_network(18, deconvs=((64, 4),) * 3)
    image = sample_image()
    center, size = box_center_size((0.0, 0.0, float(image.shape[1]), float(image.shape[0])))
    x = torch.from_numpy(crop_input(image, center, size))
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a plain average of the one pass
            module.reset_running_stats()
    with torch.no_grad():
        net.train()
        net(torch.cat([x, torch.randn(3, 3, 256, 192)]))
        net.eval()
        maps = net(x)
        final: Any = net.get_submodule("keypoint_head.final_layer")
        scale = 0.1 / float(maps.std())
        final.weight.mul_(scale)
        final.bias.mul_(scale).add_(0.5 - scale * float(maps.mean()))
    meta = {"epoch": 72, "best_AP": np.float64(0.7), "hook_msgs": {"best_score": np.float32(0.7)}}
    torch.save({"meta": meta, "state_dict": net.state_dict()}, path)
    return path


def pack(store: Path, name: str, handler: str, *extra: str) -> Path:
    """torch-model-archiver NAME.mar into ``store`` with ``handler`` and the extra archiver arguments."""
    cmd = [_bin("torch-model-archiver") or "torch-model-archiver", "--model-name", name, "--version", "1.0",
           "--handler", str(HANDLERS / handler), "--export-path", str(store), "--force", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return store / f"{name}.mar"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalTorchServe, Path]]:
    """TorchServe with AD's two model names on the packaging handlers; yields it and the pose .mar."""
    why = missing_tools()
    if why:
        pytest.skip(f"no real TorchServe: {why}")
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("ad-torchserve")
    work, store = root / "work", root / "store"
    work.mkdir()
    store.mkdir()
    checkpoint = random_checkpoint(work / "best_AP_epoch_72.pth")
    (work / "config.py").write_text(CONFIG_PY)
    mar = pack(store, POSE, "pose_handler.py", "--serialized-file", str(checkpoint),
               "--extra-files", str(work / "config.py"))
    pack(store, DETECTOR, "detector_fallback_handler.py")
    try:
        server = start_torchserve(root, models=(DETECTOR, POSE), timeout=120)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield server, mar
    server.stop()


def predict(server: LocalTorchServe, model: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
    """POST a raw body to a model: (status, decoded JSON reply, headers)."""
    request = urllib.request.Request(f"{server.inference_url}/predictions/{model}", data=body, method="POST",
                                     headers={"Content-Type": "application/octet-stream"})  # not a form
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read()), dict(reply.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), dict(exc.headers)


def png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def studio_pose(image_path: Path, checkpoint: Path, box: str = "full") -> np.ndarray:
    """`studio pose IMAGE --backend torch --checkpoint MAR --box BOX`: (17, 3), as printed (2 decimals)."""
    done = subprocess.run([sys.executable, "-m", "studio.cli.main", "pose", str(image_path), "--backend", "torch",
                           "--checkpoint", str(checkpoint), "--box", box], capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    return np.asarray(json.loads(done.stdout), float)


def assert_same_keypoints(served_kp: np.ndarray, printed: np.ndarray) -> None:
    """Equal up to the CLI's printing: 2 decimals for x and y, 4 for the score."""
    assert served_kp.shape == printed.shape == (17, 3)
    assert np.abs(served_kp[:, :2] - printed[:, :2]).max() <= 0.0051
    assert np.abs(served_kp[:, 2] - printed[:, 2]).max() <= 0.000051


def test_the_fallback_detector_replies_in_ads_shape_and_says_so(served: tuple[LocalTorchServe, Path]) -> None:
    server, _ = served
    image = sample_image()
    status, reply, headers = predict(server, DETECTOR, png(image))
    assert status == 200 and headers.get("X-Detector") == "classical"
    (found,) = reply
    assert set(found) == {"bbox", "score", "class_name", "detector"} and found["detector"] == "classical"
    assert found["bbox"] == pytest.approx(list(find_figure_box(image).box))
    assert 0.0 < found["score"] <= 1.0


def test_the_fallback_detector_finds_nothing_on_a_blank_page(served: tuple[LocalTorchServe, Path]) -> None:
    server, _ = served
    status, reply, headers = predict(server, DETECTOR, png(np.full((120, 90, 3), 255, np.uint8)))
    assert (status, reply, headers.get("X-Detector")) == (200, [], "classical")


def test_the_pose_handler_equals_studio_pose_on_the_whole_image(served: tuple[LocalTorchServe, Path],
                                                                tmp_path: Path) -> None:
    """AD's handler treats the image it receives as the person box: `studio pose --box full` on the same file."""
    server, mar = served
    image = sample_image()
    data = png(image)
    status, reply, _ = predict(server, POSE, data)
    assert status == 200
    (skeleton,) = reply
    h, w = image.shape[:2]
    assert set(skeleton) == {"keypoints", "bbox"} and skeleton["bbox"] == [0.0, 0.0, float(w), float(h), 1.0]
    (tmp_path / "drawing.png").write_bytes(data)
    assert_same_keypoints(np.asarray(skeleton["keypoints"], float), studio_pose(tmp_path / "drawing.png", mar))


def test_the_studio_client_through_both_handlers_equals_studio_pose(served: tuple[LocalTorchServe, Path],
                                                                    tmp_path: Path) -> None:
    """The studio's TorchServe backend with AD's model names: the fallback's box, then the pose of that box's crop
    (as AD's client sends it), equal to `studio pose --backend torch` on the same crop, shifted by the box."""
    from studio.pipeline.pose.torchserve import TorchServeBackend

    server, mar = served
    image = sample_image()
    client = TorchServeBackend(server.inference_url, deadline=60.0)
    (detection,) = client.detect(image)
    assert detection.box == pytest.approx(find_figure_box(image).box)
    result = client.pose(image, detection.box)
    left, top = math.floor(detection.box[0]), math.floor(detection.box[1])
    right, bottom = math.ceil(detection.box[2]), math.ceil(detection.box[3])
    (tmp_path / "crop.png").write_bytes(png(image[top:bottom, left:right]))
    printed = studio_pose(tmp_path / "crop.png", mar)
    printed[:, :2] += (left, top)
    assert_same_keypoints(result.keypoints, printed)


def test_doctor_passes_the_served_models(served: tuple[LocalTorchServe, Path]) -> None:
    from studio.core.doctor import OK, check_torchserve

    server, _ = served
    checks = check_torchserve(server.inference_url, server.management_url)
    assert [c.status for c in checks] == [OK] * len(checks), [c for c in checks if c.status != OK]
    assert {c.name for c in checks} >= {f"model {DETECTOR}", f"model {POSE}", "prediction: pose"}


def test_a_body_that_is_not_an_image_is_a_400_with_the_reason(served: tuple[LocalTorchServe, Path]) -> None:
    server, _ = served
    for model in (DETECTOR, POSE):
        status, reply, _ = predict(server, model, b"this is not an image")
        assert status == 400 and "not" in reply["message"], reply


# --- the pose handler's checks, without a server ---------------------------------------------------------------

def test_the_checkpoint_must_lie_inside_the_model_folder(tmp_path: Path) -> None:
    pose_handler = handler_module("pose_handler")
    (tmp_path / "best_AP_epoch_72.pth").write_bytes(b"x")
    (tmp_path.parent / "outside.pth").write_bytes(b"x")
    found = pose_handler.checkpoint_path(tmp_path, {"model": {"serializedFile": "best_AP_epoch_72.pth"}})
    assert found == (tmp_path / "best_AP_epoch_72.pth").resolve()
    assert pose_handler.checkpoint_path(tmp_path, {}) == found  # the one checkpoint, when the manifest names none
    for bad in ("../outside.pth", str(tmp_path.parent / "outside.pth")):
        with pytest.raises(ValueError, match="outside the model's folder"):
            pose_handler.checkpoint_path(tmp_path, {"model": {"serializedFile": bad}})


def test_a_config_for_another_input_size_is_refused_unrun(tmp_path: Path) -> None:
    pose_handler = handler_module("pose_handler")
    random_checkpoint(tmp_path / "best_AP_epoch_72.pth")
    (tmp_path / "config.py").write_text(CONFIG_PY.replace("[192, 256]", "[288, 384]"))
    context = SimpleNamespace(system_properties={"model_dir": str(tmp_path), "gpu_id": None},
                              manifest={"model": {"serializedFile": "best_AP_epoch_72.pth"}})
    with pytest.raises(RuntimeError, match=r"image_size \[288, 384\]; this runner takes \[192, 256\]"):
        pose_handler.load(context)
    (tmp_path / "config.py").write_text(CONFIG_PY)
    assert pose_handler.load(context).device == "cpu"


def test_the_mmdet_handler_imports_without_the_mm_stack() -> None:
    """It is untested here (no mm stack with a GPU that runs it); importing it needs neither mmdet nor torch."""
    mmdet_handler = handler_module("mmdet_detector_handler")
    assert mmdet_handler.DETECTOR == "mmdet" and "UNTESTED HERE" in (mmdet_handler.__doc__ or "")
