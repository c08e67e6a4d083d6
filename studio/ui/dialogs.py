"""Dialogs that ask: settings (annotation backend, S3 share, export folder), About, crash recovery."""

from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                               QLineEdit, QMessageBox, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from studio.core.settings import BACKENDS, AppSettings

BACKEND_LABELS = {"auto": "Automatic (the endpoint when one is set, else the built-in model)",
                  "embedded": "Built-in model (offline, CPU)", "manual": "Manual (a default skeleton to drag)", "torchserve": "TorchServe endpoint (AD's API)",
                  "torch": "Local torch (SimpleBaseline checkpoint)", "mm": "Local mmdet/mmpose (AD's .mar)"}


def _with_browse(edit: QLineEdit, parent: QWidget, title: str, folder: bool = False) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    button = QPushButton("Browse…")

    def browse() -> None:
        if folder:
            path = QFileDialog.getExistingDirectory(parent, title, edit.text())
        else:
            path, _ = QFileDialog.getOpenFileName(parent, title, edit.text(), "Checkpoints (*.pth *.mar);;All (*)")
        if path:
            edit.setText(path)

    button.clicked.connect(browse)
    layout.addWidget(button)
    return row


class SettingsDialog(QDialog):
    """Edits a copy of the settings; ``result_settings()`` gives them after Accept. No secrets are asked for:
    S3 credentials come from boto3's chain, the TorchServe token from $STUDIO_TORCHSERVE_TOKEN."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.backend = QComboBox()
        for name in BACKENDS:
            self.backend.addItem(BACKEND_LABELS[name], name)
        self.backend.setCurrentIndex(BACKENDS.index(settings.backend))
        self.endpoint = QLineEdit(settings.endpoint)
        self.endpoint.setPlaceholderText("http://127.0.0.1:8080")
        self.checkpoint = QLineEdit(settings.checkpoint)
        annotation = QGroupBox("Annotation")
        form = QFormLayout(annotation)
        form.addRow("Backend", self.backend)
        form.addRow("TorchServe URL", self.endpoint)
        form.addRow("Checkpoint", _with_browse(self.checkpoint, self, "Pose checkpoint"))

        s = settings.share
        self.s3_endpoint = QLineEdit(s.endpoint_url)
        self.s3_endpoint.setPlaceholderText("empty for AWS; e.g. http://127.0.0.1:8333 for a local S3")
        self.region = QLineEdit(s.region)
        self.bucket = QLineEdit(s.bucket)
        self.prefix = QLineEdit(s.prefix)
        self.profile = QLineEdit(s.profile)
        self.profile.setPlaceholderText("default credential chain")
        self.expires = QSpinBox()
        self.expires.setRange(1, 7 * 24)
        self.expires.setSuffix(" h")
        self.expires.setValue(max(1, s.expires // 3600))
        share = QGroupBox("Share (S3-compatible storage; credentials come from your AWS setup, never stored here)")
        form2 = QFormLayout(share)
        for label, w in (("Endpoint URL", self.s3_endpoint), ("Region", self.region), ("Bucket", self.bucket),
                         ("Key prefix", self.prefix), ("Profile", self.profile), ("Link expires after", self.expires)):
            form2.addRow(label, w)
        self.export_folder = QLineEdit(str(settings.export_dir()))
        out = QGroupBox("Export")
        form3 = QFormLayout(out)
        form3.addRow("One-click exports go to", _with_browse(self.export_folder, self, "Export folder", folder=True))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for box in (annotation, share, out, buttons):
            layout.addWidget(box)

    def result_settings(self) -> AppSettings:
        s = self.settings
        s.backend = str(self.backend.currentData())
        s.endpoint, s.checkpoint = self.endpoint.text().strip(), self.checkpoint.text().strip()
        sh = s.share
        sh.endpoint_url, sh.region = self.s3_endpoint.text().strip(), self.region.text().strip() or "us-east-1"
        sh.bucket, sh.prefix, sh.profile = self.bucket.text().strip(), self.prefix.text(), self.profile.text().strip()
        sh.expires = self.expires.value() * 3600
        s.export_folder = self.export_folder.text().strip()
        return s


def show_about(parent: QWidget) -> None:
    from studio import __version__

    QMessageBox.about(parent, "About Drawing Studio",
                      f"<h3>Drawing Studio {__version__}</h3>"
                      "<p>Bring a child's drawing of a person to life: find the figure, fix its box, mask and "
                      "skeleton, play motion-capture clips on it live, and export a GIF.</p>"
                      "<p>Reads and writes AnimatedDrawings character folders and configs.</p>")


def ask_recover(parent: QWidget | None, when: str, what: str) -> bool:
    answer = QMessageBox.question(parent, "Recover unsaved work?",
                                  f"Drawing Studio did not close properly last time ({when}).\n\n"
                                  f"Recover the unsaved work on {what}?",
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes
