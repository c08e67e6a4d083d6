"""The numba kernels behind studio.pipeline.compositing, apart so that importing compositing loads no numba (0.2 s):
only a call that needs a kernel does."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def _unpremultiply(rgba: np.ndarray) -> None:
    h, w = rgba.shape[:2]
    for y in range(h):
        for x in range(w):
            a = np.int32(rgba[y, x, 3])
            if a == 0 or a == 255:
                continue
            for c in range(3):
                rgba[y, x, c] = min((np.int32(rgba[y, x, c]) * 255 + a // 2) // a, 255)


@njit(nogil=True, cache=True)
def _blend_colour(top: np.ndarray, alpha: np.ndarray, colour: np.ndarray, out: np.ndarray, opacity: int) -> None:
    h, w = top.shape[:2]
    for y in range(h):
        for x in range(w):
            a = np.int32(alpha[y, x])
            if opacity != 255:
                a = (a * opacity + 127) // 255
            for c in range(3):
                if a == 0:
                    out[y, x, c] = colour[c]
                elif a == 255:
                    out[y, x, c] = top[y, x, c]
                else:
                    out[y, x, c] = (np.int32(top[y, x, c]) * a + colour[c] * (255 - a) + 127) // 255


@njit(nogil=True, cache=True)
def _blend_image(top: np.ndarray, alpha: np.ndarray, base: np.ndarray, out: np.ndarray, opacity: int) -> None:
    h, w = top.shape[:2]
    for y in range(h):
        for x in range(w):
            a = np.int32(alpha[y, x])
            if opacity != 255:
                a = (a * opacity + 127) // 255
            for c in range(3):
                if a == 0:
                    out[y, x, c] = base[y, x, c]
                elif a == 255:
                    out[y, x, c] = top[y, x, c]
                else:
                    out[y, x, c] = (np.int32(top[y, x, c]) * a + np.int32(base[y, x, c]) * (255 - a) + 127) // 255
