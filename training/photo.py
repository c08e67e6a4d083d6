"""The generated drawing's photo: where the page sits in the picture, the paper (ruled, squared, tinted, its
edge showing) and the camera (light gradient, shadow, colour cast, blur, noise, JPEG)."""

from __future__ import annotations

import cv2
import numpy as np

from training.sketch import BRIGHT, TAU, Sketch, apply_homography


def place_on_photo(rng: np.random.Generator, pts: np.ndarray, size: int, edge: bool = False) -> tuple[np.ndarray, float]:
    """Paper frame → photo (3, 3): random scale, place, rotation and mild perspective, keeping pts (n, 2) inside;
    ``edge``: the drawing touches one side of the picture (a tight crop, or a figure drawn to the page's edge)."""
    lo, hi = pts.min(0), pts.max(0)
    s, th = size * rng.uniform(.45, .9) / (hi - lo).max(), np.radians(np.clip(rng.normal(0, 6), -15, 15))
    m = np.array([[s * np.cos(th), -s * np.sin(th), 0], [s * np.sin(th), s * np.cos(th), 0], [0, 0, 1]])
    m[:2, 2] = -(m[:2, :2] @ ((lo + hi) / 2))
    p = np.eye(3)
    p[2, :2], p[0, 1] = rng.uniform(-.3, .3, 2) / size, rng.normal(0, .03)
    m, margin = p @ m, .05 * size
    fit = (size - 2 * margin) / np.ptp(apply_homography(m, pts), axis=0).max()
    if fit < 1:
        m, s = np.diag([fit, fit, 1]) @ m, s * fit
    q = apply_homography(m, pts)
    t = rng.uniform(margin - q.min(0), np.maximum(margin - q.min(0), size - margin - q.max(0)))
    if edge:
        axis = int(rng.integers(2))
        t[axis] = -q.min(0)[axis] if rng.random() < .5 else size - 1 - q.max(0)[axis]
    return np.array([[1, 0, t[0]], [0, 1, t[1]], [0, 0, 1]]) @ m, s


PAPERS = ("plain", "ruled", "squared")


def paper(rng: np.random.Generator, sk: Sketch, h: np.ndarray, s: float, pts: np.ndarray,
          size: int, kind: int) -> np.ndarray:
    """The page on a table as the photo sees it, (size, size, 3) float32 0..1, of kind PAPERS[kind]; ruled or
    squared lines go into sk."""
    lo, hi = pts.min(0), pts.max(0)
    view = apply_homography(np.linalg.inv(h), np.array([(0, 0), (size, 0), (size, size), (0, size)], float))
    a, b = view.min(0) - 9 / s, view.max(0) + 9 / s
    if rng.random() < .25:  # the page's edge shows
        e = (hi - lo).max() * rng.uniform(.05, .8, 4)
        a, b = np.maximum(lo - e[:2], a), np.minimum(hi + e[2:], b)
    img = np.empty((size, size, 3), np.float32)
    img[:] = rng.uniform(.12, .6) * np.array([1, rng.uniform(.8, 1), rng.uniform(.6, 1)])
    tint = (1, .96, .86) if rng.random() < .3 else BRIGHT[rng.integers(len(BRIGHT))] * .25 + .75 if rng.random() < .08 else (1, 1, 1)
    corners = apply_homography(h, np.array([a, (b[0], a[1]), b, (a[0], b[1])]))
    cv2.fillPoly(img, [np.round(corners * 4).astype(np.int32)], (rng.uniform(.88, 1) * np.array(tint)).tolist(), cv2.LINE_AA, 2)
    if kind:
        pen = sk.pen((.5, .65, .9) if rng.random() < .7 else (.6, .6, .6), rng.uniform(.3, .7), 0.0, figure=False)
        step = (rng.uniform(12, 22) if kind == 1 else rng.uniform(7, 13)) * size / 256 / s
        for y in np.arange(a[1] + rng.uniform(0, step), b[1], step):
            sk.ops.append(("line", np.array([(a[0], y), (b[0], y)]), pen, 1.0, None))
        for x in np.arange(a[0] + rng.uniform(0, step), b[0], step) if kind == 2 else ():
            sk.ops.append(("line", np.array([(x, a[1]), (x, b[1])]), pen, 1.0, None))
    return img


def photograph(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Light gradient and mottling, a soft shadow, colour cast, blur, sensor noise, JPEG: float 0..1 → uint8 RGB."""
    size = img.shape[0]
    g = np.linspace(-.5, .5, 32, dtype=np.float32)
    light = rng.uniform(.8, 1.08) + rng.uniform(-.3, .3) * g[None, :] + rng.uniform(-.3, .3) * g[:, None]
    light += cv2.resize(rng.uniform(-.03, .03, (6, 6)).astype(np.float32), (32, 32), interpolation=cv2.INTER_CUBIC)
    if rng.random() < .35:  # the phone's or the hand's shadow
        shade, t = np.zeros((32, 32), np.float32), np.sort(rng.uniform(0, TAU, 5))
        poly = rng.uniform(0, 32, 2) + rng.uniform(8, 30) * np.stack([np.cos(t), np.sin(t)], 1)
        cv2.fillPoly(shade, [poly.astype(np.int32)], rng.uniform(.15, .45))
        light *= 1 - cv2.GaussianBlur(shade, (0, 0), rng.uniform(1.5, 4))
    img *= cv2.resize(light, (size, size), interpolation=cv2.INTER_LINEAR)[..., None]
    if rng.random() < .5:
        img *= (1 + rng.normal(0, .04, 3)) * (np.array([1.03, 1, .92]) if rng.random() < .3 else 1)
    if rng.random() < .6:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(.4, 1.3))
    if rng.random() < .8:
        img += rng.standard_normal((size, size, 1), np.float32) * rng.uniform(.004, .03)
    out = cv2.convertScaleAbs(img, alpha=255.0)
    if rng.random() < .85:
        _, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 96))])
        out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)  # type: ignore[arg-type]
    return out
