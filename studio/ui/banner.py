"""An inline message strip for errors with what to do next: never a modal box for an expected problem."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget


class Banner(QWidget):
    """An inline error with what to do next, dismissable; never a modal box for an expected problem."""

    def __init__(self) -> None:
        super().__init__()
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("×")
        close.setFlat(True)
        close.setFixedWidth(24)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)  # the × beside the text, at its top right, not on a line of its own
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.setStyleSheet("Banner { background: #fde8e6; border: 1px solid #e0a09a; border-radius: 4px }"
                           "QLabel { color: #7a1b12 }")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text[:1].upper() + text[1:])  # messages from the core start lower case, like a CLI's
        self.show()
