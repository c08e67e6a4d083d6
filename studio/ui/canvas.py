"""The drawing canvas: shows the drawing with its box, mask and skeleton, and turns mouse gestures into edits."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (QColor, QImage, QMouseEvent, QNativeGestureEvent, QPainter, QPainterPath, QPaintEvent, QPen,
                           QWheelEvent)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from studio.core.document import Document
from studio.core.gestures import (HANDLE_PX, CanvasEdits, Gesture, HitKind, Pen, Pointer, Tool, box_hit,
                                  handle_points, joint_hit, start_gesture)
from studio.ui.canvas_overlays import paint_box, paint_skeleton
from studio.ui.images import qimage_from_mask, qimage_from_rgb
from studio.ui.viewport import Viewport

ZOOM_STEP = 1.25  # per wheel notch or Zoom in/out
SMALL_FIGURE = 0.25  # a figure whose box covers less of the drawing than this is zoomed to
C = Qt.CursorShape
BOX_CURSORS = {"left": C.SizeHorCursor, "right": C.SizeHorCursor, "top": C.SizeVerCursor, "bottom": C.SizeVerCursor,
               "top_left": C.SizeFDiagCursor, "bottom_right": C.SizeFDiagCursor, "top_right": C.SizeBDiagCursor,
               "bottom_left": C.SizeBDiagCursor}


class DrawingCanvas(QWidget):
    """Draw, or fix the box, the mask and the joints over one canvas. ``tool`` picks what a drag does.

    A mouse wheel zooms about the pointer and a middle-button drag pans a zoomed view; on a touchpad, two fingers
    pan and a pinch (or Ctrl with two fingers) zooms. zoom_in/zoom_out/fit/zoom_to_figure back the View menu."""

    hovered_joint = Signal(str)

    def __init__(self, doc: Document, edits: CanvasEdits) -> None:
        super().__init__()
        self.doc, self.edits = doc, edits
        self.tool = Tool.JOINTS
        self.pen_colour: tuple[int, int, int] = (40, 40, 60)
        self.pen_width, self.pen_opacity = 6.0, 1.0
        self.brush_radius, self.brush_erases = 12.0, False
        self._image: QImage | None = None
        self._mask_image: QImage | None = None
        self.gesture: Gesture | None = None  # the drag under way, with what it shows live
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
        self._pan_from = self.gesture = None  # a gesture on the old document ends with it
        self.viewport.fit()
        self.update()

    def _on_changed(self, aspect: str) -> None:
        if aspect == "drawing":
            self._image = None
        if aspect == "mask":
            self._mask_image = None
        self.update()

    def set_tool(self, tool: Tool | str) -> None:
        self.tool = Tool(tool)  # ValueError for an unknown one
        self.setCursor(C.CrossCursor if self.tool in (Tool.DRAW, Tool.ERASE, Tool.MASK) else C.ArrowCursor)
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
        """Zoom so the figure's box fills the canvas. With ``only_if_small`` (after an annotation), only while the
        view is fitted and the box covers little of the drawing: a small figure photographed on a big sheet."""
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
        if self.tool is Tool.MASK and self._pointer is not None:
            painter.setPen(QPen(QColor(20, 20, 20, 180), 1, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(self._pointer, self.brush_radius * scale, self.brush_radius * scale)
        painter.end()

    def _paint_mask(self, painter: QPainter, target: QRectF) -> None:
        live = None if self.gesture is None else self.gesture.live.mask
        mask = live if live is not None else self.doc.mask
        if mask is None or self.tool not in (Tool.MASK, Tool.BOX):
            return
        if live is not None or self._mask_image is None:
            self._mask_image = qimage_from_mask(mask, (255, 80, 160, 110))
        painter.drawImage(target, self._mask_image)

    def _paint_stroke(self, painter: QPainter, scale: float) -> None:
        points = [] if self.gesture is None else self.gesture.live.points
        if not points or self.tool not in (Tool.DRAW, Tool.ERASE):
            return
        colour = QColor(255, 255, 255) if self.tool is Tool.ERASE else QColor(*self.pen_colour)
        colour.setAlphaF(self.pen_opacity if self.tool is Tool.DRAW else 1.0)
        pen = QPen(colour, max(1.0, self.pen_width * scale), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                   Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        path = QPainterPath(self.to_widget(*points[0]))
        for x, y in points[1:]:
            path.lineTo(self.to_widget(x, y))
        painter.drawPath(path)

    def _paint_box(self, painter: QPainter) -> None:
        box = (None if self.gesture is None else self.gesture.live.box) or self.doc.box
        if box is not None and self.tool not in (Tool.DRAW, Tool.ERASE):
            handles = [self.to_widget(x, y) for x, y in handle_points(box).values()] if self.tool is Tool.BOX else []
            paint_box(painter, self.to_widget(box[0], box[1]), self.to_widget(box[2], box[3]), handles, HANDLE_PX)

    def _paint_skeleton(self, painter: QPainter) -> None:
        skeleton = self.doc.skeleton
        if skeleton is None or self.tool in (Tool.DRAW, Tool.ERASE):
            return
        live = None if self.gesture is None else self.gesture.live.joints
        joints = live if live is not None else skeleton.joints
        paint_skeleton(painter, skeleton.names, skeleton.parents, [self.to_widget(x, y) for x, y in joints],
                       self.doc.unsure_joints(), self.tool is Tool.JOINTS)

    # ------------------------------------------------------------------ hit tests
    def joint_at(self, point: QPointF) -> int | None:
        """The joint within pick distance of ``point`` (widget px), or None."""
        skeleton = self.doc.skeleton
        hit = joint_hit(None if skeleton is None else skeleton.joints, *self.to_image(point), self._view()[0])
        return hit.joint if hit.kind is HitKind.JOINT else None

    # ------------------------------------------------------------------ gestures (studio.core.gestures)
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            return  # other buttons do nothing while panning
        if event.button() == Qt.MouseButton.MiddleButton and self.gesture is None:  # pan, whatever the tool
            self._pan_from = event.position()
            self.setCursor(C.ClosedHandCursor)
            return
        if event.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return
        x, y = self.to_image(event.position())
        pen = Pen(self.pen_colour, self.pen_width, self.pen_opacity, self.brush_radius, self.brush_erases)
        at = Pointer(x, y, secondary=event.button() == Qt.MouseButton.RightButton)
        self.gesture = start_gesture(self.tool, self.doc, self.edits, at, self._view()[0], pen)
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
        if self.gesture is None:
            self._hover(point)
        else:
            self.gesture.move(Pointer(*self.to_image(point)))
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            if event.button() == Qt.MouseButton.MiddleButton:
                self._end_pan()
            return
        gesture, self.gesture = self.gesture, None
        if gesture is not None:
            gesture.release()
        self.update()

    def _end_pan(self) -> None:
        self._pan_from = None
        self.set_tool(self.tool)  # the tool's own cursor again

    def leaveEvent(self, event: object) -> None:  # noqa: N802
        self._pointer = None
        self.update()

    def _hover(self, point: QPointF) -> None:
        if self.tool is Tool.JOINTS and self.doc.skeleton is not None:
            joint = self.joint_at(point)
            name = "" if joint is None else self.doc.skeleton.names[joint]
            self.setCursor(C.OpenHandCursor if joint is not None else C.ArrowCursor)
            if name:
                unsure = joint in self.doc.unsure_joints()
                note = " (the automatic annotation was unsure: drag it into place)" if unsure else ""
                tip = name.replace("_", " ") + note
                QToolTip.showText(self.mapToGlobal(point.toPoint()), tip, self)
            else:
                QToolTip.hideText()
            self.hovered_joint.emit(name)
        elif self.tool is Tool.BOX:
            hit = box_hit(self.doc.box, *self.to_image(point), self._view()[0])
            cursor = {HitKind.HANDLE: BOX_CURSORS.get(hit.handle), HitKind.INSIDE: C.SizeAllCursor}.get(hit.kind)
            self.setCursor(cursor or C.CrossCursor)  # outside: drag out a new box
