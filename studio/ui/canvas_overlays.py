"""How the drawing canvas draws the figure's box and skeleton over the drawing, in widget coordinates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

UNSURE_COLOUR = QColor(245, 160, 0)  # rings round the joints the automatic annotation was unsure of
SIDE_COLOURS = {"left": QColor(40, 110, 230), "right": QColor(225, 60, 50), "": QColor(30, 160, 80)}


def side(name: str) -> str:
    return "left" if name.startswith("left") else "right" if name.startswith("right") else ""


def paint_box(painter: QPainter, top_left: QPointF, bottom_right: QPointF, handles: Sequence[QPointF],
              handle_px: float) -> None:
    """The box, dashed: orange with its handles while the Box tool is on (``handles`` given), else grey."""
    active = bool(handles)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(QColor(255, 150, 0) if active else QColor(120, 120, 120), 2 if active else 1,
                        Qt.PenStyle.DashLine))
    painter.drawRect(QRectF(top_left, bottom_right))
    painter.setPen(QPen(QColor(120, 70, 0), 1))
    painter.setBrush(QColor(255, 190, 60))
    for point in handles:
        painter.drawRect(QRectF(point.x() - handle_px, point.y() - handle_px, 2 * handle_px, 2 * handle_px))


def paint_skeleton(painter: QPainter, names: Sequence[str], parents: Sequence[int], points: Sequence[QPointF],
                   unsure: Iterable[int], active: bool) -> None:
    """Bones and joints coloured by side (larger while the Joints tool is on), an amber ring round each unsure
    joint (the annotation's guesses nobody has checked)."""
    for j, p in enumerate(parents):
        if p >= 0:
            painter.setPen(QPen(SIDE_COLOURS[side(names[j])], 3 if active else 2))
            painter.drawLine(points[p], points[j])
    radius = 6.0 if active else 3.5
    painter.setBrush(Qt.BrushStyle.NoBrush)
    for i in unsure:
        painter.setPen(QPen(UNSURE_COLOUR, 2.5, Qt.PenStyle.DashLine))
        painter.drawEllipse(points[i], radius + 6, radius + 6)
    for name, point in zip(names, points):
        painter.setPen(QPen(QColor(255, 255, 255), 1.5))
        painter.setBrush(SIDE_COLOURS[side(name)])
        painter.drawEllipse(point, radius, radius)
