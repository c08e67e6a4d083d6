"""One pixel cap for every decoded image: checked from the header, before any pixel is decoded, for annotate's
intake, character textures and masks, and the render background (read_capped)."""

from __future__ import annotations

import io
import os
import struct
import threading
import tracemalloc
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from PIL import Image

from studio.pipeline.intake import images as intake
from studio.pipeline.character import CharacterError, read_character
from studio.pipeline.intake.images import MAX_PIXELS, ImageError, decode_capped, image_size, read_capped

SHORT = 300


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def blank_png(path: Path, width: int, height: int) -> Path:
    """A valid 1-bit greyscale PNG of width x height, all black, written row by row: a 9000x9000 one is
    some 10 KB on disk and takes milliseconds to make, but decodes to 81 megapixels."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte 0, then the packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))
    return path


SIDE = int(MAX_PIXELS ** 0.5) + 100  # a square just over the cap


def test_the_crafted_png_is_what_it_claims(tmp_path: Path) -> None:
    path = blank_png(tmp_path / "small.png", 21, 7)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image.shape == (7, 21) and not image.any()
    assert image_size(path.read_bytes()) == (21, 7)


def test_image_size_refuses_an_image_over_the_cap_from_its_header(tmp_path: Path) -> None:
    data = blank_png(tmp_path / "big.png", SIDE, SIDE).read_bytes()
    assert len(data) < 1_000_000
    with pytest.raises(ImageError, match=f"{SIDE}×{SIDE} px is too large") as info:
        image_size(data, "big.png")
    assert len(str(info.value)) < SHORT


def test_read_capped_refuses_a_background_over_the_cap(tmp_path: Path) -> None:
    path = blank_png(tmp_path / "background.png", SIDE, SIDE)
    with pytest.raises(ImageError, match="background.png: .* too large"):
        read_capped(path)


def test_read_capped_decodes_as_opencv_does(tmp_path: Path) -> None:
    bgr = np.zeros((5, 6, 3), np.uint8)
    bgr[1, 2] = (10, 20, 30)
    cv2.imwrite(str(tmp_path / "b.png"), bgr)
    np.testing.assert_array_equal(read_capped(tmp_path / "b.png"), bgr)
    assert read_capped(tmp_path / "b.png", cv2.IMREAD_GRAYSCALE).shape == (5, 6)


@pytest.mark.parametrize("data, match", [(b"", "empty"), (b"GIF89a" + b"\0" * 20, "damaged|not an image"),
                                         (b"plain text, not an image", "not an image")])
def test_decode_capped_refuses_what_is_not_an_image(data: bytes, match: str) -> None:
    with pytest.raises(ImageError, match=match):
        decode_capped(data, cv2.IMREAD_COLOR, "x.png")


def test_read_capped_refuses_a_file_over_the_byte_cap_before_reading_it(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = blank_png(tmp_path / "b.png", 64, 64)
    monkeypatch.setattr(intake, "MAX_IMAGE_BYTES", path.stat().st_size - 1)
    with pytest.raises(ImageError, match="too large for an image file"):
        read_capped(path)
    with pytest.raises(ImageError, match="too large for an image file"):
        intake.read_image(path)


def test_missing_and_folder_paths_are_image_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="file not found"):
        read_capped(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a folder"):
        read_capped(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_is_refused_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "drawing.png"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: open(fifo, "wb").close(), daemon=True)  # lets a wrong open() finish
    writer.start()
    try:
        with pytest.raises(ImageError, match="not a regular file"):
            read_capped(fifo)
    finally:
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer's open() return if nothing read
        writer.join(5)
        os.close(reader)


@pytest.mark.parametrize("mode", ["RGBA", "I;16", "P"])
def test_decoding_converts_strip_by_strip_so_no_full_size_temporary_is_made(monkeypatch: pytest.MonkeyPatch,
                                                                            mode: str) -> None:
    side = 1000  # at MAX_SIDE: no downscale, so the output is the one full-size array numpy allocates
    values = np.random.default_rng(0).integers(0, 256, (side, side, 4), np.uint8)
    image = {"RGBA": lambda: Image.fromarray(values),
             "I;16": lambda: Image.fromarray(values[:, :, 0].astype(np.uint16) * 257),
             "P": lambda: Image.fromarray(values[:, :, :3]).quantize(16)}[mode]()
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **({"transparency": 3} if mode == "P" else {}))
    data = buffer.getvalue()
    monkeypatch.setattr(intake, "STRIP_PIXELS", 50_000, raising=False)
    tracemalloc.start()  # numpy reports its allocations to tracemalloc
    try:
        loaded = intake.decode_image(data, "strips.png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert loaded.rgb.shape == (side, side, 3)
    assert peak < 1.5 * loaded.rgb.nbytes  # was 2x (RGBA: array and copy) to 8x (16-bit: float64 copies)


def _character(folder: Path, texture: Path | None = None, mask: Path | None = None) -> Path:
    folder.mkdir()
    small = np.zeros((30, 40), np.uint8)
    small[5:25, 10:30] = 255
    cv2.imwrite(str(folder / "texture.png"), cv2.cvtColor(small, cv2.COLOR_GRAY2BGRA))
    cv2.imwrite(str(folder / "mask.png"), small)
    for name, big in (("texture.png", texture), ("mask.png", mask)):
        if big is not None:
            (folder / name).write_bytes(big.read_bytes())
    skeleton = [{"name": "root", "parent": None, "loc": [20, 15]}]
    (folder / "char_cfg.yaml").write_text(yaml.safe_dump({"width": 40, "height": 30, "skeleton": skeleton}))
    return folder


@pytest.mark.parametrize("which", ["texture", "mask"])
def test_character_image_over_the_cap_is_refused_before_decoding(tmp_path: Path, which: str) -> None:
    big = blank_png(tmp_path / "big.png", SIDE, SIDE)
    folder = _character(tmp_path / "c", **{which: big})
    with pytest.raises(CharacterError, match=f"{which}.png: {SIDE}×{SIDE} px is too large") as info:
        read_character(folder)
    assert len(str(info.value)) < SHORT


def test_character_images_within_the_cap_still_read(tmp_path: Path) -> None:
    character = read_character(_character(tmp_path / "c"))
    assert character.texture.shape == (30, 40, 4) and character.mask.shape == (30, 40)


def test_a_huge_background_image_is_refused_from_its_header(tmp_path: Path) -> None:
    from studio.core.render import RenderError, parse_background

    big = blank_png(tmp_path / "wall.png", 20000, 20000)
    with pytest.raises(RenderError, match="background .*wall.png") as caught:
        parse_background(str(big))
    assert len(str(caught.value)) < 300
    small = blank_png(tmp_path / "small.png", 40, 30)
    background = parse_background(str(small))
    assert background.image is not None and background.image.shape == (30, 40, 3)


def test_a_character_folders_huge_photo_is_not_decoded_when_opened(tmp_path: Path) -> None:
    from studio.core.loading import open_path
    from studio.core.sample import sample_character_files

    folder = sample_character_files(tmp_path / "char")
    blank_png(folder / "image.png", 20000, 20000)
    tracemalloc.start()
    try:
        doc = open_path(folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert doc.annotated and peak < 100 * 2**20  # decoding it would take 1.2 GB


def test_reading_a_small_file_does_not_reserve_the_cap(tmp_path: Path) -> None:
    from studio.pipeline.files.capped_read import read_at_most

    path = tmp_path / "small.bin"
    path.write_bytes(b"x" * 1000)
    tracemalloc.start()
    try:
        with path.open("rb") as file:
            data = read_at_most(file, 256 * 2**20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data == b"x" * 1000 and peak < 2**20  # file.read(cap + 1) reserved all 256 MB
    with path.open("rb") as file:
        assert len(read_at_most(file, 10)) == 11  # one more than the cap: "over"
