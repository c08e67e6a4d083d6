"""Sub-pixel peaks: the embedded model's Taylor step (decode.taylor_peak) against mmpose's quarter px step."""

from __future__ import annotations

import numpy as np
import pytest

from studio.pipeline.pose import embedded
from studio.pipeline.pose.decode import decode_heatmaps, quarter_shift, taylor_peak
from studio.pipeline.pose.embedded import HEATMAP_WH, INPUT_WH, SCALES, OnnxNetwork, predict
from studio.pipeline.pose.limbs import decode_limbs

H, W = 32, 24


def gaussian(cx: float, cy: float, sigma: float = 1.0, value: float = 0.9) -> np.ndarray:
    ys, xs = np.mgrid[0:H, 0:W]
    return (value * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma ** 2))).astype(np.float32)


@pytest.mark.parametrize("sigma", [1.0, 1.5])
def test_a_gaussian_peak_is_found_to_a_hundredth_of_a_px_where_a_quarter_step_is_off(sigma: float) -> None:
    rng = np.random.default_rng(3)
    taylor_err, quarter_err = [], []
    for cx, cy in rng.uniform((3, 3), (W - 4, H - 4), (50, 2)):
        hm = gaussian(cx, cy, sigma)
        py, px = np.unravel_index(int(hm.argmax()), hm.shape)
        taylor_err.append(np.abs(taylor_peak(hm, int(px), int(py)) - (cx, cy)).max())
        quarter_err.append(np.abs(quarter_shift(hm, int(px), int(py)) - (cx, cy)).max())
    assert max(taylor_err) < 0.01
    assert np.mean(quarter_err) > 0.1  # what the quarter step leaves on the same peaks


def test_a_tilted_elongated_peak_uses_the_cross_term() -> None:
    ys, xs = np.mgrid[0:H, 0:W]
    d = np.stack([xs - 11.3, ys - 15.6])
    cov_inv = np.linalg.inv(np.array([[2.0, 1.2], [1.2, 1.5]]))
    hm = np.exp(-0.5 * np.einsum("i...,ij,j...->...", d, cov_inv, d))
    py, px = np.unravel_index(int(hm.argmax()), hm.shape)
    assert np.abs(taylor_peak(hm, int(px), int(py)) - (11.3, 15.6)).max() < 0.01


def test_flat_tops_borders_and_non_peaks_fall_back_to_the_quarter_step() -> None:
    plateau = np.zeros((H, W), np.float32)
    plateau[10, 5:8] = 0.7  # flat along x: no curvature to step on
    np.testing.assert_array_equal(taylor_peak(plateau, 6, 10), quarter_shift(plateau, 6, 10))
    edge = gaussian(0.2, 12.4)
    np.testing.assert_array_equal(taylor_peak(edge, 0, 12), quarter_shift(edge, 0, 12))
    zeros = np.zeros((H, W), np.float32)  # log of nothing: no step, no nan
    assert np.isfinite(taylor_peak(zeros, 5, 5)).all()
    spike = np.zeros((H, W), np.float32)
    spike[9, 9], spike[9, 10] = 1.0, 0.999  # a near tie: the step stays within a px of the argmax
    assert np.abs(taylor_peak(spike, 9, 9) - (9, 9)).max() <= 1.0


def test_decoders_take_the_refiner_and_default_to_mmposes_quarter_step() -> None:
    maps = np.stack([gaussian(5.3, 7.8), gaussian(14.6, 20.2)])
    default, _ = decode_heatmaps(maps)
    np.testing.assert_allclose(default, [[5.25, 7.75], [14.75, 20.25]])  # mmpose's, unchanged for AD's models
    taylor, scores = decode_heatmaps(maps, taylor_peak)
    np.testing.assert_allclose(taylor, [[5.3, 7.8], [14.6, 20.2]], atol=0.01)
    np.testing.assert_allclose(scores, maps.reshape(2, -1).max(axis=1))  # the score is still the peak's value


def test_limb_decoding_places_a_settled_rival_by_the_same_refiner() -> None:
    from tests.test_limb_decode import blob, figure_heatmaps

    heatmaps = figure_heatmaps()
    heatmaps[10] = blob(3.4, 11.3, 0.8) + blob(8.0, 22.0, 0.79)  # a rival far from the elbow (6, 10)
    coords, _, ambiguous = decode_limbs(heatmaps, taylor_peak)
    assert 10 in ambiguous
    np.testing.assert_allclose(coords[10], [3.4, 11.3], atol=0.02)


class DotFinder(OnnxNetwork):
    """A stand-in network that sees one thing: each crop's dark dot, answered as a Gaussian on every heatmap where
    the dot lies (crop px / 4), so what predict makes of its crops can be checked to a fraction of a px."""

    def __init__(self) -> None:  # no ONNX graph to read
        pass

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        out = np.zeros((len(batch), 17, HEATMAP_WH[1], HEATMAP_WH[0]), np.float32)
        ys, xs = np.mgrid[0:HEATMAP_WH[1], 0:HEATMAP_WH[0]]
        for i, crop in enumerate(batch):
            dark = np.clip(-crop.mean(axis=0) - 1.0, 0, None)  # paper normalises to about +2, the dot to about -1.8
            v, u = (np.array(np.nonzero(dark)) * dark[dark > 0]).sum(axis=1) / dark.sum() / (INPUT_WH[0] / HEATMAP_WH[0])
            out[i] = np.exp(-((xs - u) ** 2 + (ys - v) ** 2) / 2)
        return out


def test_box_scales_are_averaged_in_the_first_crops_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    image = np.full((400, 400, 3), 235, np.uint8)
    dot = np.array([130.0, 110.0])  # far from the box's centre, where a wider crop's frame differs most
    yy, xx = np.mgrid[0:400, 0:400]
    image[np.hypot(xx - dot[0], yy - dot[1]) <= 2.5] = 20
    box = (100.0, 80.0, 260.0, 320.0)
    for scales in ((1.0,), SCALES, (1.2, 1.0, 0.9)):
        keypoints = predict(DotFinder(), image, box, scales=scales)
        assert np.abs(keypoints[:, :2] - dot).max() < 1.0, scales
    monkeypatch.setattr(embedded, "_into_first_frame", lambda heatmaps, k: heatmaps)  # averaged without the warp
    assert np.abs(predict(DotFinder(), image, box, scales=(1.0, 1.3, 1.3))[:, :2] - dot).max() > 5.0
    with pytest.raises(ValueError, match="box scales"):
        predict(DotFinder(), image, box, scales=())
