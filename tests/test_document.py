"""The document and its undoable commands, Qt-free."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.commands import (AddStroke, AnnotationState, EditMask, SetAnnotation, SetBox, SetStrokes,
                                  move_joint, reset_joints, swap_left_right)
from studio.core.document import Document, DocumentError, Skeleton
from studio.core.observe import Signal
from studio.pipeline.intake.segment import paint
from studio.pipeline.intake.strokes import Stroke
from studio.core.sample import sample_character, sample_image
from undo_history import History


def _annotated() -> Document:
    return Document.from_character(sample_character(), sample_image())


def test_signal_calls_in_order_and_survives_self_disconnect() -> None:
    signal, seen = Signal(), []

    def once(x: int) -> None:
        seen.append(("once", x))
        signal.disconnect(once)

    signal.connect(once)
    signal.connect(lambda x: seen.append(("always", x)))
    signal.emit(1)
    signal.emit(2)
    assert seen == [("once", 1), ("always", 1), ("always", 2)]


def test_a_character_folder_round_trips_through_the_document() -> None:
    character = sample_character()
    doc = Document.from_character(character, sample_image())
    again = doc.character()
    assert again.names == character.names and again.parents == character.parents
    np.testing.assert_allclose(again.rest, character.rest)
    np.testing.assert_array_equal(again.mask, character.mask)
    np.testing.assert_array_equal(again.texture, character.texture)
    assert again.bounding_box == character.bounding_box


def test_without_its_image_the_texture_goes_on_white_paper() -> None:
    character = sample_character()
    doc = Document.from_character(character)
    assert doc.size == (character.width, character.height) and doc.box == (0, 0, character.width, character.height)
    assert (doc.image[character.mask == 0] == 255).all()
    np.testing.assert_allclose(doc.character().rest, character.rest)


def test_unannotated_and_empty_mask_give_clear_errors() -> None:
    with pytest.raises(DocumentError, match="not annotated yet"):
        Document.blank(64, 64).character()
    doc = _annotated()
    doc.set_mask(np.zeros_like(doc.mask))
    with pytest.raises(DocumentError, match="mask inside the box is empty"):
        doc.character()


def test_strokes_draw_undo_and_clear() -> None:
    doc = Document.blank(64, 64)
    history, aspects = History(doc), []
    doc.changed.connect(aspects.append)
    pen = Stroke(((8.0, 8.0), (56.0, 56.0)), (200, 0, 0), 6.0)
    history.push(AddStroke(pen))
    drawn = doc.image.copy()
    assert (drawn[32, 32] != 255).any() and aspects == ["drawing"]
    history.push(AddStroke(Stroke(((8.0, 8.0), (56.0, 56.0)), (0, 0, 0), 10.0, erase=True)))
    assert (doc.image == 255).all()  # the eraser gives the paper back
    history.push(SetStrokes(list(doc.strokes), []))
    assert doc.strokes == []
    history.undo()
    history.undo()
    np.testing.assert_array_equal(doc.image, drawn)
    history.redo()
    assert (doc.image == 255).all() and doc.dirty


def test_box_is_clamped_and_undoable() -> None:
    doc = _annotated()
    history = History(doc)
    before = doc.box
    history.push(SetBox(before, (-50.0, 10.0, 5000.0, 200.0)))
    assert doc.box == (0.0, 10.0, float(doc.size[0]), 200.0)
    history.undo()
    assert doc.box == before


def test_a_mask_brush_stroke_is_one_command_with_only_its_rectangle() -> None:
    doc = _annotated()
    history = History(doc)
    old = doc.mask.copy()
    new = paint(paint(old, (20.0, 20.0), 6.0), (30.0, 22.0), 6.0)
    command = EditMask.between(old, new)
    assert command is not None and command.before.shape[0] < 20 and command.before.shape[1] < 30
    history.push(command)
    np.testing.assert_array_equal(doc.mask, new)
    history.undo()
    np.testing.assert_array_equal(doc.mask, old)
    assert EditMask.between(old, old) is None


def test_joint_drag_reset_and_swap() -> None:
    doc = _annotated()
    history = History(doc)
    start = doc.skeleton.joints.copy()
    hand = doc.skeleton.names.index("left_hand")
    history.push(move_joint(doc, hand, (10.0, 12.0), start))
    assert tuple(doc.skeleton.joints[hand]) == (10.0, 12.0)
    history.push(reset_joints(doc))
    np.testing.assert_array_equal(doc.skeleton.joints, start)
    history.push(swap_left_right(doc))
    right = doc.skeleton.names.index("right_hand")
    np.testing.assert_array_equal(doc.skeleton.joints[hand], start[right])
    np.testing.assert_array_equal(doc.skeleton.joints[right], start[hand])
    np.testing.assert_array_equal(doc.skeleton.joints[0], start[0])  # root has no side
    history.undo()
    history.undo()
    assert tuple(doc.skeleton.joints[hand]) == (10.0, 12.0)


def test_setting_a_rig_is_undoable_as_one_step() -> None:
    doc = Document.blank(64, 64)
    history = History(doc)
    mask = np.zeros((64, 64), np.uint8)
    mask[10:50, 20:40] = 255
    skeleton = Skeleton.ad(np.tile([30.0, 30.0], (16, 1)))
    after = AnnotationState((10.0, 5.0, 50.0, 60.0), mask, skeleton, skeleton.joints)
    history.push(SetAnnotation(AnnotationState.of(doc), after))
    assert doc.annotated and doc.character().mask.shape == (55, 40)
    history.undo()
    assert not doc.annotated and doc.mask is None
    assert not history.can_undo and history.can_redo


def test_unsure_joints_stay_flagged_until_moved_or_confirmed() -> None:
    doc = _annotated()
    history = History(doc)
    plain = AnnotationState.of(doc)
    history.push(SetAnnotation(plain, AnnotationState(plain.box, plain.mask, plain.skeleton, plain.detected,
                                        frozenset({"left_hand", "right_foot"}))))
    names = doc.skeleton.names
    hand, foot = names.index("left_hand"), names.index("right_foot")
    assert doc.unsure_joints() == sorted([hand, foot])
    history.push(move_joint(doc, hand, (10.0, 12.0), doc.skeleton.joints))
    assert doc.unsure_joints() == [foot]  # moved by hand: checked
    history.undo()
    assert doc.unsure_joints() == sorted([hand, foot])  # back where the annotation put it: unchecked again
    seen: list[str] = []
    doc.changed.connect(seen.append)
    revision = doc.revision
    assert doc.snapshot().unsure == doc.unsure  # autosaves keep the flags
    doc.confirm_joints()
    assert doc.unsure_joints() == [] and seen == ["joints"] and doc.revision == revision  # not an edit
    assert doc.settings_changed  # but saved with the project, so there is something to save
    doc.mark_saved()
    doc.confirm_joints()
    assert seen == ["joints"] and not doc.settings_changed  # nothing left to confirm: no change
    history.undo()  # undoing the annotation brings back the state before it, which had no unsure joints
    assert doc.unsure == frozenset()
    history.redo()
    assert doc.unsure == {"left_hand", "right_foot"}


def test_commands_on_an_unannotated_document_say_what_to_do() -> None:
    doc = Document.blank(32, 32)
    with pytest.raises(DocumentError, match="annotate the drawing first"):
        swap_left_right(doc)
    with pytest.raises(DocumentError, match="annotate the drawing first"):
        reset_joints(doc)


def test_unsaved_counts_edits_and_settings_until_saved_or_undone_to_the_save() -> None:
    doc = Document.blank(16, 16)
    assert not doc.unsaved
    history = History(doc)
    history.push(AddStroke(Stroke(((1.0, 1.0), (5.0, 5.0)), (0, 0, 0), 2.0)))
    assert doc.unsaved and doc.dirty
    history.undo()
    assert doc.unsaved  # the revision moved on: only the undo stack knows this is the saved state again...
    doc.edits_back_at_saved()  # ...and says so (the window's stack does, when it is clean again)
    assert not doc.unsaved
    doc.set_preview(frames=12)
    assert doc.unsaved and doc.settings_changed
    doc.mark_saved()
    assert not doc.unsaved
