"""Undoable edits of a Document: each user action is one command with do/undo (the window runs them on its undo
stack)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from studio.core.document import Document, DocumentError, Skeleton
from studio.pipeline.pose.backend import Box
from studio.pipeline.intake.strokes import Stroke


class Command(Protocol):
    """One undoable change. ``do`` may be called again after ``undo`` (redo)."""

    text: str

    def do(self, doc: Document) -> None: ...

    def undo(self, doc: Document) -> None: ...


@dataclass
class AddStroke:
    stroke: Stroke
    text: str = "Draw"

    def do(self, doc: Document) -> None:
        doc.set_strokes([*doc.strokes, self.stroke])

    def undo(self, doc: Document) -> None:
        if not doc.strokes or doc.strokes[-1] != self.stroke:
            raise DocumentError("the stroke to undo is not the last one")
        doc.set_strokes(doc.strokes[:-1])


@dataclass
class SetStrokes:
    """Replace all strokes at once (clear the drawing)."""

    before: list[Stroke]
    after: list[Stroke]
    text: str = "Clear drawing"

    def do(self, doc: Document) -> None:
        doc.set_strokes(self.after)

    def undo(self, doc: Document) -> None:
        doc.set_strokes(self.before)


@dataclass
class SetBox:
    before: Box | None
    after: Box
    text: str = "Move box"

    def do(self, doc: Document) -> None:
        doc.set_box(self.after)

    def undo(self, doc: Document) -> None:
        doc.set_box(self.before)


@dataclass(eq=False)
class EditMask:
    """A brush stroke on the mask, kept as the changed rectangle before and after."""

    rect: tuple[int, int, int, int]  # left, top, right, bottom
    before: np.ndarray
    after: np.ndarray
    text: str = "Paint mask"

    @classmethod
    def between(cls, old: np.ndarray, new: np.ndarray, text: str = "Paint mask") -> "EditMask | None":
        """The command that turns mask ``old`` into ``new`` (same shape), or None when they are equal."""
        ys, xs = np.nonzero(old != new)
        if len(xs) == 0:
            return None
        rect = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        left, top, right, bottom = rect
        return cls(rect, old[top:bottom, left:right].copy(), new[top:bottom, left:right].copy(), text)

    def do(self, doc: Document) -> None:
        doc.paste_mask(self.rect, self.after)

    def undo(self, doc: Document) -> None:
        doc.paste_mask(self.rect, self.before)


@dataclass(eq=False)
class SetJoints:
    """Move one or more joints: a drag, a reset to detected, a left/right swap."""

    before: np.ndarray
    after: np.ndarray
    text: str = "Move joint"

    def do(self, doc: Document) -> None:
        doc.set_joints(self.after)

    def undo(self, doc: Document) -> None:
        doc.set_joints(self.before)


@dataclass(eq=False)
class AnnotationState:
    box: Box | None
    mask: np.ndarray | None
    skeleton: Skeleton | None
    detected: np.ndarray | None
    unsure: frozenset[str] = frozenset()

    @classmethod
    def of(cls, doc: Document) -> "AnnotationState":
        return cls(doc.box, None if doc.mask is None else doc.mask.copy(), doc.skeleton,
                   None if doc.detected is None else doc.detected.copy(), doc.unsure)


@dataclass
class SetAnnotation:
    """An automatic annotation (box, mask and skeleton at once) or clearing it."""

    before: AnnotationState
    after: AnnotationState
    text: str = "Annotate drawing"

    def do(self, doc: Document) -> None:
        s = self.after
        doc.set_annotation(s.box, None if s.mask is None else s.mask.copy(), s.skeleton, s.detected, s.unsure)

    def undo(self, doc: Document) -> None:
        s = self.before
        doc.set_annotation(s.box, None if s.mask is None else s.mask.copy(), s.skeleton, s.detected, s.unsure)


def move_joint(doc: Document, index: int, xy: tuple[float, float], start: np.ndarray) -> SetJoints:
    """The command for dragging joint ``index`` from the joints ``start`` to ``xy``."""
    after = start.copy()
    after[index] = xy
    name = doc.skeleton.names[index] if doc.skeleton is not None else str(index)
    return SetJoints(start.copy(), after, f"Move {name.replace('_', ' ')}")


def reset_joints(doc: Document) -> SetJoints:
    if doc.skeleton is None or doc.detected is None:
        raise DocumentError("there are no detected joints to go back to: annotate the drawing first")
    return SetJoints(doc.skeleton.joints.copy(), doc.detected.copy(), "Reset joints")


def swap_left_right(doc: Document) -> SetJoints:
    if doc.skeleton is None:
        raise DocumentError("there is no skeleton to mirror: annotate the drawing first")
    return SetJoints(doc.skeleton.joints.copy(), doc.skeleton.joints_sides_swapped(), "Swap left and right")
