"""Compositing has one rounding rule (nearest, halves up), and every place that puts a figure on paper uses it."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.pipeline.compositing import WHITE, over, premultiply, unpremultiply


def _every_pair() -> np.ndarray:
    """(256, 256, 4) uint8: colour value c (column) at alpha a (row), for every c and a."""
    c, a = np.meshgrid(np.arange(256), np.arange(256))
    return np.dstack([c, c, c, a]).astype(np.uint8)


def _exact_over(rgba: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Reference: fractions, then nearest with halves up."""
    c, a = rgba[:, :, :3].astype(np.int64), rgba[:, :, 3:4].astype(np.int64)
    num = c * a + base.astype(np.int64) * (255 - a)
    return ((2 * num + 255) // 510).astype(np.uint8)


def test_over_a_colour_and_over_an_image_round_to_nearest() -> None:
    rgba = _every_pair()
    white = np.full((256, 256, 3), 255, np.uint8)
    assert (over(rgba, WHITE) == _exact_over(rgba, white)).all()
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    assert (over(rgba, image) == _exact_over(rgba, image)).all()
    # c = 1 at a = 128 over black is 128/255 = 0.502: truncating gave 0
    assert over(np.array([[[1, 1, 1, 128]]], np.uint8), (0, 0, 0))[0, 0, 0] == 1


def test_over_writes_into_a_larger_out_and_checks_the_image_size() -> None:
    out = np.zeros((3, 3, 3), np.uint8)
    over(np.full((2, 2, 4), 255, np.uint8), (0, 0, 0), out)
    assert (out[:2, :2] == 255).all() and (out[2] == 0).all() and (out[:, 2] == 0).all()
    with pytest.raises(ValueError, match="background is 3×3"):
        over(np.zeros((2, 2, 4), np.uint8), np.zeros((3, 3, 3), np.uint8))


def test_premultiply_rounds_and_unpremultiply_undoes_it_where_alpha_allows() -> None:
    rgba = _every_pair()
    pre = premultiply(rgba)
    exact = (2 * rgba[:, :, :3].astype(int) * rgba[:, :, 3:4] + 255) // 510
    assert (pre[:, :, :3] == exact).all() and (pre[:, :, 3] == rgba[:, :, 3]).all()
    back = unpremultiply(pre.copy())
    opaque = rgba[:, :, 3] == 255
    assert (back[opaque] == rgba[opaque]).all()
    error = np.abs(back[:, :, :3].astype(int) - rgba[:, :, :3])[rgba[:, :, 3] >= 16]
    assert error.max() <= 8  # a premultiplied value holds alpha levels, not 256


def test_the_drawing_the_document_and_the_video_put_a_figure_on_white_alike(tmp_path: Path) -> None:
    """The same RGBA on white through the document (a character's paper), a render, an MP4 frame, image intake."""
    from studio.core.document import Document
    from studio.core.render import Background, composite
    from studio.pipeline.encode.video import _even_rgb
    from studio.pipeline.intake.images import read_image
    from studio.core.sample import sample_character

    character = sample_character()
    rgba = character.texture.copy()
    rgba[:, :, 3] = (np.arange(rgba.shape[1])[None, :] * 7 % 256).astype(np.uint8)  # many alphas, not just 0 and 255
    expected = _exact_over(rgba, np.full(rgba.shape[:2] + (3,), 255, np.uint8))
    document = Document.from_character(dataclasses.replace(character, texture=rgba))
    assert (document.paper == expected).all()
    rendered = composite(rgba, Background(colour=WHITE))  # truncated before: 75933 values one level darker
    assert (rendered[:, :, :3] == expected).all() and (rendered[:, :, 3] == 255).all()
    video = _even_rgb(rgba, np.array(WHITE, np.int32), 0)[: rgba.shape[0], : rgba.shape[1]]
    assert (video == expected).all()
    data = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(data, "PNG")
    path = tmp_path / "figure.png"
    path.write_bytes(data.getvalue())
    assert (read_image(path, max_side=10_000).rgb == expected).all()


def test_a_pasted_image_is_put_on_white_by_the_same_rule() -> None:
    """The window's paste and drop (a QImage with alpha) composite as the pipeline does."""
    pytest.importorskip("PySide6")
    from PySide6.QtGui import QImage

    from studio.ui.images import qimage_from_rgba, rgb_from_qimage

    rgba = _every_pair()
    image: QImage = qimage_from_rgba(rgba)
    assert (rgb_from_qimage(image) == over(rgba, WHITE)).all()


def test_a_document_from_an_image_with_alpha_has_it_on_white() -> None:
    from studio.core.loading import document_from_image

    rgba = _every_pair()
    assert (document_from_image(rgba).paper == over(rgba, WHITE)).all()
    assert document_from_image(rgba[:, :, :3]).paper.shape == (256, 256, 3)


def test_strokes_at_part_opacity_and_the_eraser_blend_by_the_same_rule() -> None:
    from studio.pipeline.intake.strokes import Stroke, render_strokes

    paper = np.full((20, 40, 3), 200, np.uint8)
    paper[:, 20:] = 30
    pen = Stroke(((2.0, 10.0), (38.0, 10.0)), (0, 0, 255), 6.0, opacity=0.5)
    half = render_strokes([pen], 40, 20, paper=paper)
    blue = np.array([[[0, 0, 255, 128]]], np.uint8)
    for x in (10, 30):  # inside the line: blue at 128/255 over each paper, rounded (cv2's blend gave 142 for 143)
        assert half[10, x].tolist() == over(blue, tuple(paper[10, x]))[0, 0].tolist()
    assert (half[:4] == paper[:4]).all() and (half[17:] == paper[17:]).all()  # away from it, the paper
    eraser = Stroke(((2.0, 4.0), (38.0, 4.0)), (0, 0, 0), 4.0, opacity=0.5, erase=True)
    drawn = np.full((20, 40, 3), 10, np.uint8)
    wiped = render_strokes([eraser], 40, 20, paper=paper)  # on the paper itself: erasing gives the paper back
    assert (wiped == paper).all()
    from studio.pipeline.intake.strokes import draw_stroke

    partly = draw_stroke(drawn.copy(), eraser, paper)
    assert partly[4, 20].tolist() == over(np.array([[[30, 30, 30, 128]]], np.uint8), (10, 10, 10))[0, 0].tolist()


def test_unpremultiply_is_the_rounded_division_on_every_premultiplied_value() -> None:
    """Every (colour, alpha) a premultiplied image can hold (colour ≤ alpha): (c · 255 + a // 2) // a, at most 255."""
    c, a = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    valid = c <= a
    rgba = np.zeros((int(valid.sum()), 1, 4), np.uint8)
    rgba[:, 0, 0] = rgba[:, 0, 1] = rgba[:, 0, 2] = c[valid]
    rgba[:, 0, 3] = a[valid]
    out = unpremultiply(rgba.copy())[:, 0, 0].astype(int)
    cv, av = c[valid], a[valid]
    expected = np.where(av == 0, cv, np.minimum((cv * 255 + av // 2) // np.maximum(av, 1), 255))
    np.testing.assert_array_equal(out, expected)


def test_over_a_colour_in_numpy_equals_the_kernel_on_every_value() -> None:
    """over_colour (numpy, for one large image) and over (the kernel) give the same byte for every colour value,
    alpha and background level: 256³ cases."""
    from studio.pipeline.compositing import over_colour

    level = np.arange(256, dtype=np.uint8)
    rgba = np.zeros((256, 256, 4), np.uint8)
    rgba[:, :, 0] = rgba[:, :, 1] = rgba[:, :, 2] = level[:, None]  # row: the colour value
    rgba[:, :, 3] = level[None, :]  # column: alpha
    for b in range(256):
        colour = (b, 255 - b, b // 2)
        assert np.array_equal(over_colour(rgba, colour), over(rgba, colour)), colour
