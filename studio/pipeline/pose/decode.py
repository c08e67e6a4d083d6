"""Top-down heatmap pose pre/post-processing (mmpose 0.x conventions) in numpy and cv2, no torch."""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from studio.pipeline.pose.backend import Box, check_box

INPUT_WH = (192, 256)  # network input, width × height
HEATMAP_WH = (48, 64)  # network output, width × height
BOX_PADDING = 1.25  # mmpose's default padding for top-down COCO configs
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
COCO_FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
PeakRefiner = Callable[[np.ndarray, int, int], np.ndarray]  # (heatmap, peak x, peak y) → (2,) sub-px peak


def box_center_size(box: Box, input_wh: tuple[int, int] = INPUT_WH,
                    padding: float = BOX_PADDING) -> tuple[np.ndarray, np.ndarray]:
    """Crop centre (2,) and size (2,) in image px for a box (left, top, right, bottom).

    The box (w = right - left, h = bottom - top, as mmpose's xyxy→xywh) is widened or heightened about its
    centre to the input's aspect ratio, then multiplied by ``padding``. InvalidBoxError (a ValueError) for a box
    that is not finite or has no width or height."""
    left, top, right, bottom = check_box(box)
    w, h = right - left, bottom - top
    aspect = input_wh[0] / input_wh[1]
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    center = np.array([left + 0.5 * (right - left), top + 0.5 * (bottom - top)])
    return center, np.array([w, h]) * padding


def crop_matrix(center: np.ndarray, size: np.ndarray, out_wh: tuple[int, int] = INPUT_WH) -> np.ndarray:
    """(2, 3) affine taking image px to crop px: the crop's centre goes to (out_w/2, out_h/2), and
    ``size[0]`` image px span ``out_w`` crop px (one scale for both axes, as mmpose's get_affine_transform)."""
    s = out_wh[0] / float(size[0])
    return np.array([[s, 0.0, out_wh[0] * 0.5 - s * center[0]],
                     [0.0, s, out_wh[1] * 0.5 - s * center[1]]])


def crop_input(image_rgb: np.ndarray, center: np.ndarray, size: np.ndarray,
               input_wh: tuple[int, int] = INPUT_WH) -> np.ndarray:
    """Network input (1, 3, h, w) float32: bilinear warp of the RGB image, /255, ImageNet mean/std."""
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image_rgb.shape}")
    crop = cv2.warpAffine(np.ascontiguousarray(image_rgb), crop_matrix(center, size, input_wh), input_wh,
                          flags=cv2.INTER_LINEAR)
    x = (crop.astype(np.float32) / 255.0 - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def flip_back(heatmaps: np.ndarray, pairs: tuple[tuple[int, int], ...] = COCO_FLIP_PAIRS,
              shift: float = 1.0) -> np.ndarray:
    """Heatmaps (K, h, w) of the mirrored input, mirrored back with left/right joints swapped, then moved
    ``shift`` heatmap px right (linear interpolation for a fraction).

    Mirroring the input maps input px u to (W-1) - u, so a peak at heatmap x belongs at (W-1)/stride - x, not
    at the array's own (w-1) - x: the exact correction is ``mirror_shift(stride)`` = 1 - 1/stride (0.75 at
    stride 4). mmpose's shift_heatmap moves a whole px (the default, kept for its checkpoints)."""
    out = heatmaps[:, :, ::-1].copy()
    for a, b in pairs:
        out[[a, b]] = out[[b, a]]
    if shift:
        moved = out.copy()
        moved[:, :, 1:] = out[:, :, :-1]
        out = moved if shift == 1 else (1 - shift) * out + shift * moved
    return out


def mirror_shift(stride: int) -> float:
    """The shift (heatmap px) that makes flip_back an exact mirror for a network of this output stride."""
    return 1.0 - 1.0 / stride


def quarter_shift(heatmap: np.ndarray, px: int, py: int) -> np.ndarray:
    """(2,) heatmap px of the peak at (px, py) of a (h, w) heatmap, moved a quarter px towards the higher
    neighbour along x and along y where it is away from the border (1 < x < w-1, 1 < y < h-1)."""
    h, w = heatmap.shape
    out = np.array([px, py], np.float64)
    if 1 < px < w - 1 and 1 < py < h - 1:
        out[0] += 0.25 * np.sign(float(heatmap[py, px + 1]) - float(heatmap[py, px - 1]))
        out[1] += 0.25 * np.sign(float(heatmap[py + 1, px]) - float(heatmap[py - 1, px]))
    return out


def decode_heatmaps(heatmaps: np.ndarray, refine: PeakRefiner = quarter_shift) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps (K, h, w) → coords (K, 2) float64 in heatmap px and scores (K,).

    Per joint: the argmax and its value; where the value is ≤ 0 the coords are (-1, -1) (as mmpose). The peak
    is then placed to a fraction of a px by ``refine``, by default quarter_shift (mmpose's: away from the border
    it moves a quarter px towards the higher neighbour along x and along y)."""
    k, h, w = heatmaps.shape
    flat = heatmaps.reshape(k, -1)
    idx = flat.argmax(axis=1)
    scores = flat[np.arange(k), idx].astype(np.float64)
    coords = np.stack([idx % w, idx // w], axis=1).astype(np.float64)
    coords[scores <= 0] = -1.0
    for j in range(k):
        if scores[j] > 0:
            coords[j] = refine(heatmaps[j], int(coords[j, 0]), int(coords[j, 1]))
    return coords, scores


def taylor_peak(heatmap: np.ndarray, px: int, py: int) -> np.ndarray:
    """(2,) heatmap px of the peak at (px, py), placed where a Gaussian through it peaks: one Newton step on the
    log of the heatmap, from its gradient and Hessian by central differences (the DARK decoding of Zhang et al.,
    "Distribution-Aware Coordinate Representation for Human Pose Estimation", 2020). A quarter px step says
    only which side the peak leans to; this says how far, which matters when a heatmap px is 4 % of the figure.
    Where the log is not peaked there (a flat top, a saddle) or the peak touches the border, quarter_shift."""
    h, w = heatmap.shape
    if not (1 <= px < w - 1 and 1 <= py < h - 1):
        return quarter_shift(heatmap, px, py)
    patch = np.log(np.maximum(heatmap[py - 1:py + 2, px - 1:px + 2].astype(np.float64), 1e-10))
    dx, dy = 0.5 * (patch[1, 2] - patch[1, 0]), 0.5 * (patch[2, 1] - patch[0, 1])
    dxx, dyy = patch[1, 2] - 2 * patch[1, 1] + patch[1, 0], patch[2, 1] - 2 * patch[1, 1] + patch[0, 1]
    dxy = 0.25 * (patch[2, 2] - patch[2, 0] - patch[0, 2] + patch[0, 0])
    det = dxx * dyy - dxy * dxy
    if dxx >= 0 or det <= 1e-12:
        return quarter_shift(heatmap, px, py)
    offset = -np.array([dyy * dx - dxy * dy, dxx * dy - dxy * dx]) / det  # -H⁻¹ ∇
    return np.array([px, py], np.float64) + np.clip(offset, -1.0, 1.0)


def heatmap_to_image(coords: np.ndarray, center: np.ndarray, size: np.ndarray,
                     heatmap_wh: tuple[int, int] = HEATMAP_WH) -> np.ndarray:
    """Heatmap px (K, 2) → image px (K, 2): the inverse of the crop transform at heatmap resolution."""
    coords = np.asarray(coords, np.float64)
    scale = np.array([size[0] / heatmap_wh[0], size[1] / heatmap_wh[1]])
    return coords * scale + np.asarray(center, np.float64) - 0.5 * np.asarray(size, np.float64)


def image_to_heatmap(points: np.ndarray, center: np.ndarray, size: np.ndarray,
                     heatmap_wh: tuple[int, int] = HEATMAP_WH) -> np.ndarray:
    """Image px (K, 2) → heatmap px (K, 2); the forward transform that heatmap_to_image undoes."""
    scale = np.array([size[0] / heatmap_wh[0], size[1] / heatmap_wh[1]])
    return (np.asarray(points, np.float64) - np.asarray(center) + 0.5 * np.asarray(size)) / scale


def keypoints_from_heatmaps(heatmaps: np.ndarray, center: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Heatmaps (K, h, w) → keypoints (K, 3) float64 [x, y, score] in image px."""
    coords, scores = decode_heatmaps(heatmaps)
    xy = heatmap_to_image(coords, center, size, (heatmaps.shape[2], heatmaps.shape[1]))
    return np.concatenate([xy, scores[:, None]], axis=1)
