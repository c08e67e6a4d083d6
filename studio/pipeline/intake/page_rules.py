"""A ruled or squared page's lines, found and erased from an ink mask, so that the box finder does not take the
page (whose rules join every stroke to the image border) for the figure.

Rules are long straight runs of ink (a homography keeps lines straight), several of them side by side at
nearly one angle, each with ink along most of its way across the image. Each is erased across the whole image,
so the stretches the Hough transform missed go too; a stroke cut where it crosses a rule is mended.
"""

from __future__ import annotations

import cv2
import numpy as np

RULE_LENGTH = 0.35  # a straight run of ink this long (share of the image's shorter side) may be a notebook's rule ...
RULE_FAMILY = 5  # ... and is one when at least this many separate such lines run within ...
RULE_SPREAD = 6  # ... this many degrees of its direction (a photo's perspective fans the rules out)
RULE_COVER = 0.5  # ... and has ink along this share of its whole length across the image (a straight arm: less)

Line = tuple[tuple[float, float], tuple[float, float]]


def erase_rules(ink: np.ndarray) -> np.ndarray:
    """``ink`` with a ruled or squared page's lines erased. A stroke that crosses a rule is mended where it has
    ink on both sides of the erased line (a rule alone has none)."""
    h, w = ink.shape
    thickness = max(3, min(h, w) // 250)
    rules = _rules(ink, thickness)
    if not rules:
        return ink
    erased = np.zeros_like(ink)
    for (x1, y1), (x2, y2) in rules:
        cv2.line(erased, (int(x1), int(y1)), (int(x2), int(y2)), 255, thickness)
    out = ink.copy()
    out[erased > 0] = 0
    size = 3 * thickness + 4 | 1  # the same rule found twice, a little apart, cuts a wider gap
    for degrees in np.unique([round(np.degrees(np.arctan2(y2 - y1, x2 - x1)) / 5) * 5 % 180
                              for (x1, y1), (x2, y2) in rules]):
        across = np.array([-np.sin(np.radians(degrees)), np.cos(np.radians(degrees))]) * (size // 2)
        kernel = np.zeros((size, size), np.uint8)
        cv2.line(kernel, tuple(int(v) for v in np.round(size // 2 - across)),
                 tuple(int(v) for v in np.round(size // 2 + across)), 1, 1)
        mended = cv2.morphologyEx(out, cv2.MORPH_CLOSE, kernel)
        out[(erased > 0) & (mended > 0)] = 255
    return out


def _rules(ink: np.ndarray, thickness: int) -> list[Line]:
    """A ruled or squared page's lines, each as two points beyond the image on either side: long straight
    runs of ink, at least ``RULE_FAMILY`` of them side by side within ``RULE_SPREAD`` degrees, each with ink along
    ``RULE_COVER`` of its way across the image (a sheet's edges or a drawn frame are a few lines at different
    angles, left to the box finder's frame test; a straight arm parallel to the rules stops short)."""
    h, w = ink.shape
    length = int(RULE_LENGTH * min(h, w))
    found = cv2.HoughLinesP(ink, 1, np.pi / 360, threshold=length // 2, minLineLength=length,
                            maxLineGap=max(2, length // 40))
    if found is None:
        return []
    seg = found.reshape(-1, 4).astype(np.float64)
    degrees = np.round(np.degrees(np.arctan2(seg[:, 3] - seg[:, 1], seg[:, 2] - seg[:, 0]))).astype(int) % 180
    family = np.zeros(len(seg), bool)
    for d in np.unique(degrees):
        near = np.minimum((degrees - d) % 180, (d - degrees) % 180) <= RULE_SPREAD  # wrapping at 180°
        normal = np.array([-np.sin(np.radians(d)), np.cos(np.radians(d))])
        offsets = np.sort((seg[near, :2] + seg[near, 2:]) / 2 @ normal)  # where each run crosses the normal
        lines = 1 + int(np.count_nonzero(np.diff(offsets) > 2 * thickness))  # one thick stroke gives many runs
        family[degrees == d] = lines >= RULE_FAMILY
    reach = 2.0 * max(h, w)
    grown = cv2.dilate(ink, np.ones((3, 3), np.uint8))
    t = np.linspace(-1.0, 1.0, 4 * max(h, w))
    rules = []
    for x1, y1, x2, y2 in seg[family]:
        ux, uy = np.array([x2 - x1, y2 - y1]) / max(1e-9, float(np.hypot(x2 - x1, y2 - y1))) * reach
        xs, ys = np.round((x1 + x2) / 2 + t * ux).astype(int), np.round((y1 + y2) / 2 + t * uy).astype(int)
        inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
        if _long_runs(grown[ys[inside], xs[inside]] > 0, 4 * thickness).mean() >= RULE_COVER:
            centre = ((x1 + x2) / 2, (y1 + y2) / 2)
            rules.append(((centre[0] - ux, centre[1] - uy), (centre[0] + ux, centre[1] + uy)))
    return rules


def _long_runs(on: np.ndarray, shortest: int) -> np.ndarray:
    """The 1-D boolean profile ``on`` without its runs shorter than ``shortest`` (the dots where other rules
    cross a line, not the line itself)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
    kept = np.zeros(len(on), bool)
    for start, stop in zip(edges[::2], edges[1::2]):
        kept[start:stop] = stop - start >= shortest
    return kept
