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
from studio.pipeline.intake.images import MAX_SIDE
from studio.pipeline.pose.served_image import SERVED_MAX_SIDE, read_request_image

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


def predict(server: LocalTorchServe, model: str, body: bytes,
            content_type: str = "application/octet-stream") -> tuple[int, Any, dict[str, str]]:
    """POST a raw body (not a form) to a model: (status, decoded JSON reply, headers)."""
    request = urllib.request.Request(f"{server.inference_url}/predictions/{model}", data=body, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read()), dict(reply.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), dict(exc.headers)


def png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def plain_ppm(image: np.ndarray) -> bytes:
    """(H, W, 3) uint8 RGB as a plain (P3) PPM: an image that is also UTF-8 text, its comment not Latin-1."""
    h, w = image.shape[:2]
    header = f"P3\n# drawn with a ✏ by Zoë\n{w} {h}\n255\n"
    return (header + " ".join(map(str, image.ravel().tolist())) + "\n").encode("utf-8")


def enlarged(image: np.ndarray, times: int) -> np.ndarray:
    """``image`` ``times`` larger on each side, each pixel a block: a page far above the working size."""
    h, w = image.shape[:2]
    return cv2.resize(image, (w * times, h * times), interpolation=cv2.INTER_NEAREST)


def caller_downscaled(image: np.ndarray) -> np.ndarray:
    """``image`` downscaled as a careful caller would before sending: longest side MAX_SIDE, area-averaged."""
    h, w = image.shape[:2]
    scale = MAX_SIDE / max(h, w)
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


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


def test_a_large_image_is_answered_at_working_size_in_its_own_px(served: tuple[LocalTorchServe, Path]) -> None:
    """A page far above the working size (issue 17: an 8900×8900 PNG held a worker 137 s) is worked on downscaled:
    each reply equals the reply to the caller's own downscale of it, carried back to the page's px."""
    server, _ = served
    page = enlarged(sample_image(), 10)
    small = caller_downscaled(page)
    h, w = page.shape[:2]
    fx, fy = w / small.shape[1], h / small.shape[0]
    assert max(page.shape[:2]) > 4 * MAX_SIDE and (fx, fy) != (1.0, 1.0)
    big_body, small_body = png(page), png(small)

    status, (found,), _ = predict(server, DETECTOR, big_body)
    assert status == 200
    _, (expected,), _ = predict(server, DETECTOR, small_body)
    assert found["bbox"] == pytest.approx(np.multiply(expected["bbox"], [fx, fy, fx, fy]).tolist(), rel=1e-9)
    assert found["score"] == expected["score"]
    x1, y1, x2, y2 = found["bbox"]
    assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h and x2 - x1 > 2 * MAX_SIDE  # a box on the page, in its px

    status, (skeleton,), _ = predict(server, POSE, big_body)
    assert status == 200 and skeleton["bbox"] == [0.0, 0.0, float(w), float(h), 1.0]
    _, (expected,), _ = predict(server, POSE, small_body)
    got, want = np.asarray(skeleton["keypoints"], float), np.asarray(expected["keypoints"], float)
    assert got[:, :2] == pytest.approx(want[:, :2] * (fx, fy), rel=1e-9)
    assert got[:, 2].tolist() == want[:, 2].tolist()
    assert got[:, 0].max() > 2 * MAX_SIDE  # in the page's px, not the working image's


def test_a_text_body_is_read_as_the_image_it_is(served: tuple[LocalTorchServe, Path]) -> None:
    """A text/* body reaches a handler as a str (TorchServe decodes it as UTF-8): a plain PPM sent as text/plain
    gets the same reply as the same pixels sent as a PNG."""
    server, _ = served
    image = sample_image()
    for model in (DETECTOR, POSE):
        status, reply, _ = predict(server, model, plain_ppm(image), "text/plain")
        assert status == 200, reply
        assert reply == predict(server, model, png(image))[1]


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


# --- the request image all three handlers read -----------------------------------------------------------------

def test_every_handler_reads_requests_through_the_shared_capped_reader() -> None:
    for name in ("pose_handler", "detector_fallback_handler", "mmdet_detector_handler"):
        module = handler_module(name)
        assert module.read_request_image is read_request_image, name
        assert not hasattr(module, "NO_DOWNSCALE") and not hasattr(module, "image_from"), name


def test_the_request_reader_caps_the_working_size_and_keeps_the_received_size() -> None:
    page = enlarged(sample_image(), 10)
    h, w = page.shape[:2]
    image = read_request_image({"body": bytearray(png(page))})
    assert max(image.rgb.shape[:2]) == SERVED_MAX_SIDE and image.received_size == (w, h)
    assert np.array_equal(image.rgb, caller_downscaled(page))
    fx, fy = image.factors
    assert image.box_to_received([0, 0, image.rgb.shape[1], image.rgb.shape[0]]) == pytest.approx([0, 0, w, h])
    assert image.points_to_received([[10, 20]]) == pytest.approx(np.array([[10 * fx, 20 * fy]]))
    small = read_request_image({"data": png(sample_image())})
    assert small.factors == (1.0, 1.0) and np.array_equal(small.rgb, sample_image())


def test_the_request_reader_takes_text_and_refuses_what_is_no_image() -> None:
    pytest.importorskip("ts.utils.util")
    from ts.utils.util import PredictionException

    image = sample_image()
    as_text = read_request_image({"body": plain_ppm(image).decode("utf-8")})
    assert np.array_equal(as_text.rgb, image)
    for row, words in (({"body": {"image": "x"}}, "expected image bytes"), ({}, "expected image bytes"),
                       ({"body": "not an image"}, "not an image Pillow can read")):
        with pytest.raises(PredictionException, match=words) as caught:
            read_request_image(row)
        assert caught.value.error_code == 400


def test_the_mmdet_handler_carries_its_boxes_to_the_received_px() -> None:
    """mmdet's per-class [x1, y1, x2, y2, score] rows on the working image, as the mmdet handler replies them for a
    page read from a text body: in the page's px, best first, the weak ones dropped."""
    mmdet_handler = handler_module("mmdet_detector_handler")
    page = np.full((1500, 3000), 255, np.uint8)
    page[500:1000, 1000:1600] = 0
    text = b"P2\n3000 1500\n255\n" + " ".join(map(str, page.ravel().tolist())).encode()
    image = mmdet_handler.read_request_image({"body": text.decode("utf-8")})
    assert image.received_size == (3000, 1500) and image.rgb.shape == (500, 1000, 3)
    per_class = [np.array([[300.0, 150.0, 550.0, 350.0, 0.6], [0.0, 0.0, 10.0, 10.0, 0.2]]),
                 np.array([[330.0, 160.0, 540.0, 340.0, 0.9]])]
    reply = mmdet_handler.reply(per_class, ("drawn_humanoid", "other"), image)
    assert [r["class_name"] for r in reply] == ["other", "drawn_humanoid"]
    assert reply[0]["bbox"] == pytest.approx([990.0, 480.0, 1620.0, 1020.0])
    assert reply[1]["bbox"] == pytest.approx([900.0, 450.0, 1650.0, 1050.0])
    assert reply[0]["score"] == pytest.approx(0.9) and {r["detector"] for r in reply} == {"mmdet"}
