"""Image intake (by content, EXIF, alpha, downscale, bad files) and the figure box with its edits."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from studio.pipeline.intake.box import BoxError, clamp_box, find_figure_box, move_box, resize_box
from studio.pipeline.intake.images import ImageError, decode_image, read_image


def encode(image: Image.Image, fmt: str, **kw: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kw)
    return buffer.getvalue()


def test_exif_rotation_alpha_and_grey() -> None:
    wide = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    loaded = decode_image(encode(wide, "JPEG", exif=exif.tobytes()), "photo.png")  # a JPEG named .png
    assert loaded.rgb.shape == (40, 20, 3) and loaded.original_size == (20, 40)
    clear = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    assert (decode_image(encode(clear, "PNG")).rgb == 255).all()  # transparent → white paper
    grey = decode_image(encode(Image.new("L", (5, 6), 77), "PNG")).rgb
    assert grey.shape == (6, 5, 3) and (grey == 77).all()


def test_sixteen_bit_and_float_greyscale_keep_their_greys() -> None:
    """Scanners write 16-bit greyscale PNGs: Pillow's own conversion clips them to a white page."""
    ramp = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    scan = Image.fromarray(ramp)
    assert scan.mode.startswith("I;16")
    rgb = decode_image(encode(scan, "PNG")).rgb
    assert rgb.shape == (32, 32, 3) and rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255
    assert abs(int(rgb[16, 0, 0]) - 128) <= 2 and (rgb[..., 0] == rgb[..., 2]).all()
    ink = Image.fromarray(np.where(np.eye(32, dtype=bool), 0.1, 0.9).astype(np.float32))  # mode F, 0-1
    grey = decode_image(encode(ink, "TIFF")).rgb[..., 0]
    assert grey[5, 5] == 26 and abs(int(grey[5, 6]) - 230) <= 1  # 0.1 and 0.9 of white


def test_downscale_keeps_the_scale() -> None:
    big = Image.new("RGB", (3000, 1500), (250, 250, 250))
    loaded = decode_image(encode(big, "PNG"), max_side=1000)
    assert loaded.rgb.shape == (500, 1000, 3) and loaded.scale == pytest.approx(1 / 3)
    np.testing.assert_allclose(loaded.to_original([[100, 50]]), [[300, 150]])


@pytest.mark.parametrize("data, match", [
    (b"", "empty"),
    (b"hello, I am text", "not an image"),
    (None, "damaged or truncated"),
])
def test_bad_files_get_clear_errors(data: bytes | None, match: str) -> None:
    if data is None:
        data = encode(Image.new("RGB", (64, 64), (10, 200, 30)), "PNG")[:120]
    with pytest.raises(ImageError, match=match):
        decode_image(data, "x.png")


def test_decompression_bomb_is_refused() -> None:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0))
    bomb = b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b"")
    with pytest.raises(ImageError, match="too large|bomb"):
        decode_image(bomb, "bomb.png")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="file not found"):
        read_image(tmp_path / "nope.jpg")


def paper_with_figure() -> np.ndarray:
    rgb = np.full((300, 240, 3), 235, np.uint8)
    rgb[:, :, 2] = 225  # warm paper
    cv2.circle(rgb, (120, 80), 30, (40, 40, 160), 3)
    cv2.line(rgb, (120, 110), (120, 200), (40, 40, 160), 3)
    cv2.line(rgb, (120, 200), (90, 260), (40, 40, 160), 3)
    cv2.line(rgb, (120, 200), (150, 260), (40, 40, 160), 3)
    cv2.circle(rgb, (110, 75), 3, (0, 0, 0), -1)  # an eye, detached from the outline
    rgb[:, :6] = 60  # a dark table edge along the border
    return rgb


def test_box_finds_the_drawing_not_the_table() -> None:
    left, top, right, bottom = find_figure_box(paper_with_figure()).box
    assert 75 <= left <= 92 and 40 <= top <= 52 and 148 <= right <= 165 and 258 <= bottom <= 275


def stick_figure(rgb: np.ndarray, cx: int, top: int, height: int, arm_span: int, width: int = 3) -> np.ndarray:
    """A marker stick figure drawn on rgb in place: head, body, arms out, legs apart."""
    ink = (40, 40, 40)
    r = height // 8
    cv2.circle(rgb, (cx, top + r), r, ink, width)
    cv2.line(rgb, (cx, top + 2 * r), (cx, top + 5 * r), ink, width)
    cv2.line(rgb, (cx - arm_span // 2, top + 3 * r), (cx + arm_span // 2, top + 3 * r), ink, width)
    cv2.line(rgb, (cx, top + 5 * r), (cx - r, top + height), ink, width)
    cv2.line(rgb, (cx, top + 5 * r), (cx + r, top + height), ink, width)
    return rgb


def test_a_drawing_cropped_tight_is_boxed_whole() -> None:
    """Hands and feet touch the border, as in AD's texture.png crops: the figure is still found, edge to edge."""
    rgb = stick_figure(np.full((240, 200, 3), 235, np.uint8), 100, 0, 240, 200)
    left, top, right, bottom = find_figure_box(rgb).box
    assert left <= 3 and top <= 3 and right >= 197 and bottom >= 237


def test_notebook_rules_are_never_boxed_as_the_figure() -> None:
    """Rules too faint and thin to be found as lines (1 px staircases) stay joined to the figure and touch the
    border in many places: that is no tight crop, and the user is told (the studio then offers the Box tool)
    rather than given the page, or two rules, as the figure."""
    rgb = np.full((300, 400, 3), 240, np.uint8)
    for y in range(12, 300, 18):
        cv2.line(rgb, (0, y), (399, y + 4), (150, 180, 235), 1)
    with pytest.raises(BoxError, match="no figure found"):
        find_figure_box(stick_figure(rgb, 200, 60, 180, 120))


@pytest.mark.parametrize("squared", [False, True])
def test_a_figure_on_ruled_or_squared_paper_is_boxed_without_the_page(squared: bool) -> None:
    """The page's thin lines, fanned out a little by the photo's perspective and crossing the figure's marker
    strokes, are taken out before the strokes are grouped, so the figure is boxed on its own."""
    rgb = np.full((600, 800, 3), 240, np.uint8)
    blue = (150, 180, 235)
    for k, y in enumerate(range(20, 600, 32)):
        cv2.line(rgb, (0, y), (799, y + 10 + k // 3), blue, 2, cv2.LINE_AA)
    for k, x in enumerate(range(15, 800, 32) if squared else ()):
        cv2.line(rgb, (x, 0), (x - 6 - k // 4, 599), blue, 2, cv2.LINE_AA)
    rgb = cv2.GaussianBlur(rgb, (3, 3), 0)
    left, top, right, bottom = find_figure_box(stick_figure(rgb, 400, 150, 300, 220, 5)).box
    assert 270 <= left <= 290 and 135 <= top <= 150 and 510 <= right <= 530 and 450 <= bottom <= 465


def test_a_sheet_photographed_on_a_white_table_is_not_the_figure() -> None:
    """The sheet's edge against a lighter table is a closed rectangle of 'ink' inside the image, larger than the
    figure: a frame round the figure, never the figure (nor is a frame the child drew round it)."""
    rgb = np.full((360, 480, 3), 252, np.uint8)  # white table
    rgb[60:300, 80:400] = (228, 230, 222)  # an off-white sheet on it
    stick_figure(rgb, 240, 110, 150, 110)
    cv2.rectangle(rgb, (100, 75), (380, 285), (40, 40, 40), 2)  # and a frame drawn round the figure
    left, top, right, bottom = find_figure_box(rgb).box
    assert 175 <= left <= 187 and 100 <= top <= 110 and 293 <= right <= 305 and 258 <= bottom <= 270


def test_a_box_bodied_figure_with_stubby_limbs_is_no_frame() -> None:
    """A body drawn as a big rectangle with limbs about as short as the frame test's band: its ink lies along its
    box's edges, but not along all four of them, so it is the figure (not its mouth, the next largest part)."""
    rgb = np.full((800, 600, 3), 255, np.uint8)
    ink = (30, 30, 30)
    cv2.rectangle(rgb, (150, 200), (450, 600), ink, 4)  # the body
    for a, b in (((150, 400), (138, 400)), ((450, 400), (462, 400)), ((220, 600), (220, 612)),
                 ((380, 600), (380, 612))):  # arms and legs 12 px: inside the 20 px band
        cv2.line(rgb, a, b, ink, 4)
    cv2.circle(rgb, (240, 300), 20, ink, 4)
    cv2.circle(rgb, (360, 300), 20, ink, 4)
    cv2.ellipse(rgb, (300, 450), (60, 25), 0, 0, 180, ink, 4)  # the mouth
    left, top, right, bottom = find_figure_box(rgb).box
    assert left < 140 and top < 202 and right > 460 and bottom > 610


def test_a_frame_alone_is_no_figure() -> None:
    rgb = np.full((200, 200, 3), 240, np.uint8)
    cv2.rectangle(rgb, (30, 30), (170, 170), (40, 40, 40), 3)
    with pytest.raises(BoxError, match="no figure found"):
        find_figure_box(rgb)


def test_blank_paper_has_no_box() -> None:
    with pytest.raises(BoxError, match="no figure found"):
        find_figure_box(np.full((100, 100, 3), 240, np.uint8))


def test_box_edits_stay_inside_the_image() -> None:
    assert move_box((10, 10, 50, 60), -30, 100, 100, 80) == (0, 30, 40, 80)
    assert resize_box((10, 10, 50, 60), "left", 70, 0, 100, 80) == (50, 10, 70, 60)  # crossing edges swap
    assert resize_box((10, 10, 50, 60), "bottom_right", 500, 500, 100, 80) == (10, 10, 100, 80)
    assert clamp_box((5, 5, 6, 6), 100, 80) == (5, 5, 13, 13)
    with pytest.raises(ValueError, match="unknown box handle"):
        resize_box((0, 0, 10, 10), "middle", 1, 1, 100, 100)


def test_garlic_photo(shared: Path) -> None:
    """A JPEG named .png, 4032×3024 with EXIF orientation 6: portrait once rotated, box around the figure."""
    loaded = read_image(shared / "drawings" / "garlic.png")
    assert loaded.original_size == (3024, 4032) and loaded.rgb.shape == (1000, 750, 3)
    left, top, right, bottom = find_figure_box(loaded.rgb).box
    assert 60 < left < 160 and 120 < top < 220 and 600 < right < 700 and 750 < bottom < 850


def test_ads_padded_photo_is_boxed_round_the_bug_not_the_sheet(shared: Path) -> None:
    """char5's image.png is a sheet on a white surround: the box is the six-armed bug (its texture.png is AD's
    crop of it), not the sheet."""
    photo = read_image(shared / "characters" / "char5" / "image.png").rgb
    luma = (photo @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)[:, :, None]
    for rgb in (photo, np.repeat(luma, 3, axis=2)):  # a greyscale scan: there the sheet's edge breaks on one side
        left, top, right, bottom = find_figure_box(rgb).box
        assert 360 < left < 380 and 235 < top < 250 and 640 < right < 660 and 525 < bottom < 545


def test_ads_tight_texture_crops_are_boxed(shared: Path) -> None:
    """AD's texture.png files are cropped to the figure, which touches the border: still one box, edge to edge."""
    for name in ("char2", "char5", "char6"):
        rgb = read_image(shared / "characters" / name / "texture.png").rgb
        h, w = rgb.shape[:2]
        assert find_figure_box(rgb).box == (0.0, 0.0, float(w), float(h)), name
