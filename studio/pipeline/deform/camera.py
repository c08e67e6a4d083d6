"""Framing: where texture pixels land on the output canvas, like AD's default camera, kept in frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# AD's default camera (position [0, 0.7, 2], looking at [0, 0.5, 2] with its perspective) shows one
# world unit (= max(texture width, height) px) as about 0.605 of the window height, with the world
# origin at the horizontal centre and 0.541 of the height from the top. Fitted on ad_reference's
# joints_screen_px: within 5 px on a 500 px window (the rest is perspective, which we do not model).
AD_UNIT_PER_HEIGHT = 0.605
AD_ORIGIN_Y = 0.541
FIT_MARGIN = 0.04


@dataclass(frozen=True, eq=False)
class Camera:
    """canvas_xy = offset + scale · texture_xy, for one whole clip (no per-frame jitter).

    scale: canvas pixels per texture pixel. offset: (2,) canvas pixels.
    """

    scale: float
    offset: np.ndarray
    width: int
    height: int

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) texture px → (..., 2) canvas px."""
        return points * self.scale + self.offset


def ad_camera(width: int, height: int, texture_dim: int, root_rest: np.ndarray,
              starting_location: tuple[float, float, float] = (0.0, 0.0, -0.5)) -> Camera:
    """AD's framing: the root's rest position at char_starting_location in world units."""
    unit = AD_UNIT_PER_HEIGHT * height  # canvas px per world unit
    scale = unit / texture_dim
    origin = np.array([width / 2.0 + starting_location[0] * unit, AD_ORIGIN_Y * height - starting_location[1] * unit])
    return Camera(scale, origin - scale * np.asarray(root_rest, float), width, height)


def keep_in_frame(camera: Camera, lo: np.ndarray, hi: np.ndarray, margin: float = FIT_MARGIN) -> Camera:
    """Shrink and shift ``camera`` only as much as needed so that the texture-px box [lo, hi] shows whole.

    lo, hi: (2,) corners of everything the clip draws (all frames), texture px.
    """
    w, h = camera.width, camera.height
    room = np.array([w, h]) * (1.0 - 2.0 * margin)
    extent = np.maximum(np.asarray(hi, float) - np.asarray(lo, float), 1e-6)
    scale = min(camera.scale, float(np.min(room / extent)))
    offset = camera.offset + (camera.scale - scale) * (np.asarray(lo) + np.asarray(hi)) / 2.0
    shrunk = Camera(scale, offset, w, h)
    a, b = shrunk.apply(np.asarray(lo, float)), shrunk.apply(np.asarray(hi, float))
    pad = np.array([w, h]) * margin
    shift = np.zeros(2)
    for axis, size in ((0, w), (1, h)):
        if a[axis] < pad[axis]:
            shift[axis] = pad[axis] - a[axis]
        elif b[axis] > size - pad[axis]:
            shift[axis] = (size - pad[axis]) - b[axis]
    return Camera(scale, offset + shift, w, h)


def fit_camera(width: int, height: int, lo: np.ndarray, hi: np.ndarray, margin: float = FIT_MARGIN) -> Camera:
    """Fill the canvas: the box [lo, hi] (texture px) scaled to fit and centred."""
    room = np.array([width, height]) * (1.0 - 2.0 * margin)
    extent = np.maximum(np.asarray(hi, float) - np.asarray(lo, float), 1e-6)
    scale = float(np.min(room / extent))
    centre = (np.asarray(lo, float) + np.asarray(hi, float)) / 2.0
    return Camera(scale, np.array([width / 2.0, height / 2.0]) - scale * centre, width, height)


def frames_on_canvas(camera: Camera, joints: np.ndarray, reach: float) -> np.ndarray:
    """(n,) bool: whether anything of frame k can show on the canvas.

    joints: (n, j, 2) texture px per frame; reach: texture px the drawing extends beyond its joints (half its
    size is safe). A frame whose canvas position is not finite (an overflowing camera) does not show.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        canvas = camera.apply(np.asarray(joints, float))
        pad = abs(camera.scale) * reach
        lo, hi = canvas.min(axis=1) - pad, canvas.max(axis=1) + pad
        inside = (hi[:, 0] >= 0) & (lo[:, 0] <= camera.width) & (hi[:, 1] >= 0) & (lo[:, 1] <= camera.height)
    return inside & np.isfinite(canvas).all(axis=(1, 2))
