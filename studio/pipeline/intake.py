"""Image intake: any image by content, EXIF-rotated, alpha on white, RGB, downscaled with its scale kept."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 1000
MAX_PIXELS = 80_000_000  # a 40-megapixel photo twice over; beyond this, a decompression bomb


class ImageError(ValueError):
    """An image that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True)
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


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):  # 16-bit (scanners) or float greyscale
        grey = np.asarray(image, dtype=np.float64)
        top = float(grey.max()) if grey.size else 0.0
        full = 1.0 if image.mode == "F" and top <= 1.0 else 255.0 if top <= 255 else 65535.0 if top <= 65535 else top
        grey = np.clip(grey * (255.0 / full), 0, 255).round().astype(np.uint8)  # Pillow would clip to white
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        image = white
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def decode_image(data: bytes, source: str = "<image>", max_side: int = MAX_SIDE) -> LoadedImage:
    """Decode by content (a .png that is really a JPEG is fine), apply EXIF orientation, composite alpha
    onto white, make 3 channels, and downscale so the longest side is at most ``max_side``."""
    if not data:
        raise ImageError(f"{source}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            with Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
                if width * height > MAX_PIXELS:
                    raise ImageError(f"{source}: {width}×{height} px is too large to open safely")
                opened.load()
                image = ImageOps.exif_transpose(opened)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{source}: the image claims an enormous size (a decompression bomb?)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{source}: not an image Pillow can read (is it a photo or drawing file?)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{source}: the image is damaged or truncated ({exc})") from None
    rgb = _to_rgb(image)
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return LoadedImage(rgb, scale, (w, h), source)


def read_image(path: str | Path, max_side: int = MAX_SIDE) -> LoadedImage:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image") from None
    return decode_image(data, str(path), max_side)
