"""The figure's box: a classical finder for ink drawings on paper, and the edit operations the GUI uses."""

from __future__ import annotations

import cv2
import numpy as np

from studio.pipeline.intake.page_rules import erase_rules
from studio.pipeline.pose.backend import Box, Detection

MIN_SIDE = 8.0
TIGHT_CONTACT = 0.15  # strokes meeting the border along less than this share of its length ...
TIGHT_TOUCHES = 6  # ... in at most this many places (hands, feet, hair) still count: rules and edges do not
FRAME_EDGE_SHARE = 0.9  # a group with this share of its ink along its own box's edges is a frame round the figure
FRAME_BAND = 0.06  # ... the edges' band, as a share of the box's shorter side
FRAME_SIDE_COVER = 0.5  # ... and runs along at least this share of three of its sides, in the band's outer half
HANDLES = ("left", "top", "right", "bottom", "top_left", "top_right", "bottom_left", "bottom_right")


class BoxError(ValueError):
    """No figure could be boxed; the message says what to try."""


def _ink(rgb: np.ndarray) -> np.ndarray:
    """(H, W) uint8 0/255: dark or coloured strokes against the local paper brightness, a page's rules taken out."""
    grey = cv2.min(cv2.min(rgb[:, :, 0], rgb[:, :, 1]), rgb[:, :, 2])  # np.min(rgb, axis=2): 1 ms, not 20
    h, w = grey.shape
    block = max(15, (max(h, w) // 8) | 1)
    ink = erase_rules(cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY_INV,
                                            block, 12))
    return cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8), iterations=3)


def find_figure_box(rgb: np.ndarray, margin: float = 0.03) -> Detection:
    """The box around the drawn figure in an (H, W, 3) uint8 photo or scan of a paper drawing.

    A ruled or squared page's lines are taken out first (page_rules.py). The largest connected group of strokes that
    does not touch the image border (paper edges and shadows do) is the figure; nearby strokes (eyes, buttons, a
    detached hand) join it; a small margin is added. A drawing cropped tight touches the border only where a hand, a
    foot or the hair reaches it: the largest group counts even so when it meets the border in at most
    ``TIGHT_TOUCHES`` places, along less than ``TIGHT_CONTACT`` of its length (the ruled lines of a notebook touch
    it in many places, a paper edge along a long stretch). A frame is never the figure: a sheet's edge against a
    lighter table, or a border the child drew, has nearly all its ink along the edges of its own box and runs along
    three or four of them, where a figure's limbs only reach them here and there.
    The score is the share of the image the figure's strokes cover, for information only.
    """
    h, w = rgb.shape[:2]
    ink = _ink(rgb)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    min_area = max(20, int(h * w * 0.0005))
    ring = np.concatenate([labels[0, :], labels[1:, -1], labels[-1, -2::-1], labels[-2:0:-1, 0]])  # clockwise
    contact = np.bincount(ring, minlength=count)  # border px per group
    touches = np.bincount(ring[ring != np.roll(ring, 1)], minlength=count)  # separate stretches of border
    largest = 1 + int(np.argmax(stats[1:, 4])) if count > 1 else 0
    parts = []
    for i in range(1, count):
        x, y, bw, bh, area = stats[i]
        tight = i == largest and contact[i] <= TIGHT_CONTACT * 2 * (h + w) and touches[i] <= TIGHT_TOUCHES
        if area >= min_area and (contact[i] == 0 or tight) and not _is_frame(labels, stats, i):
            parts.append((int(area), (float(x), float(y), float(x + bw), float(y + bh))))
    if not parts:
        raise BoxError("no figure found: is the drawing on plain paper, with dark or coloured strokes?")
    parts.sort(reverse=True)
    left, top, right, bottom = parts[0][1]
    reach = 0.1 * max(right - left, bottom - top)
    for _, (l2, t2, r2, b2) in parts[1:]:
        if l2 < right + reach and r2 > left - reach and t2 < bottom + reach and b2 > top - reach:
            left, top, right, bottom = min(left, l2), min(top, t2), max(right, r2), max(bottom, b2)
    pad = margin * max(right - left, bottom - top)
    box = clamp_box((left - pad, top - pad, right + pad, bottom + pad), w, h)
    coverage = float(ink[int(box[1]):int(box[3]), int(box[0]):int(box[2])].mean() / 255.0)
    return Detection(box, coverage)


def _is_frame(labels: np.ndarray, stats: np.ndarray, i: int) -> bool:
    """Whether group i is a rectangle's outline, not a figure: nearly all its ink lies in a band along the edges of
    its own bounding box, and it runs along most of three or four of its sides, in the band's outer half (a
    faint sheet edge may break on one side). A body drawn as a box is set in from its bounding box by its arms
    and legs, which reach the sides only here and there."""
    x, y, bw, bh, area = (int(v) for v in stats[i])
    band = max(3, int(FRAME_BAND * min(bw, bh)))
    if bw <= 2 * band or bh <= 2 * band:
        return False  # too thin to tell an outline from a stroke
    own = labels[y:y + bh, x:x + bw] == i
    if np.count_nonzero(own[band:-band, band:-band]) > (1 - FRAME_EDGE_SHARE) * area:
        return False
    rim = max(2, band // 2)
    sides = (own[:rim].any(axis=0), own[-rim:].any(axis=0), own[:, :rim].any(axis=1), own[:, -rim:].any(axis=1))
    return sum(float(side.mean()) >= FRAME_SIDE_COVER for side in sides) >= 3


def box_overlaps(box: Box, width: int, height: int) -> bool:
    """Whether the box (L, T, R, B) covers any of a width × height image."""
    return min(box[0], box[2]) < width and min(box[1], box[3]) < height and max(box[0], box[2]) > 0 \
        and max(box[1], box[3]) > 0


def clamp_box(box: Box, width: int, height: int, min_side: float = MIN_SIDE) -> Box:
    """The box ordered, inside the image, and at least ``min_side`` px each way (when the image allows)."""
    left, right = sorted((float(box[0]), float(box[2])))
    top, bottom = sorted((float(box[1]), float(box[3])))
    left, top = max(0.0, left), max(0.0, top)
    right, bottom = min(float(width), right), min(float(height), bottom)
    if right - left < min_side:
        right = min(float(width), left + min_side)
        left = max(0.0, right - min_side)
    if bottom - top < min_side:
        bottom = min(float(height), top + min_side)
        top = max(0.0, bottom - min_side)
    return (left, top, right, bottom)


def move_box(box: Box, dx: float, dy: float, width: int, height: int) -> Box:
    """Translate without resizing; stops at the image edges."""
    left, top, right, bottom = box
    dx = min(max(dx, -left), width - right)
    dy = min(max(dy, -top), height - bottom)
    return (left + dx, top + dy, right + dx, bottom + dy)


def resize_box(box: Box, handle: str, x: float, y: float, width: int, height: int) -> Box:
    """Drag one of HANDLES to (x, y); edges that cross swap, so the box never turns inside out."""
    if handle not in HANDLES:
        raise ValueError(f"unknown box handle {handle!r}: one of {', '.join(HANDLES)}")
    left, top, right, bottom = box
    if "left" in handle:
        left = x
    if "right" in handle:
        right = x
    if "top" in handle:
        top = y
    if "bottom" in handle:
        bottom = y
    return clamp_box((left, top, right, bottom), width, height)


def crop(rgb: np.ndarray, box: Box) -> np.ndarray:
    """The box's pixels, (h, w, 3) uint8 (integer-rounded box)."""
    left, top, right, bottom = (int(round(v)) for v in box)
    return rgb[top:bottom, left:right].copy()
