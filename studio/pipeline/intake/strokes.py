"""Vector drawing strokes and their rendering onto paper (a pen that paints, an eraser that restores paper)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

SUBPIXEL_BITS = 4  # cv2's fixed-point shift: points are drawn at 1/16 px


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
        if not (0 < width <= 500 and 0 < opacity <= 1) or not np.all(np.isfinite(points)):
            raise ValueError(f"a stroke needs a width in (0, 500] and an opacity in (0, 1], got {width}, {opacity}")
        return cls(points, colour, width, opacity, bool(data.get("erase", False)))  # type: ignore[arg-type]


def _polyline(target: np.ndarray, stroke: Stroke, colour: tuple[int, ...]) -> None:
    points = np.round(np.asarray(stroke.points, float) * (1 << SUBPIXEL_BITS)).astype(np.int32).reshape(-1, 1, 2)
    thickness = max(1, int(round(stroke.width)))
    if len(points) == 1:  # a dot
        centre = (int(points[0, 0, 0]), int(points[0, 0, 1]))
        cv2.circle(target, centre, max(1, thickness // 2) << SUBPIXEL_BITS, colour, -1, cv2.LINE_AA, SUBPIXEL_BITS)
        return
    cv2.polylines(target, [points], False, colour, thickness, cv2.LINE_AA, shift=SUBPIXEL_BITS)


def draw_stroke(canvas: np.ndarray, stroke: Stroke, paper: np.ndarray | None = None) -> np.ndarray:
    """Draw one stroke onto ``canvas`` ((H, W, 3) uint8 RGB, changed in place and returned), anti-aliased and
    sub-pixel exact. An eraser stroke copies ``paper`` (same shape; white if None) back under it."""
    if stroke.erase:
        cover = np.zeros(canvas.shape[:2], np.uint8)
        _polyline(cover, stroke, (255,))
        alpha = (cover.astype(np.float32) * (stroke.opacity / 255.0))[:, :, None]
        under = paper if paper is not None else np.full_like(canvas, 255)
        canvas[:] = np.round(canvas * (1 - alpha) + under * alpha).astype(np.uint8)
        return canvas
    if stroke.opacity >= 1.0:
        _polyline(canvas, stroke, stroke.colour)
        return canvas
    layer = canvas.copy()
    _polyline(layer, stroke, stroke.colour)
    cv2.addWeighted(layer, float(stroke.opacity), canvas, 1.0 - float(stroke.opacity), 0.0, dst=canvas)
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
