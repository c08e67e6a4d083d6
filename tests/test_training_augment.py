"""train.py's batches: under the standard augmentation, each keypoint moves with the picture it labels."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("training.figures")

from studio.pipeline.pose.decode import MEAN, STD  # noqa: E402
from training.train import batch  # noqa: E402


def _dots(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n white crops (128, 96) each with one black pixel where its nose (COCO 0) is, in heatmap px × 4."""
    rng = np.random.default_rng(seed)
    images = np.full((n, 128, 96, 3), 255, np.uint8)
    keypoints = np.zeros((n, 17, 3), np.float32)
    keypoints[:, :, 2] = 2
    for b in range(n):
        keypoints[b, :, :2] = np.c_[rng.uniform(4, 20, 17), rng.uniform(4, 28, 17)]
        x, y = (int(round(v * 4)) for v in keypoints[b, 0, :2])
        keypoints[b, 0, :2] = (x / 4, y / 4)
        images[b, y, x] = 0
    return images, keypoints


@pytest.mark.parametrize("augment", ["flip", "standard"])
def test_the_nose_stays_on_its_dot(augment: str) -> None:
    images, keypoints = _dots(24, 1)
    x, _, _, k = batch(images, keypoints, np.arange(24), np.random.default_rng(3), augment)
    moved = 0
    for b in range(24):
        grey = (x[b].transpose(1, 2, 0) * STD + MEAN).mean(axis=2)
        y, x_ = np.unravel_index(grey.argmin(), grey.shape)
        assert np.hypot(x_ / 4 - k[b, 0, 0], y / 4 - k[b, 0, 1]) < 0.3  # within a third of a heatmap px
        moved += not np.allclose(k[b, 0, :2], keypoints[b, 0, :2]) and not np.isclose(k[b, 0, 1], keypoints[b, 0, 1])
    assert (moved > 5) == (augment == "standard")  # flips keep rows; rotations and scaling move them


@pytest.mark.parametrize("stride", [4, 2])
def test_targets_peak_on_the_dot_at_either_output_stride(stride: int) -> None:
    images, keypoints = _dots(12, 2)
    x, maps, weight, k = batch(images, keypoints, np.arange(12), np.random.default_rng(5), "flip", stride)
    assert maps.shape == (12, 17, 128 // stride, 96 // stride) and weight.shape == (12, 17, 1, 1)
    for b in range(12):
        grey = (x[b].transpose(1, 2, 0) * STD + MEAN).mean(axis=2)
        y, x_ = np.unravel_index(grey.argmin(), grey.shape)
        assert np.hypot(x_ / stride - k[b, 0, 0], y / stride - k[b, 0, 1]) < 0.3 * 4 / stride
        peak_y, peak_x = np.unravel_index(maps[b, 0].argmax(), maps[b, 0].shape)
        assert abs(peak_x - k[b, 0, 0]) <= 0.5 and abs(peak_y - k[b, 0, 1]) <= 0.5
