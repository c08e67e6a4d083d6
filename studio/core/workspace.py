"""The studio's working state beside the document, without Qt: the annotation policy, motion checks, job kinds."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from studio.core.annotate import Annotation
from studio.core.commands import AnnotationState, SetAnnotation
from studio.core.document import Document, DocumentError, Skeleton
from studio.core.preview import PreviewEngine
from studio.pipeline.character import Character
from studio.pipeline.intake.images import LoadedImage
from studio.pipeline.pose.backend import Box


class JobKind(Enum):
    """What a background job does. At most one job of a kind runs in a pool: a new one replaces the old."""

    ANNOTATE = "annotate"
    AUTOSAVE = "autosave"
    PREVIEW = "preview"
    ESTIMATE = "estimate"
    MOTION_CHECK = "motion check"
    EXPORT = "export"
    SHARE = "share"
    IMPORT = "import"  # keyed with the clip it reads: (JobKind.IMPORT, spec)


@dataclass(frozen=True)
class AnnotationOutcome:
    """What to do with an annotation that came back from the background.

    command: the undoable change to run (None when the result was dropped); notes: what the annotate step
    noticed, for the status bar; message: why a result the user asked for was dropped; retry: an automatic
    annotation was dropped and should run again once the editing pauses."""

    command: SetAnnotation | None
    notes: tuple[str, ...] = ()
    message: str | None = None
    retry: bool = False


def annotation_state(annotation: Annotation, shape: tuple[int, ...]) -> AnnotationState:
    """The document state an annotation stands for: its box, its mask placed in a (H, W) image of ``shape``
    (H, W[, C]), its joints in image px (also kept as the detected ones), and the joints it was unsure of."""
    character = annotation.character
    if character.bounding_box is None:  # annotate_image always places the figure's box
        raise ValueError("an annotation without a box")
    left, top, right, bottom = character.bounding_box
    mask = np.zeros(shape[:2], np.uint8)
    mask[top:bottom, left:right] = character.mask
    joints = character.rest + [left, top]
    skeleton = Skeleton(character.names, character.parents, joints)
    box = (float(left), float(top), float(right), float(bottom))
    return AnnotationState(box, mask, skeleton, joints.copy(), frozenset(annotation.unsure))


def annotation_input(doc: Document, use_box: bool) -> tuple[LoadedImage, Box | None]:
    """What annotating ``doc`` reads, copied so a worker may hold it while the user draws on: the drawing with
    its strokes as the working image, and the user's box when ``use_box`` (else the box is detected)."""
    return LoadedImage(doc.image.copy(), 1.0, doc.size, doc.source), doc.box if use_box else None


def annotation_failure(message: str, automatic: bool) -> str:
    """The one line shown when annotating failed, with what to try next."""
    hint = " Draw a bigger figure, or drag a box around it with the Box tool (B)." if automatic else \
        " Drag a box around the figure with the Box tool (B): it annotates inside it."
    if "no figure found" in message:
        return message + hint
    return f"Annotating failed: {message}"


class Workspace:
    """State the window needs beside its document, Qt-free so it is tested without a display.

    The annotation policy: while the annotation has not been fixed by hand, each stroke annotates the drawing
    again; an edit to the box, mask or joints fixes it, and an automatic annotation frees it again. The motion
    check: whether a clip can play on the document's figure, loaded through the preview engine's cache so that
    the preview that follows does not read the clip a second time."""

    def __init__(self, engine: PreviewEngine | None = None) -> None:
        self.engine = engine or PreviewEngine()
        self.annotation_fixed_by_hand = False

    # ------------------------------------------------------------------ annotation policy
    def document_replaced(self, doc: Document) -> None:
        """An opened project or character folder keeps its annotation; a new drawing gets one."""
        self.annotation_fixed_by_hand = doc.annotated

    def fixed_by_hand(self) -> None:
        """The user edited the box, the mask or a joint: strokes no longer annotate again."""
        self.annotation_fixed_by_hand = True

    @property
    def annotate_after_strokes(self) -> bool:
        """Whether a stroke should annotate the drawing again (after a short pause)."""
        return not self.annotation_fixed_by_hand

    def annotation_arrived(self, doc: Document, annotation: Annotation, automatic: bool,
                           revision: int) -> AnnotationOutcome:
        """Turn a finished annotation of ``doc`` (started at ``revision``) into the change to make, or drop it
        when the drawing was edited meanwhile: applying it would overwrite those edits."""
        if doc.revision != revision:
            if not automatic:
                return AnnotationOutcome(None, message="The drawing changed while it was being annotated, so the "
                                                       "result was dropped: annotate again (Ctrl+R) when you are "
                                                       "done editing")
            return AnnotationOutcome(None, retry=self.annotate_after_strokes)
        text = "Annotate drawing (automatic)" if automatic else "Annotate drawing"
        command = SetAnnotation(AnnotationState.of(doc), annotation_state(annotation, doc.paper.shape), text)
        self.annotation_fixed_by_hand = False
        return AnnotationOutcome(command, tuple(annotation.notes))

    # ------------------------------------------------------------------ motion check
    @staticmethod
    def motion_figure(doc: Document) -> Character | None:
        """The figure a motion check maps onto, or None while the drawing has no annotation to map onto."""
        try:
            return doc.character()
        except DocumentError:
            return None

    def motion_problem(self, spec: str, character: Character | None) -> str | None:
        """Why clip ``spec`` cannot play on ``character`` (one line), or None when it can or there is no figure
        yet (the preview says what is missing). Slow for a long clip the first time: call it off the UI thread."""
        if character is None:
            return None
        try:
            self.engine.motion(spec, character)
        except Exception as exc:  # noqa: BLE001 - every mapping or parsing problem is shown inline in the library
            return str(exc) or type(exc).__name__
        return None


__all__ = ["AnnotationOutcome", "JobKind", "Workspace", "annotation_failure", "annotation_input", "annotation_state"]
