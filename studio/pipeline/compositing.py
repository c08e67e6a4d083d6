"""Alpha compositing, premultiplying and unpremultiplying of uint8 RGBA, with one rounding rule.

Every result is the exact value rounded to the nearest integer, halves up: ``(c * a + b * (255 - a) + 127) // 255``
in integers. Before this module the same operation was written five times, some truncating (a figure over white
came out one level darker in some places than in others). The loops are numba kernels (compositing_kernels.py,
loaded by the first call that needs one): over a colour, 0.4 ms for a 500×500 frame against 7 ms in numpy.
"""

from __future__ import annotations

import numpy as np

WHITE = (255, 255, 255)


def over(rgba: np.ndarray, background: np.ndarray | tuple[int, int, int],
         out: np.ndarray | None = None) -> np.ndarray:
    """(h, w, 3) uint8: straight-alpha ``rgba`` (h, w, 4) uint8 over ``background``, an RGB colour or an
    (h, w, 3) uint8 image. ``out``: an (H ≥ h, W ≥ w, 3) uint8 array written in its top-left corner and returned
    (it may be the background image itself)."""
    return blend(rgba[:, :, :3], rgba[:, :, 3], background, out)


def blend(top: np.ndarray, alpha: np.ndarray, background: np.ndarray | tuple[int, int, int],
          out: np.ndarray | None = None, opacity: int = 255) -> np.ndarray:
    """``over`` with colour and alpha apart: ``top`` (h, w, 3) uint8 over ``background`` where ``alpha`` (h, w)
    uint8 says how much of ``top`` shows (a stroke's coverage, say), first scaled by ``opacity`` / 255, rounded."""
    h, w = top.shape[:2]
    if out is None:
        out = np.empty((h, w, 3), np.uint8)
    base = np.asarray(background)
    if base.ndim == 1:
        from studio.pipeline.compositing_kernels import _blend_colour

        _blend_colour(top, alpha, base.astype(np.int32).reshape(3), out, opacity)
    else:
        if base.shape[:2] != (h, w):
            raise ValueError(f"background is {base.shape[1]}×{base.shape[0]}, the image {w}×{h}")
        from studio.pipeline.compositing_kernels import _blend_image

        _blend_image(top, alpha, base.astype(np.uint8, copy=False), out, opacity)
    return out


def premultiply(rgba: np.ndarray) -> np.ndarray:
    """(h, w, 4) uint8, a copy with colour scaled by alpha, so bilinear sampling at the mask's edge does not
    pull in the colour of the transparent paper around the figure."""
    out = rgba.copy()
    out[:, :, :3] = (rgba[:, :, :3].astype(np.uint16) * rgba[:, :, 3:4] + 127) // 255
    return out


def unpremultiply(rgba: np.ndarray) -> np.ndarray:
    """(h, w, 4) uint8 premultiplied → straight alpha, in place (returned): colour × 255 / alpha, rounded
    (``(c * 255 + a // 2) // a``, at most 255); alpha 0 and 255 leave the colour as it is. A kernel: 1 ms for a
    500×500 frame against 4 ms in numpy, most of an MP4 or PNG frame's rendering."""
    from studio.pipeline.compositing_kernels import _unpremultiply

    _unpremultiply(rgba)
    return rgba


def over_colour(rgba: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """(h, w, 3) uint8: straight-alpha ``rgba`` over an opaque ``colour``, the same values as ``over`` but in numpy,
    with no kernel to load: for a one-off large image (a drawing with transparency, read once), where loading numba
    would cost more than the work. ``(x + 0.5) / 255`` in float32 is never within float32's error of an integer,
    so its floor is exactly ``x // 255`` (a test checks every value)."""
    base = np.asarray(colour, np.float32).reshape(1, 1, 3)
    exact = rgba[:, :, :3].astype(np.float32)  # in place from here: one float copy (intake runs it strip by strip)
    exact -= base
    exact *= rgba[:, :, 3:].astype(np.float32)
    exact += base * np.float32(255.0) + np.float32(127.5)  # c·a + b·(255 - a) + 127.5, every step exact in float32
    exact *= np.float32(1.0 / 255.0)
    return np.floor(exact, out=exact).astype(np.uint8)

