"""Export and share: one-click GIF (or MP4, PNG frames, transparent WebM, APNG, a sprite sheet), export all motions,
S3 share, with progress and cancel; of the drawing's motion, or of the whole scene when the scene is shown."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QColorDialog, QComboBox, QFileDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from studio.core.document import ExportSettings
from studio.core.export_jobs import (EXPORT_FORMATS, SUFFIX, ExportCancelled, export_all, export_motion,
                                     export_scene_file, output_files)
from studio.core.scene import PROJECT, Scene
from studio.core.motion_source import bundled_motions
from studio.core.workspace import JobKind
from studio.ui.controller import StudioController
from studio.ui.worker import Job

KINDS = tuple((f.label, kind) for kind, f in EXPORT_FORMATS.items())


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "drawing"


class ExportPanel(QWidget):
    """Signals: exported(path), shared(dict of name → URL)."""

    exported = Signal(str)
    shared = Signal(dict)

    def __init__(self, controller: StudioController) -> None:
        super().__init__()
        self.controller = controller
        self.scenes: Any = None  # the window's SceneController: while its scene is shown, exports take the scene
        self.job: Job | None = None
        self.last_outputs: list[Path] = []
        self.kind = QComboBox()
        for text, kind in KINDS:
            self.kind.addItem(text, kind)
        self.kind.setToolTip("What to write: an animated GIF, an MP4 video, a folder of PNG frames, a WebM video or "
                             "an animated PNG that keep transparency, or a sprite sheet (PNG + JSON frame data for "
                             "game engines; packed: frames trimmed and packed tightly)")
        self.kind.currentIndexChanged.connect(self._settings_changed)
        self.background = QComboBox()
        self.background.addItem("Transparent", "transparent")
        self.background.addItem("White", "white")
        self.background.addItem("Colour…", "pick-colour")
        self.background.addItem("Image…", "pick-image")
        self.background.setToolTip("The background behind the character")
        self.background.activated.connect(self._background_picked)
        self.export_button = QPushButton("Export GIF")
        self.export_button.setDefault(True)
        self.export_button.setToolTip("Export the current motion in one click (Ctrl+E)")
        self.export_button.clicked.connect(lambda: self.export())
        self.all_button = QPushButton("Export all motions…")
        self.all_button.setToolTip("Every bundled motion into one folder, with results.json")
        self.all_button.clicked.connect(lambda: self.export_all())
        self.share_button = QPushButton("Share")
        self.share_button.setToolTip("Export, upload to S3 and copy a link to the clipboard")
        self.share_button.clicked.connect(lambda: self.share())
        self.share_all_button = QPushButton("Share all")
        self.share_all_button.setToolTip("Export every motion, upload them and copy {motion: link} as JSON")
        self.share_all_button.clicked.connect(lambda: self.share(all_motions=True))
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.result.setOpenExternalLinks(True)

        row1 = QHBoxLayout()
        w: QWidget
        for w in (QLabel("Format"), self.kind, QLabel("Background"), self.background):
            row1.addWidget(w)
        row1.addStretch(1)
        row2 = QHBoxLayout()
        for w in (self.export_button, self.all_button, self.share_button, self.share_all_button):
            row2.addWidget(w)
        row3 = QHBoxLayout()
        row3.addWidget(self.progress, 1)
        row3.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        for row in (row1, row2, row3):
            layout.addLayout(row)
        layout.addWidget(self.result)
        self.sync_from_document()

    # ------------------------------------------------------------------ settings
    def sync_from_document(self) -> None:
        export = self.controller.doc.export
        self.kind.blockSignals(True)
        self.kind.setCurrentIndex([k for _, k in KINDS].index(export.kind))
        self.kind.blockSignals(False)
        self._show_background(export.background)
        self._show_mode()

    def scene(self) -> Scene | None:
        """The scene, when it is what the user is looking at (then Export and Share take it), else None."""
        scenes = self.scenes
        return scenes.scene if scenes is not None and scenes.active else None

    def _show_mode(self) -> None:
        scene = self.scenes is not None and self.scenes.active
        short = EXPORT_FORMATS[self.controller.doc.export.kind].short
        self.export_button.setText(f"Export scene {short}" if scene else f"Export {short}")
        self.export_button.setToolTip("Export the whole scene (Ctrl+E)" if scene else
                                      "Export the current motion in one click (Ctrl+E)")
        self.share_button.setToolTip("Export the whole scene, upload it to S3 and copy a link" if scene else
                                     "Export, upload to S3 and copy a link to the clipboard")
        self.background.setEnabled(not scene)  # a scene has its own background (the scene panel picks it)
        for w in (self.all_button, self.share_all_button):  # every motion of one drawing: not a scene's
            w.setEnabled(not scene and (self.job is None or self.job.done.is_set()))

    def _show_background(self, value: str) -> None:
        index = self.background.findData(value)
        if index < 0:
            label = value if value.startswith("#") else Path(value).name
            self.background.insertItem(2, label, value)
            index = 2
        self.background.setCurrentIndex(index)

    def _settings_changed(self) -> None:
        self.controller.doc.set_export(kind=self.kind.currentData())
        self._show_mode()

    def _background_picked(self, index: int) -> None:
        value = self.background.itemData(index)
        if value == "pick-colour":
            colour = QColorDialog.getColor(parent=self, title="Background colour")
            value = colour.name() if colour.isValid() else self.controller.doc.export.background
        elif value == "pick-image":
            path, _ = QFileDialog.getOpenFileName(self, "Background image", "", "Images (*.png *.jpg *.jpeg *.bmp)")
            value = path or self.controller.doc.export.background
        self.controller.doc.set_export(background=value)
        self._show_background(value)

    # ------------------------------------------------------------------ jobs
    def default_output(self, motion: str, folder: Path | None = None) -> Path:
        doc = self.controller.doc
        name = _slug(Path(doc.source).stem if doc.source else "drawing")
        what = "scene" if self.scene() is not None else _slug(Path(motion).stem.removesuffix('.motion'))
        stem = f"{name}-{what}"
        folder = folder or self.controller.settings.export_dir()
        folder.mkdir(parents=True, exist_ok=True)
        kind = doc.export.kind
        candidate = folder / f"{stem}{SUFFIX[kind]}"
        n = 2
        while any(p.exists() for p in output_files(candidate, kind)):  # a sprite sheet's JSON too
            candidate = folder / f"{stem}-{n}{SUFFIX[kind]}"
            n += 1
        return candidate

    def export(self, output: Path | None = None, then: Callable[[Path], object] | None = None) -> Job | None:
        """Export the current motion, or the scene when it is shown, to ``output`` (default: a new file in the export
        folder)."""
        c = self.controller
        if self.busy():
            return None
        if self.scene() is not None:
            return self.export_scene(output, then)
        try:
            character = c.doc.character()
        except ValueError as exc:
            c.failed.emit(str(exc))
            return None
        motion = c.doc.preview.motion
        target = output or self.default_output(motion)
        settings = ExportSettings(c.doc.export.kind, c.doc.export.background, c.doc.preview.size,
                                  c.doc.export.frames or c.doc.preview.frames)

        def work(job: Job) -> Any:
            return export_motion(character, motion, settings, target, None, None, job.progress.emit, job.is_cancelled)

        return self._run(JobKind.EXPORT, work, lambda path: self._exported(Path(path), settings.kind, then),
                         f"Exporting {Path(motion).stem}…")

    def export_scene(self, output: Path | None = None, then: Callable[[Path], object] | None = None) -> Job | None:
        """Export the whole scene (its characters on its background) to ``output``."""
        c = self.controller
        scene = self.scene()
        if scene is None:
            c.failed.emit("The scene is empty: add a character to it before exporting it")
            return None
        own = None
        if any(entry.character == PROJECT for entry in scene.characters):
            try:
                own = c.doc.character()
            except ValueError as exc:
                c.failed.emit(str(exc))
                return None
        target = output or self.default_output("scene")
        settings = ExportSettings(c.doc.export.kind, "transparent", c.doc.preview.size,
                                  c.doc.export.frames or c.doc.preview.frames)

        def work(job: Job) -> Any:
            return export_scene_file(scene, settings, target, own, job.progress.emit, job.is_cancelled)

        return self._run(JobKind.EXPORT, work, lambda path: self._exported(Path(path), settings.kind, then),
                         "Exporting the scene…")

    def _exported(self, path: Path, kind: str, then: Callable[[Path], object] | None) -> None:
        self.last_outputs = output_files(path, kind)
        links = " and ".join(f'<a href="{p.resolve().as_uri()}">{p.name}</a>' for p in self.last_outputs)
        self.result.setText(f"Saved {links} in {path.parent}")
        self.controller.status.emit(f"Exported {path}")
        self.exported.emit(str(path))
        if then is not None:
            then(path)

    def export_all(self, folder: Path | None = None, then: Callable[[dict[str, str], Path], object] | None = None,
                   ) -> Job | None:
        c = self.controller
        if self.busy():
            return None
        if folder is None:
            chosen = QFileDialog.getExistingDirectory(self, "Export all motions into", str(c.settings.export_dir()))
            if not chosen:
                return None
            folder = Path(chosen)
        try:
            character = c.doc.character()
        except ValueError as exc:
            c.failed.emit(str(exc))
            return None
        settings = ExportSettings(c.doc.export.kind, c.doc.export.background, c.doc.preview.size,
                                  c.doc.export.frames or c.doc.preview.frames)
        target = Path(folder)

        def work(job: Job) -> Any:
            return export_all(character, bundled_motions(), settings, target, None, job.progress.emit, job.is_cancelled)

        def done(results: dict[str, str]) -> None:
            self.last_outputs = [p for name in results.values() for p in output_files(target / name, settings.kind)]
            self.result.setText(f"Wrote {len(results)} motions and results.json in {target}")
            c.status.emit(f"Exported {len(results)} motions to {target}")
            if then is not None:
                then(results, target)

        return self._run(JobKind.EXPORT, work, done, "Exporting every motion…")

    def share(self, all_motions: bool = False) -> Job | None:
        """Export (one motion, or all), upload to S3 and copy the link(s) to the clipboard."""
        from studio.core.share import ShareSettings

        cfg = self.controller.settings.share
        if not cfg.bucket:
            self.controller.failed.emit("Sharing needs an S3 bucket: set it in Settings → Share")
            return None
        if self.busy():
            return None
        try:
            share = ShareSettings(endpoint_url=cfg.endpoint_url or None, region=cfg.region, bucket=cfg.bucket,
                                  prefix=cfg.prefix, profile=cfg.profile or None, expires=cfg.expires)
        except ValueError as exc:
            self.controller.failed.emit(f"Share settings: {exc} (Settings → Share)")
            return None
        kind = self.controller.doc.export.kind
        if all_motions:
            folder = self.controller.settings.export_dir() / f"share-{time.strftime('%Y%m%d-%H%M%S')}"
            return self.export_all(folder, then=lambda results, where: self.upload(
                [p for n in results.values() for p in output_files(where / n, kind)], share))
        return self.export(then=lambda path: self.upload(output_files(path, kind), share))  # a sheet's JSON too

    def upload(self, paths: list[Path], share: Any) -> Job | None:
        from studio.core.share import ShareCancelled, share_files

        def work(job: Job) -> Any:
            return share_files(paths, share, job.progress.emit, job.is_cancelled)

        def done(urls: dict[str, str]) -> None:
            text = next(iter(urls.values())) if len(urls) == 1 else _json(urls)
            QGuiApplication.clipboard().setText(text)
            links = " ".join(f'<a href="{u}">{n}</a>' for n, u in urls.items())
            self.result.setText(f"Shared {links}: link{'s' if len(urls) > 1 else ''} copied to the clipboard")
            self.controller.status.emit("Link copied to the clipboard")
            self.shared.emit(urls)

        return self._run(JobKind.SHARE, work, done, "Uploading…", (ShareCancelled,))

    def _run(self, kind: JobKind, work: Callable[[Job], Any], done: Callable[[Any], None], text: str,
             cancel_types: tuple[type[BaseException], ...] = (ExportCancelled,)) -> Job:
        c = self.controller
        job = c.jobs.start(kind, work, cancel_types)
        self.job = job
        self.progress.setValue(0)
        self.progress.setFormat(text + " %p%")
        self._busy(True)

        def progressed(k: int, n: int) -> None:
            self.progress.setMaximum(max(1, n))
            self.progress.setValue(k)

        def finished(result: Any) -> None:
            self._busy(False)
            done(result)

        def failed(message: str) -> None:
            self._busy(False)
            c.failed.emit(f"{text.rstrip('…')} failed: {message}")

        def cancelled() -> None:
            self._busy(False)
            c.status.emit("Cancelled: the file being written was removed" + (
                "; the motions finished before stay in the folder" if "every" in text else ""))

        job.progress.connect(progressed)
        job.finished.connect(finished)
        job.failed.connect(failed)
        job.cancelled.connect(cancelled)
        return job

    def busy(self) -> bool:
        """An export or upload is running: a second one is refused (it would cancel the first)."""
        if self.job is not None and not self.job.done.is_set():
            self.controller.status.emit("An export is already running: wait for it, or cancel it first")
            return True
        return False

    def _busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        for w in (self.export_button, self.all_button, self.share_button, self.share_all_button):
            w.setEnabled(not busy)
        if not busy:
            self._show_mode()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()


def _json(urls: dict[str, str]) -> str:
    import json

    return json.dumps(urls, indent=2)
