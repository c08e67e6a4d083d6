"""numpy ↔ QImage conversions for the window (copies, so Qt never points into a freed array)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap

from studio.core.loading import paper_from_rgba


def qimage_from_rgb(rgb: np.ndarray) -> QImage:
    """(H, W, 3) uint8 RGB → QImage (Format_RGB888, own copy)."""
    rgb = np.ascontiguousarray(rgb, np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def qimage_from_rgba(rgba: np.ndarray) -> QImage:
    """(H, W, 4) uint8 straight-alpha RGBA → QImage (Format_RGBA8888, own copy)."""
    rgba = np.ascontiguousarray(rgba, np.uint8)
    h, w = rgba.shape[:2]
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def qimage_from_premultiplied(rgba: np.ndarray) -> QImage:
    """(H, W, 4) uint8 premultiplied RGBA → QImage (Format_RGBA8888_Premultiplied, own copy)."""
    rgba = np.ascontiguousarray(rgba, np.uint8)
    h, w = rgba.shape[:2]
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888_Premultiplied).copy()


def qimage_from_mask(mask: np.ndarray, rgba: tuple[int, int, int, int]) -> QImage:
    """(H, W) 0/255 mask → a QImage painted ``rgba`` where the mask is set, transparent elsewhere."""
    h, w = mask.shape
    out = np.zeros((h, w, 4), np.uint8)
    out[mask > 0] = rgba
    return qimage_from_rgba(out)


def rgb_from_qimage(image: QImage) -> np.ndarray:
    """QImage (any format) → (H, W, 3) uint8 RGB, alpha composited on white."""
    converted = image.convertToFormat(QImage.Format.Format_RGBA8888)
    w, h = converted.width(), converted.height()
    data = np.frombuffer(converted.constBits(), np.uint8, count=converted.sizeInBytes())
    rgba = data.reshape(h, converted.bytesPerLine())[:, : 4 * w].reshape(h, w, 4)
    return paper_from_rgba(rgba)


def pixmap_from_rgba(rgba: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(qimage_from_rgba(rgba))
