"""The window's controller: turns gestures into commands, runs annotation, preview and export jobs, reports results."""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from studio.core.annotate import (AnnotateCancelled, BackendError, annotate_image, auto_backend_name,
                                  loaded_backend)
from studio.core.loading import describe_error
from studio.core.annotate import Annotation
from studio.core.commands import AddStroke, EditMask, SetBox, move_joint
from studio.core.document import Document, DocumentError
from studio.core.recovery import Autosaver, AutosaveSchedule
from studio.core.preview import PreviewCancelled, PreviewEngine, PreviewRequest
from studio.core.render import Animation
from studio.core.settings import AppSettings
from studio.core.gestures import Box, Stroke
from studio.core.workspace import JobKind, Workspace, annotation_failure, annotation_input
from studio.ui.undo import UndoStack
from studio.ui.worker import Job, Jobs

AUTO_ANNOTATE_DELAY_MS = 450  # after the last stroke, while the annotation has not been fixed by hand
AUTOSAVE_RETRY_MS = 500  # an autosave due while the last one is still writing tries again this much later


class StudioController(QObject):
    """Owns the document, its undo stack and the background jobs. The views call its methods and listen to
    its signals; they never change the document themselves."""

    preview_ready = Signal(object)  # Animation
    preview_failed = Signal(str)
    annotation_started = Signal(str)
    annotation_finished = Signal(list)  # notes
    annotation_dropped = Signal()  # a result that came after the drawing changed was not applied
    failed = Signal(str)  # a user-facing one-line error with what to do next
    status = Signal(str)
    document_replaced = Signal()
    preview_settings_changed = Signal()  # motion, frame count or size changed (from any control)
    estimate_ready = Signal(str)  # "Export ≈ … s · GIF ≈ … KB" for the current settings

    def __init__(self, doc: Document, settings: AppSettings | None = None) -> None:
        super().__init__()
        self.doc = doc
        self.settings = settings or AppSettings()
        self.undo = UndoStack(doc)
        self.jobs = Jobs()  # annotation, exports, uploads, autosaves
        self.preview_jobs = Jobs(max_threads=1)  # its own thread: a slow annotation or export never holds it up
        self.estimate_jobs = Jobs(max_threads=1)
        self.workspace = Workspace(PreviewEngine())
        self.engine = self.workspace.engine
        self.animation: Animation | None = None
        self.animation_is_draft = False  # built on the coarse mesh while a joint is dragged
        self._pending: tuple[np.ndarray | None, bool] | None = None  # (live joints, keep framing) waiting to build
        self._building = False
        self.last_latency = 0.0  # seconds from the request to its animation (drag → updated preview)
        self._requested_at = 0.0
        self._preview_timer = QTimer(self, singleShot=True, interval=15)
        self._preview_timer.timeout.connect(lambda: self.request_preview())
        self._annotate_timer = QTimer(self, singleShot=True, interval=AUTO_ANNOTATE_DELAY_MS)
        self._annotate_timer.timeout.connect(lambda: self.annotate(use_box=False, automatic=True))
        self.autosaver: Autosaver | None = None
        self.autosave_schedule = AutosaveSchedule()  # when unsaved work is due in the recovery file
        self.project_path: str | None = None
        self._autosave_timer = QTimer(self, singleShot=True)  # started for the schedule's next due time
        self._autosave_timer.timeout.connect(self.autosave)
        self.undo.cleanChanged.connect(self._clean_changed)
        doc.changed.connect(self._on_changed)

    # ------------------------------------------------------------------ autosave
    def enable_autosave(self, autosaver: Autosaver, schedule: AutosaveSchedule | None = None) -> None:
        """Write unsaved work to ``autosaver`` when ``schedule`` (default: AutosaveSchedule()) says it is due."""
        self.autosaver = autosaver
        if schedule is not None:
            self.autosave_schedule = schedule

    def forget_changes(self) -> None:
        """Treat the current state as saved (after a save, or when the user chose to discard)."""
        self.doc.mark_saved()
        self.undo.setClean()

    def has_unsaved(self) -> bool:
        """Edits or preview/export settings changed since the last save (the document keeps count)."""
        return self.doc.unsaved

    def autosave(self) -> None:
        """Write the unsaved work to the recovery file, off the UI thread (a snapshot of the document)."""
        autosaver = self.autosaver
        if autosaver is None or not self.has_unsaved():
            self.autosave_schedule.started()  # nothing to write
            return
        if JobKind.AUTOSAVE in self.jobs.running:  # one writer at a time: try again shortly
            self._autosave_timer.start(AUTOSAVE_RETRY_MS)
            return
        self.autosave_schedule.started()
        snapshot, project = self.doc.snapshot(), self.project_path
        job = self.jobs.start(JobKind.AUTOSAVE, lambda job: autosaver.save(snapshot, project))
        job.failed.connect(self._autosave_failed)

    def _autosave_failed(self, message: str) -> None:
        self.status.emit(f"Autosave failed: {message}")

    def _clean_changed(self, clean: bool) -> None:
        if clean:
            self.doc.edits_back_at_saved()  # the undo stack knows when undo or redo reaches the saved state
        if clean and not self.doc.settings_changed and self.autosaver is not None:
            self.autosaver.discard()  # saved (or back to the saved state): nothing to recover

    # ------------------------------------------------------------------ document
    def replace_document(self, doc: Document) -> None:
        self.doc.changed.disconnect(self._on_changed)
        for pool in (self.jobs, self.preview_jobs, self.estimate_jobs):
            pool.cancel_all()
        self.doc = doc
        self.undo.clear()
        self.undo.doc = doc
        self.undo.setClean()
        self.workspace.document_replaced(doc)
        doc.changed.connect(self._on_changed)
        self.document_replaced.emit()
        self.schedule_preview()

    def _on_changed(self, aspect: str) -> None:
        if self.autosaver is not None:  # (re)started for the due time: the first change's deadline still holds
            self._autosave_timer.start(round(1000 * self.autosave_schedule.changed()))
        if aspect in ("motion", "export"):
            self.preview_settings_changed.emit()
        if aspect in ("drawing", "box", "mask", "joints", "motion"):
            self.schedule_preview()
        elif aspect == "export" and self.animation is not None:
            self.estimate(self.animation)

    # ------------------------------------------------------------------ edits (the canvas calls these)
    def add_stroke(self, stroke: Stroke) -> None:
        self.undo.run(AddStroke(stroke))
        if self.workspace.annotate_after_strokes:
            self._annotate_timer.start()

    def clear_drawing(self) -> None:
        from studio.core.commands import SetStrokes

        if self.doc.strokes:
            self.undo.run(SetStrokes(list(self.doc.strokes), []))

    def set_box(self, box: Box) -> None:
        """The user's box; on a drawing not annotated yet (say, where no figure was found) it annotates inside it."""
        self.workspace.fixed_by_hand()
        self.undo.run(SetBox(self.doc.box, box))
        if self.doc.skeleton is None:
            self.annotate(use_box=True)

    def set_mask(self, mask: np.ndarray) -> None:
        if self.doc.mask is not None:
            self.workspace.fixed_by_hand()
            self.undo.run(EditMask.between(self.doc.mask, mask, "Paint mask"))

    def set_joints(self, before: np.ndarray, after: np.ndarray, index: int) -> None:
        self.workspace.fixed_by_hand()
        self.undo.run(move_joint(self.doc, index, (float(after[index][0]), float(after[index][1])), before))

    def preview_joints(self, joints: np.ndarray) -> None:
        """A joint is being dragged: rebuild the animation for these joints now (framing kept)."""
        self.request_preview(joints, keep_framing=True)

    # ------------------------------------------------------------------ annotation
    def annotate(self, use_box: bool = False, automatic: bool = False) -> Job | None:
        """Find box (unless ``use_box``), mask and joints with the configured backend, off the UI thread."""
        s = self.settings
        chosen = (s.backend, s.endpoint or None, s.checkpoint or None, os.environ.get("STUDIO_TORCHSERVE_TOKEN"))
        if automatic and JobKind.ANNOTATE in self.jobs.running:  # one annotation at a time: try again when it is done
            self._annotate_timer.start()
            return None
        image, box = annotation_input(self.doc, use_box)
        doc, revision = self.doc, self.doc.revision

        def work(job: Job) -> Any:
            try:  # kept loaded for the next annotation with the same settings, and loaded here, off the UI thread
                backend = loaded_backend(*chosen)
            except Exception as exc:
                raise BackendError(f"{describe_error(exc)} (Settings → Annotation)") from exc
            return annotate_image(image, backend, box, progress=job.stage.emit, cancel=job.is_cancelled)

        job = self.jobs.start(JobKind.ANNOTATE, work, (AnnotateCancelled,))
        job.stage.connect(lambda text: self.status.emit(text[:1].upper() + text[1:] + "…"))
        job.finished.connect(lambda result: self._annotated(doc, result, automatic, revision))
        job.failed.connect(lambda message: self.failed.emit(annotation_failure(message, automatic)))
        self.annotation_started.emit(s.backend if s.backend != "auto" else auto_backend_name(chosen[1]))
        return job

    def _annotated(self, doc: Document, annotation: Annotation, automatic: bool, revision: int) -> None:
        if doc is not self.doc:
            return
        outcome = self.workspace.annotation_arrived(doc, annotation, automatic, revision)
        if outcome.command is None:
            if outcome.message:
                self.failed.emit(outcome.message)
            if outcome.retry:
                self._annotate_timer.start()
            self.annotation_dropped.emit()
            return
        self.undo.run(outcome.command)
        self.annotation_finished.emit(list(outcome.notes))

    def check_motion(self, spec: str, reply: Callable[[str | None], None]) -> None:
        """Answer ``reply(problem)`` with why clip ``spec`` cannot play on the figure (None: it can), from the
        preview's thread: the clip is read once, into the cache the preview that follows uses."""
        character = self.workspace.motion_figure(self.doc)
        if character is None:
            reply(None)  # nothing to map onto yet; the preview says what is missing
            return
        workspace = self.workspace
        job = self.preview_jobs.start(JobKind.MOTION_CHECK, lambda job: workspace.motion_problem(spec, character))
        job.finished.connect(reply)
        job.failed.connect(reply)

    # ------------------------------------------------------------------ preview
    def schedule_preview(self) -> None:
        self._preview_timer.start()

    def request_preview(self, joints: np.ndarray | None = None, keep_framing: bool = False) -> None:
        """Build the preview for the document (or for dragged ``joints``). One build runs at a time; a newer
        request replaces any waiting one and makes the running one stale (latest wins)."""
        self._requested_at = time.perf_counter()
        self._pending = (None if joints is None else joints.copy(), keep_framing)
        if not keep_framing:
            self.engine.submit()  # the running build, if any, is stale now
        # A drag step lets the running build finish and be shown (a steady drag would otherwise cancel
        # every build and the preview would freeze); only the newest step waits behind it.
        if not self._building:
            self._start_build()

    def _start_build(self) -> None:
        if self._pending is None:
            return
        joints, keep = self._pending
        self._pending = None
        doc = self.doc
        try:
            character = doc.character()
        except DocumentError as exc:
            self.preview_failed.emit(str(exc))
            return
        if joints is not None:
            character = character.with_rest(np.clip(joints - character.bounding_box[:2], 0,  # type: ignore[index]
                                                    [character.width - 1, character.height - 1]))
        request = PreviewRequest(character, doc.preview.motion, doc.preview.frames, doc.preview.size, keep, draft=keep)
        ticket = self.engine.submit()
        requested_at = self._requested_at
        self._building = True
        engine = self.engine
        job = self.preview_jobs.start(JobKind.PREVIEW, lambda job: engine.build(request, ticket), (PreviewCancelled,))
        job.finished.connect(lambda animation: self._built(animation, requested_at, request.draft))
        job.failed.connect(self._build_failed)
        job.cancelled.connect(self._build_done)

    def _built(self, animation: Animation, requested_at: float, draft: bool = False) -> None:
        self.animation = animation
        self.animation_is_draft = draft
        self.last_latency = time.perf_counter() - requested_at
        self.preview_ready.emit(animation)
        self._build_done()
        if self._pending is None and not draft:  # no estimate while a joint is being dragged
            self.estimate(animation)

    def estimate(self, animation: Animation) -> None:
        """Estimate the export at the current settings off the UI thread (latest wins)."""
        from studio.core.export_jobs import estimate_export

        background = self.doc.export.background
        kind = self.doc.export.kind
        self.estimate_ready.emit("Estimating the export…")  # not the last animation's frames beside this one's
        job = self.estimate_jobs.start(JobKind.ESTIMATE,
                                       lambda job: estimate_export(animation, kind, background,
                                                                   cancel=job.is_cancelled))

        def show(result: Any) -> None:
            size = f" · GIF ≈ {_bytes(result.size_bytes)}" if kind == "gif" else ""
            self.estimate_ready.emit(f"Export ≈ {max(0.1, result.seconds):.1f} s{size} · {result.frames} frames at "
                                     f"{animation.width}×{animation.height}")

        job.finished.connect(show)
        # Say, a background image that cannot be read: the reason, not "Estimating the export…" for ever.
        job.failed.connect(lambda message: self.estimate_ready.emit(f"No export estimate: {message}"))

    def _build_failed(self, message: str) -> None:
        self.preview_failed.emit(message)
        self._build_done()

    def _build_done(self) -> None:
        self._building = False
        if self._pending is not None:
            self._start_build()

    # ------------------------------------------------------------------ settings of the preview
    def set_motion(self, motion: str) -> None:
        if motion != self.doc.preview.motion:
            self.doc.set_preview(motion=motion)

    def set_frames(self, frames: int | None) -> None:
        self.doc.set_preview(frames=frames or None)

    def set_size(self, size: int) -> None:
        self.doc.set_preview(size=size)
        self.doc.set_export(size=size)

    def shutdown(self, wait_ms: int = 5000) -> None:
        """Stop background work. Called when the window closes after the user saved or discarded: the
        recovery file goes too."""
        self._autosave_timer.stop()
        if self.autosaver is not None:
            self.autosaver.discard()
        self._preview_timer.stop()
        self._annotate_timer.stop()
        for pool in (self.jobs, self.preview_jobs, self.estimate_jobs):
            pool.cancel_all()
        for pool in (self.jobs, self.preview_jobs, self.estimate_jobs):
            pool.wait(wait_ms)

    @property
    def busy(self) -> bool:
        """Whether any background job (annotation, preview, estimate, export, upload, autosave) is running."""
        return any(pool.running for pool in (self.jobs, self.preview_jobs, self.estimate_jobs))


def _bytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"


__all__ = ["StudioController"]
