"""An amber strip over the canvas that asks the user to check the joints the automatic annotation was unsure of."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from studio.core.annotate import joints_to_name
from studio.core.document import Document


def _listed(names: list[str]) -> str:
    words = [n.replace("_", " ") for n in names]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


class JointCheck(QWidget):
    """Shown while some unsure joint is still where the annotation put it; hides itself once each is moved or
    confirmed."""

    def __init__(self, doc: Document) -> None:
        super().__init__()
        self.doc = doc
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.confirm = QPushButton("Looks right")
        self.confirm.setToolTip("Stop flagging these joints")
        self.confirm.clicked.connect(lambda: self.doc.confirm_joints())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.confirm)
        self.setObjectName("JointCheck")
        self.setStyleSheet("#JointCheck { background: #fff3d6; border: 1px solid #f5a000; border-radius: 4px }"
                           "QLabel { color: #5a3a00 }")
        self.setVisible(False)
        doc.changed.connect(self._on_changed)
        self.refresh()

    def set_document(self, doc: Document) -> None:
        self.doc.changed.disconnect(self._on_changed)
        self.doc = doc
        doc.changed.connect(self._on_changed)
        self.refresh()

    def _on_changed(self, aspect: str) -> None:
        if aspect == "joints":
            self.refresh()

    def refresh(self) -> None:
        skeleton = self.doc.skeleton
        unsure = [] if skeleton is None else joints_to_name([skeleton.names[i] for i in self.doc.unsure_joints()])
        if unsure:
            them = "them" if len(unsure) > 1 else "it"
            self.label.setText(f"The automatic annotation is unsure of the {_listed(unsure)} (ringed in amber): "
                               f"drag {them} into place with the Joints tool (J), or confirm {them}.")
        self.setVisible(bool(unsure))
