"""The studio's main window: the drawing canvas or the scene, the live preview, the motion library and export, with
menus."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QMainWindow, QPushButton, QSplitter, QTabWidget, QToolBar, QVBoxLayout,
                               QWidget)

from studio.core.commands import reset_joints, swap_left_right
from studio.core.gestures import Tool
from studio.core.scene import PROJECT
from studio.core.workspace import JobKind
from studio.ui.banner import Banner
from studio.ui.canvas import DrawingCanvas
from studio.ui.clip_plot import ClipPlot
from studio.ui.controller import StudioController
from studio.ui.dialogs import SettingsDialog, show_about
from studio.ui.export_panel import ExportPanel
from studio.ui.file_actions import FileActions
from studio.ui.joint_check import JointCheck
from studio.ui.motion_library import MotionLibrary
from studio.ui.preview_panel import PreviewPanel
from studio.ui.scene_controller import SceneController, ScenePreview
from studio.ui.scene_panel import ScenePanel
from studio.ui.tool_options import ToolOptions

TOOL_KEYS = {Tool.DRAW: ("Draw", "D"), Tool.ERASE: ("Erase", "E"), Tool.BOX: ("Box", "B"), Tool.MASK: ("Mask", "M"),
             Tool.JOINTS: ("Joints", "J")}


class MainWindow(QMainWindow):
    """The window: lays out the views, builds the menus, and passes their actions to the controller and to its
    file actions (``files``)."""

    def __init__(self, controller: StudioController) -> None:
        super().__init__()
        self.controller = c = controller
        self.canvas = DrawingCanvas(c.doc, c)
        self.options = ToolOptions(self.canvas)
        self.banner = Banner()
        self.joint_check = JointCheck(c.doc)
        self.joint_check.confirm.clicked.connect(self._update_title)  # confirming is a change to save
        self.preview = PreviewPanel()
        self.plot = ClipPlot()
        self.library = MotionLibrary()
        self.library.set_checker(c.check_motion)
        self.export_panel = ExportPanel(c)
        self.scenes = SceneController(c)
        self.scene_panel = ScenePanel(self.scenes)
        self.export_panel.scenes = self.scenes
        self.files = FileActions(self, c, self.banner, self.export_panel, self.set_tool, self._update_title)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.options, self.banner, self.joint_check):
            left_layout.addWidget(w)
        left_layout.addWidget(self.canvas, 1)
        self.modes = QTabWidget()
        self.modes.addTab(left, "Drawing")
        self.modes.addTab(self.scene_panel, "Scene")
        self.modes.setTabToolTip(1, "Several characters on a background: preview, export and share the whole scene")
        self.modes.currentChanged.connect(self._mode_changed)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.preview)
        right.addWidget(self.plot)
        right.setSizes([520, 160])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.modes)
        split.addWidget(right)
        split.setSizes([640, 520])
        self.setCentralWidget(split)
        for title, widget, area in (("Motions", self.library, Qt.DockWidgetArea.LeftDockWidgetArea),
                                    ("Export and share", self.export_panel, Qt.DockWidgetArea.BottomDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(title)
            dock.setWidget(widget)
            dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
            if widget is self.library:
                dock.setTitleBarWidget(QWidget())  # the library has its own header
            self.addDockWidget(area, dock)
        self._build_actions()
        self.setAcceptDrops(True)
        self.resize(1280, 800)

        c.preview_ready.connect(self._preview_ready)
        c.preview_failed.connect(self._preview_failed)
        c.failed.connect(self._failed)
        c.status.connect(self._status)
        self.annotate_cancel = QPushButton("Cancel annotating")
        self.annotate_cancel.setToolTip("Stop the running detection or pose estimation")
        self.annotate_cancel.clicked.connect(self._cancel_annotate)
        self.annotate_cancel.hide()
        self.statusBar().addPermanentWidget(self.annotate_cancel)
        c.annotation_started.connect(self._annotation_started)
        c.annotation_finished.connect(self._annotation_finished)
        c.annotation_dropped.connect(self.annotate_cancel.hide)
        c.document_replaced.connect(self._document_replaced)
        c.preview_settings_changed.connect(self._sync_preview_controls)
        c.estimate_ready.connect(self._estimate)
        self.scenes.preview_ready.connect(self._scene_preview_ready)
        self.scenes.preview_failed.connect(self._scene_preview_failed)
        c.undo.cleanChanged.connect(self._update_title)
        self.preview.frames_changed.connect(c.set_frames)
        self.preview.size_changed.connect(c.set_size)
        self.preview.frame_shown.connect(self.plot.set_frame)
        self.library.motion_chosen.connect(c.set_motion)
        self.canvas.hovered_joint.connect(self._hovered)
        self._document_replaced()

    # ------------------------------------------------------------------ actions and menus
    def _action(self, text: str, slot: object, shortcut: str | QKeySequence.StandardKey | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip or text)
        action.setToolTip(f"{tip or text} ({action.shortcut().toString()})" if shortcut else (tip or text))
        action.triggered.connect(slot)  # type: ignore[arg-type]
        return action

    def _build_actions(self) -> None:
        c, f = self.controller, self.files
        K = QKeySequence.StandardKey
        new = self._action("&New drawing", f.new_drawing, K.New, "Start a blank drawing")
        open_ = self._action("&Open…", f.open_dialog, K.Open,
                             "Open a drawing, a photo, a character folder or a project")
        open_char = self._action("Open character &folder…", f.open_folder_dialog, None,
                                 "Open an AnimatedDrawings character folder")
        save = self._action("&Save", f.save, K.Save, "Save the project")
        save_as = self._action("Save &as…", f.save_as, K.SaveAs)
        export_char = self._action("Export character folder…", f.export_character, None,
                                   "Write an AnimatedDrawings character folder (char_cfg.yaml, texture, mask…)")
        export = self._action("&Export", lambda: self.export_panel.export(), "Ctrl+E", "Export the current motion")
        export_as = self._action("Export &as…", f.export_as, "Ctrl+Shift+E")
        quit_ = self._action("&Quit", self.close, K.Quit)
        add_scene = self._action("&Add to scene", self.add_to_scene, "Ctrl+Shift+A",
                                 "Put the current drawing into the scene and show the scene")
        add_folder = self._action("Add character &folder to scene…", self._add_folder_to_scene, None,
                                  "Put an AnimatedDrawings character folder into the scene")
        show_scene = self._action("Show the &scene", lambda: self.modes.setCurrentIndex(1), "Ctrl+2")
        show_drawing = self._action("Show the &drawing", lambda: self.modes.setCurrentIndex(0), "Ctrl+1")
        undo = c.undo.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence(K.Undo))
        undo.setIconText("Undo")  # the toolbar keeps a short label; the menu says what will be undone
        redo = c.undo.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence(K.Redo)])
        redo.setIconText("Redo")
        paste = self._action("&Paste image", f.paste, K.Paste, "Open the image on the clipboard as a new drawing")
        clear = self._action("&Clear drawing", c.clear_drawing, None, "Remove every stroke (undoable)")
        annotate = self._action("&Annotate automatically", lambda: c.annotate(), "Ctrl+R",
                                "Find the figure, its mask and its joints")
        annotate_box = self._action("Annotate inside the &box", lambda: c.annotate(use_box=True), "Ctrl+Shift+R",
                               "Find the mask and joints inside the current box")
        reset = self._action("Reset &joints", lambda: self._command(reset_joints), None,
                             "Put the joints back where annotating placed them")
        swap = self._action("&Swap left and right", lambda: self._command(swap_left_right), None,
                            "Mirror the joint names: the figure's left becomes its right")
        settings = self._action("Se&ttings…", self.open_settings, K.Preferences)
        about = self._action("&About Drawing Studio", lambda: show_about(self))
        zoom_in = self._action("Zoom &in", self.canvas.zoom_in, K.ZoomIn, "Zoom in (or turn the wheel over the canvas)")
        zoom_in.setShortcuts([QKeySequence(K.ZoomIn), QKeySequence("Ctrl+=")])  # Ctrl+= is Ctrl++ unshifted
        zoom_out = self._action("Zoom &out", self.canvas.zoom_out, K.ZoomOut)
        fit = self._action("Fit &drawing", self.canvas.fit, "Ctrl+0", "Show the whole drawing")
        figure = self._action("Zoom to &figure", lambda: self.canvas.zoom_to_figure(), "F",
                              "Zoom to the figure's box (pan with the middle button, or two fingers on a touchpad)")
        self.tool_group = QActionGroup(self)
        tools = []
        for tool, (text, key) in TOOL_KEYS.items():
            action = self._action(text, lambda checked=False, t=tool: self.set_tool(t), key, f"{text} tool")
            action.setCheckable(True)
            action.setData(tool)
            self.tool_group.addAction(action)
            tools.append(action)
        tools[-1].setChecked(True)
        menus: dict[str, list[QAction | None]] = {
            "&File": [new, open_, open_char, None, save, save_as, None, export, export_as, export_char, None, quit_],
            "&Edit": [undo, redo, None, paste, clear], "&Annotate": [annotate, annotate_box, reset, swap, None, *tools],
            "&View": [zoom_in, zoom_out, fit, figure],
            "S&cene": [add_scene, add_folder, None, show_scene, show_drawing],
            "&Settings": [settings], "&Help": [about]}
        for title, actions in menus.items():
            menu = self.menuBar().addMenu(title)
            for entry in actions:
                menu.addSeparator() if entry is None else menu.addAction(entry)
        bar = QToolBar("Main")
        bar.setObjectName("main-toolbar")
        bar.setMovable(False)
        for item in (new, open_, save, None, undo, redo, None, *tools, None, annotate, reset, swap, None, export):
            bar.addSeparator() if item is None else bar.addAction(item)
        self.addToolBar(bar)
        self.actions_by_name = {"annotate": annotate, "export": export, "undo": undo, "redo": redo, "save": save}

    def set_tool(self, tool: Tool | str) -> None:
        self.canvas.set_tool(tool)
        self.options.show_for(self.canvas.tool)
        for action in self.tool_group.actions():
            action.setChecked(action.data() == self.canvas.tool)

    def _command(self, make: object) -> None:
        try:
            self.controller.undo.run(make(self.controller.doc))  # type: ignore[operator]
        except ValueError as exc:
            self.banner.show_message(str(exc))

    # ------------------------------------------------------------------ document events
    def _sync_preview_controls(self) -> None:
        self._update_title()
        preview = self.controller.doc.preview
        self.preview.set_controls(preview.frames, preview.size)
        if self.library.current() != preview.motion:
            self.library.select(preview.motion)

    def _document_replaced(self) -> None:
        doc = self.controller.doc
        self.canvas.set_document(doc)
        self.joint_check.set_document(doc)
        if doc.annotated and not doc.strokes:  # an opened photo or project: show a small figure large
            self.canvas.zoom_to_figure(only_if_small=True)
        self._sync_preview_controls()
        self.export_panel.sync_from_document()
        self.banner.hide()
        self._update_title()

    # Controller signals go to methods, so Qt drops the connections when the window is destroyed.
    def _preview_failed(self, text: str) -> None:
        if self.scenes.active:
            return  # the scene is shown, not the drawing's motion
        self.preview.set_animation(None, text)
        self.preview.estimate.clear()  # nothing to export
        self.plot.set_animation(None)  # no curves of a motion that is not playing

    def _failed(self, text: str) -> None:
        self.annotate_cancel.hide()
        self.statusBar().clearMessage()  # not "Finding the figure…" under the error that ended it
        self.banner.show_message(text)

    def _status(self, text: str) -> None:
        self.statusBar().showMessage(text, 6000)

    def _hovered(self, name: str) -> None:
        if name:
            self.statusBar().showMessage(name.replace("_", " "), 3000)

    def _preview_ready(self, animation: object) -> None:
        if self.scenes.active:
            return
        self.preview.set_animation(animation)  # type: ignore[arg-type]
        if not self.controller.animation_is_draft:  # the plot follows on release, not on every drag step
            self.plot.set_animation(animation)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ scene mode
    def _mode_changed(self, index: int) -> None:
        """The scene tab shown: the preview plays the scene, Export and Share take it; else the drawing's motion."""
        scene = index == self.modes.indexOf(self.scene_panel)
        self.scenes.set_active(scene)
        self.export_panel.sync_from_document()
        self.plot.setVisible(not scene)  # bone angles are one drawing's
        if scene:
            self.preview.set_animation(None, "Building the scene…")
            self.plot.set_animation(None)
            self.preview.estimate.setText("")
        elif self.controller.animation is not None:
            self._preview_ready(self.controller.animation)
            self.controller.estimate(self.controller.animation)
        else:
            self.controller.request_preview()

    def add_to_scene(self) -> None:
        self.modes.setCurrentIndex(self.modes.indexOf(self.scene_panel))
        self.scenes.add(PROJECT)

    def _add_folder_to_scene(self) -> None:
        self.modes.setCurrentIndex(self.modes.indexOf(self.scene_panel))
        self.scene_panel.add_folder_dialog()

    def _scene_preview_ready(self, preview: ScenePreview) -> None:
        self.preview.set_animation(preview)  # type: ignore[arg-type]  # plays like an Animation
        count = len(preview.animation.actors)
        self.preview.estimate.setText(f"Scene: {count} character{'s' if count != 1 else ''} · {preview.n_frames} "
                                      f"frames at {preview.width}×{preview.height} · Export and Share take the "
                                      "whole scene")

    def _scene_preview_failed(self, text: str) -> None:
        self.preview.set_animation(None, text)
        self.preview.estimate.setText("")

    def _estimate(self, text: str) -> None:
        if not self.scenes.active:
            self.preview.estimate.setText(text)

    def _annotation_started(self, backend: str) -> None:
        self.statusBar().showMessage(f"Annotating with the {backend} backend…")
        self.annotate_cancel.show()
        job = self.controller.jobs.running.get(JobKind.ANNOTATE)
        if job is not None:
            job.cancelled.connect(self._annotate_cancelled)

    def _cancel_annotate(self) -> None:
        job = self.controller.jobs.running.get(JobKind.ANNOTATE)
        if job is not None:
            job.cancel()

    def _annotate_cancelled(self) -> None:
        self.annotate_cancel.hide()
        self.statusBar().showMessage("Annotating cancelled: the drawing is as it was", 5000)

    def _annotation_finished(self, notes: list[str]) -> None:
        self.annotate_cancel.hide()
        self.banner.hide()
        sentences = [n[:1].upper() + n[1:] + ("" if n.endswith(".") else ".") for n in notes]  # the CLI's notes
        self.statusBar().showMessage(" ".join(["Annotated."] + sentences), 8000)
        if not self.controller.doc.strokes:  # a photo or scan, not a page being drawn: show a small figure large
            self.canvas.zoom_to_figure(only_if_small=True)

    def _update_title(self, *_: object) -> None:
        doc = self.controller.doc
        project = self.files.project_path
        name = project.name if project else Path(doc.source).name if doc.source else "Untitled"
        self.setWindowTitle(f"{name}[*] — Drawing Studio")
        self.setWindowModified(self.controller.has_unsaved())

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.controller.settings, self)
        if dialog.exec():
            try:
                dialog.result_settings().save()
            except OSError as exc:
                self.banner.show_message(f"Could not save the settings: {exc}")

    # ------------------------------------------------------------------ window events
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        bvhs = [u for u in urls if u.lower().endswith(".bvh")]
        if bvhs:
            self.library.import_files([Path(p) for p in bvhs])
        elif urls and self.files.maybe_save():
            self.files.load(urls[0])
        elif event.mimeData().hasImage() and self.files.maybe_save():
            self.files.open_image(event.mimeData().imageData(), "dropped")
        event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.files.maybe_save():
            event.ignore()
            return
        QSettings("drawing-studio", "studio").setValue("geometry", self.saveGeometry())
        self.library.jobs.cancel_all()  # a clip still being imported must not reach a closed window
        self.library.jobs.wait(5000)
        self.controller.shutdown()
        self.scenes.shutdown()
        event.accept()

    def restore_geometry(self) -> None:
        geometry = QSettings("drawing-studio", "studio").value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)  # type: ignore[arg-type]


__all__ = ["MainWindow"]
