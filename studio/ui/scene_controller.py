"""The scene mode's controller: runs scene edits on the window's undo stack, keeps the characters the scene shows,
and builds the scene's live preview (a SceneAnimation) off the UI thread, the newest request winning."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from studio.core.commands import Command
from studio.core.document import Document, DocumentError
from studio.core.scene import PROJECT, SAMPLE, Scene
from studio.core.scene_commands import Character, add_character, read_scene_character, scene_size
from studio.core.workspace import JobKind
from studio.ui.controller import StudioController
from studio.ui.worker import Job, Jobs

SCENE_PREVIEW = (JobKind.PREVIEW, "scene")
REBUILD_ON = ("scene", "motion", "drawing", "box", "mask", "joints")  # aspects a scene preview shows


class ScenePreview:
    """A SceneAnimation as the preview panel plays it: each frame over the scene's background, premultiplied (over a
    colour or an image every pixel is opaque, where straight and premultiplied RGBA are the same)."""

    def __init__(self, animation: Any) -> None:
        self.animation = animation
        self.n_frames, self.frame_time = animation.n_frames, animation.frame_time
        self.width, self.height = animation.width, animation.height

    def render_premultiplied(self, k: int) -> np.ndarray:
        """(h, w, 4) uint8 premultiplied RGBA of scene frame k, background included."""
        animation = self.animation
        if animation.background.transparent:
            return np.asarray(animation.render_premultiplied(k))
        return np.asarray(animation.render_rgba(k, animation.background))


class SceneCast:
    """The characters a scene names, read once each: 'project' is the document's own drawing (read again when the
    drawing changes), 'sample' the built-in one, anything else a character folder."""

    def __init__(self) -> None:
        self._read: dict[str, Character] = {}
        self._own: tuple[int, Character | None] | None = None  # (document revision, its character)
        self.problems: dict[str, str] = {}  # character → why it cannot be shown

    def own(self, doc: Document) -> Character | None:
        """The document's drawing as a Character, or None while it is not annotated."""
        if self._own is None or self._own[0] != doc.revision:
            try:
                self._own = (doc.revision, doc.character())
            except DocumentError:
                self._own = (doc.revision, None)
        return self._own[1]

    def get(self, name: str, doc: Document) -> Character | None:
        """The character ``name`` stands for, or None (the reason in ``problems``)."""
        if name == PROJECT:
            return self.own(doc)
        if name not in self._read and name not in self.problems:
            from studio.core.loading import describe_error

            try:
                self._read[name] = read_scene_character(name)
            except Exception as exc:  # noqa: BLE001 - a folder that went away or broke: say so, never crash
                self.problems[name] = describe_error(exc, name)
        return self._read.get(name)


class SceneController(QObject):
    """Scene mode for one window. Signals: preview_ready(ScenePreview), preview_failed(str), changed() (the scene or
    what it shows changed: the canvas repaints). ``animation``: the last SceneAnimation built."""

    preview_ready = Signal(object)
    preview_failed = Signal(str)
    changed = Signal()

    def __init__(self, controller: StudioController) -> None:
        super().__init__()
        self.controller = controller
        self.cast = SceneCast()
        self.active = False  # the scene is what the user is looking at: the preview, Export and Share take it
        self.animation: Any = None  # the last SceneAnimation built
        self.selected: int | None = None
        self.jobs = Jobs(max_threads=1)
        self.last_latency = 0.0
        self._timer = QTimer(self, singleShot=True, interval=30)
        self._timer.timeout.connect(self.request_preview)
        self._doc = controller.doc
        self._doc.changed.connect(self._on_changed)
        controller.document_replaced.connect(self._document_replaced)

    @property
    def doc(self) -> Document:
        return self.controller.doc

    @property
    def scene(self) -> Scene | None:
        return self.doc.scene

    # ------------------------------------------------------------------ edits
    def run(self, command: Command | None) -> bool:
        """Do ``command`` on the window's undo stack (None: nothing changes). True when it ran."""
        self.controller.undo.run(command)
        return command is not None

    def edit(self, make: Any, *args: Any, **kwargs: Any) -> bool:
        """Run ``make(doc, *args, **kwargs)``'s command; its DocumentError becomes the window's banner."""
        try:
            command = make(self.doc, *args, **kwargs)
        except DocumentError as exc:
            self.controller.failed.emit(str(exc))
            return False
        return self.run(command)

    def add(self, character: str) -> bool:
        """Add ``character`` ('project', 'sample' or a character folder) to the scene and select it."""
        if character not in (PROJECT, SAMPLE):
            character = os.path.abspath(character)
            if self.cast.get(character, self.doc) is None:
                self.controller.failed.emit(f"Cannot add {Path(character).name} to the scene: "
                                            f"{self.cast.problems.pop(character, 'unreadable')}")
                return False
        if not self.edit(add_character, character):
            return False
        self.select(len(self.scene.characters) - 1 if self.scene else None)
        return True

    def select(self, index: int | None) -> None:
        scene = self.scene
        self.selected = index if scene is not None and index is not None and 0 <= index < len(scene.characters) \
            else None
        self.changed.emit()

    # ------------------------------------------------------------------ preview
    def set_active(self, active: bool) -> None:
        self.active = active
        if active:
            self.request_preview()
        else:
            self.jobs.cancel_all()

    def size(self) -> tuple[int, int] | None:
        """The scene's canvas at the preview's resolution (its longer side), or None without a scene."""
        return None if self.scene is None else scene_size(self.scene, self.doc.preview.size)

    def request_preview(self) -> None:
        """Build the scene's animation off the UI thread at the preview's frame count and resolution; a newer request
        cancels the running one (its result is dropped)."""
        scene = self.scene
        if not self.active:
            return
        if scene is None:
            self.animation = None
            self.preview_failed.emit("The scene is empty: add the current character (Add to scene) or a character "
                                     "folder")
            return
        own = self.cast.own(self.doc) if any(c.character == PROJECT for c in scene.characters) else None
        size, frames = scene_size(scene, self.doc.preview.size), self.doc.preview.frames
        requested = time.perf_counter()

        def work(job: Job) -> Any:
            from studio.core.scene_render import SceneAnimation

            return SceneAnimation(scene, size, frames, own=own)

        job = self.jobs.start(SCENE_PREVIEW, work)
        job.finished.connect(lambda animation: self._built(animation, scene, requested))
        job.failed.connect(lambda message: self._failed(message, scene))

    def _built(self, animation: Any, scene: Scene, requested: float) -> None:
        if scene is not self.scene or not self.active:
            return  # the scene changed meanwhile: a newer build is on its way
        self.animation = animation
        self.last_latency = time.perf_counter() - requested
        self.preview_ready.emit(ScenePreview(animation))
        self.changed.emit()  # the canvas may now place characters AD's camera placed

    def _failed(self, message: str, scene: Scene) -> None:
        if scene is self.scene and self.active:
            self.preview_failed.emit(message)

    # ------------------------------------------------------------------ document events
    def _on_changed(self, aspect: str) -> None:
        if aspect == "scene" and self.selected is not None and (
                self.scene is None or self.selected >= len(self.scene.characters)):
            self.selected = None
        if aspect in REBUILD_ON and (aspect == "scene" or self.scene is not None):
            self.changed.emit()
            if self.active:
                self._timer.start()

    def _document_replaced(self) -> None:
        self._doc.changed.disconnect(self._on_changed)
        self._doc = self.controller.doc
        self._doc.changed.connect(self._on_changed)
        self.jobs.cancel_all()
        self.animation, self.selected = None, None
        self.changed.emit()
        if self.active:
            self._timer.start()

    def shutdown(self, wait_ms: int = 5000) -> None:
        self._timer.stop()
        self.jobs.cancel_all()
        self.jobs.wait(wait_ms)
