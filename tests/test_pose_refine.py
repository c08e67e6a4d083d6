"""Mask-aware keypoint refinement (pose/refine.py) on figures drawn with cv2: each step on its own, then robustness
on degenerate masks, then the annotate path."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from studio.core.annotate import annotate_image
from studio.pipeline.intake.images import LoadedImage
from studio.pipeline.pose.backend import Detection, PoseResult
from studio.pipeline.pose.refine import (INSIDE_REACH, MAX_MOVE, STEPS, figure_crop, medial_axis, refine_in_image,
                                         refine_keypoints, snap_inside)

SURE, UNSURE = 0.9, 0.1


def stick_figure(thickness: int = 12) -> np.ndarray:
    """(400, 300) uint8 mask: a head, a spine, arms out and down, legs apart, all thick lines. The figure's left
    arm ends at (230, 200), its left leg at (200, 380): on the viewer's right."""
    m = np.zeros((400, 300), np.uint8)
    cv2.circle(m, (150, 60), 35, 255, -1)
    for a, b in (((150, 95), (150, 230)), ((150, 130), (70, 200)), ((150, 130), (230, 200)),
                 ((150, 230), (100, 380)), ((150, 230), (200, 380))):
        cv2.line(m, a, b, 255, thickness)
    return m


def stick_keypoints() -> np.ndarray:
    """(17, 3) confident keypoints on stick_figure where a person would put them."""
    xy = [(150, 60), (160, 50), (140, 50), (170, 60), (130, 60), (160, 136), (140, 136), (190, 165), (110, 165),
          (228, 198), (72, 198), (155, 240), (145, 240), (175, 305), (125, 305), (199, 377), (101, 377)]
    return np.hstack([np.array(xy, float), np.full((17, 1), SURE)])


def blob_figure() -> np.ndarray:
    """(400, 300) uint8 mask: a round head on a filled box body with thin stick limbs (hands at x 40 and 260)."""
    m = np.zeros((400, 300), np.uint8)
    cv2.circle(m, (150, 90), 40, 255, -1)
    cv2.rectangle(m, (110, 130), (190, 260), 255, -1)
    for a, b in (((110, 150), (40, 200)), ((190, 150), (260, 200)), ((130, 260), (110, 360)),
                 ((170, 260), (190, 360))):
        cv2.line(m, a, b, 255, 8)
    return m


def box_legs_figure(dress_to: int = 0) -> np.ndarray:
    """(400, 300) uint8 mask: a head and a box body (x 100-200, y 100-249) on two box legs, x 110-140 and 160-190
    from y 250 down; ``dress_to`` fills between the legs down to that row."""
    m = np.zeros((400, 300), np.uint8)
    cv2.circle(m, (150, 60), 40, 255, -1)
    cv2.rectangle(m, (100, 100), (200, 249), 255, -1)
    cv2.rectangle(m, (110, 250), (140, 380), 255, -1)
    cv2.rectangle(m, (160, 250), (190, 380), 255, -1)
    if dress_to:
        cv2.rectangle(m, (110, 250), (190, dress_to), 255, -1)
    return m


def box_legs_keypoints() -> np.ndarray:
    kp = stick_keypoints()
    kp[[5, 6, 11, 12, 13, 14], :2] = [(180, 110), (120, 110), (165, 230), (135, 230), (175, 320), (125, 320)]
    return kp


def moved(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(17,) how far each joint moved, px."""
    return np.hypot(*(after[:, :2] - before[:, :2]).T)


def on_mask(mask: np.ndarray, xy: np.ndarray) -> np.ndarray:
    cols, rows = np.round(xy[:, 0]).astype(int), np.round(xy[:, 1]).astype(int)
    inside = (cols >= 0) & (cols < mask.shape[1]) & (rows >= 0) & (rows < mask.shape[0])
    return inside & (mask[rows.clip(0, mask.shape[0] - 1), cols.clip(0, mask.shape[1] - 1)] > 0)


# inside


def test_a_joint_off_the_figure_moves_to_its_nearest_pixel_and_others_stay() -> None:
    mask = np.zeros((100, 100), np.uint8)
    mask[20:80, 30:60] = 255
    kp = np.zeros((17, 3))
    kp[:, :2] = (45, 50)
    kp[3, :2] = (10, 40)  # left of the box
    kp[4, :2] = (75, 90)  # below and right of its corner
    kp[5, :2] = (-20, 25)  # off the array altogether
    out = refine_keypoints(kp, mask, ["inside"])
    np.testing.assert_allclose(out[3, :2], (30, 40))
    np.testing.assert_allclose(out[4, :2], (59, 79))
    np.testing.assert_allclose(out[5, :2], (30, 25))
    np.testing.assert_array_equal(out[[0, 1, 2, *range(6, 17)]], kp[[0, 1, 2, *range(6, 17)]])


def test_a_scored_joint_moves_onto_the_figure_only_from_within_reach() -> None:
    """A network's joint far off the mask is more often on a limb the mask missed than misplaced: it stays. A
    template's guess (score 0) moves from anywhere."""
    mask = np.zeros((200, 200), np.uint8)
    mask[0:100, 50:150] = 255  # a 100-px figure: the reach is INSIDE_REACH * 100 px
    kp = np.zeros((17, 3))
    kp[:, :2] = (100, 50)
    kp[:, 2] = SURE
    near, far = 99 + 0.9 * INSIDE_REACH * 100, 99 + 1.5 * INSIDE_REACH * 100  # px below its last row
    kp[3, :2], kp[4, :2] = (100, near), (100, far)
    kp[5, :2], kp[5, 2] = (100, far), 0.0
    out = refine_keypoints(kp, mask, ["inside"])
    np.testing.assert_allclose(out[3, :2], (100, 99))
    np.testing.assert_allclose(out[4, :2], (100, far))
    np.testing.assert_allclose(out[5, :2], (100, 99))
    np.testing.assert_allclose(refine_keypoints(kp, mask, ["inside"], reach=np.inf)[4, :2], (100, 99))
    points = np.array([[100.0, 110.0], [100.0, 110.0]])  # 11 px below the figure, one reach per point
    np.testing.assert_allclose(snap_inside(points, mask, np.array([20.0, 5.0])), [[100, 99], [100, 110]])


def test_snap_inside_leaves_points_alone_without_a_figure() -> None:
    points = np.array([[3.0, 4.0], [-1.0, 50.0]])
    np.testing.assert_array_equal(snap_inside(points, np.zeros((10, 10), bool)), points)


def test_the_input_is_not_changed_and_scores_are_kept() -> None:
    kp = stick_keypoints()
    kp[9, :2], kp[9, 2] = (280, 10), UNSURE
    before = kp.copy()
    out = refine_keypoints(kp, stick_figure())
    np.testing.assert_array_equal(kp, before)
    np.testing.assert_array_equal(out[:, 2], before[:, 2])
    assert not np.array_equal(out[:, :2], before[:, :2])


def test_unknown_steps_and_bad_keypoints_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown refinement steps"):
        refine_keypoints(stick_keypoints(), stick_figure(), ["inside", "elbows"])
    with pytest.raises(ValueError, match="17, 3"):
        refine_keypoints(stick_keypoints()[:, :2], stick_figure())
    bad = stick_keypoints()
    bad[4, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        refine_keypoints(bad, stick_figure())


# extremities


def test_medial_axis_ends_are_the_figures_extremities() -> None:
    ends = medial_axis(blob_figure()).endpoints
    for tip in ((40, 200), (260, 200), (110, 360), (190, 360)):
        assert np.hypot(*(ends - tip).T).min() < 6, tip


def test_pointed_feet_keep_their_tips_on_the_mask() -> None:
    mask = np.zeros((400, 300), np.uint8)
    cv2.line(mask, (150, 0), (150, 200), 255, 9)
    for heel, toe_x in ((100, 60), (200, 240)):
        cv2.line(mask, (150, 200), (heel, 385), 255, 5)
        cv2.fillPoly(mask, [np.array([(heel, 377), (heel, 390), (toe_x, 390)], np.int32)], 255)
    ends = medial_axis(mask).endpoints  # a toe's tip, scaled back up, lands a pixel past its point
    assert on_mask(mask, ends).all()
    for toe in ((60, 390), (240, 390)):
        assert np.hypot(*(ends - toe).T).min() < 5, toe


def test_a_thin_diagonal_stroke_keeps_its_medial_axis() -> None:
    mask = np.zeros((60, 60), np.uint8)
    for i in range(5, 55):  # a 2-px staircase: plain Zhang-Suen erases it down to two pixels
        mask[i, i] = mask[i, i + 1] = 1
    axis = medial_axis(mask)
    assert len(axis.points) > 40
    assert len(axis.endpoints) == 2


def test_an_unsure_wrist_and_ankle_move_to_the_tips_of_their_limbs() -> None:
    kp = stick_keypoints()
    kp[9] = (205, 180, UNSURE)  # on the left arm, short of the hand
    kp[15] = (190, 352, UNSURE)  # on the left shin, short of the foot
    out = refine_keypoints(kp, stick_figure(), ["extremities"])
    assert np.hypot(*(out[9, :2] - (230, 200))) < 6
    assert np.hypot(*(out[15, :2] - (200, 380))) < 6
    assert (moved(kp, out)[[i for i in range(17) if i not in (9, 15)]] == 0).all()


def test_a_confident_wrist_stays_where_the_network_put_it() -> None:
    kp = stick_keypoints()
    kp[9] = (205, 180, SURE)
    out = refine_keypoints(kp, stick_figure(), ["extremities"])
    np.testing.assert_array_equal(out, kp)


def test_a_wrist_near_the_body_skips_the_body_for_the_hand() -> None:
    kp = stick_keypoints()
    kp[5, :2], kp[6, :2], kp[7, :2] = (185, 150), (115, 150), (222, 176)
    kp[9] = (212, 168, UNSURE)  # between the elbow and the body's corner
    out = refine_keypoints(kp, blob_figure(), ["extremities"])
    assert np.hypot(*(out[9, :2] - (260, 200))) < 6


def test_a_wrist_skips_a_tip_nearer_its_shoulder_than_its_elbow() -> None:
    mask = stick_figure()
    cv2.line(mask, (150, 130), (185, 105), 255, 12)  # a collar's point, up by the left shoulder
    kp = stick_keypoints()
    kp[9] = (195, 125, UNSURE)  # guessed by that point, well away from the hand
    out = refine_keypoints(kp, mask, ["extremities"])
    assert np.hypot(*(out[9, :2] - (230, 200))) < 6


def test_a_wrist_does_not_cross_to_the_other_side_of_the_body() -> None:
    kp = stick_keypoints()
    kp[10, :2] = (150, 300)  # the right wrist elsewhere, so only the sides rule keeps its hand from the left wrist
    kp[9] = (85, 205, UNSURE)  # the left wrist guessed by the right hand
    out = refine_keypoints(kp, stick_figure(), ["extremities"])
    np.testing.assert_array_equal(out, kp)


def test_an_endpoint_another_extremity_is_nearer_is_not_taken() -> None:
    kp = stick_keypoints()
    kp[15] = (215, 215, UNSURE)  # the left ankle guessed near the left hand, where the left wrist already is
    out = refine_keypoints(kp, stick_figure(), ["extremities"])
    np.testing.assert_array_equal(out, kp)


def test_an_unsure_wrist_with_no_plausible_endpoint_stays() -> None:
    kp = stick_keypoints()
    kp[9] = (175, 40, UNSURE)  # beside the head: the head's tip is the nose's, the hand too far
    out = refine_keypoints(kp, stick_figure(), ["extremities"])
    np.testing.assert_array_equal(out, kp)


# centreline


def test_an_elbow_on_the_limbs_edge_moves_onto_its_centreline() -> None:
    a, b = np.array([150.0, 130.0]), np.array([230.0, 200.0])
    along = (b - a) / np.hypot(*(b - a))
    across = np.array([-along[1], along[0]])
    kp = stick_keypoints()
    kp[7, :2] = (a + b) / 2 + 7 * across  # on the edge of the 16-px arm
    out = refine_keypoints(kp, stick_figure(16), ["centreline"])
    offset = out[7, :2] - a
    assert abs(offset @ across) < 2  # on the centreline
    assert abs(offset @ along - np.hypot(*(b - a)) / 2) < 3  # where it was along the arm
    assert (moved(kp, out)[[5, 6, 9, 10, 11, 12]] == 0).all()


def test_an_elbow_far_from_any_centreline_stays() -> None:
    kp = stick_keypoints()
    kp[7, :2] = (230, 120)  # 40 px off the arm
    out = refine_keypoints(kp, stick_figure(), ["centreline"])
    np.testing.assert_array_equal(out[7], kp[7])


# hips


def test_hips_move_to_the_tops_of_the_legs() -> None:
    kp = box_legs_keypoints()
    out = refine_keypoints(kp, box_legs_figure(), ["hips"])
    np.testing.assert_allclose(out[11, :2], (175, 250))  # the figure's left leg: x 160-190
    np.testing.assert_allclose(out[12, :2], (125, 250))
    assert (moved(kp, out)[[i for i in range(17) if i not in (11, 12)]] == 0).all()


def test_hips_stay_when_the_legs_are_joined_at_the_knees() -> None:
    kp = box_legs_keypoints()
    kp[[13, 14], 1] = 300  # in the dress, near enough that both hips could reach its middle
    out = refine_keypoints(kp, box_legs_figure(dress_to=340), ["hips"])
    np.testing.assert_array_equal(out, kp)


def test_hips_stay_when_their_sides_contradict_the_legs() -> None:
    kp = box_legs_keypoints()
    kp[[11, 12], 0] = kp[[12, 11], 0]
    out = refine_keypoints(kp, box_legs_figure(), ["hips"])
    np.testing.assert_array_equal(out, kp)


def test_hips_stay_when_the_legs_part_too_far_from_them() -> None:
    kp = box_legs_keypoints()
    kp[[11, 12], 1] = 140  # 110 px above where the legs part: more than MAX_MOVE of the 361-px figure
    out = refine_keypoints(kp, box_legs_figure(), ["hips"])
    np.testing.assert_array_equal(out, kp)


def test_hips_at_the_waist_stay_above_a_skirt() -> None:
    mask = box_legs_figure()
    mask[200:] = 0
    skirt = np.array([(110, 200), (190, 200), (215, 280), (85, 280)], np.int32)
    cv2.fillPoly(mask, [skirt], 255)
    cv2.rectangle(mask, (115, 281), (135, 380), 255, -1)
    cv2.rectangle(mask, (165, 281), (185, 380), 255, -1)
    kp = box_legs_keypoints()
    kp[[11, 12], 1] = 205  # at the waist, where a person puts them: the legs part 75 px lower, at the hem
    out = refine_keypoints(kp, mask, ["hips"])
    np.testing.assert_array_equal(out, kp)


def test_hips_stay_when_the_legs_part_above_the_shoulders() -> None:
    kp = box_legs_keypoints()
    kp[[5, 6], 1] = 265  # shoulders read below where the legs part: that split is no hip
    out = refine_keypoints(kp, box_legs_figure(), ["hips"])
    np.testing.assert_array_equal(out, kp)


def test_hips_on_a_stick_figure_go_where_the_legs_part() -> None:
    kp = stick_keypoints()
    out = refine_keypoints(kp, stick_figure(), ["hips"])
    assert 240 < out[11, 1] == out[12, 1] < 270
    assert out[11, 0] > 150 > out[12, 0]
    assert on_mask(stick_figure(), out[[11, 12], :2]).all()


# robustness


def degenerate_masks() -> dict[str, np.ndarray]:
    one = np.zeros((50, 40), np.uint8)
    one[20, 10] = 1
    lines = np.zeros((200, 150), np.uint8)
    for a, b in (((75, 10), (75, 190)), ((20, 60), (130, 80)), ((75, 120), (30, 185))):
        cv2.line(lines, a, b, 255, 1)
    ring = np.zeros((200, 200), np.uint8)
    cv2.circle(ring, (100, 100), 70, 255, 20)
    blob = np.zeros((200, 150), bool)
    blob[30:170, 20:130] = True
    full = np.full((30, 20), 255, np.uint8)
    corner = np.array([[1, 1], [0, 1]], np.uint8)  # a 2-px figure: MAX_MOVE is half a pixel
    return {"empty": np.zeros((60, 50), np.uint8), "one pixel": one, "corner": corner, "thin lines": lines,
            "ring": ring, "blob": blob, "full": full, "stick": stick_figure(), "blob figure": blob_figure()}


@pytest.mark.parametrize("name", list(degenerate_masks()))
def test_every_step_is_finite_and_bounded_on_any_mask(name: str) -> None:
    mask = degenerate_masks()[name]
    rng = np.random.default_rng(7)
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    size = max(np.ptp(xs) + 1, np.ptp(ys) + 1) if len(xs) else 0
    for _ in range(12):
        kp = np.hstack([rng.uniform(-0.2, 1.2, (17, 2)) * (w, h), rng.uniform(0, 1, (17, 1))])
        for step in STEPS:
            out = refine_keypoints(kp, mask, [step])
            assert out.shape == (17, 3) and np.isfinite(out).all()
            np.testing.assert_array_equal(out[:, 2], kp[:, 2])
            bound = INSIDE_REACH if step == "inside" else MAX_MOVE
            assert moved(kp, out).max() <= bound * size + 1e-9, step
        out = refine_keypoints(kp, mask, reach=np.inf)  # from any distance, every joint ends on the figure
        assert np.isfinite(out).all()
        if len(xs):
            assert on_mask(mask, out[:, :2]).all()
        else:
            np.testing.assert_array_equal(out, kp)


def test_no_steps_change_nothing() -> None:
    kp = stick_keypoints()
    kp[9] = (280, 10, UNSURE)
    np.testing.assert_array_equal(refine_keypoints(kp, stick_figure(), ()), kp)


# the image and annotate paths


def drawing() -> np.ndarray:
    """(440, 340, 3) uint8: blob_figure's outline in dark ink on paper, offset by (20, 20)."""
    rgb = np.full((440, 340, 3), 240, np.uint8)
    contours, _ = cv2.findContours(blob_figure(), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(rgb, contours, -1, (30, 30, 30), 3, offset=(20, 20))
    return rgb


BOX = (40.0, 20.0, 300.0, 400.0)


def off_figure_keypoints() -> np.ndarray:
    """(17, 3) image-px keypoints, every one on the paper beside the figure, not on it."""
    kp = np.zeros((17, 3))
    kp[:, 0] = np.where(np.arange(17) % 2, 45.0, 295.0)
    kp[:, 1] = np.linspace(30, 390, 17)
    kp[:, 2] = SURE
    return kp


def test_refine_in_image_refines_in_image_px() -> None:
    rgb = drawing()
    kp = off_figure_keypoints()
    box, _, mask = figure_crop(rgb, BOX)
    assert not on_mask(mask, kp[:, :2] - box[:2]).any()
    out = refine_in_image(kp, rgb, BOX, ["inside"], np.inf)
    assert on_mask(mask, out[:, :2] - box[:2]).all()
    np.testing.assert_allclose(out[:, :2] - box[:2], snap_inside(kp[:, :2] - box[:2], mask))


class OffFigureBackend:
    """A pose backend that puts every joint beside the figure."""

    name = "off-figure"

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        return [Detection(BOX, 1.0)]

    def pose(self, image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> PoseResult:
        return PoseResult(off_figure_keypoints())


def distance_to_mask(mask: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(n,) px from each point (n, 2) to the nearest mask pixel (0 on it)."""
    rows, cols = np.nonzero(mask)
    return np.min(np.hypot(xy[:, :1] - cols, xy[:, 1:] - rows), axis=1)


@pytest.mark.parametrize("scored", [True, False], ids=["network", "template"])
def test_annotate_puts_joints_on_the_figure_from_within_reach(scored: bool) -> None:
    """A network's joints (scored) move onto the figure from within refine's reach, in the keypoints and in the
    character's joints, and the rest stay where the network put them; a template's (score 0) all move onto it."""
    rgb = drawing()
    backend = OffFigureBackend()
    if not scored:
        backend.pose = lambda image, box: PoseResult(np.hstack([off_figure_keypoints()[:, :2], np.zeros((17, 1))]))
    annotation = annotate_image(LoadedImage(rgb, 1.0, (rgb.shape[1], rgb.shape[0])), backend)
    mask = annotation.character.mask
    corner = np.array(annotation.box[:2])
    before = off_figure_keypoints()[:, :2] - corner
    reach = INSIDE_REACH * max(np.ptp(np.nonzero(mask)[0]) + 1, np.ptp(np.nonzero(mask)[1]) + 1) if scored else np.inf
    near = distance_to_mask(mask, before) <= reach
    assert near.any() and (near.all() if not scored else not near.all())
    after = annotation.keypoints[:, :2] - corner
    assert on_mask(mask, after[near]).all()
    np.testing.assert_array_equal(after[~near], before[~near])
    rest = annotation.character.rest
    assert on_mask(mask, rest[distance_to_mask(mask, rest) <= reach + 1]).all()
    assert on_mask(mask, rest).all() == (not scored or near.all())
    np.testing.assert_array_equal(annotation.keypoints[:, 2], 0.0 if not scored else off_figure_keypoints()[:, 2])
