"""The built-in sample character: a child-like drawing made from marker strokes in code, and its AD folder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from studio.pipeline.character import Character, write_character
from studio.pipeline.intake.strokes import Stroke, render_strokes

SEED = 7
CANVAS = (400, 440)  # width, height of the paper in pixels
MARGIN = 8  # paper kept around the figure in the crop
INK = (46, 44, 72)  # dark blue-black marker
SKIN = (255, 222, 194)
SHIRT = (255, 192, 58)
TROUSERS = (82, 136, 222)
SHOES = (222, 64, 60)
HAIR = (132, 78, 36)
CHEEKS = (255, 128, 140)
OUTLINE = 5.0  # marker width of every outline

# AD's 16 joints, in the paper's pixels. "right" is the figure's own right: the viewer's left.
JOINTS: dict[str, tuple[str | None, tuple[float, float]]] = {
    "root": (None, (200, 250)), "hip": ("root", (200, 250)), "torso": ("hip", (200, 162)),
    "neck": ("torso", (200, 100)),
    "right_shoulder": ("torso", (169, 166)), "right_elbow": ("right_shoulder", (127, 190)),
    "right_hand": ("right_elbow", (82, 213)),
    "left_shoulder": ("torso", (231, 166)), "left_elbow": ("left_shoulder", (273, 190)),
    "left_hand": ("left_elbow", (318, 213)),
    "right_hip": ("root", (181, 252)), "right_knee": ("right_hip", (175, 314)),
    "right_foot": ("right_knee", (169, 374)),
    "left_hip": ("root", (219, 252)), "left_knee": ("left_hip", (225, 314)), "left_foot": ("left_knee", (231, 374)),
}


class _Pen:
    """Draws wobbly strokes with a fixed-seed hand tremor, in order."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = np.random.default_rng(seed)
        self.strokes: list[Stroke] = []

    def wobble(self, points: np.ndarray, amplitude: float = 1.6) -> np.ndarray:
        """Resample ``points`` (n, 2) every ~5 px and add a slow two-sine tremor of about ``amplitude`` px."""
        length = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
        along = np.linspace(0.0, length[-1], max(2, int(length[-1] / 5) + 1))
        dense = np.stack([np.interp(along, length, points[:, 0]), np.interp(along, length, points[:, 1])], axis=1)
        freq = self.rng.uniform(0.012, 0.035, size=(2, 2))
        phase = self.rng.uniform(0.0, 2 * np.pi, size=(2, 2))
        tremor = sum(np.sin(2 * np.pi * freq[k] * along[:, None] + phase[k]) for k in range(2))
        return dense + amplitude / 2 * tremor

    def line(self, points: np.ndarray | list[tuple[float, float]], colour: tuple[int, int, int],
             width: float = OUTLINE, opacity: float = 1.0, amplitude: float = 1.6) -> np.ndarray:
        path = self.wobble(np.asarray(points, float), amplitude)
        self.add(path, colour, width, opacity)
        return path

    def add(self, path: np.ndarray, colour: tuple[int, int, int], width: float, opacity: float = 1.0) -> None:
        self.strokes.append(Stroke(tuple((round(float(x), 2), round(float(y), 2)) for x, y in path), colour,
                                   width, opacity))

    def tube(self, points: list[tuple[float, float]], width: float, fill: tuple[int, int, int]) -> None:
        """A limb as a child draws it: an outlined band, coloured inside."""
        path = self.wobble(np.asarray(points, float), 1.2)
        self.add(path, INK, width + 2 * OUTLINE)
        self.add(path, fill, width)

    def blob(self, centre: tuple[float, float], radius: tuple[float, float], fill: tuple[int, int, int]) -> None:
        """A filled, outlined oval (hands, shoes)."""
        self.add(self.wobble(ellipse(centre, (radius[0] / 2, radius[1] / 2), 0, 360), 0.5), fill, min(radius))
        self.line(ellipse(centre, radius, -20, 375), INK, amplitude=1.0)


def ellipse(centre: tuple[float, float], radius: tuple[float, float], start: float, end: float,
            step: float = 6.0) -> np.ndarray:
    """(n, 2) points on an ellipse from ``start`` to ``end`` degrees (0 = right, 90 = down)."""
    a = np.radians(np.arange(start, end + step / 2, step))
    return np.stack([centre[0] + radius[0] * np.cos(a), centre[1] + radius[1] * np.sin(a)], axis=1)


def _chaikin(poly: np.ndarray, rounds: int = 2) -> np.ndarray:
    """Round the corners of a closed polygon (n, 2)."""
    for _ in range(rounds):
        nxt = np.roll(poly, -1, axis=0)
        poly = np.stack([0.75 * poly + 0.25 * nxt, 0.25 * poly + 0.75 * nxt], axis=1).reshape(-1, 2)
    return poly


def _scribble(poly: np.ndarray, step: float, inset: float) -> np.ndarray:
    """A zig-zag colouring-in path inside a convex closed polygon (n, 2), rows ``step`` px apart."""
    top, bottom = poly[:, 1].min() + inset, poly[:, 1].max() - inset
    points = []
    edges = list(zip(poly, np.roll(poly, -1, axis=0)))
    for row, y in enumerate(np.arange(top, bottom + 1e-9, step)):
        xs = [a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]) for a, b in edges
              if (a[1] - y) * (b[1] - y) <= 0 and a[1] != b[1]]
        if len(xs) >= 2:
            left, right = min(xs) + inset, max(xs) - inset
            if right > left:
                points += [(left, y), (right, y + step / 2)] if row % 2 == 0 else [(right, y), (left, y + step / 2)]
    return np.array(points, float)


def sample_strokes() -> list[Stroke]:
    """The sample drawing as strokes, in drawing order (same every call)."""
    pen = _Pen()
    j = {name: loc for name, (_, loc) in JOINTS.items()}
    for side in ("right", "left"):  # trousers and shoes first: the shirt overlaps their tops
        hip, knee, ankle = j[f"{side}_hip"], j[f"{side}_knee"], j[f"{side}_foot"]
        pen.tube([(hip[0], hip[1] - 14), knee, (ankle[0], ankle[1] + 4)], 23, TROUSERS)
        out = -1 if side == "right" else 1
        pen.blob((ankle[0] + 9 * out, ankle[1] + 13), (22, 11), SHOES)
    for side in ("right", "left"):  # arms, short sleeves and mitten hands
        shoulder, elbow, hand = j[f"{side}_shoulder"], j[f"{side}_elbow"], j[f"{side}_hand"]
        inward = 1 if side == "right" else -1
        pen.tube([(shoulder[0] + 12 * inward, shoulder[1] - 3), elbow, hand], 17, SKIN)
        sleeve_end = (0.55 * shoulder[0] + 0.45 * elbow[0], 0.55 * shoulder[1] + 0.45 * elbow[1])
        pen.tube([(shoulder[0] + 12 * inward, shoulder[1] - 3), sleeve_end], 27, SHIRT)
        pen.blob((hand[0] - 5 * inward, hand[1] + 2), (13, 12), SKIN)
    pen.tube([(200, 128), (200, 166)], 16, SKIN)  # neck
    shirt = _chaikin(np.array([(166, 156), (234, 156), (248, 262), (152, 262)], float))
    pen.line(_scribble(shirt, 6, 5), SHIRT, width=12, amplitude=1.0)
    pen.line(np.vstack([shirt, shirt[:3]]), INK)
    star = [(200 + r * np.sin(a), 206 - r * np.cos(a)) for k in range(11)
            for a, r in [(k * np.pi / 5, 15 if k % 2 == 0 else 6.5)]]
    pen.line(star, SHOES, width=4, amplitude=0.4)
    head = ellipse((200, 93), (46, 44), 0, 360, step=10)
    pen.line(_scribble(head, 6, 4), SKIN, width=12, amplitude=1.0)
    spikes = [(200 + r * np.cos(np.radians(a)), 93 + r * 0.96 * np.sin(np.radians(a)))
              for k, a in enumerate(range(200, 345, 12)) for r in [44 if k % 2 == 0 else 62]]
    pen.line(spikes, HAIR, width=6, amplitude=1.0)
    pen.line(ellipse((200, 93), (46, 44), -100, 272), INK)
    for x in (183, 217):  # eyes with a sparkle, rosy cheeks
        pen.line([(x, 87), (x + 0.5, 89)], INK, width=10, amplitude=0.0)
        pen.line([(x + 2, 85.5), (x + 2.2, 85.8)], (255, 255, 255), width=3, amplitude=0.0)
        pen.line([(x + (-9 if x < 200 else 9), 106), (x + (-8 if x < 200 else 8), 107)], CHEEKS, width=13,
                 opacity=0.55, amplitude=0.0)
    pen.line([(199, 98), (201, 99)], INK, width=5, amplitude=0.0)  # nose
    pen.line(ellipse((200, 104), (17, 12), 25, 155, step=8), INK, width=4.5, amplitude=0.6)  # smile
    return pen.strokes


def silhouette(paper: np.ndarray, background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """(H, W) uint8 0/255: the drawing's filled outline, as AD's segmentation gives it (ink, holes filled,
    largest piece only)."""
    ink = (np.abs(paper.astype(np.int16) - np.array(background, np.int16)).max(axis=2) > 40).astype(np.uint8) * 255
    ink = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8), iterations=2)
    outside = np.pad(ink, 1)
    cv2.floodFill(outside, None, (0, 0), 128)
    filled = np.where(outside[1:-1, 1:-1] == 128, 0, 255).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(filled, connectivity=8)
    if count <= 1:
        return filled
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return np.where(labels == largest, 255, 0).astype(np.uint8)


def sample_character() -> Character:
    """The sample drawing as a ready Character: texture cropped around the figure, alpha = mask."""
    paper = render_strokes(sample_strokes(), *CANVAS)
    mask = silhouette(paper)
    ys, xs = np.nonzero(mask)
    left, top = max(0, int(xs.min()) - MARGIN), max(0, int(ys.min()) - MARGIN)
    right, bottom = min(CANVAS[0], int(xs.max()) + 1 + MARGIN), min(CANVAS[1], int(ys.max()) + 1 + MARGIN)
    crop_mask = mask[top:bottom, left:right].copy()
    texture = np.dstack([paper[top:bottom, left:right], crop_mask])
    names = tuple(JOINTS)
    parents = tuple(-1 if parent is None else names.index(parent) for parent, _ in JOINTS.values())
    rest = np.array([(round(x) - left, round(y) - top) for _, (x, y) in JOINTS.values()], float)
    return Character(names, parents, rest, texture, crop_mask, (left, top, right, bottom), "sample")


def sample_image() -> np.ndarray:
    """(H, W, 3) uint8 RGB: the whole sample drawing on white paper."""
    return render_strokes(sample_strokes(), *CANVAS)


def sample_character_files(out_dir: Path) -> Path:
    """Write the sample as an AD character folder (texture.png BGRA, mask.png, char_cfg.yaml, bounding_box.yaml,
    image.png), each file atomically; returns ``out_dir``."""
    return write_character(sample_character(), Path(out_dir), sample_image())


__all__ = ["Stroke", "sample_strokes", "render_strokes", "silhouette", "sample_character", "sample_image",
           "sample_character_files"]
