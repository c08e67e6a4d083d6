"""GIF palettes merge colours closer than a scanned page's noise: fewer colours, a bounded error, distinct dots kept."""

from __future__ import annotations

import numpy as np

from studio.pipeline.encode.palette import (
    MAX_COLOUR_MOVE,
    MIN_TEXTURE_PSNR,
    merge_close_colours,
    quantise_texture,
)


def _scanned_drawing(seed: int = 3) -> np.ndarray:
    """A 96×96 drawing as a scanner sees it: paper, a red dress and pencil lines, each with a little noise
    (thousands of colours), one small pure-green dot, and a transparent border."""
    rng = np.random.default_rng(seed)
    rgba = np.zeros((96, 96, 4), np.uint8)
    base = np.empty((96, 96, 3))
    base[:] = (236, 232, 226)
    base[40:70, 20:76] = (200, 60, 50)
    base[::12, :] = (70, 70, 80)
    rgba[..., :3] = np.clip(base + rng.normal(0, 3, base.shape), 0, 255)
    rgba[10:13, 10:13, :3] = (0, 255, 0)
    rgba[4:92, 4:92, 3] = 255
    return rgba


def _psnr(rgba: np.ndarray, indices: np.ndarray, palette: np.ndarray) -> float:
    opaque = rgba[..., 3] >= 128
    error = palette[indices[opaque]].astype(float) - rgba[..., :3][opaque]
    return float(10 * np.log10(255.0 ** 2 / np.mean(error ** 2)))


def test_a_noisy_scan_keeps_far_fewer_colours_within_the_error_bound() -> None:
    rgba = _scanned_drawing()
    opaque = rgba[..., 3] >= 128
    _, _, all_colours = quantise_texture(rgba, min_psnr=None)
    indices, palette, t = quantise_texture(rgba)
    assert all_colours == 255 and t < 64  # the noise had taken the whole palette
    assert _psnr(rgba, indices, palette) >= MIN_TEXTURE_PSNR
    assert np.all(indices[opaque] < t) and np.all(indices[~opaque] == t)  # see-through texels: the reserved entry
    assert len(np.unique(indices[opaque])) == t  # every colour kept is used
    assert np.linalg.norm(palette[indices[11, 11]].astype(float) - (0, 255, 0)) < 20  # the dot stays green
    assert np.all(palette[t + 1:] == palette[0])
    _, on_white, reserved = quantise_texture(rgba, background_colour=(255, 255, 255))
    assert reserved == t and tuple(on_white[reserved]) == (255, 255, 255)


def test_merging_is_weighted_and_never_moves_a_colour_too_far() -> None:
    colours = np.array([(100, 100, 100), (104, 100, 100), (0, 255, 0), (40, 255, 0)], np.uint8)
    counts = (100, 100, 4, 4)
    pixels = np.repeat(colours, counts, axis=0)
    nearest = np.repeat(np.arange(4, dtype=np.uint8), counts)
    merged, mapping = merge_close_colours(pixels, nearest, colours, min_psnr=10.0)  # a loose error budget
    # the greys become their mean; the greens stay apart: their mean is 20 from each (> MAX_COLOUR_MOVE)
    assert MAX_COLOUR_MOVE < 20
    assert merged.tolist() == [[102, 100, 100], [0, 255, 0], [40, 255, 0]]
    assert mapping.tolist() == [0, 0, 1, 2]
    unchanged, same = merge_close_colours(pixels, nearest, colours, min_psnr=60.0)  # merging the greys costs more
    assert np.array_equal(unchanged, colours) and same.tolist() == [0, 1, 2, 3]


def test_an_exact_palette_is_never_merged() -> None:
    rgba = _scanned_drawing()
    rgba[..., :3] = (rgba[..., :3] // 64) * 64 + 1  # few colours, two of them close: kept exactly
    rgba[20, 20, :3] = (65, 65, 66)
    opaque = rgba[..., 3] >= 128
    indices, palette, t = quantise_texture(rgba)
    assert np.array_equal(palette[indices][opaque], rgba[..., :3][opaque])
