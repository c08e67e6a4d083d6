"""The torch pose runner: safe checkpoint loading (.pth and .mar), mmpose key names, pre/post-processing."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from studio.pipeline.pose.backend import BackendError, PoseBackend
from studio.pipeline.pose.decode import (box_center_size, crop_input, crop_matrix, decode_heatmaps, flip_back,
                                         image_to_heatmap, keypoints_from_heatmaps, mirror_shift)

torch = pytest.importorskip("torch", reason="torch is not installed: the torch pose runner is optional")

from studio.pipeline.pose.archive import extract_checkpoint  # noqa: E402
from studio.pipeline.pose.torch_backend import (TorchPoseBackend, build_network,  # noqa: E402
                                        load_state_dict, network_for)

META = {"epoch": 72, "iter": 1234, "np_thing": np.array([1, 2]), "best_score": np.float64(0.71),
        "mmpose_version": "0.29.0", "config": "model = dict(type='TopDown')"}


def _write_mar(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


@pytest.fixture(scope="module")
def r50(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A random-init ResNet-50 SimpleBaseline saved as mmpose saves it (numpy objects in meta)."""
    torch.manual_seed(0)
    state = build_network(50).state_dict()
    path = tmp_path_factory.mktemp("ckpt") / "best_AP_epoch_72.pth"
    torch.save({"meta": META, "state_dict": state, "optimizer": {"state": {}, "param_groups": []}}, path)
    return path, state


def test_mmpose_key_names() -> None:
    keys = build_network(50).state_dict().keys()
    for key in ("backbone.conv1.weight", "backbone.bn1.running_var", "backbone.layer1.0.conv3.weight",
                "backbone.layer1.0.downsample.0.weight", "backbone.layer1.0.downsample.1.running_mean",
                "backbone.layer4.2.bn3.weight", "keypoint_head.deconv_layers.0.weight",
                "keypoint_head.deconv_layers.1.running_mean", "keypoint_head.deconv_layers.6.weight",
                "keypoint_head.deconv_layers.7.bias", "keypoint_head.final_layer.weight",
                "keypoint_head.final_layer.bias"):
        assert key in keys
    assert not any(k.startswith("backbone.layer1.3.") or k.startswith("backbone.layer3.6.") for k in keys)


def test_checkpoint_with_numpy_meta_loads_without_turning_safety_off(r50: tuple[Path, dict]) -> None:
    path, state = r50
    with pytest.raises(pickle.UnpicklingError):  # the plain safe load refuses OpenMMLab's numpy meta
        torch.load(path, map_location="cpu", weights_only=True)
    loaded = load_state_dict(path)
    assert loaded.keys() == state.keys()
    assert torch.equal(loaded["keypoint_head.final_layer.weight"], state["keypoint_head.final_layer.weight"])


def test_mar_archive_loads_only_the_checkpoint(r50: tuple[Path, dict], tmp_path: Path) -> None:
    path, state = r50
    mar = _write_mar(tmp_path / "pose.mar", {"MAR-INF/MANIFEST.json": b"{}", "config.py": b"x = 1",
                                             "best_AP_epoch_72.pth": path.read_bytes()})
    out = tmp_path / "out"
    out.mkdir()
    assert extract_checkpoint(mar, out) == (out / "best_AP_epoch_72.pth").resolve()
    assert [p.name for p in out.iterdir()] == ["best_AP_epoch_72.pth"]
    assert load_state_dict(mar).keys() == state.keys()


@pytest.mark.parametrize("bad", ["../evil.pth", "/tmp/evil_abs.pth", "sub/../../evil.pth", "..\\evil.pth"])
def test_unsafe_entry_names_are_refused(tmp_path: Path, bad: str) -> None:
    target = tmp_path / "a" / "b"
    target.mkdir(parents=True)
    mar = _write_mar(tmp_path / "evil.mar", {bad: b"not a checkpoint", "MAR-INF/MANIFEST.json": b"{}"})
    with pytest.raises(BackendError, match="unsafe entry"):
        extract_checkpoint(mar, target)
    with pytest.raises(BackendError, match="unsafe entry"):
        load_state_dict(mar)
    assert list(target.iterdir()) == []
    assert not (tmp_path / "a" / "evil.pth").exists() and not (tmp_path / "evil.pth").exists()
    assert not Path("/tmp/evil_abs.pth").exists()


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)


def test_pickle_with_forbidden_global_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"meta": {"x": _Payload(marker)}, "state_dict": {"w": torch.zeros(1)}}, path)
    with pytest.raises(BackendError, match=r"refused to load evil\.pth: it needs the Python object .*system"):
        load_state_dict(path)
    assert not marker.exists()


def test_not_a_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "junk.pth").write_bytes(b"hello")
    with pytest.raises(BackendError, match="cannot read junk.pth"):
        load_state_dict(tmp_path / "junk.pth")
    with pytest.raises(BackendError, match="no pose checkpoint"):
        load_state_dict(tmp_path / "absent.pth")


def test_module_prefix_is_stripped(tmp_path: Path) -> None:
    torch.save({"state_dict": {"module.backbone.conv1.weight": torch.ones(2)}}, tmp_path / "m.pth")
    assert list(load_state_dict(tmp_path / "m.pth")) == ["backbone.conv1.weight"]


def test_missing_and_unexpected_keys_are_named(r50: tuple[Path, dict]) -> None:
    state = dict(r50[1])
    del state["keypoint_head.final_layer.weight"], state["backbone.layer2.1.bn2.running_var"]
    state["keypoint_head.extra.weight"] = torch.zeros(1)
    with pytest.raises(BackendError, match=r"2 missing keys .*final_layer\.weight.*1 unexpected keys .*extra"):
        network_for(state)


def test_unsupported_depth_is_clear(r50: tuple[Path, dict]) -> None:
    state = {k: v for k, v in r50[1].items() if not k.startswith("backbone.layer3.5.")}
    with pytest.raises(BackendError, match=r"unsupported pose backbone: bottleneck blocks per stage \(3, 4, 5, 3\)"):
        network_for(state)


def test_other_depths_build_from_their_keys() -> None:
    net = network_for(build_network(18).state_dict())
    assert net.state_dict()["keypoint_head.deconv_layers.0.weight"].shape[0] == 512


def test_box_center_size_pads_to_aspect_and_125() -> None:
    center, size = box_center_size((10, 20, 110, 220))  # 100 × 200: too tall, widened to 150
    assert np.allclose(center, (60, 120)) and np.allclose(size, (150 * 1.25, 200 * 1.25))
    center, size = box_center_size((0, 0, 300, 100))  # too wide, heightened to 400
    assert np.allclose(center, (150, 50)) and np.allclose(size, (375, 500))


def test_crop_matrix_matches_the_warp() -> None:
    image = np.zeros((300, 200, 3), np.uint8)
    image[150, 80] = 255
    center, size = box_center_size((40, 60, 160, 260))
    x = crop_input(image, center, size)[0, 0]  # normalised red channel
    expected = crop_matrix(center, size) @ np.array([80.0, 150.0, 1.0])
    y, xx = np.unravel_index(np.argmax(x), x.shape)
    assert abs(xx - expected[0]) <= 1 and abs(y - expected[1]) <= 1


def _gaussian(h: int, w: int, cx: float, cy: float, sigma: float = 2.0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2)).astype(np.float32)


def test_heatmap_round_trip_to_image_px() -> None:
    box = (30.0, 40.0, 90.0, 120.0)  # 60 × 80 → crop 75 × 100 image px: 1.56 image px per heatmap px
    center, size = box_center_size(box)
    rng = np.random.default_rng(1)
    points = rng.uniform((30, 40), (90, 120), size=(17, 2))
    hm_xy = image_to_heatmap(points, center, size)
    maps = np.stack([_gaussian(64, 48, x, y) for x, y in hm_xy])
    keypoints = keypoints_from_heatmaps(maps, center, size)
    assert keypoints.shape == (17, 3)
    assert np.abs(keypoints[:, :2] - points).max() < 0.5  # argmax + quarter shift: ≤ 0.25 heatmap px
    assert np.all(keypoints[:, 2] > 0.8)


def test_quarter_pixel_shift_goes_towards_the_higher_neighbour() -> None:
    hm = np.zeros((2, 64, 48), np.float32)
    hm[0, 20, 10], hm[0, 20, 11], hm[0, 20, 9], hm[0, 19, 10], hm[0, 21, 10] = 1.0, 0.6, 0.2, 0.5, 0.1
    hm[1, 0, 0], hm[1, 0, 1] = 0.9, 0.5  # on the border: no shift
    coords, scores = decode_heatmaps(hm)
    assert np.allclose(coords, [[10.25, 19.75], [0.0, 0.0]]) and np.allclose(scores, [1.0, 0.9])
    coords, _ = decode_heatmaps(-np.ones((1, 64, 48), np.float32))
    assert np.allclose(coords, -1.0)


def test_flip_back_swaps_sides_and_shifts() -> None:
    hm = np.zeros((17, 64, 48), np.float32)
    hm[5, 30, 10] = 1.0  # left shoulder at x=10 in the mirrored image
    back = flip_back(hm)
    assert back[5].max() == 0 and back[6, 30, 48 - 1 - 10 + 1] == 1.0


def test_flip_back_with_the_mirror_shift_is_an_exact_mirror() -> None:
    """A keypoint at input px u shows at (W-1) - u in the mirrored input; flipped back, its heatmap peak (read
    with sub-px precision) must land where the unmirrored network would put it, u / stride."""
    stride, w = 4, 24
    assert mirror_shift(stride) == 0.75
    for u in (20.0, 47.0, 61.5):
        x_mirrored = ((stride * w - 1) - u) / stride  # heatmap px of the keypoint in the mirrored input
        xs = np.arange(w)
        hm = np.zeros((17, 8, w))
        hm[5, 4] = np.exp(-0.5 * (xs - x_mirrored) ** 2)  # a Gaussian target, as trained
        row = flip_back(hm, shift=mirror_shift(stride))[6, 4]
        centre = (row * xs).sum() / row.sum()
        assert abs(centre - u / stride) < 0.02
        row = flip_back(hm)[6, 4]  # mmpose's whole-px shift lands a quarter px right
        assert abs((row * xs).sum() / row.sum() - (u / stride + 0.25)) < 0.02


def test_backend_pose_on_a_random_net(r50: tuple[Path, dict]) -> None:
    backend: PoseBackend = TorchPoseBackend(r50[0], device="cpu")  # the protocol, checked by mypy
    assert backend.name == "torch"
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (240, 200, 3), dtype=np.uint8)
    paper = np.full((240, 200, 3), 240, np.uint8)
    paper[60:180, 80:82] = 20  # one stroke: the classical finder boxes it
    (left, top, right, bottom), = [d.box for d in backend.detect(paper)]
    assert left < 80 < 82 < right and top < 60 < 180 < bottom
    box = (50.0, 40.0, 150.0, 200.0)
    result = backend.pose(image, box)
    assert result.keypoints.shape == (17, 3) and result.keypoints.dtype == np.float64
    center, size = box_center_size(box)
    margin = size[0] / 48  # one heatmap px: joints without a positive response sit at heatmap (-1, -1)
    lo, hi = center - size / 2 - margin, center + size / 2 + margin
    assert np.all((result.keypoints[:, :2] >= lo) & (result.keypoints[:, :2] <= hi))
    dead = int((result.keypoints[:, 2] <= 0).sum())
    assert (dead > 0) == any("no positive heatmap response" in n for n in result.notes)
    with pytest.raises(BackendError, match="RGB image"):
        backend.pose(image[..., 0], box)
    with pytest.raises(BackendError, match="empty box"):
        backend.pose(image, (10, 10, 10, 50))
