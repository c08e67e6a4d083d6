"""A large JPEG is decoded already reduced (libjpeg's scaled IDCT): the working image, its scale and size, and the
box and joints found on it match the whole decode's within the stated tolerance."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from studio.pipeline.intake.box import find_figure_box
from studio.pipeline.intake.images import MAX_SIDE, decode_image, read_image


def whole_decode(data: bytes, max_side: int = MAX_SIDE) -> np.ndarray:
    """What intake made before: every pixel decoded, EXIF-turned, then area-resized to the working size."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        rgb = np.asarray(image.convert("RGB"))
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return rgb if scale == 1.0 else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(255.0 ** 2 / error))


def drawing(width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8: a dark stick figure on off-white paper, with some grain."""
    rgb = np.full((height, width, 3), 235, np.uint8)
    s = min(width, height) / 100
    cx = width // 2
    for a, b in (((cx, 20 * s), (cx, 60 * s)), ((cx, 35 * s), (cx - 20 * s, 50 * s)),
                 ((cx, 35 * s), (cx + 20 * s, 50 * s)), ((cx, 60 * s), (cx - 15 * s, 85 * s)),
                 ((cx, 60 * s), (cx + 15 * s, 85 * s))):
        cv2.line(rgb, tuple(int(v) for v in a), tuple(int(v) for v in b), (30, 30, 90), max(2, int(s)))
    cv2.circle(rgb, (cx, int(13 * s)), int(7 * s), (30, 30, 90), max(2, int(s)))
    grain = np.random.default_rng(0).integers(-6, 7, rgb.shape)
    return np.clip(rgb.astype(int) + grain, 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, orientation: int = 1) -> bytes:
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=92, exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize("orientation", [1, 6, 8, 3])
def test_a_large_jpeg_keeps_its_size_scale_and_picture(orientation: int) -> None:
    data = jpeg(drawing(3000, 2200), orientation)
    loaded = decode_image(data, "photo.jpg")
    reference = whole_decode(data)
    turned = orientation in (6, 8)
    assert loaded.original_size == ((2200, 3000) if turned else (3000, 2200))
    assert loaded.scale == pytest.approx(1000 / 3000)
    assert loaded.rgb.shape == reference.shape == ((1000, 733, 3) if turned else (733, 1000, 3))
    assert psnr(loaded.rgb, reference) > 40
    np.testing.assert_allclose(loaded.to_original(np.array([[100, 50]])), [[300, 150]])
    box, expected = find_figure_box(loaded.rgb).box, find_figure_box(reference).box
    assert np.abs(np.subtract(box, expected)).max() <= 1.5


def test_a_large_jpeg_is_never_decoded_whole() -> None:
    """The whole decode held the full-size RGB array (13 MB here); the reduced one a quarter of it (1200×900),
    about three times over at the peak."""
    data = jpeg(drawing(2400, 1800))
    full_bytes = 2400 * 1800 * 3
    tracemalloc.start()  # numpy reports its allocations to tracemalloc
    try:
        loaded = decode_image(data, "photo.jpg")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert loaded.rgb.shape == (750, 1000, 3)
    assert peak < 0.8 * full_bytes  # numpy's array and Pillow's bytes of it: 3x the reduced image


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_images_under_twice_the_working_size_decode_as_before(fmt: str) -> None:
    rgb = drawing(1900, 1400)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, fmt)
    data = buffer.getvalue()
    np.testing.assert_array_equal(decode_image(data).rgb, whole_decode(data))


def test_the_garlic_photo_gives_the_same_box_and_joints(shared: Path) -> None:
    """The garlic photo (a 12 MP JPEG, EXIF-turned) decoded at 1/4 against the whole decode: the picture within
    about one grey level (45 dB), the box within 1.5 px, and each of the embedded model's keypoints on the same
    box within one heatmap cell (the box, padded 1.25× to 3:4, over 32 rows: 14.3 px here). That is the model's
    own resolution: ±1 grey level of noise on the whole decode moves a keypoint by one cell too."""
    from studio.pipeline.pose.embedded import HEATMAP_WH, LOW_PEAK, EmbeddedBackend, available

    path = shared / "drawings" / "garlic.png"
    loaded = read_image(path)
    reference = whole_decode(path.read_bytes())
    assert loaded.rgb.shape == reference.shape == (1000, 750, 3) and loaded.original_size == (3024, 4032)
    assert psnr(loaded.rgb, reference) > 42
    box, expected = find_figure_box(loaded.rgb).box, find_figure_box(reference).box
    assert np.abs(np.subtract(box, expected)).max() <= 1.5
    if not available():
        pytest.skip("the embedded model is not installed")
    backend = EmbeddedBackend()
    ours, theirs = backend.pose(loaded.rgb, expected).keypoints, backend.pose(reference, expected).keypoints
    width, height = expected[2] - expected[0], expected[3] - expected[1]
    cell = 1.25 * max(height, width * 4 / 3) / HEATMAP_WH[1]
    moved = np.hypot(*(ours[:, :2] - theirs[:, :2]).T)
    assert moved.max() <= 1.05 * cell
    # the rest stay within a tenth of a cell (peaks are placed to a fraction of a cell, so noise moves them a little)
    assert np.count_nonzero(moved > 0.1 * cell) <= 2
    # scores agree, but for a peak within a hair of LOW_PEAK, which the noise may ring on one decode and not the other
    differ = np.abs(ours[:, 2] - theirs[:, 2]) >= 0.05
    at_threshold = np.abs(np.maximum(ours[:, 2], theirs[:, 2]) - LOW_PEAK) < 0.02
    assert not (differ & ~at_threshold).any() and np.count_nonzero(differ) <= 1
