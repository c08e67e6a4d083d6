"""The motion library: bundled and imported clips as stick-figure icons, with BVH import (off the UI thread) and
drag-and-drop."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent, QIcon
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

from studio.core.clips import THUMB, ClipCard, bundled_card, clip_card
from studio.core.loading import describe_error
from studio.core.motion_source import bundled_motions
from studio.core.workspace import JobKind
from studio.ui.images import pixmap_from_rgba
from studio.ui.worker import Jobs

# checker(spec, reply): calls reply(problem) with why the clip cannot play (None: it can), at once or later
Checker = Callable[[str, Callable[["str | None"], None]], None]
IMPORTING = "importing…"  # the label of a clip's card while its file is read
SPEC = Qt.ItemDataRole.UserRole
ERROR_STYLE = ("QLabel { background: #fdecec; color: #9f1c1c; border: 1px solid #f3b4b4; border-radius: 4px;"
               " padding: 6px 8px; }")
LIST_STYLE = ("QListWidget { background: white; border: 1px solid #d6d8de; border-radius: 4px; }"
              " QListWidget::item { border-radius: 6px; color: #2e2c48; }"
              " QListWidget::item:hover { background: #f1f4fa; }"
              " QListWidget::item:selected { background: #dbe7ff; color: #1e3a8a; }"
              " MotionLibrary[dropping=\"true\"] QListWidget { border: 2px dashed #2563eb; background: #eef4ff; }")


class MotionLibrary(QWidget):
    """Clips to choose from. Choosing one asks the owner's checker first (its reply may come later, from a
    background check: the last clip asked about wins); problems show inline, in red.

    Signals: ``motion_chosen(spec)`` with a bundled name or a .bvh path, only for a clip that passed the
    checker. ``select`` and ``current`` read and set the highlighted clip without emitting.
    """

    motion_chosen = Signal(str)
    imported = Signal(str)  # a clip's card is in the list (its spec), after a background import

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._checker: Checker | None = None
        self._chosen: str | None = None
        self._checking: str | None = None  # the clip whose check is awaited
        self._quiet = False
        self.jobs = Jobs(max_threads=2)  # BVH imports: a long clip never freezes the window
        self._wanted: str | None = None  # the clip to choose when its import is done (the last one asked for)
        self._problems: list[str] = []  # this import's failures, shown together
        self.setAcceptDrops(True)
        self.setProperty("dropping", False)
        self.setStyleSheet(LIST_STYLE)

        title = QLabel("Motions")
        title.setStyleSheet("font-weight: 600;")
        self.import_button = QPushButton("Import BVH…")
        self.import_button.setToolTip("Add .bvh motion-capture files to the library (or drop them onto the list)")
        self.import_button.clicked.connect(self._import_dialog)
        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.import_button)
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setDragDropMode(QListView.DragDropMode.NoDragDrop)
        self.list.setAcceptDrops(False)
        self.list.viewport().setAcceptDrops(False)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setGridSize(QSize(THUMB + 28, THUMB + 30))
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(True)
        self.list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.list.setMinimumHeight(THUMB + 40)
        self.list.currentItemChanged.connect(self._current_changed)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.error_label)
        self._add_bundled()

    def set_checker(self, checker: Checker | None) -> None:
        """``checker(spec, reply)`` calls ``reply`` with why a clip cannot play on the current character, or with
        None when it can."""
        self._checker = checker

    def check(self, spec: str, reply: Callable[[str | None], None]) -> None:
        """Pass the checker's verdict on ``spec`` to ``reply``; an exception it raises counts as the problem."""
        if self._checker is None:
            reply(None)
            return
        try:
            self._checker(spec, reply)
        except Exception as exc:  # noqa: BLE001 - any failure to map is shown to the user, not raised
            reply(str(exc) or type(exc).__name__)

    def current(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else str(item.data(SPEC))

    def specs(self) -> list[str]:
        """Every clip in the list, in order: bundled names, then imported .bvh paths."""
        return [str(self.list.item(i).data(SPEC)) for i in range(self.list.count())]

    def select(self, spec: str | None) -> None:
        """Highlight ``spec`` without emitting; an existing .bvh file that is not listed yet is imported (in the
        background: its card says "importing…" meanwhile). A check still awaited is dropped: this is the clip."""
        self._checking = None
        item = self._find(spec) if spec else None
        if item is None and spec and spec.lower().endswith(".bvh") and Path(spec).is_file():
            item = self._find(str(Path(spec).resolve()))
            if item is None:
                self._problems = []
                item = self._start_import(Path(spec), "Cannot show")
        self._highlight(item)
        self._chosen = None if item is None else str(item.data(SPEC))

    def _highlight(self, item: QListWidgetItem | None) -> None:
        self._quiet = True
        try:
            if item is None:
                self.list.setCurrentRow(-1)
                self.list.clearSelection()
            else:
                self.list.setCurrentItem(item)
        finally:
            self._quiet = False

    def error(self) -> str | None:
        """The problem shown under the list, or None."""
        return None if self.error_label.isHidden() else self.error_label.text()

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()

    def clear_error(self) -> None:
        self.error_label.clear()
        self.error_label.hide()

    def import_files(self, paths: Iterable[str | Path]) -> list[str]:
        """Add .bvh files to the list (the dialog and drops use this) and choose the last one once it is read.

        Returns at once with the specs listed or being imported: each new file is read off the UI thread, its card
        saying "importing…" until then (``imported`` follows); files that do not parse are reported inline instead.
        """
        added: list[str] = []
        self._problems = []
        for raw in paths:
            path = Path(raw)
            if path.suffix.lower() != ".bvh":
                self._problems.append(f"{path.name}: not a .bvh file")
                continue
            item = self._find(str(path.resolve())) or self._start_import(path, "Cannot import")
            if item is not None:
                added.append(str(item.data(SPEC)))
        if self._problems:
            self.show_error("\n".join(self._problems))
        self._wanted = added[-1] if added else None
        if added and self._find(added[-1]) is not None and not self._importing(added[-1]):
            self._chosen_after_import(added[-1])
        return added

    def _start_import(self, path: Path, failure: str) -> QListWidgetItem | None:
        """A placeholder card for ``path``, whose real card is made in the background; None when it is refused."""
        try:
            path = path.resolve()
        except (OSError, RuntimeError) as exc:
            self._import_failed(f"{failure} {path.name}: {describe_error(exc)}", None)
            return None
        item = QListWidgetItem(f"{path.stem}\n{IMPORTING}")
        item.setData(SPEC, str(path))
        item.setToolTip(f"{path}\n{IMPORTING}")
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        item.setFlags(Qt.ItemFlag.NoItemFlags)  # not chosen before it can play
        self.list.addItem(item)
        spec = str(path)
        job = self.jobs.start((JobKind.IMPORT, spec), lambda job: clip_card(path))
        job.finished.connect(lambda card, s=spec: self._imported(s, card))
        job.failed.connect(lambda message, s=spec, n=path.name: self._import_failed(f"{failure} {n}: {message}", s))
        return item

    def _importing(self, spec: str) -> bool:
        return (JobKind.IMPORT, spec) in self.jobs.running

    def _imported(self, spec: str, card: ClipCard) -> None:
        item = self._find(spec)
        if item is None:
            return
        path = Path(spec)
        self._fill(item, path.stem, card, path)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        self.imported.emit(spec)
        if spec == self._wanted:
            self._chosen_after_import(spec)
        elif spec == self._chosen:
            self._highlight(item)

    def _import_failed(self, message: str, spec: str | None) -> None:
        item = self._find(spec) if spec else None
        if item is not None:
            self.list.takeItem(self.list.row(item))
        self._problems.append(message)
        self.show_error("\n".join(self._problems))

    def _chosen_after_import(self, spec: str) -> None:
        self._wanted = None
        self._highlight(self._find(spec))
        self._choose(spec, keep_error=bool(self._problems))

    # --- building the list -----------------------------------------------------------------------------
    def _add_bundled(self) -> None:
        for name in bundled_motions():
            try:
                card = bundled_card(name)
            except Exception as exc:  # noqa: BLE001 - a damaged install is shown, never a crash
                self.show_error(f"Bundled motion {name} cannot be shown: {describe_error(exc)}")
                continue
            self._add_item(name, name, card, None)

    def _add_item(self, label: str, spec: str, card: ClipCard, path: Path | None) -> QListWidgetItem:
        item = QListWidgetItem()
        item.setData(SPEC, spec)
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self._fill(item, label, card, path)
        self.list.addItem(item)
        return item

    @staticmethod
    def _fill(item: QListWidgetItem, label: str, card: ClipCard, path: Path | None) -> None:
        pixmap = pixmap_from_rgba(card.thumbnail)
        icon = QIcon(pixmap)
        icon.addPixmap(pixmap, QIcon.Mode.Selected)  # no selection tint over the figure
        item.setIcon(icon)
        item.setText(label)
        item.setToolTip(card.tooltip(label, path))

    def _find(self, spec: str | None) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            if self.list.item(i).data(SPEC) == spec:
                return self.list.item(i)
        return None

    # --- choosing --------------------------------------------------------------------------------------
    def _current_changed(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if self._quiet or item is None:
            return
        self._choose(str(item.data(SPEC)))

    def _choose(self, spec: str, keep_error: bool = False) -> None:
        """Emit ``spec`` once the checker accepts it; otherwise show why and highlight the clip in use again."""
        self._checking = spec
        self.check(spec, lambda problem: self._checked(spec, problem, keep_error))

    def _checked(self, spec: str, problem: str | None, keep_error: bool) -> None:
        if spec != self._checking:  # a later choice was made while this clip was being checked
            return
        self._checking = None
        if problem:
            label = self._find(spec)
            name = label.text() if label is not None else spec
            self.show_error(f"“{name}” cannot play on this character: {problem}")
            QTimer.singleShot(0, self, self._restore_chosen)  # after the click has finished selecting
            return
        if not keep_error:
            self.clear_error()
        self._chosen = spec
        self.motion_chosen.emit(spec)

    def _restore_chosen(self) -> None:
        self.select(self._chosen)

    def _import_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import BVH motion", "", "BVH motion capture (*.bvh)")
        if paths:
            self.import_files(paths)

    # --- drag and drop ---------------------------------------------------------------------------------
    @staticmethod
    def _dropped_files(event: QDragEnterEvent | QDropEvent) -> list[str]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile().lower().endswith(".bvh")]

    def _set_dropping(self, on: bool) -> None:
        self.setProperty("dropping", on)
        self.list.style().unpolish(self.list)
        self.list.style().polish(self.list)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self._dropped_files(event):
            event.acceptProposedAction()
            self._set_dropping(True)
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self._set_dropping(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self._set_dropping(False)
        files = self._dropped_files(event)
        if not files:
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_files(files)
