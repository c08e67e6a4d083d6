"""The pose-backend protocol and AD's 17 COCO keypoints ↔ 16-joint skeleton conversion."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

COCO_KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                  "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                  "right_knee", "left_ankle", "right_ankle")

# AD's 16 joints: (name, parent, COCO keypoints averaged for its location). "right" is the figure's own right.
AD_SKELETON: tuple[tuple[str, str | None, tuple[int, ...]], ...] = (
    ("root", None, (11, 12)),
    ("hip", "root", (11, 12)),
    ("torso", "hip", (5, 6)),
    ("neck", "torso", (0,)),
    ("right_shoulder", "torso", (6,)),
    ("right_elbow", "right_shoulder", (8,)),
    ("right_hand", "right_elbow", (10,)),
    ("left_shoulder", "torso", (5,)),
    ("left_elbow", "left_shoulder", (7,)),
    ("left_hand", "left_elbow", (9,)),
    ("right_hip", "root", (12,)),
    ("right_knee", "right_hip", (14,)),
    ("right_foot", "right_knee", (16,)),
    ("left_hip", "root", (11,)),
    ("left_knee", "left_hip", (13,)),
    ("left_foot", "left_knee", (15,)),
)


UNSURE_SCORE = 0.3  # keypoint scores below this are reported, so that the user checks those joints


class BackendError(RuntimeError):
    """A detection or pose backend failed; the message is for the user and says what to do next."""


Box = tuple[float, float, float, float]  # left, top, right, bottom, image px


@dataclass(frozen=True)
class Detection:
    """One detected figure: box (left, top, right, bottom) in image px and the detector's score."""

    box: Box
    score: float


@dataclass(frozen=True, eq=False)
class PoseResult:
    """keypoints: (17, 3) float64 COCO keypoints [x, y, score] in image px. notes: what the user should know
    (e.g. "3 skeletons returned: using the most confident")."""

    keypoints: np.ndarray
    notes: tuple[str, ...] = field(default=())


class PoseBackend(Protocol):
    """What the GUI, the CLI and the tests call, whichever backend runs (TorchServe, torch, mm, manual)."""

    name: str

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Figures in an (H, W, 3) uint8 RGB image, best first. Raises BackendError."""
        ...

    def pose(self, image_rgb: np.ndarray, box: Box) -> PoseResult:
        """The 17 COCO keypoints of the figure inside ``box``, in image px. Raises BackendError."""
        ...


SCORE_SLACK = 0.05  # heatmap models trained on unit Gaussian peaks (mmpose's, ours) overshoot [0, 1] a little
# How far outside the box a keypoint may lie, as a share of the box's larger side: a top-down model sees the box
# padded 1.25× to a 3:4 crop, which reaches at most 0.84 of it past a very flat box's edges (0.59 measured on
# noise); a keypoint further out did not come from the crop, and broken weights or a wrong reply put it there.
BOX_MARGIN = 1.0


class InvalidBoxError(ValueError):
    """A box no backend can pose: not four finite numbers, or no width or height (box.BoxError: none found)."""


def check_box(box: Box) -> Box:
    """``box`` as four floats; InvalidBoxError when they are not finite or the box has no width or height.

    Every backend calls this before posing, so that a bad box is blamed on the box, not on the weights that
    were fed it (an infinite box gives NaN keypoints, which read as broken weights)."""
    try:
        values = tuple(float(v) for v in box)
    except (TypeError, ValueError):
        raise InvalidBoxError(f"the box must be four numbers (left, top, right, bottom), got {_excerpt(box)}") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidBoxError(f"the box must be four finite numbers (left, top, right, bottom), got {_excerpt(box)}")
    left, top, right, bottom = values
    if right <= left or bottom <= top:
        raise InvalidBoxError(f"the box {_excerpt(box)} has no width or no height: right must be greater than left "
                              "and bottom greater than top")
    return values  # type: ignore[return-value]


def check_keypoints(keypoints: np.ndarray, box: Box, backend: str) -> None:
    """Raise BackendError for output no skeleton can come from, whichever backend gave it: not 17 [x, y, score]
    rows, NaN or infinite numbers, a score outside [0, 1] (beyond SCORE_SLACK), a keypoint further from the box
    than BOX_MARGIN of its larger side, or every keypoint on one spot. Broken or untrained weights and a wrong
    server reply give these, and a rig from them would pass for a real one. InvalidBoxError for a bad ``box``."""
    box = check_box(box)
    kp = np.asarray(keypoints)
    if kp.dtype.kind not in "biuf" or kp.shape != (17, 3):
        what = f"an array of {kp.dtype}" if kp.dtype.kind not in "biuf" else f"shape {kp.shape}"
        raise BackendError(f"the {backend} backend returned {what}, not 17 keypoints [x, y, score]")
    kp = kp.astype(float)
    if not np.isfinite(kp).all():
        raise BackendError(f"the {backend} pose model returned invalid numbers (NaN or infinity): its weights "
                           "are broken; use other weights or another backend")
    scores = kp[:, 2]
    if scores.min() < -SCORE_SLACK or scores.max() > 1 + SCORE_SLACK:
        worst = float(scores[np.argmax(np.abs(scores - 0.5))])
        raise BackendError(f"the {backend} pose model returned a keypoint score of {worst:.3g}, outside 0..1: "
                           "its weights are damaged or it is not a pose model; use other weights or another backend")
    size = max(box[2] - box[0], box[3] - box[1], 1.0)
    margin = BOX_MARGIN * size
    outside = np.maximum.reduce([box[0] - kp[:, 0], kp[:, 0] - box[2], box[1] - kp[:, 1], kp[:, 1] - box[3]])
    if outside.max() > margin:
        j = int(np.argmax(outside))
        raise BackendError(f"the {backend} pose model put the {COCO_KEYPOINTS[j].replace('_', ' ')} at "
                           f"({kp[j, 0]:.4g}, {kp[j, 1]:.4g}), far outside the box {_excerpt(box)}: its weights are "
                           "damaged or it is not a pose model; use other weights or another backend")
    if np.ptp(kp[:, :2], axis=0).max() < 0.02 * size:
        raise BackendError(f"the {backend} pose model put every joint on the same spot: its weights look "
                           "untrained or broken; use other weights or another backend")


def check_detections(detections: Sequence[Detection], backend: str) -> None:
    """Raise BackendError for detections no figure can come from, whichever backend gave them: a box that is not
    four finite numbers, or a score that is not a number within [0, 1] (beyond SCORE_SLACK). Broken weights and a
    wrong server reply give these, and a box from them would be cut out as if it held the figure."""
    for detection in detections:
        try:
            box = [float(v) for v in detection.box]
        except (TypeError, ValueError):
            box = []
        if len(box) != 4 or not all(math.isfinite(v) for v in box):
            raise BackendError(f"the {backend} detector returned the box {_excerpt(detection.box)}, not four finite "
                               "numbers: its weights are broken or it is not a detector; use other weights or "
                               "another backend")
        try:
            score = float(detection.score)
        except (TypeError, ValueError):
            score = math.nan
        if not (-SCORE_SLACK <= score <= 1 + SCORE_SLACK):  # NaN fails this too
            raise BackendError(f"the {backend} detector returned a score of {score:.3g}, outside 0..1: its weights "
                               "are damaged or it is not a detector; use other weights or another backend")


def _excerpt(box: object) -> str:
    """A box as the user gave it, for a message: numbers rounded, anything else shortened."""
    try:
        text = ",".join(f"{float(v):g}" for v in box)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        text = repr(box)
    return text if len(text) <= 60 else text[:57] + "..."


def coco_to_ad(keypoints: np.ndarray) -> tuple[tuple[str, ...], tuple[str | None, ...], np.ndarray]:
    """AD's 16-joint skeleton from 17 COCO keypoints (..., 17, ≥2): names, parent names, (..., 16, 2)."""
    kp = np.asarray(keypoints, float)[..., :2]
    if kp.shape[-2] != 17:
        raise ValueError(f"expected 17 COCO keypoints, got {kp.shape[-2]}")
    locs = np.stack([kp[..., list(src), :].mean(axis=-2) for _, _, src in AD_SKELETON], axis=-2)
    return tuple(n for n, _, _ in AD_SKELETON), tuple(p for _, p, _ in AD_SKELETON), locs


def ad_to_coco(names: Sequence[str], locs: np.ndarray) -> np.ndarray:
    """(17, 2) COCO keypoints from AD joints. Eyes and ears, which AD drops, are placed around the nose;
    root/hip/torso are implied by the hips and shoulders and are not used."""
    loc = {n: np.asarray(p, float) for n, p in zip(names, locs)}
    missing = [n for n, _, src in AD_SKELETON if len(src) == 1 and n not in loc]
    if missing:
        raise ValueError(f"the skeleton lacks AD joints {', '.join(missing)}")
    out = np.zeros((17, 2))
    for name, _, src in AD_SKELETON:
        if len(src) == 1:
            out[src[0]] = loc[name]
    head = max(1.0, float(np.linalg.norm(out[5] - out[6])) * 0.15)
    nose = out[0]
    out[1], out[2] = nose + (head, -head), nose + (-head, -head)  # left eye on the image's right
    out[3], out[4] = nose + (2 * head, 0.0), nose + (-2 * head, 0.0)
    return out
