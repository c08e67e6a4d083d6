"""The clip plot: bone angles of the main limbs over time, with a cursor at the current frame."""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QGraphicsItem, QLabel, QVBoxLayout, QWidget

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
import pyqtgraph as pg  # noqa: E402  (after PySide6, so pyqtgraph binds to it)

from studio.core.render import Animation  # noqa: E402

LIMBS = ("elbow", "hand", "knee", "foot")  # plotted when a joint's name holds one of these, in this order
COLOURS = {"elbow": (37, 99, 235), "hand": (22, 163, 74), "knee": (234, 88, 12), "foot": (190, 24, 93)}
OTHER = (100, 100, 110)
DOTS_UP_TO = 60  # frames: at most this many, each sample is drawn as a dot so resampling shows
INK = (60, 62, 72)
HINT = "Bone angles appear once the drawing is annotated"


def limb_joints(names: tuple[str, ...] | list[str]) -> list[int]:
    """Indices of the elbows, hands, knees and feet among ``names``, grouped by limb (right before left)."""
    found = []
    for limb in LIMBS:
        matches = [j for j, n in enumerate(names) if limb in n.lower()]
        found.extend(sorted(matches, key=lambda j: (0 if "right" in names[j].lower() else 1, names[j])))
    return found


def unwrapped_degrees(angles: np.ndarray) -> np.ndarray:
    """(F,) degrees with ±180° jumps removed; NaN samples stay NaN and do not break the unwrapping."""
    out = np.full(angles.shape, np.nan)
    finite = np.isfinite(angles)
    if finite.any():
        out[finite] = np.degrees(np.unwrap(np.radians(angles[finite])))
    return out


def legend_html(limbs: list[str], dots: bool) -> str:
    """One line: a coloured swatch per limb plotted, and how right, left and samples are drawn."""
    parts = [f'<span style="color:{QColor(*COLOURS.get(k, OTHER)).name()}; font-weight:700">&#9472;&#9472;</span>'
             f"&nbsp;{k}" for k in dict.fromkeys(limbs)]
    key = "solid: right &nbsp;·&nbsp; dashed: left" + (" &nbsp;·&nbsp; dots: frames" if dots else "")
    return "&nbsp;&nbsp;&nbsp;".join(parts) + f'&nbsp;&nbsp;&nbsp;<span style="color:#8a8c96">{key}</span>'


class ClipPlot(QWidget):
    """A light pyqtgraph plot of an Animation's limb bone angles (degrees) against time (seconds).

    ``set_frame`` only moves the cursor line, so it can follow playback at 60 fps. Dragging the cursor
    emits ``frame_picked`` with the nearest frame index.
    """

    frame_picked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._frame_time = 0.0
        self._n_frames = 0
        self._curves: list[pg.PlotDataItem] = []
        self.plot_widget = pg.PlotWidget(background=(255, 255, 255))
        self.plot_widget.setMinimumHeight(160)
        self.plot_item: pg.PlotItem = self.plot_widget.getPlotItem()
        self.plot_item.setMenuEnabled(False)
        self.plot_item.hideButtons()
        self.plot_item.showGrid(x=True, y=True, alpha=0.15)
        small = QFont()
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        for side, label in (("bottom", "time (s)"), ("left", "bone angle (°)")):
            axis = self.plot_item.getAxis(side)
            axis.setPen(pg.mkPen(INK))
            axis.setTextPen(pg.mkPen(INK))
            axis.setTickFont(small)
            axis.setLabel(label, color=QColor(*INK).name())
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # cursor moves repaint no grid
        self.plot_item.getViewBox().setMouseEnabled(x=True, y=False)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.legend.setStyleSheet(f"color: {QColor(*INK).name()}; background: white; padding: 3px;")
        self.cursor_line = pg.InfiniteLine(pos=0.0, angle=90, movable=True,
                                      pen=pg.mkPen((220, 38, 38), width=1.5),
                                      hoverPen=pg.mkPen((220, 38, 38), width=3))
        self.cursor_line.setZValue(10)
        self.cursor_line.sigDragged.connect(self._cursor_dragged)
        self.plot_item.addItem(self.cursor_line, ignoreBounds=True)
        self.hint = pg.TextItem(HINT, color=(120, 122, 132), anchor=(0.5, 0.5))
        self.plot_item.addItem(self.hint, ignoreBounds=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.legend)
        self.set_animation(None)

    @property
    def curves(self) -> list[pg.PlotDataItem]:
        """The plotted limb curves, one per joint with angles."""
        return list(self._curves)

    @property
    def cursor_time(self) -> float:
        """Seconds where the frame cursor stands."""
        return float(self.cursor_line.value())

    def set_animation(self, animation: Animation | None) -> None:
        """Plot ``animation``'s limb angles, or an empty plot with a hint when None."""
        for curve in self._curves:
            self.plot_item.removeItem(curve)
        self._curves = []
        self.legend.clear()
        for side in ("left", "bottom"):
            self.plot_item.getAxis(side).setStyle(showValues=animation is not None)
        if animation is None:
            self._n_frames, self._frame_time = 0, 0.0
            self.cursor_line.hide()
            self.hint.setText(HINT)
            self.hint.show()
            self.plot_item.setLimits(xMin=None, xMax=None)
            self.plot_item.setRange(xRange=(0.0, 1.0), yRange=(-1.0, 1.0), padding=0)
            self.hint.setPos(0.5, 0.0)
            return
        self._n_frames, self._frame_time = animation.n_frames, animation.frame_time
        names = list(animation.character.names)
        times = np.arange(self._n_frames) * self._frame_time
        dots = self._n_frames <= DOTS_UP_TO
        shown: list[str] = []
        for j in limb_joints(names):
            angles = unwrapped_degrees(np.asarray(animation.pose.bone_angle[:, j], float))
            if not np.isfinite(angles).any():
                continue
            limb = next((k for k in LIMBS if k in names[j].lower()), "")
            colour = COLOURS.get(limb, OTHER)
            style = Qt.PenStyle.DashLine if "left" in names[j].lower() else Qt.PenStyle.SolidLine
            shown.append(limb)
            curve = self.plot_item.plot(times, angles, name=names[j].replace("_", " "), connect="finite",
                                        pen=pg.mkPen(colour, width=1.6, style=style),
                                        symbol="o" if dots else None, symbolSize=4,
                                        symbolPen=None, symbolBrush=pg.mkBrush(*colour))
            self._curves.append(curve)
        self.legend.setText(legend_html(shown, dots))
        duration = self._n_frames * self._frame_time
        self.hint.setText("" if self._curves else "This character has no elbows, hands, knees or feet to plot")
        self.hint.setPos(duration / 2, 0.0)
        self.cursor_line.show()
        self.cursor_line.setBounds((0.0, max(duration - self._frame_time, 0.0)))
        self.plot_item.setLimits(xMin=0.0, xMax=duration)
        # Fixed ranges: with auto-range on, every cursor move would make the view re-measure all curves.
        self.plot_item.disableAutoRange()
        self.plot_item.setXRange(0.0, duration, padding=0)
        values = np.concatenate([c.yData[np.isfinite(c.yData)] for c in self._curves]) if self._curves else None
        if values is not None and values.size:
            self.plot_item.setYRange(float(values.min()), float(values.max()), padding=0.06)
        self.set_frame(0)

    def set_frame(self, k: int) -> None:
        """Move the cursor to frame ``k``'s time (clamped to the clip); nothing else is redrawn."""
        if self._n_frames:
            self.cursor_line.setValue(min(max(int(k), 0), self._n_frames - 1) * self._frame_time)

    def _cursor_dragged(self) -> None:
        if self._n_frames and self._frame_time > 0:
            k = int(round(self.cursor_time / self._frame_time))
            self.frame_picked.emit(min(max(k, 0), self._n_frames - 1))
