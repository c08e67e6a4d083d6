"""Heatmap decoding that keeps limbs joined: a rival peak for an elbow, hand, knee or foot is settled by its parent.

A drawn figure often has two places that look like a hand to a small network (the real hand and a skirt's
corner at the same height, say), and a plain argmax picks whichever is a hair stronger. Here each limb joint's
heatmap is searched for local maxima; when a second peak is at least ``RIVAL`` times as strong as the best, the
joint is *ambiguous*: the peak nearest the joint it hangs from (elbow for a hand, shoulder for an elbow) wins,
and its score is capped below ``UNSURE_SCORE`` so the user is asked to check it. Parents are settled first
(shoulders and hips by argmax, then elbows and knees, then hands and feet). A figure drawn facing us has its
left arm and its left leg on the same side: where the shoulders and the hips disagree, the legs are scored
unsure too (a six-armed bug, say, whose legs the network read mirrored).
"""

from __future__ import annotations

import numpy as np

from studio.pipeline.pose.backend import UNSURE_SCORE
from studio.pipeline.pose.decode import PeakRefiner, decode_heatmaps, quarter_shift

# COCO limb joint → the joint it hangs from, parents before children.
LIMB_PARENT = ((7, 5), (8, 6), (13, 11), (14, 12), (9, 7), (10, 8), (15, 13), (16, 14))
RIVAL = 0.8  # a second peak at least this share of the best one makes the joint ambiguous
LEGS = (11, 12, 13, 14, 15, 16)  # COCO hips, knees and ankles
SIDE_MARGIN = 0.5  # shoulders or hips closer than this many heatmap px across do not say which side is which


def peaks(heatmap: np.ndarray, floor: float) -> np.ndarray:
    """Local maxima (3×3, ties kept once) of a (h, w) heatmap with value ≥ floor: (n, 3) [x, y, value], best first."""
    h, w = heatmap.shape
    padded = np.pad(heatmap, 1, constant_values=-np.inf)
    neighbours = np.stack([padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
                           for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx])
    is_peak = (heatmap >= neighbours.max(axis=0)) & (heatmap >= floor)
    ys, xs = np.nonzero(is_peak)
    found = np.stack([xs, ys, heatmap[ys, xs]], axis=1).astype(np.float64)
    found = found[np.argsort(-found[:, 2], kind="stable")]
    keep: list[np.ndarray] = []
    for p in found:  # plateaus: one peak per touching group
        if all(max(abs(p[0] - q[0]), abs(p[1] - q[1])) > 1 for q in keep):
            keep.append(p)
    return np.array(keep).reshape(-1, 3)


def decode_limbs(heatmaps: np.ndarray, refine: PeakRefiner = quarter_shift) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Heatmaps (17, h, w) → coords (17, 2) heatmap px, scores (17,), and the COCO joints that were ambiguous;
    each peak placed to a fraction of a px by ``refine`` (decode.quarter_shift or decode.taylor_peak)."""
    coords, scores = decode_heatmaps(heatmaps, refine)
    ambiguous: list[int] = []
    for joint, parent in LIMB_PARENT:
        if scores[joint] <= 0 or scores[parent] <= 0:
            continue
        candidates = peaks(heatmaps[joint], RIVAL * scores[joint])
        if len(candidates) < 2:
            continue
        nearest = candidates[np.argmin(np.hypot(*(candidates[:, :2] - coords[parent]).T))]
        coords[joint] = refine(heatmaps[joint], int(nearest[0]), int(nearest[1]))
        scores[joint] = min(float(nearest[2]), 0.5 * UNSURE_SCORE)
        ambiguous.append(joint)
    if mirrored_legs(coords):
        for joint in LEGS:
            scores[joint] = min(float(scores[joint]), 0.5 * UNSURE_SCORE)
        ambiguous += [j for j in LEGS if j not in ambiguous]
    return coords, scores, ambiguous


def mirrored_legs(coords: np.ndarray) -> bool:
    """Whether the left hip, knee or foot is on the other side of its right twin from where the left shoulder
    is of the right shoulder (COCO coords (17, 2), x across), both pairs clearly apart."""
    shoulders = coords[5, 0] - coords[6, 0]
    if abs(shoulders) <= SIDE_MARGIN:
        return False
    legs = coords[[11, 13, 15], 0] - coords[[12, 14, 16], 0]
    return bool(np.any((legs * shoulders < 0) & (np.abs(legs) > SIDE_MARGIN)))
