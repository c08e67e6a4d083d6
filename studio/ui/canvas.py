"""The drawing canvas: shows the drawing with its box, mask and skeleton, and turns mouse gestures into edits."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (QColor, QImage, QMouseEvent, QNativeGestureEvent, QPainter, QPainterPath, QPaintEvent, QPen,
                           QWheelEvent)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from studio.core.document import Document
from studio.pipeline.intake.box import HANDLES, MIN_SIDE, clamp_box, move_box, resize_box
from studio.pipeline.pose.backend import Box
from studio.pipeline.intake.segment import paint
from studio.pipeline.intake.strokes import Stroke
from studio.ui.canvas_overlays import paint_box, paint_skeleton
from studio.ui.images import qimage_from_mask, qimage_from_rgb
from studio.ui.viewport import Viewport

TOOLS = ("draw", "erase", "box", "mask", "joints")
HANDLE_PX = 7.0  # half-size of a box handle, screen px
JOINT_PICK_PX = 14.0  # how near the pointer must be to grab a joint, screen px
ZOOM_STEP = 1.25  # per wheel notch or Zoom in/out
SMALL_FIGURE = 0.25  # a figure whose box covers less of the drawing than this is zoomed to


class CanvasEdits(Protocol):
    """What the canvas asks of its owner when a gesture ends (each call is one undoable command)."""

    def add_stroke(self, stroke: Stroke) -> None: ...

    def set_box(self, box: Box) -> None: ...

    def set_mask(self, mask: np.ndarray) -> None: ...

    def set_joints(self, before: np.ndarray, after: np.ndarray, index: int) -> None: ...

    def preview_joints(self, joints: np.ndarray) -> None: ...


def _centred(x: float, y: float) -> tuple[float, float]:
    """Canvas image coordinates (pixel i spans [i, i+1)) → pixel-centre coordinates (pixel i is at i)."""
    return x - 0.5, y - 0.5


class DrawingCanvas(QWidget):
    """Draw, or fix the box, the mask and the joints over one canvas. ``tool`` picks what a drag does.

    A mouse wheel zooms about the pointer and a middle-button drag pans a zoomed view; on a touchpad, two fingers
    pan and a pinch (or Ctrl with two fingers) zooms. zoom_in/zoom_out/fit/zoom_to_figure back the View menu."""

    hovered_joint = Signal(str)

    def __init__(self, doc: Document, edits: CanvasEdits) -> None:
        super().__init__()
        self.doc, self.edits = doc, edits
        self.tool = "joints"
        self.pen_colour: tuple[int, int, int] = (40, 40, 60)
        self.pen_width, self.pen_opacity = 6.0, 1.0
        self.brush_radius, self.brush_erases = 12.0, False
        self._image: QImage | None = None
        self._mask_image: QImage | None = None
        self._stroke: list[tuple[float, float]] = []
        self._live_box: Box | None = None
        self._live_mask: np.ndarray | None = None
        self._live_joints: np.ndarray | None = None
        self._grab: tuple[str, object] | None = None  # what the current drag holds
        self._start: tuple[float, float] = (0.0, 0.0)
        self._brush_at: tuple[float, float] = (0.0, 0.0)
        self._pointer: QPointF | None = None
        self.viewport = Viewport()
        self._pan_from: QPointF | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(320, 320)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.set_document(doc)

    # ------------------------------------------------------------------ document binding
    def set_document(self, doc: Document) -> None:
        self.doc.changed.disconnect(self._on_changed)
        self.doc = doc
        doc.changed.connect(self._on_changed)
        self._image = self._mask_image = None
        self._pan_from = self._grab = None  # a gesture on the old document ends with it
        self._live_box = self._live_mask = self._live_joints = None
        self._stroke = []
        self.viewport.fit()
        self.update()

    def _on_changed(self, aspect: str) -> None:
        if aspect == "drawing":
            self._image = None
        if aspect == "mask":
            self._mask_image = None
        self.update()

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        self.tool = tool
        cursor = Qt.CursorShape.CrossCursor if tool in ("draw", "erase", "mask") else Qt.CursorShape.ArrowCursor
        self.setCursor(cursor)
        self.update()

    # ------------------------------------------------------------------ view transform
    def _view(self) -> tuple[float, float, float]:
        """scale, x offset, y offset mapping image px to widget px (the viewport: fitted, or zoomed)."""
        return self.viewport.transform(self._sizes()[0], self._sizes()[1])

    def _sizes(self) -> tuple[tuple[float, float], tuple[float, float]]:
        w, h = self.doc.size
        return (float(self.width()), float(self.height())), (float(w), float(h))

    def zoom_in(self) -> None:
        self._zoom(ZOOM_STEP, QPointF(self.width() / 2, self.height() / 2))

    def zoom_out(self) -> None:
        self._zoom(1 / ZOOM_STEP, QPointF(self.width() / 2, self.height() / 2))

    def fit(self) -> None:
        """Show the whole drawing."""
        self.viewport.fit()
        self.update()

    def zoom_to_figure(self, only_if_small: bool = False) -> None:
        """Zoom so the figure's box fills the canvas. With ``only_if_small`` (after an annotation), only while the view is
        fitted and the box covers little of the drawing: a small figure photographed on a big sheet."""
        box = self.doc.box
        if box is None:
            return
        w, h = self.doc.size
        small = (box[2] - box[0]) * (box[3] - box[1]) < SMALL_FIGURE * w * h
        if only_if_small and (not small or self.viewport.zoom != 1.0):
            return
        self.viewport.frame(box, *self._sizes())
        self.update()

    def _zoom(self, factor: float, anchor: QPointF) -> None:
        self.viewport.zoom_at(factor, (anchor.x(), anchor.y()), *self._sizes())
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt's name)
        pixels = event.pixelDelta()  # only touchpads (and other smooth scrollers) report it
        if not pixels.isNull() and not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.viewport.pan(pixels.x(), pixels.y(), *self._sizes())
            self.update()
        elif notches := event.angleDelta().y() / 120:
            self._zoom(ZOOM_STEP ** notches, event.position())
        event.accept()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.NativeGesture and isinstance(event, QNativeGestureEvent):
            if event.gestureType() == Qt.NativeGestureType.ZoomNativeGesture:  # a pinch (macOS, Wayland)
                self._zoom(1.0 + event.value(), event.position())
                return True
        return super().event(event)

    def to_image(self, point: QPointF) -> tuple[float, float]:
        scale, ox, oy = self._view()
        return (point.x() - ox) / scale, (point.y() - oy) / scale

    def to_widget(self, x: float, y: float) -> QPointF:
        scale, ox, oy = self._view()
        return QPointF(x * scale + ox, y * scale + oy)

    # ------------------------------------------------------------------ painting
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(228, 230, 235))
        scale, ox, oy = self._view()
        w, h = self.doc.size
        target = QRectF(ox, oy, w * scale, h * scale)
        if self._image is None:
            self._image = qimage_from_rgb(self.doc.image)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(target, self._image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_mask(painter, target)
        self._paint_stroke(painter, scale)
        self._paint_box(painter)
        self._paint_skeleton(painter)
        if self.tool == "mask" and self._pointer is not None:
            painter.setPen(QPen(QColor(20, 20, 20, 180), 1, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(self._pointer, self.brush_radius * scale, self.brush_radius * scale)
        painter.end()

    def _paint_mask(self, painter: QPainter, target: QRectF) -> None:
        mask = self._live_mask if self._live_mask is not None else self.doc.mask
        if mask is None or self.tool not in ("mask", "box"):
            return
        if self._live_mask is not None or self._mask_image is None:
            self._mask_image = qimage_from_mask(mask, (255, 80, 160, 110))
        painter.drawImage(target, self._mask_image)

    def _paint_stroke(self, painter: QPainter, scale: float) -> None:
        if len(self._stroke) < 1 or self.tool not in ("draw", "erase"):
            return
        colour = QColor(255, 255, 255) if self.tool == "erase" else QColor(*self.pen_colour)
        colour.setAlphaF(self.pen_opacity if self.tool == "draw" else 1.0)
        pen = QPen(colour, max(1.0, self.pen_width * scale), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                   Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        path = QPainterPath(self.to_widget(*self._stroke[0]))
        for x, y in self._stroke[1:]:
            path.lineTo(self.to_widget(x, y))
        painter.drawPath(path)

    def _paint_box(self, painter: QPainter) -> None:
        box = self._live_box or self.doc.box
        if box is not None and self.tool not in ("draw", "erase"):
            active = self.tool == "box"
            paint_box(painter, self.to_widget(box[0], box[1]), self.to_widget(box[2], box[3]),
                      list(self._handle_points(box).values()) if active else [], HANDLE_PX)

    def _paint_skeleton(self, painter: QPainter) -> None:
        skeleton = self.doc.skeleton
        if skeleton is None or self.tool in ("draw", "erase"):
            return
        joints = self._live_joints if self._live_joints is not None else skeleton.joints
        paint_skeleton(painter, skeleton.names, skeleton.parents, [self.to_widget(x, y) for x, y in joints],
                       self.doc.unsure_joints(), self.tool == "joints")

    # ------------------------------------------------------------------ hit tests
    def _handle_points(self, box: Box) -> dict[str, QPointF]:
        left, top, right, bottom = box
        cx, cy = (left + right) / 2, (top + bottom) / 2
        spots = {"left": (left, cy), "top": (cx, top), "right": (right, cy), "bottom": (cx, bottom),
                 "top_left": (left, top), "top_right": (right, top), "bottom_left": (left, bottom),
                 "bottom_right": (right, bottom)}
        return {name: self.to_widget(*spots[name]) for name in HANDLES}

    def joint_at(self, point: QPointF) -> int | None:
        skeleton = self.doc.skeleton
        if skeleton is None:
            return None
        screen = np.array([[p.x(), p.y()] for p in (self.to_widget(x, y) for x, y in skeleton.joints)])
        distance = np.hypot(*(screen - [point.x(), point.y()]).T)
        best = int(np.argmin(distance))
        return best if distance[best] <= JOINT_PICK_PX else None

    def _box_grab(self, point: QPointF) -> str | None:
        box = self.doc.box
        if box is None:
            return None
        for name, spot in self._handle_points(box).items():
            if abs(spot.x() - point.x()) <= HANDLE_PX + 2 and abs(spot.y() - point.y()) <= HANDLE_PX + 2:
                return name
        x, y = self.to_image(point)
        return "move" if box[0] <= x <= box[2] and box[1] <= y <= box[3] else None

    # ------------------------------------------------------------------ gestures
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            return  # other buttons do nothing while panning
        if event.button() == Qt.MouseButton.MiddleButton and self._grab is None:  # pan, whatever the tool
            self._pan_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if event.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return
        point = event.position()
        x, y = self.to_image(point)
        self._start = (x, y)
        if self.tool in ("draw", "erase"):
            self._stroke = [(x, y)]
            self._grab = ("stroke", None)
        elif self.tool == "box":
            handle = self._box_grab(point)
            if handle is not None and self.doc.box is not None:
                self._grab, self._live_box = ("box", handle), self.doc.box
            else:  # outside any box: drag out a new one
                self._grab, self._live_box = ("box", "new"), None
        elif self.tool == "mask" and self.doc.mask is not None:
            erase = self.brush_erases != (event.button() == Qt.MouseButton.RightButton)
            self._live_mask = paint(self.doc.mask, _centred(x, y), self.brush_radius, erase=erase)
            self._brush_at = (x, y)
            self._grab = ("mask", erase)
        elif self.tool == "joints":
            joint = self.joint_at(point)
            if joint is not None and self.doc.skeleton is not None:
                self._grab, self._live_joints = ("joint", joint), self.doc.skeleton.joints.copy()
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        point = event.position()
        self._pointer = point
        if self._pan_from is not None and not event.buttons() & Qt.MouseButton.MiddleButton:
            self._end_pan()  # its release went elsewhere
        if self._pan_from is not None:
            delta = point - self._pan_from
            self._pan_from = point
            self.viewport.pan(delta.x(), delta.y(), *self._sizes())
            self.update()
            return
        x, y = self.to_image(point)
        grab = self._grab
        if grab is None:
            self._hover(point)
        elif grab[0] == "stroke":
            self._stroke.append((x, y))
        elif grab == ("box", "new"):
            w, h = self.doc.size
            if min(abs(x - self._start[0]), abs(y - self._start[1])) >= MIN_SIDE:  # a click is not a box
                self._live_box = clamp_box((*self._start, x, y), w, h)
        elif grab[0] == "box" and self._live_box is not None and self.doc.box is not None:
            w, h = self.doc.size
            if grab[1] == "move":
                self._live_box = move_box(self.doc.box, x - self._start[0], y - self._start[1], w, h)
            else:
                self._live_box = resize_box(self.doc.box, str(grab[1]), x, y, w, h)
        elif grab[0] == "mask" and self._live_mask is not None:
            # Dabs every half radius along the way, so a fast stroke leaves no gaps.
            x0, y0 = self._brush_at
            steps = max(1, int(np.hypot(x - x0, y - y0) / max(1.0, self.brush_radius / 2)))
            for t in np.linspace(1.0 / steps, 1.0, steps):
                self._live_mask = paint(self._live_mask, _centred(x0 + (x - x0) * t, y0 + (y - y0) * t),
                                        self.brush_radius, erase=bool(grab[1]))
            self._brush_at = (x, y)
        elif grab[0] == "joint" and self._live_joints is not None:
            w, h = self.doc.size
            self._live_joints[int(grab[1])] = (min(max(x, 0.0), w - 1.0), min(max(y, 0.0), h - 1.0))  # type: ignore[call-overload]
            self.edits.preview_joints(self._live_joints.copy())
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            if event.button() == Qt.MouseButton.MiddleButton:
                self._end_pan()
            return
        grab, self._grab = self._grab, None
        if grab is None:
            return
        if grab[0] == "stroke" and self._stroke:
            colour = (255, 255, 255) if self.tool == "erase" else self.pen_colour
            self.edits.add_stroke(Stroke(tuple(self._stroke), colour, self.pen_width,
                                         self.pen_opacity if self.tool == "draw" else 1.0, self.tool == "erase"))
            self._stroke = []
        elif grab[0] == "box" and self._live_box is not None:
            box, self._live_box = self._live_box, None
            if box != self.doc.box:
                self.edits.set_box(box)
        elif grab[0] == "mask" and self._live_mask is not None:
            mask, self._live_mask = self._live_mask, None
            self.edits.set_mask(mask)
        elif grab[0] == "joint" and self._live_joints is not None and self.doc.skeleton is not None:
            joints, self._live_joints = self._live_joints, None
            if not np.array_equal(joints, self.doc.skeleton.joints):
                self.edits.set_joints(self.doc.skeleton.joints.copy(), joints, int(grab[1]))  # type: ignore[call-overload]
        self.update()

    def _end_pan(self) -> None:
        self._pan_from = None
        self.set_tool(self.tool)  # the tool's own cursor again

    def leaveEvent(self, event: object) -> None:  # noqa: N802
        self._pointer = None
        self.update()

    def _hover(self, point: QPointF) -> None:
        if self.tool == "joints" and self.doc.skeleton is not None:
            joint = self.joint_at(point)
            name = "" if joint is None else self.doc.skeleton.names[joint]
            self.setCursor(Qt.CursorShape.OpenHandCursor if joint is not None else Qt.CursorShape.ArrowCursor)
            if name:
                unsure = joint in self.doc.unsure_joints()
                note = " (the automatic annotation was unsure: drag it into place)" if unsure else ""
                tip = name.replace("_", " ") + note
                QToolTip.showText(self.mapToGlobal(point.toPoint()), tip, self)
            else:
                QToolTip.hideText()
            self.hovered_joint.emit(name)
        elif self.tool == "box":
            handle = self._box_grab(point)
            shapes = {"left": Qt.CursorShape.SizeHorCursor, "right": Qt.CursorShape.SizeHorCursor,
                      "top": Qt.CursorShape.SizeVerCursor, "bottom": Qt.CursorShape.SizeVerCursor,
                      "top_left": Qt.CursorShape.SizeFDiagCursor, "bottom_right": Qt.CursorShape.SizeFDiagCursor,
                      "top_right": Qt.CursorShape.SizeBDiagCursor, "bottom_left": Qt.CursorShape.SizeBDiagCursor,
                      "move": Qt.CursorShape.SizeAllCursor}
            self.setCursor(shapes.get(handle or "", Qt.CursorShape.CrossCursor))  # outside: drag out a new box
