"""Classical figure segmentation of a drawing crop (AD's method, DESIGN.md §1.4) and mask edit operations."""

from __future__ import annotations

import cv2
import numpy as np

ADAPTIVE_BLOCK = 115
ADAPTIVE_C = 8
SEED_STEP = 10


class SegmentError(ValueError):
    """No figure could be cut out of the crop."""


def segment_figure(crop_rgb: np.ndarray) -> np.ndarray:
    """(H, W) uint8 mask, 0/255, of the drawn figure in ``crop_rgb`` (H, W, 3) uint8.

    1. grey = per-pixel minimum over the colour channels (coloured ink counts as dark);
    2. Gaussian adaptive threshold, block 115, C 8, inverted (ink = 255);
    3. morphological close then dilate, 3×3, 2 iterations each;
    4. flood-fill the background from seeds every 10 px along all four borders, strokes as the barrier,
       and set the border pixels to background;
    5. fill every remaining contour and keep the largest;
    6. fill holes.
    """
    if crop_rgb.ndim != 3 or crop_rgb.shape[2] < 3 or crop_rgb.dtype != np.uint8:
        raise SegmentError(f"expected an (H, W, 3) uint8 image, got {crop_rgb.dtype} {crop_rgb.shape}")
    h, w = crop_rgb.shape[:2]
    if h < 3 or w < 3:
        raise SegmentError(f"the crop is {w}×{h} px: too small to hold a figure")
    grey = np.min(crop_rgb[:, :, :3], axis=2)
    block = min(ADAPTIVE_BLOCK, (min(h, w) // 2) * 2 - 1)
    ink = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY_INV,
                                max(block, 3), ADAPTIVE_C)
    kernel = np.ones((3, 3), np.uint8)
    ink = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, kernel, iterations=2)
    ink = cv2.dilate(ink, kernel, iterations=2)

    # Outside = everything reachable from the border without crossing a stroke.
    region = ink.copy()
    flood_mask = np.zeros((h + 2, w + 2), np.uint8)
    seeds = [(x, 0) for x in range(0, w, SEED_STEP)] + [(x, h - 1) for x in range(0, w, SEED_STEP)]
    seeds += [(0, y) for y in range(0, h, SEED_STEP)] + [(w - 1, y) for y in range(0, h, SEED_STEP)]
    for x, y in seeds:
        if region[y, x] == 0:
            cv2.floodFill(region, flood_mask, (x, y), 128)
    figure = np.where(region == 128, 0, 255).astype(np.uint8)
    figure[0, :] = figure[-1, :] = 0
    figure[:, 0] = figure[:, -1] = 0
    largest = keep_largest(figure)
    if not largest.any():
        raise SegmentError("no figure found: is the drawing on plain paper, with a closed outline?")
    return fill_holes(largest)


def keep_largest(mask: np.ndarray) -> np.ndarray:
    """(H, W) uint8 0/255: only the largest outer contour of ``mask``, filled."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.zeros_like(mask)
    if contours:
        biggest = max(contours, key=cv2.contourArea)
        cv2.drawContours(out, [biggest], -1, 255, thickness=cv2.FILLED)
    return out


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """(H, W) uint8 0/255 with every enclosed background region filled."""
    h, w = mask.shape
    padded = np.zeros((h + 2, w + 2), np.uint8)
    padded[1:-1, 1:-1] = mask
    outside = padded.copy()
    cv2.floodFill(outside, np.zeros((h + 4, w + 4), np.uint8), (0, 0), 255)
    holes = (outside == 0)[1:-1, 1:-1]
    out = mask.copy()
    out[holes] = 255
    return out


def paint(mask: np.ndarray, centre: tuple[float, float], radius: float, erase: bool = False) -> np.ndarray:
    """A copy of ``mask`` with a round brush dab added (or erased) at ``centre`` (x, y), in pixel-centre
    coordinates (pixel (i, j) is centred on x = i, y = j)."""
    out = mask.copy()
    scale = 1 << 4  # cv2's fixed-point shift: the centre lands to 1/16 px, not rounded to a whole pixel
    cv2.circle(out, (int(round(centre[0] * scale)), int(round(centre[1] * scale))),
               max(scale, int(round(radius * scale))), 0 if erase else 255, thickness=-1, shift=4)
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two masks (nonzero = inside)."""
    a, b = a > 0, b > 0
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
