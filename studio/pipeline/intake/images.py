"""Image intake: any image by content, EXIF-rotated, alpha on white, RGB, downscaled with its scale kept; and the
one pixel cap every decoded image in the studio is checked against, from its header, before decoding.

A JPEG at least twice the working size is decoded already reduced (libjpeg's scaled IDCT, by 2, 4 or 8, through
Pillow's ``draft``), then area-resized to the working size: a 12 MP phone photo took 170 ms to decode whole and
shrink, 40 ms so. Its working image differs from the whole decode's by about 1 grey level (PSNR 45 dB on the garlic
photo), and the box and joints found on it by under a pixel (tests/test_intake_reduced.py).
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from studio.pipeline.files.capped_read import NotRegularFileError, open_regular, read_at_most

MAX_SIDE = 1000
MAX_PIXELS = 80_000_000  # a 40-megapixel photo twice over; beyond this, a decompression bomb
MAX_IMAGE_BYTES = 256 * 1024 * 1024  # an image file read at most (80 megapixels as an uncompressed RGB BMP fits)


class ImageError(ValueError):
    """An image that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """rgb: (H, W, 3) uint8 working image, longest side ≤ max_side.
    scale: working px per original px (≤ 1); original_size: (width, height) after EXIF rotation."""

    rgb: np.ndarray
    scale: float
    original_size: tuple[int, int]
    source: str = ""

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """Working-image px → original-image px."""
        return np.asarray(points, float) / self.scale


STRIP_PIXELS = 1 << 22  # pixels converted at a time: conversion temporaries stay a few tens of MB


def _grey_scale(image: Image.Image) -> float | None:
    """For 16-bit (scanners), 32-bit or float greyscale: the value that maps to white (Pillow would clip to
    white); None for the other modes."""
    if not (image.mode in ("I", "F") or image.mode.startswith("I;16")):
        return None
    extrema = image.getextrema()
    top = float(extrema[1]) if isinstance(extrema[1], (int, float)) else 0.0
    return 1.0 if image.mode == "F" and top <= 1.0 else 255.0 if top <= 255 else 65535.0 if top <= 65535 else top


def _strip_to_rgb(strip: Image.Image, grey_full: float | None) -> np.ndarray:
    """(h, w, 3) uint8 of one strip: wide greyscale scaled by ``grey_full``, alpha composited onto white."""
    if grey_full is not None:
        grey = np.asarray(strip, dtype=np.float64)
        grey = np.clip(grey * (255.0 / grey_full), 0, 255).round().astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if strip.mode in ("RGBA", "LA", "PA") or (strip.mode == "P" and "transparency" in strip.info):
        from studio.pipeline.compositing import WHITE, over_colour  # numpy: no kernel (numba: 0.2 s) for one image

        return over_colour(np.asarray(strip.convert("RGBA"), dtype=np.uint8), WHITE)
    return np.asarray(strip if strip.mode == "RGB" else strip.convert("RGB"), dtype=np.uint8)  # RGB: no copy


def _to_rgb(image: Image.Image) -> np.ndarray:
    """(H, W, 3) uint8, converted STRIP_PIXELS at a time into one output array: converting a whole 80-megapixel
    RGBA image at once held five full-size copies (about 2 GB)."""
    width, height = image.size
    grey_full = _grey_scale(image)
    rgb = np.empty((height, width, 3), np.uint8)
    rows = max(1, STRIP_PIXELS // max(1, width))
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        strip = image if bottom - top == height else image.crop((0, top, width, bottom))  # one strip: no copy
        rgb[top:bottom] = _strip_to_rgb(strip, grey_full)
    return rgb


_PILLOW_ERRORS = (Image.DecompressionBombError, UnidentifiedImageError, OSError, SyntaxError, ValueError)


def _pillow_error(exc: BaseException, source: str) -> ImageError:
    """Pillow's exceptions, as one sentence naming ``source``."""
    if isinstance(exc, Image.DecompressionBombError):
        return ImageError(f"{source}: the image claims an enormous size (a decompression bomb?)")
    if isinstance(exc, UnidentifiedImageError):
        return ImageError(f"{source}: not an image Pillow can read (is it a photo or drawing file?)")
    return ImageError(f"{source}: the image is damaged or truncated ({exc})")


def image_size(data: bytes, source: str = "<image>") -> tuple[int, int]:
    """(width, height) of encoded image bytes, read from the header without decoding any pixel. Raises
    ImageError when the bytes are empty, not an image Pillow knows, or more than MAX_PIXELS pixels."""
    if not data:
        raise ImageError(f"{source}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS decides, just below
            with Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
    except _PILLOW_ERRORS as exc:
        raise _pillow_error(exc, source) from None
    if width * height > MAX_PIXELS:
        raise ImageError(f"{source}: {width}×{height} px is too large to open safely "
                         f"(at most {MAX_PIXELS // 1_000_000} megapixels)")
    return width, height


def decode_image(data: bytes, source: str = "<image>", max_side: int = MAX_SIDE) -> LoadedImage:
    """Decode by content (a .png that is really a JPEG is fine), apply EXIF orientation, composite alpha
    onto white, make 3 channels, and downscale so the longest side is at most ``max_side``."""
    width, height = image_size(data, source)
    reduced = min(1.0, max_side / max(width, height))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # image_size checked MAX_PIXELS
            with Image.open(io.BytesIO(data)) as image:
                image.draft(None, (math.ceil(width * reduced), math.ceil(height * reduced)))  # a JPEG's; else none
                image.load()
                drafted = image.size != (width, height)
                if image.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8):  # turned a quarter
                    width, height = height, width
                ImageOps.exif_transpose(image, in_place=True)  # in place: no second full-size copy
                rgb = _to_rgb(image)
    except _PILLOW_ERRORS as exc:
        raise _pillow_error(exc, source) from None
    if not drafted:
        height, width = rgb.shape[:2]  # as decoded (a few formats' headers tell another size than their pixels)
    scale = min(1.0, max_side / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if rgb.shape[1::-1] != size:
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return LoadedImage(rgb, scale, (width, height), source)


def decode_capped(data: bytes, flags: int = cv2.IMREAD_COLOR, source: str = "<image>") -> np.ndarray:
    """OpenCV's decode of ``data`` (BGR, BGRA, grey or 16-bit, as ``flags`` ask), after image_size has
    checked its header against MAX_PIXELS. Raises ImageError when too large or not decodable."""
    image_size(data, source)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        image = None
    if image is None:
        raise ImageError(f"{source}: not a readable image (empty, damaged, or a format OpenCV cannot read)")
    return image


def _file_bytes(path: Path) -> bytes:
    """The bytes of an image file, refused beyond MAX_IMAGE_BYTES before reading (and if it grows while read);
    a folder, a pipe or a device is refused without being read."""
    try:
        with open_regular(path) as file:
            size = os.fstat(file.fileno()).st_size
            if size > MAX_IMAGE_BYTES:
                raise ImageError(f"{path}: {size // 1024 // 1024} MB is too large for an image file "
                                 f"(at most {MAX_IMAGE_BYTES // 1024 // 1024} MB)")
            data = read_at_most(file, MAX_IMAGE_BYTES)
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image") from None
    except NotRegularFileError:
        raise ImageError(f"{path}: not a regular file (a pipe or a device?), so not an image") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"{path}: too large for an image file (at most {MAX_IMAGE_BYTES // 1024 // 1024} MB)")
    return data


def read_capped(path: str | Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """An image file decoded by OpenCV as ``flags`` ask (BGR by default), refused before decoding when over
    MAX_IMAGE_BYTES or MAX_PIXELS. Raises ImageError naming the file."""
    path = Path(path)
    return decode_capped(_file_bytes(path), flags, str(path))


def read_image(path: str | Path, max_side: int = MAX_SIDE) -> LoadedImage:
    """An image file as decode_image reads it, refused beyond MAX_IMAGE_BYTES or MAX_PIXELS."""
    path = Path(path)
    return decode_image(_file_bytes(path), str(path), max_side)
