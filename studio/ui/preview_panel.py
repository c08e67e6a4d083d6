"""The live preview: the animated character with play/pause, scrub, loop, speed, frame-count and resolution."""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider, QSpinBox,
                               QStyle, QVBoxLayout, QWidget)

from studio.core.render import Animation
from studio.ui.images import qimage_from_premultiplied

SIZES = (256, 384, 512, 768, 1024)
SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0)
CHECKER = 12  # px of the transparency checkerboard


class FrameView(QWidget):
    """Paints one rendered frame, scaled to fit, over a checkerboard (transparent areas show as such)."""

    def __init__(self) -> None:
        super().__init__()
        self.image: QImage | None = None
        self.message = "No preview yet"
        self.painted = 0  # frames painted so far (the benchmark reads it)
        tile = QPixmap(2 * CHECKER, 2 * CHECKER)
        tile.fill(QColor(255, 255, 255))
        tiles = QPainter(tile)
        tiles.fillRect(0, 0, CHECKER, CHECKER, QColor(222, 224, 230))
        tiles.fillRect(CHECKER, CHECKER, CHECKER, CHECKER, QColor(222, 224, 230))
        tiles.end()
        self._checker = QBrush(tile)
        self.setMinimumSize(240, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(250, 250, 252))
        if self.image is None:
            painter.setPen(QColor(110, 110, 120))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
            painter.end()
            return
        side = min(self.width(), self.height()) - 8
        scale = side / max(self.image.width(), self.image.height())
        w, h = self.image.width() * scale, self.image.height() * scale
        target = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        painter.setBrushOrigin(target.topLeft())
        painter.fillRect(target, self._checker)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale != 1.0)
        painter.drawImage(target, self.image)
        painter.end()
        self.painted += 1


class PreviewPanel(QWidget):
    """Plays an Animation in real time. Signals: frames_changed(int, 0 = the clip's own count),
    size_changed(int), frame_shown(int)."""

    frames_changed = Signal(int)
    size_changed = Signal(int)
    frame_shown = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.animation: Animation | None = None
        self.frame = 0
        self.speed = 1.0
        self._clock = time.perf_counter()
        self._t0 = 0.0  # clip time at _clock
        self.view = FrameView()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)

        style = self.style()
        self.play = QPushButton()
        self.play.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause))
        self.play.setToolTip("Play or pause (Space)")
        self.play.setShortcut(Qt.Key.Key_Space)
        self.play.clicked.connect(self.toggle)
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setToolTip("Scrub through the clip")
        self.scrub.valueChanged.connect(self._scrubbed)
        self.loop = QCheckBox("Loop")
        self.loop.setChecked(True)
        self.loop.setToolTip("Play the clip over and over")
        self.speed_box = QComboBox()
        for s in SPEEDS:
            self.speed_box.addItem(f"{s:g}×", s)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.setToolTip("Playback speed (the export keeps the clip's real speed)")
        self.speed_box.currentIndexChanged.connect(lambda i: self.set_speed(SPEEDS[i]))
        self.frames_box = QSpinBox()
        self.frames_box.setRange(0, 2000)
        self.frames_box.setSpecialValueText("clip's own")
        self.frames_box.setSuffix(" frames")
        self.frames_box.setToolTip("Frame count: resample the clip to this many frames, keeping its duration")
        self.frames_box.setKeyboardTracking(False)
        self.frames_box.valueChanged.connect(self.frames_changed.emit)
        self.size_box = QComboBox()
        for s in SIZES:
            self.size_box.addItem(f"{s}×{s}", s)
        self.size_box.setCurrentIndex(SIZES.index(512))
        self.size_box.setToolTip("Resolution of the preview and of the export")
        self.size_box.currentIndexChanged.connect(lambda i: self.size_changed.emit(SIZES[i]))
        self.time_label = QLabel("0.00 s")
        self.time_label.setMinimumWidth(110)
        self.estimate = QLabel("")
        self.estimate.setToolTip("Estimated export time and GIF size at this frame count and resolution")

        transport = QHBoxLayout()
        w: QWidget
        for w in (self.play, self.scrub, self.time_label, self.loop):
            transport.addWidget(w)
        controls = QHBoxLayout()
        for w in (QLabel("Speed"), self.speed_box, QLabel("Frames"), self.frames_box, QLabel("Size"), self.size_box):
            controls.addWidget(w)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view, 1)
        layout.addLayout(transport)
        layout.addLayout(controls)
        layout.addWidget(self.estimate)
        for w in (self.play, self.scrub):  # until there is an animation
            w.setEnabled(False)

    # ------------------------------------------------------------------ state
    def set_animation(self, animation: Animation | None, message: str = "") -> None:
        """Show ``animation`` (None: show ``message`` instead), keeping the playhead's place in the clip."""
        fraction = self.frame / max(1, self.animation.n_frames) if self.animation is not None else 0.0
        self.animation = animation
        for w in (self.play, self.scrub):  # nothing to play or scrub; playing or paused is kept for the next one
            w.setEnabled(animation is not None)
        if animation is None:
            self.timer.stop()
            self.view.image = None
            self.view.message = message[:1].upper() + message[1:] if message else "No preview"
            self.view.update()
            self.time_label.setText("–")
            return
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, animation.n_frames - 1)
        self.scrub.blockSignals(False)
        self.show_frame(min(animation.n_frames - 1, int(fraction * animation.n_frames)))
        self._restart_clock()
        if self.playing:
            self.timer.start(max(1, int(animation.frame_time * 1000 / self.speed / 2)))

    @property
    def playing(self) -> bool:
        return self.play.property("playing") is not False

    def set_playing(self, playing: bool) -> None:
        self.play.setProperty("playing", playing)
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play.setIcon(self.style().standardIcon(icon))
        if playing and self.animation is not None:
            self._restart_clock()
            self.timer.start(max(1, int(self.animation.frame_time * 1000 / self.speed / 2)))
        else:
            self.timer.stop()

    def toggle(self) -> None:
        self.set_playing(not self.playing)

    def set_speed(self, speed: float) -> None:
        self.speed = speed
        self._restart_clock()
        if self.playing and self.animation is not None:
            self.timer.start(max(1, int(self.animation.frame_time * 1000 / self.speed / 2)))

    def set_controls(self, frames: int | None, size: int) -> None:
        """Show the document's frame count and size without emitting."""
        for box, value in ((self.frames_box, frames or 0), (self.size_box, SIZES.index(size) if size in SIZES else 2)):
            box.blockSignals(True)
            if isinstance(box, QSpinBox):
                box.setValue(value)
            else:
                box.setCurrentIndex(value)
            box.blockSignals(False)

    # ------------------------------------------------------------------ playback
    def _restart_clock(self) -> None:
        self._clock = time.perf_counter()
        self._t0 = self.frame * (self.animation.frame_time if self.animation else 0.0)

    def _tick(self) -> None:
        animation = self.animation
        if animation is None:
            return
        elapsed = (time.perf_counter() - self._clock) * self.speed
        k = int((self._t0 + elapsed) / animation.frame_time)
        if k >= animation.n_frames:
            if not self.loop.isChecked():
                self.show_frame(animation.n_frames - 1)
                self.set_playing(False)
                return
            k %= animation.n_frames
        if k != self.frame or self.view.image is None:
            self.show_frame(k)

    def _scrubbed(self, k: int) -> None:
        if self.animation is not None and k != self.frame:
            self.show_frame(k)
            self._restart_clock()

    def show_frame(self, k: int) -> None:
        animation = self.animation
        if animation is None:
            return
        self.frame = k
        self.view.image = qimage_from_premultiplied(animation.render_premultiplied(k))
        self.view.update()
        self.scrub.blockSignals(True)
        self.scrub.setValue(k)
        self.scrub.blockSignals(False)
        self.time_label.setText(f"{k * animation.frame_time:.2f} / {animation.n_frames * animation.frame_time:.2f} s")
        self.frame_shown.emit(k)
