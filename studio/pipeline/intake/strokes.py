"""Vector drawing strokes and their rendering onto paper (a pen that paints, an eraser that restores paper)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from studio.pipeline.compositing import blend

SUBPIXEL_BITS = 4  # cv2's fixed-point shift: points are drawn at 1/16 px
# How far from the paper's corner a stored point may lie, in px: far beyond any paper a stroke can reach (a drag
# off the edge included), and well inside the 32-bit integers cv2 draws with at 1/16 px (±1.3e8 px), past which
# a point no longer converts (1e300 gave numpy's "invalid value encountered in cast" and a wrong line).
MAX_COORDINATE = 1_000_000


@dataclass(frozen=True)
class Stroke:
    """One pen or eraser stroke: a polyline in paper pixels (x right, y down), an RGB colour, a width in
    pixels and an opacity in (0, 1]. An eraser stroke restores the paper underneath and ignores colour."""

    points: tuple[tuple[float, float], ...]
    colour: tuple[int, int, int]
    width: float
    opacity: float = 1.0
    erase: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"points": [[round(x, 2), round(y, 2)] for x, y in self.points], "colour": list(self.colour),
                "width": self.width, "opacity": self.opacity, "erase": self.erase}

    @classmethod
    def from_dict(cls, data: Any) -> "Stroke":
        """A stroke from ``to_dict``'s form; ValueError names what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"a stroke must be a mapping, got {type(data).__name__}")
        try:
            values = [*(v for p in data["points"] for v in p), *data["colour"], data["width"], data.get("opacity", 1.0)]
            if any(isinstance(v, bool) for v in values):  # float(True) is 1.0: a number must be written as one
                raise ValueError("it holds true/false where a number belongs")
            points = tuple((float(x), float(y)) for x, y in data["points"])
            colour = tuple(int(c) for c in data["colour"])
            width, opacity = float(data["width"]), float(data.get("opacity", 1.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed stroke: {exc}") from None
        if not points or len(colour) != 3 or not all(0 <= c <= 255 for c in colour):
            raise ValueError("a stroke needs at least one point and an RGB colour of 0..255")
        far = next((p for p in points if not (abs(p[0]) <= MAX_COORDINATE and abs(p[1]) <= MAX_COORDINATE)), None)
        if far is not None:  # NaN fails the comparison too
            raise ValueError(f"a stroke's points must lie within {MAX_COORDINATE} px of the paper's corner (cv2 "
                             f"draws at 1/16 px in 32-bit integers), got ({far[0]:g}, {far[1]:g})")
        if not (0 < width <= 500 and 0 < opacity <= 1) or not np.all(np.isfinite(points)):
            raise ValueError(f"a stroke needs a width in (0, 500] and an opacity in (0, 1], got {width}, {opacity}")
        return cls(points, colour, width, opacity, bool(data.get("erase", False)))  # type: ignore[arg-type]


def _polyline(target: np.ndarray, stroke: Stroke, colour: tuple[int, ...], origin: tuple[int, int] = (0, 0)) -> None:
    """Draw ``stroke`` on ``target``, whose top-left pixel is ``origin`` (x, y) of the canvas."""
    shifted = np.asarray(stroke.points, float) - origin
    points = np.round(shifted * (1 << SUBPIXEL_BITS)).astype(np.int32).reshape(-1, 1, 2)
    thickness = max(1, int(round(stroke.width)))
    if len(points) == 1:  # a dot
        centre = (int(points[0, 0, 0]), int(points[0, 0, 1]))
        cv2.circle(target, centre, max(1, thickness // 2) << SUBPIXEL_BITS, colour, -1, cv2.LINE_AA, SUBPIXEL_BITS)
        return
    cv2.polylines(target, [points], False, colour, thickness, cv2.LINE_AA, shift=SUBPIXEL_BITS)


def _reach(stroke: Stroke, height: int, width: int) -> tuple[slice, slice] | None:
    """(rows, columns) of the canvas the stroke can touch (anti-aliasing included), or None when it misses it."""
    points = np.asarray(stroke.points, float)
    pad = stroke.width / 2 + 2
    left, top = (max(0, int(np.floor(v))) for v in points.min(axis=0) - pad)
    right, bottom = (int(np.ceil(v)) + 1 for v in points.max(axis=0) + pad)
    right, bottom = min(width, right), min(height, bottom)
    return (slice(top, bottom), slice(left, right)) if left < right and top < bottom else None


def draw_stroke(canvas: np.ndarray, stroke: Stroke, paper: np.ndarray | None = None) -> np.ndarray:
    """Draw one stroke onto ``canvas`` ((H, W, 3) uint8 RGB, changed in place and returned), anti-aliased and
    sub-pixel exact. An eraser stroke copies ``paper`` (same shape; white if None) back under it. Part opacity
    and the eraser blend their coverage × opacity with ``compositing.blend``, over the rectangle the stroke reaches."""
    if not stroke.erase and stroke.opacity >= 1.0:  # opaque ink: cv2 anti-aliases it onto the canvas itself
        _polyline(canvas, stroke, stroke.colour)
        return canvas
    reach = _reach(stroke, canvas.shape[0], canvas.shape[1])
    if reach is None:
        return canvas
    rows, columns = reach
    region = canvas[rows, columns]
    cover = np.zeros(region.shape[:2], np.uint8)  # anti-aliased coverage, 0..255
    _polyline(cover, stroke, (255,), (columns.start, rows.start))
    if stroke.erase:
        top = paper[rows, columns] if paper is not None else np.full_like(region, 255)
    else:
        top = np.broadcast_to(np.array(stroke.colour, np.uint8), region.shape)
    blend(top, cover, region, out=region, opacity=round(255 * stroke.opacity))
    return canvas


def render_strokes(strokes: list[Stroke], width: int, height: int,
                   background: tuple[int, int, int] = (255, 255, 255), paper: np.ndarray | None = None) -> np.ndarray:
    """(height, width, 3) uint8 RGB: ``strokes`` drawn in order on ``paper`` (a copy of it; plain
    ``background`` when None)."""
    if paper is not None:
        if paper.shape != (height, width, 3):
            raise ValueError(f"paper is {paper.shape}, expected {(height, width, 3)}")
        base = paper
    else:
        base = np.empty((height, width, 3), np.uint8)
        base[:] = background
    canvas = base.copy()
    for stroke in strokes:
        draw_stroke(canvas, stroke, base)
    return canvas
