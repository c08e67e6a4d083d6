"""The options of the current tool: pen colour, width and opacity; mask brush size and add/erase."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QPushButton, QRadioButton, QSlider, QWidget

from studio.core.gestures import Tool
from studio.ui.canvas import DrawingCanvas

PALETTE = ((40, 40, 60), (220, 50, 47), (38, 139, 210), (60, 160, 70), (250, 200, 40), (255, 140, 0),
           (150, 90, 200), (120, 80, 40), (255, 170, 190), (255, 255, 255))


class ToolOptions(QWidget):
    """A row of controls bound to a canvas; it shows only what the current tool uses."""

    changed = Signal()

    def __init__(self, canvas: DrawingCanvas) -> None:
        super().__init__()
        self.canvas = canvas
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        self.pen_widgets: list[QWidget] = []
        self.swatches = QButtonGroup(self)
        label = QLabel("Colour")
        layout.addWidget(label)
        self.pen_widgets.append(label)
        for i, rgb in enumerate(PALETTE):
            swatch = QPushButton()
            swatch.setCheckable(True)
            swatch.setFixedSize(22, 22)
            swatch.setToolTip(QColor(*rgb).name())
            swatch.setStyleSheet(f"QPushButton {{ background: rgb{rgb}; border: 1px solid #888; border-radius: 3px }}"
                                 "QPushButton:checked { border: 3px solid #1e6fd9 }")
            self.swatches.addButton(swatch, i)
            layout.addWidget(swatch)
            self.pen_widgets.append(swatch)
        self.swatches.button(0).setChecked(True)
        self.swatches.idClicked.connect(self._pick)
        self.width_slider = self._slider(layout, "Width", 1, 60, int(canvas.pen_width), self.pen_widgets,
                                  "Pen and eraser width in drawing pixels")
        self.opacity_slider = self._slider(layout, "Opacity", 10, 100, int(canvas.pen_opacity * 100), self.pen_widgets,
                                    "Pen opacity in percent")
        self.mask_widgets: list[QWidget] = []
        self.brush_slider = self._slider(layout, "Brush", 2, 120, int(canvas.brush_radius), self.mask_widgets,
                                  "Mask brush radius in drawing pixels")
        self.add = QRadioButton("Add")
        self.erase = QRadioButton("Erase")
        self.add.setChecked(True)
        self.add.setToolTip("Paint the figure into the mask (right-drag erases)")
        self.erase.setToolTip("Erase from the mask (right-drag adds)")
        for w in (self.add, self.erase):
            layout.addWidget(w)
            self.mask_widgets.append(w)
            w.toggled.connect(self._apply)
        self.hint = QLabel("")
        self.hint.setStyleSheet("color: #555")
        layout.addWidget(self.hint)
        layout.addStretch(1)
        for slider in (self.width_slider, self.opacity_slider, self.brush_slider):
            slider.valueChanged.connect(self._apply)
        self.show_for(canvas.tool)

    def _slider(self, layout: QHBoxLayout, text: str, lo: int, hi: int, value: int, group: list[QWidget],
                tip: str) -> QSlider:
        label = QLabel(text)
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(lo, hi)
        slider.setValue(value)
        slider.setFixedWidth(110)
        slider.setToolTip(tip)
        layout.addWidget(label)
        layout.addWidget(slider)
        group.extend([label, slider])
        return slider

    def _pick(self, index: int) -> None:
        self.canvas.pen_colour = PALETTE[index]
        self.changed.emit()

    def _apply(self) -> None:
        self.canvas.pen_width = float(self.width_slider.value())
        self.canvas.pen_opacity = self.opacity_slider.value() / 100.0
        self.canvas.brush_radius = float(self.brush_slider.value())
        self.canvas.brush_erases = self.erase.isChecked()
        self.changed.emit()

    def show_for(self, tool: Tool) -> None:
        for w in self.pen_widgets:
            w.setVisible(tool in (Tool.DRAW, Tool.ERASE))
        for w in self.swatches.buttons():
            w.setVisible(tool is Tool.DRAW)
        self.opacity_slider.setVisible(tool is Tool.DRAW)
        for w in self.mask_widgets:
            w.setVisible(tool is Tool.MASK)
        hints = {Tool.BOX: "Drag the box or its handles around the figure; drag outside it for a new box.",
                 Tool.JOINTS: "Drag a joint; the preview follows while you drag. Hover for names."}
        self.hint.setText(hints.get(tool, ""))
