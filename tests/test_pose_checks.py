"""pose.check_keypoints and pose.check_box: the one place where every backend's output and every box given to a
backend are judged, so that damaged weights or a wrong server reply never become a character with exit 0."""

from __future__ import annotations

import math

import numpy as np
import pytest

from studio.pipeline.pose.manual import template_keypoints
from studio.pipeline.pose.backend import (BOX_MARGIN, SCORE_SLACK, BackendError, Detection, InvalidBoxError,
                                          check_box, check_detections, check_keypoints)

BOX = (100.0, 50.0, 200.0, 250.0)  # 100 × 200 px: keypoints may lie up to 200 px outside it


def good() -> np.ndarray:
    """(17, 3) a plausible skeleton over BOX with scores from 0 to 1."""
    kp = template_keypoints(BOX)
    kp[:, 2] = np.linspace(0.0, 1.0, 17)
    return kp


def test_a_plausible_skeleton_passes_including_small_overshoots() -> None:
    check_keypoints(good(), BOX, "test")
    kp = good()
    kp[0, 2], kp[1, 2] = 1 + SCORE_SLACK / 2, -SCORE_SLACK / 2  # heatmap peaks overshoot [0, 1] a little
    kp[9, 0] = BOX[0] - 0.9 * BOX_MARGIN * 200  # a hand in the padding round a flat crop
    check_keypoints(kp, BOX, "test")


@pytest.mark.parametrize(("score", "shown"), [(50.0, "50"), (324.1, "324"), (1.2, "1.2"), (-0.4, "-0.4")])
def test_scores_outside_0_to_1_name_the_backend_and_the_score(score: float, shown: str) -> None:
    kp = good()
    kp[3, 2] = score
    with pytest.raises(BackendError, match=rf"^the embedded pose model returned a keypoint score of {shown}, "
                                           r"outside 0\.\.1: its weights are damaged"):
        check_keypoints(kp, BOX, "embedded")


@pytest.mark.parametrize(("joint", "x", "y"), [(0, 1e9, 1e9), (15, 150.0, -160.0), (10, 401.0, 100.0)])
def test_a_keypoint_far_outside_the_box_is_refused(joint: int, x: float, y: float) -> None:
    kp = good()
    kp[joint, :2] = (x, y)
    with pytest.raises(BackendError, match=r"^the torchserve pose model put the .* far outside the box "
                                           r"100,50,200,250"):
        check_keypoints(kp, BOX, "torchserve")


def test_the_far_keypoint_is_named() -> None:
    kp = good()
    kp[15, :2] = (150.0, 1e9)
    with pytest.raises(BackendError, match=r"put the left ankle at \(150, 1e\+09\)"):
        check_keypoints(kp, BOX, "mm")


@pytest.mark.parametrize("shape", [(16, 3), (17, 2), (2, 17, 3), ()])
def test_the_wrong_shape_is_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(BackendError, match=r"the torch backend returned shape .*, not 17 keypoints"):
        check_keypoints(np.zeros(shape), BOX, "torch")


def test_non_numbers_nan_and_a_collapsed_skeleton_are_refused() -> None:
    with pytest.raises(BackendError, match="returned an array of object"):
        check_keypoints(np.array([["a", None, 1]] * 17, dtype=object), BOX, "x")
    kp = good()
    kp[4, 1] = math.nan
    with pytest.raises(BackendError, match="invalid numbers"):
        check_keypoints(kp, BOX, "x")
    kp = good()
    kp[:, :2] = (150.0, 150.0)
    with pytest.raises(BackendError, match="every joint on the same spot"):
        check_keypoints(kp, BOX, "x")


@pytest.mark.parametrize("box", [(0, 0, math.inf, math.inf), (0, math.nan, 10, 10), (-math.inf, 0, 5, 5)])
def test_a_box_that_is_not_finite_is_refused_as_a_box(box: tuple[float, ...]) -> None:
    with pytest.raises(InvalidBoxError, match=r"^the box must be four finite numbers \(left, top, right, bottom\)"):
        check_box(box)  # type: ignore[arg-type]
    with pytest.raises(InvalidBoxError):  # not "the weights are broken", which NaN keypoints would say
        check_keypoints(np.full((17, 3), math.nan), box, "embedded")  # type: ignore[arg-type]


@pytest.mark.parametrize("box", [(10, 10, 10, 50), (10, 10, 50, 10), (50, 10, 10, 60)])
def test_a_box_without_width_or_height_is_refused(box: tuple[float, ...]) -> None:
    with pytest.raises(InvalidBoxError, match="has no width or no height"):
        check_box(box)  # type: ignore[arg-type]


def test_a_box_of_the_wrong_kind_is_refused_with_a_short_excerpt() -> None:
    with pytest.raises(InvalidBoxError, match="four numbers"):
        check_box("abcd")  # type: ignore[arg-type]
    with pytest.raises(InvalidBoxError) as caught:
        check_box(tuple(range(1000)))  # type: ignore[arg-type]
    assert len(str(caught.value)) < 160
    assert check_box((1, 2, 3, 4)) == (1.0, 2.0, 3.0, 4.0)


def test_every_backend_refuses_an_infinite_box_before_posing() -> None:
    """pose --box 0,0,inf,inf used to reach the network and come back as 'the weights are broken'."""
    from studio.pipeline.pose.decode import box_center_size  # the torch backend's crop
    from studio.pipeline.pose.torchserve import TorchServeBackend

    image = np.full((60, 40, 3), 255, np.uint8)
    box = (0.0, 0.0, math.inf, math.inf)
    with pytest.raises(InvalidBoxError, match="finite"):
        TorchServeBackend("http://127.0.0.1:9", retries=0).pose(image, box)  # refused before any request
    with pytest.raises(InvalidBoxError, match="finite"):
        box_center_size(box)
    pytest.importorskip("torch")
    from studio.pipeline.pose.embedded import EmbeddedBackend

    with pytest.raises(InvalidBoxError, match="finite"):
        EmbeddedBackend().pose(image, box)


def test_annotate_refuses_an_infinite_box() -> None:
    from studio.core.annotate import annotate_image
    from studio.pipeline.intake.images import LoadedImage
    from studio.pipeline.pose.manual import ManualBackend

    rgb = np.full((60, 40, 3), 255, np.uint8)
    with pytest.raises(InvalidBoxError, match="finite"):
        annotate_image(LoadedImage(rgb, 1.0, (40, 60)), ManualBackend(), (0.0, 0.0, math.inf, math.inf))


def test_plausible_detections_pass_including_small_overshoots() -> None:
    check_detections([], "test")
    check_detections([Detection(BOX, 1 + SCORE_SLACK / 2), Detection(BOX, 0.0), Detection(BOX, -SCORE_SLACK / 2)],
                     "test")


@pytest.mark.parametrize(("score", "shown"), [(50.0, "50"), (1.2, "1.2"), (-0.4, "-0.4"), (math.nan, "nan"),
                                              (math.inf, "inf")])
def test_detection_scores_outside_0_to_1_name_the_backend_and_the_score(score: float, shown: str) -> None:
    """A detector score of 50 was accepted by annotate and by doctor."""
    with pytest.raises(BackendError, match=rf"^the torchserve detector returned a score of {shown}, outside 0\.\.1: "
                                           "its weights are damaged or it is not a detector"):
        check_detections([Detection(BOX, 0.9), Detection(BOX, score)], "torchserve")


@pytest.mark.parametrize("box", [(0.0, 0.0, math.inf, 10.0), (math.nan, 0.0, 10.0, 10.0), (-1e400, 0, 5, 5)])
def test_a_detection_box_of_non_finite_numbers_is_refused(box: tuple[float, float, float, float]) -> None:
    with pytest.raises(BackendError, match=r"^the mm detector returned the box .*, not four finite numbers"):
        check_detections([Detection(box, 0.9)], "mm")
