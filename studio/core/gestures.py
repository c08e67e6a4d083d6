"""What a drag on the drawing canvas does, per tool, without Qt: hit tests, live previews, one edit on release.

A gesture starts on a press, follows moves and ends on release, when it asks its ``CanvasEdits`` for one undoable
change (a stroke, a box, a mask, the joints). Points are image px; ``scale`` is screen px per image px, for the
pick distances that are screen sizes. The canvas only turns Qt events into ``Pointer``s and paints ``live``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Protocol

import numpy as np

from studio.core.document import Document
from studio.pipeline.intake.box import HANDLES, MIN_SIDE, clamp_box, move_box, resize_box
from studio.pipeline.intake.segment import paint
from studio.pipeline.intake.strokes import Stroke
from studio.pipeline.pose.backend import Box

HANDLE_PX = 7.0  # half-size of a box handle, screen px
JOINT_PICK_PX = 14.0  # how near the pointer must be to grab a joint, screen px
WHITE = (255, 255, 255)  # the eraser paints the paper's colour


class Tool(StrEnum):
    """What a drag on the canvas does."""

    DRAW = "draw"
    ERASE = "erase"
    BOX = "box"
    MASK = "mask"
    JOINTS = "joints"


class HitKind(Enum):
    """What lies under the pointer."""

    NOTHING = "nothing"
    HANDLE = "handle"  # one of the box's eight handles
    INSIDE = "inside"  # inside the box, off its handles: a drag moves it
    JOINT = "joint"


@dataclass(frozen=True)
class Hit:
    """A hit test's answer: its kind, with the handle's name (one of HANDLES) or the joint's index."""

    kind: HitKind
    handle: str = ""
    joint: int = -1


NOTHING = Hit(HitKind.NOTHING)


@dataclass(frozen=True)
class Pointer:
    """A press or a move, in image px; ``secondary``: the right button (the mask brush's other mode)."""

    x: float
    y: float
    secondary: bool = False


@dataclass(frozen=True)
class Pen:
    """The draw and mask tools' settings at the press: colour RGB, width and brush radius in image px."""

    colour: tuple[int, int, int] = (40, 40, 60)
    width: float = 6.0
    opacity: float = 1.0
    brush_radius: float = 12.0
    brush_erases: bool = False


class CanvasEdits(Protocol):
    """What a gesture asks of the canvas's owner when it ends (each call is one undoable command)."""

    def add_stroke(self, stroke: Stroke) -> None: ...

    def set_box(self, box: Box) -> None: ...

    def set_mask(self, mask: np.ndarray) -> None: ...

    def set_joints(self, before: np.ndarray, after: np.ndarray, index: int) -> None: ...

    def preview_joints(self, joints: np.ndarray) -> None: ...


def handle_points(box: Box) -> dict[str, tuple[float, float]]:
    """Where each of the box's HANDLES is, image px."""
    left, top, right, bottom = box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    spots = {"left": (left, cy), "top": (cx, top), "right": (right, cy), "bottom": (cx, bottom),
             "top_left": (left, top), "top_right": (right, top), "bottom_left": (left, bottom),
             "bottom_right": (right, bottom)}
    return {name: spots[name] for name in HANDLES}


def box_hit(box: Box | None, x: float, y: float, scale: float) -> Hit:
    """A handle within HANDLE_PX (+2) screen px of (x, y), else inside the box, else nothing."""
    if box is None:
        return NOTHING
    reach = (HANDLE_PX + 2) / scale
    for name, (hx, hy) in handle_points(box).items():
        if abs(hx - x) <= reach and abs(hy - y) <= reach:
            return Hit(HitKind.HANDLE, handle=name)
    return Hit(HitKind.INSIDE) if box[0] <= x <= box[2] and box[1] <= y <= box[3] else NOTHING


def joint_hit(joints: np.ndarray | None, x: float, y: float, scale: float) -> Hit:
    """The nearest of ``joints`` ((J, 2) image px) within JOINT_PICK_PX screen px of (x, y), else nothing."""
    if joints is None or len(joints) == 0:
        return NOTHING
    distance = np.hypot(*((joints - [x, y]) * scale).T)
    best = int(np.argmin(distance))
    return Hit(HitKind.JOINT, joint=best) if distance[best] <= JOINT_PICK_PX else NOTHING


def _centred(x: float, y: float) -> tuple[float, float]:
    """Canvas image coordinates (pixel i spans [i, i+1)) → pixel-centre coordinates (pixel i is at i)."""
    return x - 0.5, y - 0.5


@dataclass(eq=False)
class Live:
    """What a gesture shows before it is released: the stroke so far, the box, the mask or the joints."""

    points: list[tuple[float, float]] = field(default_factory=list)
    box: Box | None = None
    mask: np.ndarray | None = None
    joints: np.ndarray | None = None


class Gesture:
    """One drag: ``move`` for each pointer move, ``release`` once, which makes at most one edit."""

    def __init__(self, doc: Document, edits: CanvasEdits, start: Pointer) -> None:
        self.doc, self.edits, self.start = doc, edits, start
        self.live = Live()

    def move(self, at: Pointer) -> None:
        """Follow the pointer (image px)."""

    def release(self) -> None:
        """End the drag: ask for the edit, if the drag changed anything."""


class StrokeGesture(Gesture):
    """Draw or erase: the points so far; one stroke on release."""

    def __init__(self, doc: Document, edits: CanvasEdits, start: Pointer, pen: Pen, erase: bool) -> None:
        super().__init__(doc, edits, start)
        self.pen, self.erase = pen, erase
        self.live.points = [(start.x, start.y)]

    def move(self, at: Pointer) -> None:
        self.live.points.append((at.x, at.y))

    def release(self) -> None:
        pen = self.pen
        self.edits.add_stroke(Stroke(tuple(self.live.points), WHITE if self.erase else pen.colour, pen.width,
                                     1.0 if self.erase else pen.opacity, self.erase))


class BoxGesture(Gesture):
    """Drag a handle, move the box, or (from outside it) drag out a new one; the box is set on release."""

    def __init__(self, doc: Document, edits: CanvasEdits, start: Pointer, hit: Hit) -> None:
        super().__init__(doc, edits, start)
        self.hit = hit if doc.box is not None else NOTHING
        self.live.box = doc.box if self.hit.kind is not HitKind.NOTHING else None

    def move(self, at: Pointer) -> None:
        w, h = self.doc.size
        box, (x0, y0) = self.doc.box, (self.start.x, self.start.y)
        if self.hit.kind is HitKind.NOTHING:
            if min(abs(at.x - x0), abs(at.y - y0)) >= MIN_SIDE:  # a click is not a box
                self.live.box = clamp_box((x0, y0, at.x, at.y), w, h)
        elif box is not None and self.hit.kind is HitKind.INSIDE:
            self.live.box = move_box(box, at.x - x0, at.y - y0, w, h)
        elif box is not None:
            self.live.box = resize_box(box, self.hit.handle, at.x, at.y, w, h)

    def release(self) -> None:
        box, self.live.box = self.live.box, None
        if box is not None and box != self.doc.box:
            self.edits.set_box(box)


class MaskGesture(Gesture):
    """Paint (or erase) the mask with a round brush; the mask is set on release."""

    def __init__(self, doc: Document, edits: CanvasEdits, start: Pointer, radius: float, erase: bool) -> None:
        super().__init__(doc, edits, start)
        self.radius, self.erase = radius, erase
        self.live.mask = None if doc.mask is None else paint(doc.mask, _centred(start.x, start.y), radius, erase)
        self._at = (start.x, start.y)

    def move(self, at: Pointer) -> None:
        if self.live.mask is None:
            return
        # Dabs every half radius along the way, so a fast stroke leaves no gaps.
        (x0, y0), x, y = self._at, at.x, at.y
        steps = max(1, int(np.hypot(x - x0, y - y0) / max(1.0, self.radius / 2)))
        for t in np.linspace(1.0 / steps, 1.0, steps):
            self.live.mask = paint(self.live.mask, _centred(x0 + (x - x0) * t, y0 + (y - y0) * t), self.radius,
                                   erase=self.erase)
        self._at = (x, y)

    def release(self) -> None:
        mask, self.live.mask = self.live.mask, None
        if mask is not None:
            self.edits.set_mask(mask)


class JointGesture(Gesture):
    """Drag one joint: the preview follows each move; the joints are set on release if it moved."""

    def __init__(self, doc: Document, edits: CanvasEdits, start: Pointer, index: int) -> None:
        super().__init__(doc, edits, start)
        self.index = index
        self.live.joints = None if doc.skeleton is None else doc.skeleton.joints.copy()

    def move(self, at: Pointer) -> None:
        if self.live.joints is None:
            return
        w, h = self.doc.size
        self.live.joints[self.index] = (min(max(at.x, 0.0), w - 1.0), min(max(at.y, 0.0), h - 1.0))
        self.edits.preview_joints(self.live.joints.copy())

    def release(self) -> None:
        joints, self.live.joints = self.live.joints, None
        skeleton = self.doc.skeleton
        if joints is not None and skeleton is not None and not np.array_equal(joints, skeleton.joints):
            self.edits.set_joints(skeleton.joints.copy(), joints, self.index)


def start_gesture(tool: Tool, doc: Document, edits: CanvasEdits, at: Pointer, scale: float,
                  pen: Pen = Pen()) -> Gesture | None:
    """The gesture a press at ``at`` starts with ``tool``, or None when the press grabs nothing."""
    if tool in (Tool.DRAW, Tool.ERASE):
        return StrokeGesture(doc, edits, at, pen, erase=tool is Tool.ERASE)
    if tool is Tool.BOX:
        return BoxGesture(doc, edits, at, box_hit(doc.box, at.x, at.y, scale))
    if tool is Tool.MASK and doc.mask is not None:
        return MaskGesture(doc, edits, at, pen.brush_radius, erase=pen.brush_erases != at.secondary)
    if tool is Tool.JOINTS and doc.skeleton is not None:
        hit = joint_hit(doc.skeleton.joints, at.x, at.y, scale)
        return JointGesture(doc, edits, at, hit.joint) if hit.kind is HitKind.JOINT else None
    return None


__all__ = ["Box", "BoxGesture", "CanvasEdits", "Gesture", "Hit", "HitKind", "JointGesture", "Live", "MaskGesture",
           "Pen", "Pointer", "Stroke", "StrokeGesture", "Tool", "box_hit", "handle_points", "joint_hit",
           "start_gesture"]
