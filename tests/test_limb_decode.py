"""Limb-aware heatmap decoding: a rival peak for a hand or foot is settled by the joint it hangs from."""

from __future__ import annotations

import numpy as np
import pytest

from studio.pipeline.pose.limbs import LEGS, RIVAL, decode_limbs, peaks
from studio.pipeline.pose.backend import UNSURE_SCORE
from studio.pipeline.pose.decode import decode_heatmaps

H, W = 32, 24


def blob(x: float, y: float, value: float) -> np.ndarray:
    ys, xs = np.mgrid[0:H, 0:W]
    return value * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / 2.0)


def figure_heatmaps() -> np.ndarray:
    """One clear peak per COCO keypoint, arms out to the sides."""
    spots = {0: (12, 4), 1: (13, 3), 2: (11, 3), 3: (14, 4), 4: (10, 4), 5: (15, 9), 6: (9, 9), 7: (18, 10),
             8: (6, 10), 9: (21, 11), 10: (3, 11), 11: (14, 18), 12: (10, 18), 13: (15, 24), 14: (9, 24),
             15: (15, 29), 16: (9, 29)}
    return np.stack([blob(x, y, 0.8) for _, (x, y) in sorted(spots.items())])


def test_peaks_finds_each_local_maximum_once_best_first() -> None:
    heatmap = blob(4, 5, 0.5) + blob(18, 25, 0.7)
    heatmap[10, 10:12] = 0.6  # a two-pixel plateau is one peak
    found = peaks(heatmap, 0.3)
    assert [tuple(p[:2]) for p in found] == [(18, 25), (10, 10), (4, 5)]
    assert np.allclose(found[:, 2], [0.7, 0.6, 0.5], atol=1e-6)
    assert len(peaks(heatmap, 0.65)) == 1


def test_a_clear_figure_decodes_as_plain_argmax() -> None:
    heatmaps = figure_heatmaps()
    coords, scores, ambiguous = decode_limbs(heatmaps)
    plain, plain_scores = decode_heatmaps(heatmaps)
    assert ambiguous == []
    np.testing.assert_array_equal(coords, plain)
    np.testing.assert_array_equal(scores, plain_scores)


def test_a_rival_hand_peak_far_from_the_elbow_loses_and_the_hand_is_flagged() -> None:
    heatmaps = figure_heatmaps()
    heatmaps[10] = blob(3, 11, 0.40) + blob(8, 22, 0.41)  # right wrist: the real hand, and a skirt corner
    coords, scores, ambiguous = decode_limbs(heatmaps)
    assert decode_heatmaps(heatmaps)[0][10].round().tolist() == [8, 22]  # what argmax alone picks
    assert coords[10].round().tolist() == [3, 11]  # next to the right elbow at (6, 10)
    assert ambiguous == [10] and 0 < scores[10] < UNSURE_SCORE
    assert all(scores[j] > UNSURE_SCORE for j in range(17) if j != 10)


def test_a_weak_second_peak_is_not_a_rival() -> None:
    heatmaps = figure_heatmaps()
    heatmaps[10] = blob(8, 22, 0.5) + blob(3, 11, 0.5 * RIVAL * 0.9)
    coords, _, ambiguous = decode_limbs(heatmaps)
    assert ambiguous == [] and coords[10].round().tolist() == [8, 22]


def test_the_parent_is_settled_before_its_child() -> None:
    heatmaps = figure_heatmaps()
    heatmaps[8] = blob(6, 10, 0.5) + blob(12, 20, 0.52)  # right elbow has a rival too, far from the shoulder
    heatmaps[10] = blob(3, 11, 0.5) + blob(14, 21, 0.5)  # and the hand: one near each elbow candidate
    coords, _, ambiguous = decode_limbs(heatmaps)
    assert coords[8].round().tolist() == [6, 10] and coords[10].round().tolist() == [3, 11]
    assert ambiguous == [8, 10]


@pytest.mark.parametrize("pair", [(11, 12), (15, 16)])
def test_legs_mirrored_against_the_arms_are_flagged_where_they_are(pair: tuple[int, int]) -> None:
    """The left shoulder is on the image's right (x 15 against 9): a left hip or foot on the image's left means
    the network read the legs mirrored (a six-armed bug): all six leg joints are asked about, none moved."""
    heatmaps = figure_heatmaps()
    left, right = pair
    heatmaps[[left, right]] = heatmaps[[right, left]]
    coords, scores, ambiguous = decode_limbs(heatmaps)
    np.testing.assert_array_equal(coords, decode_heatmaps(heatmaps)[0])
    assert sorted(ambiguous) == [11, 12, 13, 14, 15, 16]
    assert all(0 < scores[j] < UNSURE_SCORE for j in LEGS) and all(scores[j] > UNSURE_SCORE for j in range(11))


def test_legs_together_are_no_mirror() -> None:
    heatmaps = figure_heatmaps()
    heatmaps[15], heatmaps[16] = blob(12.2, 29, 0.8), blob(12.5, 29, 0.8)  # feet side by side, a hair crossed
    _, scores, ambiguous = decode_limbs(heatmaps)
    assert ambiguous == [] and all(scores > UNSURE_SCORE)
