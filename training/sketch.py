"""Pens and hand-drawn strokes for the figure generator: wobbly lines, fills and scribbles in a "paper frame",
rasterised through a homography into one coverage mask per pen (training/figures.py lays out the figures)."""

from __future__ import annotations

import cv2
import numpy as np

INKS = np.array([(.1, .1, .12), (.12, .18, .5), (.2, .3, .75), (.35, .2, .55)])  # ballpoint pens
DARK = np.array([(.1, .1, .12), (.15, .25, .7), (.8, .15, .15), (.15, .5, .2), (.45, .2, .6), (.45, .28, .15),
                 (.9, .45, .1), (.9, .35, .6), (.2, .55, .75)])
BRIGHT = np.array([(.95, .85, .2), (.95, .55, .15), (.9, .3, .3), (.35, .7, .3), (.45, .65, .95), (.95, .5, .7),
                   (.6, .4, .8), (.98, .78, .62), (.6, .4, .25), (.3, .3, .35)])
TAU = 2 * np.pi


def resample(pts: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 2) every ~step units along a polyline, and their arc lengths (n,)."""
    pts = np.asarray(pts, float)
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    t = np.linspace(0.0, s[-1], max(2, int(s[-1] / step) + 2))
    return np.stack([np.interp(t, s, pts[:, 0]), np.interp(t, s, pts[:, 1])], 1), t


def ellipse(c: np.ndarray, rx: float, ry: float, a0: float = 0.0, sweep: float = TAU, rot: float = 0.0) -> np.ndarray:
    """Points (n, 2) of an elliptic arc from angle a0 (0 = +x; positive turns towards +y), rotated by rot."""
    a = a0 + np.linspace(0.0, sweep, max(6, int(abs(sweep) * max(rx, ry) / 3) + 2))
    x, y = rx * np.cos(a), ry * np.sin(a)
    return np.stack([c[0] + np.cos(rot) * x - np.sin(rot) * y, c[1] + np.sin(rot) * x + np.cos(rot) * y], 1)


def apply_homography(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    q = pts @ h[:, :2].T + h[:, 2]
    return q[:, :2] / q[:, 2:3]


TOOLS = ("pencil", "pen", "marker", "crayon")


def pick_tool(rng: np.random.Generator, kind: int) -> tuple[np.ndarray, float, float, float]:
    """An outline tool of kind TOOLS[kind]: colour (3,) 0..1, opacity, grain 0..1, width px at 256²."""
    if kind == 0:
        return np.full(3, rng.uniform(.2, .45)), rng.uniform(.55, .9), .5, rng.uniform(1, 2.2)
    if kind == 1:
        return INKS[rng.integers(len(INKS))], rng.uniform(.8, 1), .1, rng.uniform(1, 2)
    colour = DARK[rng.integers(len(DARK))]
    return (colour, rng.uniform(.8, 1), .05, rng.uniform(2, 4)) if kind == 2 else \
        (colour, rng.uniform(.6, .95), .6, rng.uniform(2, 5.5))


class Sketch:
    """Strokes, fills and scribbles in the paper frame; rasterised later through a homography."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.pens: list[tuple[np.ndarray, float, float, bool]] = []  # colour, opacity, grain, part of the figure
        self.ops: list[tuple[str, np.ndarray, int, float, np.ndarray | None]] = []  # kind, points, pen, width, clip
        self.amp = rng.uniform(.4, 2.5)  # wobble, paper units
        self.retrace = 0.0 if rng.random() < .7 else rng.uniform(.2, .7)
        self.gaps = 0.0 if rng.random() < .6 else rng.uniform(.1, .4)

    def pen(self, colour: np.ndarray | tuple[float, ...], opacity: float, grain: float, figure: bool = True) -> int:
        self.pens.append((np.asarray(colour, np.float32), float(opacity), float(grain), figure))
        return len(self.pens) - 1

    def _wobble(self, pts: np.ndarray, amp: float) -> np.ndarray:
        p, t = resample(pts, 3.0)
        f, ph = self.rng.uniform(1 / 80, 1 / 20, (2, 2, 1)), self.rng.uniform(0, TAU, (2, 2, 1))
        return p + (amp * self.rng.uniform(.3, 1.0, (2, 2, 1)) * np.sin(TAU * f * t + ph)).sum(1).T

    def line(self, pts: np.ndarray, pen: int, width: float) -> None:
        p = self._wobble(pts, self.amp)
        if len(p) > 8 and self.rng.random() < self.gaps:  # the crayon skips
            i = int(self.rng.integers(3, len(p) - 4))
            self.ops.append(("line", p[:i], pen, width, None))
            p = p[i + int(self.rng.integers(1, 3)):]
        self.ops.append(("line", p, pen, width, None))
        if self.rng.random() < self.retrace:  # traced over again
            self.ops.append(("line", self._wobble(pts, self.amp * 1.3 + .6), pen, width, None))

    def fill(self, poly: np.ndarray, pen: int) -> None:
        self.ops.append(("fill", self._wobble(np.concatenate([poly, poly[:1]]), self.amp), pen, 0.0, None))

    def scribble(self, poly: np.ndarray, pen: int, width: float, partial: bool = False) -> None:
        """Back-and-forth colouring of poly (n, 2), clipped to it a little over the line; partial stops early."""
        a = self.rng.uniform(0, np.pi)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        lo, hi = (poly @ rot).min(0), (poly @ rot).max(0)
        if partial:
            span = hi[0] - lo[0]
            lo[0], hi[0] = lo[0] + span * self.rng.uniform(0, .3), hi[0] - span * self.rng.uniform(.1, .5)
        u = np.arange(lo[0], hi[0], max(1.5, width * self.rng.uniform(.4, 1.2)))
        v = np.where(np.arange(len(u)) % 2 == 0, lo[1] - 2, hi[1] + 2) + self.rng.normal(0, 2, len(u))
        self.ops.append(("scribble", np.stack([u, v], 1) @ rot.T, pen, width, poly))

    def render(self, h: np.ndarray, size: int) -> list[np.ndarray]:
        """One uint8 coverage mask (size, size) per pen."""
        masks = [np.zeros((size, size), np.uint8) for _ in self.pens]
        for kind, pts, pen, width, clip in self.ops:
            q = np.round(apply_homography(h, pts) * 4).astype(np.int32)
            w = max(1, round(width * size / 256))
            if kind == "fill":
                cv2.fillPoly(masks[pen], [q], 255, cv2.LINE_AA, 2)
            elif kind == "line":
                cv2.polylines(masks[pen], [q], False, 255, w, cv2.LINE_AA, 2)
            else:
                zig, region = np.zeros_like(masks[pen]), np.zeros_like(masks[pen])
                cv2.polylines(zig, [q], False, 255, w, cv2.LINE_AA, 2)
                c = np.round(apply_homography(h, clip) * 4).astype(np.int32)  # type: ignore[arg-type]
                cv2.fillPoly(region, [c], 255, cv2.LINE_AA, 2)
                cv2.polylines(region, [c], True, 255, max(1, w // 2), cv2.LINE_AA, 2)
                np.maximum(masks[pen], np.minimum(zig, region), out=masks[pen])
        return masks
