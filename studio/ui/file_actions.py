"""The window's file actions: open, drop, paste, save, export as, and the unsaved-changes question."""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from studio.core.document import Document
from studio.core.loading import PROJECT_SUFFIX, describe_error, document_from_image, is_expected, open_path
from studio.ui.images import rgb_from_qimage

if TYPE_CHECKING:
    from studio.ui.banner import Banner
    from studio.ui.controller import StudioController
    from studio.ui.export_panel import ExportPanel

IMAGE_FILTER = "Drawings (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff *.studio);;All files (*)"


class FileActions:
    """The file actions of one window: they read and write through the controller, ask with dialogs parented
    to ``window``, and show failures in ``banner``. ``set_tool`` and ``update_title`` are the window's own."""

    def __init__(self, window: QMainWindow, controller: StudioController, banner: Banner, export_panel: ExportPanel,
                 set_tool: Callable[[str], None], update_title: Callable[[], None]) -> None:
        self.window, self.controller, self.banner, self.export_panel = window, controller, banner, export_panel
        self.set_tool, self.update_title = set_tool, update_title

    @property
    def project_path(self) -> Path | None:
        """The .studio file this drawing is saved in (the controller keeps it, for the autosave's sidecar)."""
        return Path(self.controller.project_path) if self.controller.project_path else None

    @project_path.setter
    def project_path(self, path: Path | None) -> None:
        self.controller.project_path = None if path is None else str(path)

    def open_guarded(self, name: str, read: Callable[[], Document],
                     path: str | os.PathLike[str] | None = None) -> Document | None:
        """The one way the window reads a document (open dialog, drop, paste, FILE on the command line, recovery):
        ``read()``'s failure, whatever it is (RecursionError and MemoryError included), becomes the banner
        "Cannot open NAME: why" and the window goes on with what it had. ``path``: the file, left out of the why."""
        try:
            return read()
        except Exception as exc:  # noqa: BLE001 - a file must never crash the window
            self.banner.show_message(f"Cannot open {name}: {_reason(exc, path, name)}")
            return None

    def load(self, path: str | Path) -> bool:
        doc = self.open_guarded(Path(path).name, lambda: open_path(path), path)
        if doc is None:
            return False
        self.project_path = Path(path) if Path(path).suffix.lower() == PROJECT_SUFFIX else None
        self.controller.replace_document(doc)
        self._remember(path)
        if not doc.annotated:
            self.controller.annotate()
        return True

    def _remember(self, path: str | Path) -> None:
        """Recent files and the last folder, saved at once (a failure to save them is not worth a message)."""
        self.controller.settings.remember(path)
        try:
            self.controller.settings.save()
        except OSError:
            pass

    def open_image(self, image: QImage, how: str) -> None:
        """A ``how`` ("pasted", "dropped") image as a new drawing, annotated at once."""
        doc = self.open_guarded(f"the {how} image",
                                lambda: document_from_image(rgb_from_qimage(image), f"{how} drawing"))
        if doc is not None:
            self.project_path = None  # a new drawing: Ctrl+S must not write it over the project open before
            self.controller.replace_document(doc)
            self.controller.annotate()

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document (saved, discarded, or nothing to save)."""
        if not self.controller.has_unsaved():
            return True
        answer = QMessageBox.question(self.window, "Unsaved changes", "Save the changes to this drawing first?",
                                      QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                                      | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_drawing(self) -> None:
        if self.maybe_save():
            self.project_path = None
            self.controller.replace_document(Document.blank())
            self.set_tool("draw")

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(self.window, "Open", self.controller.settings.last_folder, IMAGE_FILTER)
        if path:
            self.load(path)

    def open_folder_dialog(self) -> None:
        if self.maybe_save():
            folder = self.controller.settings.last_folder
            path = QFileDialog.getExistingDirectory(self.window, "Open character folder", folder)
            if path:
                self.load(path)

    def paste(self) -> None:
        from PySide6.QtGui import QGuiApplication

        data = QGuiApplication.clipboard().mimeData()
        if not (data.hasImage() or data.hasUrls()):
            self.banner.show_message("The clipboard holds no image: copy a drawing or a photo first.")
            return
        if not self.maybe_save():
            return
        if data.hasImage():
            image = QGuiApplication.clipboard().image()
            if not image.isNull():
                self.open_image(image, "pasted")
                return
        if data.hasUrls() and data.urls()[0].isLocalFile():
            self.load(data.urls()[0].toLocalFile())
            return
        self.banner.show_message("The clipboard holds no image: copy a drawing or a photo first.")

    def save(self) -> bool:
        if self.project_path is None:
            return self.save_as()
        return self._save_to(self.project_path)

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self.window, "Save project", self.controller.settings.last_folder,
                                              "Drawing Studio projects (*.studio)")
        if not path:
            return False
        if not path.endswith(PROJECT_SUFFIX):
            path += PROJECT_SUFFIX
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        from studio.core.project import save_project

        existed = path.exists()
        try:
            save_project(self.controller.doc, path)
        except Exception as exc:  # noqa: BLE001 - the work stays in the window, whatever went wrong
            kept = " The previous file is unchanged." if existed else " Nothing was written."
            self.banner.show_message(f"Could not save {path.name}: {_reason(exc, path, path.name)}.{kept}")
            return False
        self.project_path = path
        self.controller.forget_changes()
        self._remember(path)
        self.window.statusBar().showMessage(f"Saved {path}", 5000)
        self.update_title()
        return True

    def export_as(self) -> None:
        """Ask where to export (a folder for PNG frames, else a file named with the format's own suffix: a sprite
        sheet is a .png beside its .json) and export the motion, or the scene when it is shown."""
        from studio.core.export_jobs import EXPORT_FORMATS

        kind = self.controller.doc.export.kind
        suffix = EXPORT_FORMATS[kind].suffix
        if kind == "png":
            path = QFileDialog.getExistingDirectory(self.window, "Export PNG frames into")
        else:
            path, _ = QFileDialog.getSaveFileName(self.window, "Export", str(self.export_panel.default_output(
                self.controller.doc.preview.motion)), f"{EXPORT_FORMATS[kind].label} (*{suffix})")
            if path and not path.lower().endswith(suffix):
                path += suffix  # without it, the name would mean a folder of PNG frames
        if path:
            self.export_panel.export(Path(path))

    def export_character(self) -> None:
        from studio.core.character_folder import write_character_folder

        path = QFileDialog.getExistingDirectory(self.window, "Write the character folder into")
        if not path:
            return
        try:
            write_character_folder(self.controller.doc, path)
        except Exception as exc:  # noqa: BLE001 - the work stays in the window, whatever went wrong
            self.banner.show_message(f"Could not write the character folder: {_reason(exc)}")
            return
        self.window.statusBar().showMessage(f"Wrote the character folder {path}", 6000)


def _reason(exc: Exception, path: str | os.PathLike[str] | None = None, name: str = "") -> str:
    """Why, for a banner that names the file itself; a bug's traceback also goes to stderr for a report."""
    if not is_expected(exc):
        traceback.print_exception(exc)
    reason = describe_error(exc, path)
    for named in (os.fspath(path) if path is not None else "", name):  # most errors start with the path already
        if named:
            reason = reason.removeprefix(f"{named}: ")
    return reason
