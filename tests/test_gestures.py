"""Canvas gestures without Qt: a press, moves and a release as plain Pointer events make one edit, or none."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from studio.core.document import Document, Skeleton
from studio.core.gestures import (BoxGesture, Hit, HitKind, JointGesture, MaskGesture, Pen, Pointer, StrokeGesture,
                                  Tool, box_hit, joint_hit, start_gesture)


class Edits:
    """Records what the gestures ask for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def add_stroke(self, stroke: Any) -> None:
        self.calls.append(("stroke", stroke))

    def set_box(self, box: Any) -> None:
        self.calls.append(("box", box))

    def set_mask(self, mask: np.ndarray) -> None:
        self.calls.append(("mask", mask))

    def set_joints(self, before: np.ndarray, after: np.ndarray, index: int) -> None:
        self.calls.append(("joints", (before, after, index)))

    def preview_joints(self, joints: np.ndarray) -> None:
        self.calls.append(("preview", joints))


def _doc() -> Document:
    """A 64x64 drawing with a box (10, 10, 40, 50), its mask and a 3-joint skeleton."""
    doc = Document.blank(64, 64)
    mask = np.zeros((64, 64), np.uint8)
    mask[10:50, 10:40] = 255
    joints = np.array([[25.0, 20.0], [25.0, 30.0], [25.0, 45.0]])
    doc.set_annotation((10.0, 10.0, 40.0, 50.0), mask, Skeleton(("root", "hip", "foot"), (-1, 0, 1), joints),
                       joints.copy())
    return doc


def _drag(doc: Document, tool: Tool, points: list[tuple[float, float]], scale: float = 1.0,
          pen: Pen = Pen(), secondary: bool = False) -> Edits:
    edits = Edits()
    gesture = start_gesture(tool, doc, edits, Pointer(*points[0], secondary=secondary), scale, pen)
    assert gesture is not None
    for x, y in points[1:]:
        gesture.move(Pointer(x, y))
    gesture.release()
    return edits


def test_hit_targets_are_typed_and_pick_distances_are_screen_pixels() -> None:
    box = (10.0, 10.0, 40.0, 50.0)
    assert box_hit(box, 11.0, 30.0, 1.0) == Hit(HitKind.HANDLE, handle="left")
    assert box_hit(box, 40.0, 50.0, 1.0) == Hit(HitKind.HANDLE, handle="bottom_right")
    assert box_hit(box, 25.0, 40.0, 1.0).kind is HitKind.INSIDE
    assert box_hit(box, 60.0, 60.0, 1.0).kind is HitKind.NOTHING and box_hit(None, 1, 1, 1.0).kind is HitKind.NOTHING
    assert box_hit(box, 16.0, 30.0, 1.0) == Hit(HitKind.HANDLE, handle="left")  # 6 px on screen: within reach
    assert box_hit(box, 16.0, 30.0, 4.0).kind is HitKind.INSIDE  # 24 px on screen when zoomed 4x: too far
    joints = np.array([[25.0, 20.0], [25.0, 30.0]])
    assert joint_hit(joints, 30.0, 29.0, 1.0) == Hit(HitKind.JOINT, joint=1)
    assert joint_hit(joints, 30.0, 29.0, 4.0).kind is HitKind.NOTHING
    assert Tool("box") is Tool.BOX
    with pytest.raises(ValueError):
        Tool("lasso")


def test_a_stroke_is_one_edit_with_the_pen_and_the_eraser_paints_white() -> None:
    pen = Pen((200, 10, 10), 3.0, 0.5)
    (kind, stroke), = _drag(Document.blank(64, 64), Tool.DRAW, [(1, 1), (5, 5), (9, 2)], pen=pen).calls
    assert kind == "stroke" and stroke.points == ((1, 1), (5, 5), (9, 2))
    assert (stroke.colour, stroke.width, stroke.opacity, stroke.erase) == ((200, 10, 10), 3.0, 0.5, False)
    (_, erased), = _drag(Document.blank(64, 64), Tool.ERASE, [(1, 1), (5, 5)], pen=pen).calls
    assert (erased.colour, erased.opacity, erased.erase) == ((255, 255, 255), 1.0, True)


def test_the_box_moves_resizes_or_is_dragged_out_and_a_click_changes_nothing() -> None:
    doc = _doc()
    assert _drag(doc, Tool.BOX, [(25, 30), (30, 32)]).calls == [("box", (15.0, 12.0, 45.0, 52.0))]
    assert _drag(doc, Tool.BOX, [(40, 30), (48, 30)]).calls == [("box", (10.0, 10.0, 48.0, 50.0))]
    assert _drag(doc, Tool.BOX, [(50, 2), (62, 20)]).calls == [("box", (50.0, 2.0, 62.0, 20.0))]
    assert _drag(doc, Tool.BOX, [(50, 2), (53, 4)]).calls == []  # smaller than MIN_SIDE: a click, not a box
    assert _drag(doc, Tool.BOX, [(25, 30), (25, 30)]).calls == []  # moved nowhere
    gesture = start_gesture(Tool.BOX, doc, Edits(), Pointer(25, 30), 1.0)
    assert isinstance(gesture, BoxGesture) and gesture.live.box == doc.box  # shown live from the press


def test_the_mask_brush_paints_live_and_sets_the_mask_once() -> None:
    doc = _doc()
    edits = Edits()
    gesture = start_gesture(Tool.MASK, doc, edits, Pointer(50.5, 30.5), 1.0, Pen(brush_radius=3.0))
    assert isinstance(gesture, MaskGesture) and gesture.live.mask is not None and gesture.live.mask[30, 50] == 255
    gesture.move(Pointer(58.5, 30.5))  # dabs all along: no gap between the two
    assert gesture.live.mask[30, 50:59].all() and doc.mask is not None and doc.mask[30, 50] == 0
    assert edits.calls == []
    gesture.release()
    (kind, mask), = edits.calls
    assert kind == "mask" and mask[30, 54] == 255
    (_, erased), = _drag(doc, Tool.MASK, [(20.5, 20.5)], pen=Pen(brush_radius=2.0), secondary=True).calls
    assert erased[20, 20] == 0  # the right button erases
    assert start_gesture(Tool.MASK, Document.blank(64, 64), Edits(), Pointer(5, 5), 1.0) is None  # no mask yet


def test_a_joint_drag_previews_each_move_and_sets_the_joints_once() -> None:
    doc = _doc()
    edits = _drag(doc, Tool.JOINTS, [(25, 31), (27, 33), (80, -5)])
    kinds = [kind for kind, _ in edits.calls]
    assert kinds == ["preview", "preview", "joints"]
    before, after, index = edits.calls[-1][1]
    assert index == 1 and tuple(after[1]) == (63.0, 0.0)  # held inside the drawing
    np.testing.assert_array_equal(before, doc.skeleton.joints)  # type: ignore[union-attr]
    assert start_gesture(Tool.JOINTS, doc, Edits(), Pointer(5, 5), 1.0) is None  # no joint there
    gesture = start_gesture(Tool.JOINTS, doc, Edits(), Pointer(25, 20), 1.0)
    assert isinstance(gesture, JointGesture) and gesture.index == 0
    gesture.release()  # released where it was grabbed: nothing to undo
    assert gesture.edits.calls == []  # type: ignore[attr-defined]
    assert isinstance(start_gesture(Tool.DRAW, doc, Edits(), Pointer(5, 5), 1.0), StrokeGesture)
