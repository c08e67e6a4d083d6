"""Render the SVG icon to a square PNG with Qt's SVG renderer, offscreen: `render_icon.py IN.svg OUT.png 256`."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def render_icon(svg: Path, png: Path, size: int) -> None:
    """Draw ``svg`` scaled to ``size`` x ``size`` pixels on a transparent background and save it as ``png``."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"render_icon: error: {svg} is not an SVG image Qt can draw")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    partial = png.with_name(png.stem + ".partial.png")  # renamed into place: a failed save leaves no broken icon
    if not image.save(str(partial)):  # the format follows the name's suffix
        raise SystemExit(f"render_icon: error: could not write {png}")
    os.replace(partial, png)


if __name__ == "__main__":
    if len(sys.argv) != 4 or not sys.argv[3].isdigit():
        raise SystemExit("usage: render_icon.py IN.svg OUT.png SIZE")
    render_icon(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
