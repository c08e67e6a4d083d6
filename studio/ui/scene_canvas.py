"""The scene canvas: the scene's background and its characters at rest, each where its placement puts it, drawn in
z-order; drag a character to move it, its corner handle or the wheel to scale it. A drag previews live and makes one
edit on release (``SceneEdits.place``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF, QTransform,
                           QWheelEvent)
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.core.render import RenderError, parse_background
from studio.core.scene import Scene
from studio.core.scene_camera import PlaneCamera, placed_camera
from studio.core.scene_commands import Character, clamp_scale, planar_placement
from studio.ui.images import qimage_from_rgb, qimage_from_rgba
from studio.ui.preview_panel import CHECKER

HANDLE = 10  # px, the scale handle's side
WHEEL_STEP = 1.1  # scale factor per wheel notch
MARGIN = 12  # px around the scene in the widget


class SceneEdits(Protocol):
    """What the canvas needs from its controller."""

    def character_of(self, index: int) -> Character | None: ...

    def ad_camera_of(self, index: int, width: int, height: int) -> PlaneCamera | None: ...

    def place(self, index: int, position: tuple[float, float], scale: float) -> None: ...

    def select(self, index: int | None) -> None: ...


@dataclass(frozen=True, eq=False)
class Placed:
    """One character on the canvas: its entry's ``index``, character, and homography (3, 3) from texture px to scene
    px, with the 2D ``position`` and ``scale`` that give it."""

    index: int
    character: Character
    homography: np.ndarray
    position: tuple[float, float]
    scale: float

    def corners(self) -> np.ndarray:
        """(4, 2) scene px of the texture's corners."""
        w, h = self.character.width, self.character.height
        p = self.homography @ np.array([[0, w, w, 0], [0, 0, h, h], [1, 1, 1, 1]], float)
        return (p[:2] / p[2]).T

    def texture_point(self, x: float, y: float) -> tuple[float, float] | None:
        """The texture px under scene px (x, y), or None when it is outside the texture."""
        p = np.linalg.solve(self.homography, np.array([x, y, 1.0]))
        if abs(p[2]) < 1e-12:
            return None
        u, v = p[0] / p[2], p[1] / p[2]
        inside = 0 <= u < self.character.width and 0 <= v < self.character.height
        return (float(u), float(v)) if inside else None

    def covers(self, x: float, y: float, radius: int = 3) -> bool:
        """Whether the figure itself (its mask, within ``radius`` texture px) is under scene px (x, y)."""
        point = self.texture_point(x, y)
        if point is None:
            return False
        u, v = int(point[0]), int(point[1])
        mask = self.character.mask
        return bool(mask[max(0, v - radius):v + radius + 1, max(0, u - radius):u + radius + 1].any())


class SceneCanvas(QWidget):
    """Shows ``scene`` through ``edits``; ``placed`` lists what is drawn, back to front. Signal: painted()."""

    painted = Signal()

    def __init__(self, edits: SceneEdits) -> None:
        super().__init__()
        self.edits = edits
        self.scene: Scene | None = None
        self.selected: int | None = None
        self.placed: list[Placed] = []
        self.message = "Add the current character (Add to scene) or a character folder"
        self._images: dict[int, QImage] = {}  # id(character) → its texture
        self._background: tuple[str, QImage | QColor | None] = ("", None)
        self._drag: tuple[str, Placed, QPointF] | None = None  # ("move" or "scale", at press, press point)
        self._live: dict[int, tuple[tuple[float, float], float]] = {}  # index → (position, scale) while dragging
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    # ------------------------------------------------------------------ state
    def show_scene(self, scene: Scene | None, selected: int | None) -> None:
        self.scene, self.selected = scene, selected
        self._live.clear()
        self._layout()
        self.update()

    def _layout(self) -> None:
        """Place every character the scene shows (those not readable yet, or AD-placed before the first preview,
        are left out)."""
        self.placed = []
        scene = self.scene
        if scene is None:
            return
        width, height = scene.size
        for k in scene.drawing_order():
            entry = scene.characters[k]
            character = self.edits.character_of(k)
            if character is None:
                continue
            if k in self._live:
                position, scale = self._live[k]
            elif entry.position is not None:
                position, scale = entry.position, entry.scale
            else:
                camera = self.edits.ad_camera_of(k, width, height)
                if camera is None:
                    continue
                position, scale = planar_placement(character, camera, width, height)
            camera = placed_camera(character, width, height, position, scale, entry.mirror)
            self.placed.append(Placed(k, character, camera.homography, position, scale))

    # ------------------------------------------------------------------ geometry
    def view(self) -> QTransform:
        """Scene px → widget px: the scene fitted into the widget, centred."""
        if self.scene is None:
            return QTransform()
        width, height = self.scene.size
        s = min((self.width() - 2 * MARGIN) / width, (self.height() - 2 * MARGIN) / height)
        s = max(s, 1e-3)
        return QTransform(s, 0, 0, s, (self.width() - s * width) / 2, (self.height() - s * height) / 2)

    def to_scene(self, point: QPointF) -> QPointF:
        inverse, _ = self.view().inverted()
        return inverse.map(point)

    def widget_point(self, index: int, texture_xy: tuple[float, float]) -> QPointF:
        """Where texture px ``texture_xy`` of character ``index`` is in the widget (tests press there)."""
        item = next(p for p in self.placed if p.index == index)
        p = item.homography @ np.array([texture_xy[0], texture_xy[1], 1.0])
        return self.view().map(QPointF(p[0] / p[2], p[1] / p[2]))

    def handle_rect(self, item: Placed) -> QRectF:
        """The scale handle: a square on the bottom-right corner of the character's bounds, widget px."""
        corners = self.view().map(_polygon(item.corners())).boundingRect()
        return QRectF(corners.right() - HANDLE / 2, corners.bottom() - HANDLE / 2, HANDLE, HANDLE)

    def item_at(self, point: QPointF) -> Placed | None:
        """The front-most character whose figure is under widget ``point``, else the front-most whose texture box
        is."""
        at = self.to_scene(point)
        front = list(reversed(self.placed))
        for test in (lambda p: p.covers(at.x(), at.y()), lambda p: p.texture_point(at.x(), at.y()) is not None):
            for item in front:
                if test(item):
                    return item
        return None

    # ------------------------------------------------------------------ painting
    def _backdrop(self) -> QImage | QColor | None:
        text = self.scene.background if self.scene is not None else ""
        if self._background[0] != text:
            try:
                bg = parse_background(text)
                value: QImage | QColor | None = (qimage_from_rgb(bg.image) if bg.image is not None else
                                                 QColor(*bg.colour) if bg.colour is not None else None)
            except RenderError:
                value = None  # the preview says why
            self._background = (text, value)
        return self._background[1]

    def _image(self, character: Character) -> QImage:
        image = self._images.get(id(character))
        if image is None:
            if len(self._images) > 64:
                self._images.clear()
            image = self._images[id(character)] = qimage_from_rgba(character.texture)
        return image

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(236, 237, 241))
        if self.scene is None:
            painter.setPen(QColor(110, 110, 120))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
            painter.end()
            return
        view = self.view()
        width, height = self.scene.size
        frame = view.mapRect(QRectF(0, 0, width, height))
        backdrop = self._backdrop()
        if isinstance(backdrop, QImage):
            painter.drawImage(frame, backdrop)
        elif isinstance(backdrop, QColor):
            painter.fillRect(frame, backdrop)
        else:
            _checker(painter, frame)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setClipRect(frame)
        for item in self.placed:
            painter.setTransform(_qtransform(item.homography) * view)
            painter.drawImage(0, 0, self._image(item.character))
        painter.resetTransform()
        painter.setClipping(False)
        painter.setPen(QPen(QColor(150, 150, 160), 1))
        painter.drawRect(frame)
        chosen = next((p for p in self.placed if p.index == self.selected), None)
        if chosen is not None:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(QColor(40, 110, 230), 1.5, Qt.PenStyle.DashLine))
            painter.drawPolygon(view.map(_polygon(chosen.corners())))
            painter.setPen(QPen(QColor(40, 110, 230), 1.5))
            painter.setBrush(QColor(255, 255, 255))
            painter.drawRect(self.handle_rect(chosen))
        painter.end()
        self.painted.emit()

    # ------------------------------------------------------------------ gestures
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            return
        point = event.position()
        chosen = next((p for p in self.placed if p.index == self.selected), None)
        if chosen is not None and self.handle_rect(chosen).adjusted(-3, -3, 3, 3).contains(point):
            self._drag = ("scale", chosen, point)
            return
        item = self.item_at(point)
        self.edits.select(None if item is None else item.index)
        self._drag = None if item is None else ("move", item, point)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is None or self.scene is None:
            return
        how, item, start = self._drag
        if how == "move":
            a, b = self.to_scene(start), self.to_scene(event.position())
            width, height = self.scene.size
            position = (item.position[0] + (b.x() - a.x()) / width, item.position[1] + (b.y() - a.y()) / height)
            self._live[item.index] = (position, item.scale)
        else:
            width, height = self.scene.size
            root = self.view().map(QPointF(item.position[0] * width, item.position[1] * height))
            grown = _distance(event.position(), root) / max(1.0, _distance(start, root))
            self._live[item.index] = (item.position, clamp_scale(item.scale * grown))
        self._layout()
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is None:
            return
        _, item, _ = self._drag
        self._drag = None
        live = self._live.pop(item.index, None)
        if live is not None and live != (item.position, item.scale):
            self.edits.place(item.index, *live)
        else:
            self._layout()
            self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        item = self.item_at(event.position()) or next((p for p in self.placed if p.index == self.selected), None)
        steps = event.angleDelta().y() / 120.0
        if item is None or steps == 0 or self._drag is not None:
            return
        self.edits.select(item.index)
        self.edits.place(item.index, item.position, clamp_scale(item.scale * WHEEL_STEP ** steps))
        event.accept()


def _qtransform(h: np.ndarray) -> QTransform:
    """A homography (3, 3) acting on column vectors, as a QTransform (which acts on row vectors)."""
    return QTransform(h[0, 0], h[1, 0], h[2, 0], h[0, 1], h[1, 1], h[2, 1], h[0, 2], h[1, 2], h[2, 2])


def _polygon(points: np.ndarray) -> QPolygonF:
    return QPolygonF([QPointF(float(x), float(y)) for x, y in points])


def _distance(a: QPointF, b: QPointF) -> float:
    return float(np.hypot(a.x() - b.x(), a.y() - b.y()))


def _checker(painter: QPainter, frame: QRectF) -> None:
    painter.fillRect(frame, QColor(255, 255, 255))
    painter.save()
    painter.setClipRect(frame)
    for row in range(int(frame.height() // CHECKER) + 1):
        for col in range(row % 2, int(frame.width() // CHECKER) + 1, 2):
            painter.fillRect(QRectF(frame.left() + col * CHECKER, frame.top() + row * CHECKER, CHECKER, CHECKER),
                             QColor(222, 224, 230))
    painter.restore()
