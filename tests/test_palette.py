"""GIF palettes: one shared palette per texture, solid and image backgrounds, exact nearest-colour mapping."""

from __future__ import annotations

import numpy as np
import pytest

from studio.pipeline.encode.palette import (
    PaletteError,
    QuantisedTexture,
    background_palette,
    quantise_texture,
    quantise_to_palette,
)


def _flat_drawing() -> np.ndarray:
    """A 64×48 RGBA drawing: three flat colours and black ink on a transparent background."""
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[8:40, 10:54] = (250, 245, 235, 255)  # paper-white body
    rgba[12:20, 14:30] = (220, 40, 40, 255)
    rgba[24:36, 30:50] = (40, 90, 220, 255)
    rgba[8, 10:54] = (10, 10, 10, 255)
    rgba[30, 5] = (10, 10, 10, 100)  # alpha < 128: transparent
    return rgba


def _noisy_drawing(seed: int = 0) -> np.ndarray:
    """A 96×96 scanned-looking drawing: thousands of colours, plus one small pure-green dot."""
    rng = np.random.default_rng(seed)
    rgba = np.zeros((96, 96, 4), np.uint8)
    rgba[..., :3] = np.clip(rng.normal(235, 12, (96, 96, 3)), 0, 255)
    rgba[40:60, :, :3] = np.clip(rng.normal((200, 60, 50), 20, (20, 96, 3)), 0, 255)
    rgba[10:13, 10:13, :3] = (0, 255, 0)
    rgba[4:92, 4:92, 3] = 255
    return rgba


def test_few_colours_are_kept_exactly() -> None:
    rgba = _flat_drawing()
    q = quantise_texture(rgba)
    assert isinstance(q, QuantisedTexture)
    indices, palette, t = q  # unpacks as a triple
    assert palette.shape == (256, 3) and palette.dtype == np.uint8 and indices.dtype == np.uint8
    assert t == 4  # four colours, the reserved entry right after them
    opaque = rgba[..., 3] >= 128
    assert np.array_equal(palette[indices][opaque], rgba[..., :3][opaque])
    assert np.all(indices[~opaque] == t)
    assert np.all(palette[t + 1:] == palette[0])  # unused entries copy entry 0


def test_many_colours_fit_255_and_small_features_survive() -> None:
    rgba = _noisy_drawing()
    indices, palette, t = quantise_texture(rgba)
    opaque = rgba[..., 3] >= 128
    assert t <= 255 and np.all(indices[opaque] < t) and np.all(indices[~opaque] == t)
    error = np.linalg.norm(palette[indices].astype(float) - rgba[..., :3], axis=2)[opaque]
    assert error.mean() < 6
    assert np.linalg.norm(palette[indices[11, 11]].astype(float) - (0, 255, 0)) < 20  # the dot stays green


def test_fewer_colours_on_request() -> None:
    indices, _, t = quantise_texture(_noisy_drawing(), max_colours=16)
    assert t <= 16 and len(np.unique(indices)) <= 17


def test_solid_background_colour_is_the_reserved_entry() -> None:
    rgba = _flat_drawing()
    indices, palette, t = quantise_texture(rgba, background_colour=(1, 2, 3))
    assert tuple(palette[t]) == (1, 2, 3)
    assert np.all(indices[rgba[..., 3] < 128] == t)


def test_fully_transparent_texture() -> None:
    indices, palette, t = quantise_texture(np.zeros((5, 6, 4), np.uint8))
    assert np.all(indices == t) and palette.shape == (256, 3)


def test_bad_texture_arguments() -> None:
    with pytest.raises(PaletteError, match=r"\(H, W, 4\) uint8"):
        quantise_texture(np.zeros((5, 6, 3), np.uint8))
    with pytest.raises(PaletteError, match="max_colours"):
        quantise_texture(np.zeros((5, 6, 4), np.uint8), max_colours=256)
    with pytest.raises(PaletteError, match="colour"):
        quantise_texture(np.zeros((5, 6, 4), np.uint8), background_colour=(1, 2, 300))


def test_quantise_to_palette_is_exact_and_nearest() -> None:
    palette = np.array([(0, 0, 0), (255, 255, 255), (250, 0, 0), (0, 0, 0), (10, 10, 10)], np.uint8)
    rgb = np.array([[(0, 0, 0), (255, 255, 255), (250, 0, 0)],
                    [(9, 9, 9), (240, 20, 20), (200, 200, 200)]], np.uint8)
    expected = np.array([[0, 1, 2], [4, 2, 1]])  # (0, 0, 0) twice in the palette: the lower index wins
    assert np.array_equal(quantise_to_palette(rgb, palette), expected)
    assert np.array_equal(quantise_to_palette(rgb, palette), expected)  # cached path
    with pytest.raises(PaletteError, match=r"\(h, w, 3\)"):
        quantise_to_palette(np.zeros((2, 2, 4), np.uint8), palette)
    with pytest.raises(PaletteError, match="palette"):
        quantise_to_palette(rgb, np.zeros((300, 3), np.uint8))


def test_quantise_to_palette_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    palette = rng.integers(0, 256, (37, 3)).astype(np.uint8)
    rgb = rng.integers(0, 256, (40, 50, 3)).astype(np.uint8)
    d = ((rgb[:, :, None, :].astype(int) - palette[None, None].astype(int)) ** 2).sum(-1)
    assert np.array_equal(quantise_to_palette(rgb, palette), d.argmin(-1))


def test_image_background_palette_covers_figure_and_background() -> None:
    rgba = _flat_drawing()
    background = np.zeros((40, 40, 3), np.uint8)
    background[:, :20] = (0, 200, 0)
    background[:, 20:] = (30, 30, 120)
    palette = background_palette(rgba, background)
    assert palette.shape == (256, 3)
    colours = {tuple(c) for c in palette}
    assert {(0, 200, 0), (30, 30, 120), (220, 40, 40), (250, 245, 235)} <= colours
    frame = background.copy()
    frame[5:10, 5:10] = (220, 40, 40)
    assert np.array_equal(palette[quantise_to_palette(frame, palette)], frame)
