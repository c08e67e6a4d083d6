"""The mm backend: path-safe .mar extraction everywhere; real inference only where the mm stack is installed."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pytest

from studio.pipeline.pose.backend import BackendError
from studio.pipeline.pose.mm import MMBackend, safe_extract

HAVE_MM = all(importlib.util.find_spec(m) is not None for m in ("mmcv", "mmdet", "mmpose"))


@pytest.mark.parametrize("evil", ["../evil.py", "/abs/evil.py", "a/../../evil.py", "..\\evil.py", "C:evil.py"])
def test_archive_entries_outside_the_folder_are_refused(tmp_path: Path, evil: str) -> None:
    archive = tmp_path / "model.mar"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("config.py", "x = 1\n")
        zf.writestr(evil, "boom\n")
    target = tmp_path / "out" / "inner"
    with pytest.raises(BackendError, match="outside its folder"):
        safe_extract(archive, target)
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "out" / "evil.py").exists()
    assert not (target / "config.py").exists()  # nothing at all is extracted from a bad archive


def test_a_good_archive_extracts(tmp_path: Path) -> None:
    archive = tmp_path / "model.mar"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("config.py", "x = 1\n")
        zf.writestr("MAR-INF/MANIFEST.json", "{}")
    folder = safe_extract(archive, tmp_path / "m")
    assert (folder / "config.py").read_text() == "x = 1\n" and (folder / "MAR-INF" / "MANIFEST.json").is_file()


@pytest.mark.skipif(HAVE_MM, reason="the mm stack is installed here")
def test_without_the_mm_stack_the_error_says_how_to_get_it(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="torch is needed to reach the mm import check")
    with pytest.raises(BackendError, match="packaging/mm/install.sh"):
        MMBackend(tmp_path / "nothing.mar")


def _mmpose_res50_config() -> Path | None:
    spec = importlib.util.find_spec("mmpose")
    if spec is None or spec.origin is None:
        return None
    found = [p for p in sorted(Path(spec.origin).parent.rglob("res50_coco_256x192.py"))
             if "topdown_heatmap" in p.parts]  # SimpleBaseline, not DeepPose's regression head
    return found[0] if found else None


@pytest.mark.mm
@pytest.mark.skipif(not HAVE_MM, reason="the mm stack is not installed (packaging/mm/install.sh builds it)")
def test_torch_runner_matches_mmpose_on_the_same_weights(tmp_path: Path) -> None:
    """Same random SimpleBaseline weights through mmpose itself and through our mmcv-free runner."""
    import numpy as np
    import torch

    from studio.pipeline.pose.torch_backend import TorchPoseBackend, build_network

    config = _mmpose_res50_config()
    if config is None:
        pytest.skip("mmpose's res50_coco_256x192.py config is not in this install")
    torch.manual_seed(0)
    net = build_network(50)
    folder = tmp_path / "model"
    folder.mkdir()
    from mmcv import Config

    Config.fromfile(str(config)).dump(str(folder / "config.py"))  # flattened: no _base_ files needed beside it
    checkpoint = folder / "weights.pth"
    torch.save({"meta": {"epoch": 1}, "state_dict": net.state_dict()}, checkpoint)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (256, 220, 3), dtype=np.uint8)
    box = (30.0, 20.0, 190.0, 240.0)
    ours = TorchPoseBackend(checkpoint, device="cpu").pose(image, box).keypoints
    theirs = MMBackend(folder, device="cpu").pose(image, box).keypoints
    np.testing.assert_allclose(ours[:, :2], theirs[:, :2], atol=0.5)
    np.testing.assert_allclose(ours[:, 2], theirs[:, 2], atol=1e-3)


def test_weights_that_do_not_fit_the_config_are_an_error_not_a_silent_partial_load(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from studio.pipeline.pose.mm import _load_weights

    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    good = {k: v.clone() for k, v in model.state_dict().items()}
    _load_weights(model, good, tmp_path / "w.pth")
    bad = {"0.weight": good["0.weight"], "head.fc.bias": torch.zeros(2)}
    with pytest.raises(BackendError, match=r"w.pth does not fit its config: 1 weights missing \(e.g. 0.bias\); "
                                           r"1 weights the config has no place for \(e.g. head.fc.bias\)"):
        _load_weights(model, bad, tmp_path / "w.pth")
