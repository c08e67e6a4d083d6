"""The embedded pose model's network, weight file and backend plumbing (the trained weights are judged by
training/evaluate.py, not here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from studio.annotate import auto_backend_name, make_backend  # noqa: E402
from studio.pipeline.pose import BackendError  # noqa: E402
from studio.pipeline.pose_embedded import (HEATMAP_WH, INPUT_WH, available, build_network, load_network,  # noqa: E402
                                           predict, save_weights)


def test_network_shapes_and_size() -> None:
    net = build_network().eval()
    out = net(torch.zeros(2, 3, INPUT_WH[1], INPUT_WH[0]))
    assert tuple(out.shape) == (2, 17, HEATMAP_WH[1], HEATMAP_WH[0])
    megabytes = sum(p.numel() for p in net.parameters()) * 4 / 1e6
    assert megabytes < 25  # the cap for the shipped weights


def test_weights_round_trip_and_predict_in_image_pixels(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = build_network().eval()
    path = tmp_path / "w.pt"
    save_weights(net, path, {"epoch": 3})
    loaded = load_network(path)
    image = np.full((300, 200, 3), 255, np.uint8)
    box = (40.0, 30.0, 160.0, 270.0)
    a, b = predict(net, image, box), predict(loaded, image, box)
    np.testing.assert_allclose(a, b)
    assert a.shape == (17, 3) and available(path)
    # keypoints land in the padded crop around the box (a random net's peaks are anywhere in it)
    from studio.pipeline.pose_decode import box_center_size

    center, size = box_center_size(box, INPUT_WH)
    cell = size / np.array(HEATMAP_WH)
    assert (a[:, :2] >= center - size / 2 - cell - 1e-9).all() and (a[:, :2] <= center + size / 2).all()


def test_missing_corrupt_and_foreign_weights_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="weights are missing .*training/train.py"):
        load_network(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(BackendError, match="cannot load the embedded pose weights"):
        load_network(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(BackendError, match="not a Drawing Studio pose model"):
        load_network(foreign)
    assert not available(tmp_path / "none.pt")


def test_auto_picks_embedded_only_when_its_weights_exist() -> None:
    expected = "embedded" if available() else "manual"
    assert auto_backend_name() == expected and make_backend("auto").name == expected
