"""Mask-aware refinement of a pose's COCO keypoints: joints onto the figure, its extremities, centrelines and hips.

A pose network sees a drawing through a coarse heatmap (24×32 for the embedded model): a hand it is unsure of
lands beside the arm, an elbow on the limb's edge, the hips wherever a torso's bottom looks like one. The figure's mask knows better, and each of
the four STEPS below uses it classically (numpy and OpenCV only). The medial axis is Zhang-Suen thinning on the
mask downscaled to at most SKELETON_SIDE px a side, vectorised through a 256-entry table of 3×3 neighbourhoods,
with Lü and Wang's amendment: the plain rule erases a 2-px diagonal stroke, a thin arm at that scale.
Keypoints are [x, y, score] in the mask's px, pixel (i, j) centred on x = i, y = j; scores are never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Sequence

import cv2
import numpy as np

from studio.pipeline.intake.box import clamp_box, crop
from studio.pipeline.intake.segment import segment_figure
from studio.pipeline.pose.backend import UNSURE_SCORE, Box

STEPS = ("inside", "extremities", "centreline", "hips")
REFINE_STEPS: tuple[str, ...] = ("inside",)  # what annotate applies (training/evaluate.py --ablation measures each)
MAX_MOVE = 0.25  # no step but "inside" moves a joint further than this share of the figure's larger side
# "inside" moves a joint onto the mask only from this near (share of the figure's larger side). Further off, the mask
# has more often missed a faint limb than the network has misplaced the joint: on generated figures of the tuning
# seed, moves beyond 0.12 added 0.14-0.16 points to the mean error, in style and out of it, and shorter ones changed
# it by under 0.01. A joint scored 0 (a template's guess, not a network's) is moved from any distance.
INSIDE_REACH = 0.05
SKELETON_SIDE = 160  # px: the mask is thinned at this size at most (a 400 px mask thins in 1-3 ms)
PRUNE = 0.05  # skeleton spurs shorter than this share of the figure's larger side are not extremities
CENTRE_RADIUS = 0.05  # an elbow or knee this share of the figure's size from the medial axis moves onto it
# Hips move only this share of the figure's size: further down, the legs part at a skirt's hem, not the crotch (one
# of AD's sample girls, hips at her waist, has hers 0.145 of her height below them).
HIP_REACH = 0.1
SIDE_MARGIN = 0.02  # shoulders or hips closer than this share of the figure's size do not tell its sides apart

NOSE = 0
# (extremity, the joint it hangs from, its limb's root, the other limb's root): wrists then ankles, COCO.
LIMBS = ((9, 7, 5, 6), (10, 8, 6, 5), (15, 13, 11, 12), (16, 14, 12, 11))
MIDDLES = (7, 8, 13, 14)  # elbows and knees
# The 3×3 neighbours P2..P9 of Zhang and Suen's paper (N, NE, E, SE, S, SW, W, NW) as bits 0..7 of a code.
_WEIGHTS = np.array([[128, 1, 2], [64, 0, 4], [32, 16, 8]], np.float32)


@dataclass(frozen=True, eq=False)
class MedialAxis:
    """A mask's skeleton in the mask's px: points (n, 2) float64 x, y, each on the mask; endpoints (k, 2) float64,
    the tips of its branches once spurs are pruned (the figure's extremities), each on the mask too."""

    points: np.ndarray
    endpoints: np.ndarray


def refine_keypoints(keypoints: np.ndarray, mask: np.ndarray, steps: Collection[str] = STEPS,
                     reach: float = INSIDE_REACH) -> np.ndarray:
    """keypoints (17, 3) COCO [x, y, score] in the mask's px (x right, y down); mask (h, w) uint8/bool (non-zero =
    figure). Returns a new (17, 3) float64 array; the input is not changed. The steps run in STEPS order whatever
    order ``steps`` has; "inside" moves a scored joint only from ``reach`` of the figure's larger side (inf: from
    anywhere). ValueError for an unknown step, keypoints of another shape or non-finite keypoints."""
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise ValueError(f"unknown refinement steps {sorted(unknown)}: choose from {', '.join(STEPS)}")
    kp = np.array(keypoints, dtype=np.float64)
    if kp.shape != (17, 3) or not np.isfinite(kp).all():
        raise ValueError(f"expected (17, 3) finite COCO keypoints [x, y, score], got shape {kp.shape}")
    figure = (np.asarray(mask) > 0).astype(np.uint8)
    if figure.ndim != 2:
        raise ValueError(f"expected an (h, w) mask, got shape {figure.shape}")
    size = figure_size(figure)
    if size == 0:
        return kp
    if "inside" in steps:
        kp[:, :2] = snap_inside(kp[:, :2], figure, reach_px(kp[:, 2], size, reach))
    if "extremities" in steps or "centreline" in steps:
        axis = medial_axis(figure)
        if "extremities" in steps:
            _snap_extremities(kp, axis.endpoints, size)
        if "centreline" in steps:
            _centre_limbs(kp, axis.points, size)
    if "hips" in steps:
        _place_hips(kp, figure, size)
    return kp


def refine_in_box(keypoints: np.ndarray, mask: np.ndarray, box: Box, steps: Collection[str],
                  reach: float = INSIDE_REACH) -> np.ndarray:
    """(17, 3) image-px keypoints refined against the mask of the crop whose top-left corner is ``box``'s."""
    corner = np.array([round(box[0]), round(box[1]), 0.0])
    return refine_keypoints(np.asarray(keypoints, float) - corner, mask, steps, reach) + corner


def figure_crop(image_rgb: np.ndarray, box: Box) -> tuple[Box, np.ndarray, np.ndarray]:
    """What annotate cuts out: the box clamped into the image and rounded to whole px, its (h, w, 3) crop, and
    the figure's (h, w) uint8 0/255 mask there (segment.SegmentError when no figure is found)."""
    h, w = image_rgb.shape[:2]
    box = tuple(float(round(v)) for v in clamp_box(box, w, h))  # type: ignore[assignment]
    cut = crop(image_rgb, box)
    return box, cut, segment_figure(cut)


def refine_in_image(keypoints: np.ndarray, image_rgb: np.ndarray, box: Box, steps: Collection[str],
                    reach: float = INSIDE_REACH) -> np.ndarray:
    """(17, 3) image-px keypoints refined against the figure's mask, cut out of ``image_rgb`` (H, W, 3) uint8
    exactly as annotate cuts it (figure_crop)."""
    box, _, mask = figure_crop(image_rgb, box)
    return refine_in_box(keypoints, mask, box, steps, reach)


def reach_px(scores: np.ndarray | Sequence[float], size: float, reach: float = INSIDE_REACH) -> np.ndarray:
    """How far (px) "inside" may move each joint of a figure ``size`` px at its larger side: ``reach`` of that for a
    joint a network scored, any distance for one scored 0 (a template's guess)."""
    return np.where(np.asarray(scores, float) > 0, reach * size, np.inf)


def figure_size(mask: np.ndarray) -> float:
    """The larger side (px) of the figure's bounding box in an (h, w) mask (non-zero = figure); 0 when empty."""
    _, _, w, h = cv2.boundingRect((np.asarray(mask) > 0).astype(np.uint8))
    return float(max(w, h))


def snap_inside(points: np.ndarray, mask: np.ndarray, reach: float | np.ndarray = np.inf) -> np.ndarray:
    """(n, 2) points (px, x right) moved onto the nearest mask pixel where the pixel they fall in is off the mask
    or off the array, when that pixel is at most ``reach`` px away (one distance, or (n,) one per point); unchanged
    when the mask is empty. The nearest mask pixel to a point off it always has a neighbour off the mask (or lies
    on the array's edge), so only those rim pixels are searched."""
    out = np.array(points, dtype=np.float64).reshape(-1, 2)
    figure = (np.asarray(mask) > 0).astype(np.uint8)
    h, w = figure.shape
    cols, rows = np.round(out[:, 0]), np.round(out[:, 1])
    within = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    on = np.zeros(len(out), bool)
    on[within] = figure[rows[within].astype(int), cols[within].astype(int)] > 0
    if on.all() or not figure.any():
        return out
    core = cv2.erode(figure, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    rim = np.argwhere(figure > core)[:, ::-1].astype(np.float64)
    off = out[~on]
    squared = ((off[:, None, :] - rim[None, :, :]) ** 2).sum(axis=2)
    nearest = np.argmin(squared, axis=1)
    near = squared[np.arange(len(off)), nearest] <= np.broadcast_to(np.asarray(reach, float), len(out))[~on] ** 2
    out[np.flatnonzero(~on)[near]] = rim[nearest[near]]
    return out


def medial_axis(mask: np.ndarray) -> MedialAxis:
    """The skeleton of an (h, w) mask (non-zero = figure): Zhang-Suen thinning of the figure's bounding box scaled
    to at most SKELETON_SIDE px a side (any covered pixel counts, so thin strokes survive), spurs shorter than
    PRUNE of its size cut, and mapped back to the mask's px. Empty for an empty mask."""
    figure = (np.asarray(mask) > 0).astype(np.uint8)
    x0, y0, w, h = cv2.boundingRect(figure)
    empty = np.zeros((0, 2))
    if w == 0:
        return MedialAxis(empty, empty)
    scale = min(1.0, SKELETON_SIDE / max(w, h))
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(figure[y0:y0 + h, x0:x0 + w] * 255, (sw, sh), interpolation=cv2.INTER_AREA) > 0
    skeleton = prune(thin(np.pad(small, 1).astype(np.uint8)), max(2, round(PRUNE * max(sw, sh))))
    codes = _codes(skeleton)
    ends = skeleton.astype(bool) & _END[codes]

    def back(rows_cols: np.ndarray) -> np.ndarray:  # padded small px → the mask's px
        return np.stack([x0 + (rows_cols[:, 1] - 0.5) * w / sw - 0.5, y0 + (rows_cols[:, 0] - 0.5) * h / sh - 0.5],
                        axis=1).reshape(-1, 2)

    points = back(np.argwhere(skeleton))
    cols = np.clip(np.round(points[:, 0]).astype(int), 0, figure.shape[1] - 1)
    rows = np.clip(np.round(points[:, 1]).astype(int), 0, figure.shape[0] - 1)
    # A tip scaled back lands up to a small pixel past a pointed end (any coverage counted): onto the mask
    # with it, or a pointed shoe loses its tip. Other points off the mask are dropped.
    return MedialAxis(points[figure[rows, cols] > 0], snap_inside(back(np.argwhere(ends)), figure))


def thin(binary: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of an (h, w) uint8 0/1 image whose border row and column are 0: (h, w) uint8 0/1
    lines about one pixel wide, joined as the figure was. As Lü and Wang (1986) amend it, a pixel needs three
    neighbours, not two, to be erased, so a 2-px diagonal stroke thins to a line instead of vanishing."""
    img = binary.copy()
    for _ in range(max(img.shape)):  # each pass peels one pixel off both sides, so this bounds the passes
        changed = False
        for table in (_FIRST, _SECOND):
            gone = cv2.LUT(_codes(img), table) & img
            if cv2.countNonZero(gone):
                img -= gone
                changed = True
        if not changed:
            break
    return img


def prune(skeleton: np.ndarray, length: int) -> np.ndarray:
    """(h, w) uint8 0/1 skeleton without its spurs shorter than ``length`` px: tips are peeled ``length`` times,
    then what is left grows back along the skeleton from its remaining tips, so real branches keep their length."""
    peeled = skeleton.copy()
    for _ in range(length):
        tips = _END[_codes(peeled)] & (peeled > 0)
        if not tips.any():
            break
        peeled[tips] = 0
    codes = _codes(peeled)
    grown = ((_END[codes] | (codes == 0)) & (peeled > 0)).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(length + 1):
        grown = cv2.dilate(grown, kernel) & skeleton
    return peeled | grown


def _codes(img: np.ndarray) -> np.ndarray:
    """(h, w) uint8: each pixel's 8 neighbours of a 0/1 image as the bits of _WEIGHTS (outside the image is 0)."""
    return cv2.filter2D(img, -1, _WEIGHTS, borderType=cv2.BORDER_CONSTANT)  # sums ≤ 255: exact in uint8


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every 8-neighbour code: whether Zhang-Suen's first and second sub-iterations delete the pixel, and
    whether it is a tip (its neighbours one run of 1-3 pixels round it)."""
    bits = (np.arange(256)[:, None] >> np.arange(8)) & 1  # P2..P9
    count = bits.sum(axis=1)
    runs = ((bits == 0) & (np.roll(bits, -1, axis=1) == 1)).sum(axis=1)  # 0→1 steps round P2..P9, P2
    p2, p4, p6, p8 = bits[:, 0], bits[:, 2], bits[:, 4], bits[:, 6]
    base = (count >= 3) & (count <= 6) & (runs == 1)
    first = base & (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
    second = base & (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
    return first.astype(np.uint8), second.astype(np.uint8), (runs == 1) & (count <= 3)


_FIRST, _SECOND, _END = _tables()


def _bound(size: float) -> float:
    """The furthest, in px, any step but "inside" moves a joint, for a figure ``size`` px at its larger side."""
    return MAX_MOVE * size


def _snap_extremities(kp: np.ndarray, endpoints: np.ndarray, size: float) -> None:
    """Move each unsure wrist and ankle (score < UNSURE_SCORE) in ``kp`` (17, 3) onto the skeleton endpoint
    nearest its guess among those that fit its limb: further from the limb's root than the elbow or knee is, on
    its root's side of the other root, nearer its guess than any other extremity or the nose, and within
    MAX_MOVE. A joint with no such endpoint stays."""
    if not len(endpoints):
        return
    for joint, middle, root, twin in LIMBS:
        if kp[joint, 2] >= UNSURE_SCORE:
            continue
        guess = kp[joint, :2]
        reach = np.hypot(*(endpoints - kp[root, :2]).T)
        fits = reach > np.hypot(*(kp[middle, :2] - kp[root, :2]))
        across = kp[root, :2] - kp[twin, :2]
        if np.hypot(*across) >= SIDE_MARGIN * size:
            fits &= (endpoints - (kp[root, :2] + kp[twin, :2]) / 2) @ across > 0
        away = np.hypot(*(endpoints - guess).T)
        fits &= away <= _bound(size)
        for other in (NOSE, *(limb[0] for limb in LIMBS if limb[0] != joint)):
            fits &= away < np.hypot(*(endpoints - kp[other, :2]).T)
        if fits.any():
            kp[joint, :2] = endpoints[np.flatnonzero(fits)[np.argmin(away[fits])]]


def _centre_limbs(kp: np.ndarray, axis: np.ndarray, size: float) -> None:
    """Move each elbow and knee in ``kp`` (17, 3) onto the nearest medial-axis point (n, 2) when one lies within
    CENTRE_RADIUS of the figure's size (at least 1.5 px, at most MAX_MOVE): the limb's centreline instead of its
    edge."""
    if not len(axis):
        return
    radius = min(max(1.5, CENTRE_RADIUS * size), _bound(size))
    for joint in MIDDLES:
        away = np.hypot(*(axis - kp[joint, :2]).T)
        nearest = int(np.argmin(away))
        if away[nearest] <= radius:
            kp[joint, :2] = axis[nearest]


def _place_hips(kp: np.ndarray, figure: np.ndarray, size: float) -> None:
    """Move the hips in ``kp`` (17, 3) to the tops of the legs on a (h, w) uint8 0/1 mask: from the knees' row,
    each knee's run of mask pixels is followed up row by row until the two meet in one run (the crotch), and each
    hip goes to the top of its own knee's leg (_put_hips). Left alone when a knee is on no run, the knees share
    one, a leg ends before they meet, or they meet no lower than the shoulders."""
    h = figure.shape[0]
    knee_row = int(round((kp[13, 1] + kp[14, 1]) / 2))
    top = max(0, int(np.ceil(max(kp[5, 1], kp[6, 1]))))
    if not top < knee_row < h:
        return
    starts, ends, index = _row_runs(figure)

    def runs(y: int) -> np.ndarray:  # (n, 2) [start, end) runs of row y
        return np.stack([starts[index[y]:index[y + 1]], ends[index[y]:index[y + 1]]], axis=1)

    first = [_run_at(runs(knee_row), kp[k, 0], SIDE_MARGIN * size * 2) for k in (13, 14)]
    if first[0] is None or first[1] is None or (first[0] == first[1]).all():
        return
    legs = (first[0], first[1])
    for y in range(knee_row - 1, top, -1):
        left, right = _run_above(runs(y), legs[0]), _run_above(runs(y), legs[1])
        if left is None or right is None:
            return
        if (left == right).all():
            _put_hips(kp, legs, y + 1, size)
            return
        legs = (left, right)


def _put_hips(kp: np.ndarray, legs: tuple[np.ndarray, np.ndarray], row: int, size: float) -> None:
    """Move the hips in ``kp`` (17, 3) to the middles of the left and right legs' runs ([start, end) px) in
    ``row``, unless the hips' order across contradicts the legs' or a hip would move further than HIP_REACH."""
    hips = np.array([[(leg[0] + leg[1] - 1) / 2, row] for leg in legs], dtype=np.float64)
    across = kp[11, 0] - kp[12, 0]
    if abs(across) >= SIDE_MARGIN * size and across * (hips[0, 0] - hips[1, 0]) < 0:
        return
    if (np.hypot(*(hips - kp[[11, 12], :2]).T) <= HIP_REACH * size).all():
        kp[[11, 12], :2] = hips


def _row_runs(figure: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of mask pixels in every row of an (h, w) 0/1 mask: starts (n,), ends (n,) exclusive, and (h + 1,)
    offsets, row y's runs being [index[y], index[y + 1])."""
    edges = np.diff(np.pad(figure.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    return starts, ends, np.searchsorted(rows, np.arange(figure.shape[0] + 1))


def _run_at(runs: np.ndarray, x: float, reach: float) -> np.ndarray | None:
    """The run (2,) [start, end) holding x, or the nearest one within ``reach`` px; None when there is none."""
    if not len(runs):
        return None
    gap = np.maximum(runs[:, 0] - x, x - (runs[:, 1] - 1)).clip(min=0)
    best = int(np.argmin(gap))
    return runs[best] if gap[best] <= reach else None


def _run_above(runs: np.ndarray, run: np.ndarray) -> np.ndarray | None:
    """Of a row's runs (n, 2), the one touching ``run`` of the row below (8-connected) most widely; None if none."""
    if not len(runs):
        return None
    overlap = np.minimum(runs[:, 1], run[1] + 1) - np.maximum(runs[:, 0], run[0] - 1)
    best = int(np.argmax(overlap))
    return runs[best] if overlap[best] > 0 else None
