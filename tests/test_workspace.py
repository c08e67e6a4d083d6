"""The workspace without Qt: the annotation policy, turning an annotation into document state, motion checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from studio.core.annotate import Annotation
from undo_history import History
from studio.core.document import Document
from studio.core.preview import PreviewEngine, PreviewRequest
from studio.core.workspace import Workspace, annotation_failure, annotation_state
from studio.pipeline.character import Character
from studio.pipeline.intake.images import LoadedImage
from studio.core.sample import sample_character, sample_image


def _figure() -> Character:
    """A 3-joint figure in a 6x4 box at (left 5, top 3)."""
    mask = np.zeros((4, 6), np.uint8)
    mask[1:3, 1:5] = 255
    texture = np.dstack([np.full((4, 6, 3), 90, np.uint8), mask])
    rest = np.array([[3.0, 1.0], [3.0, 2.0], [4.0, 3.0]])
    return Character(("root", "hip", "foot"), (-1, 0, 1), rest, texture, mask, (5, 3, 11, 7))


def _annotation(unsure: tuple[str, ...] = ("foot",), notes: tuple[str, ...] = ("2 figures detected",)) -> Annotation:
    image = LoadedImage(np.full((12, 16, 3), 255, np.uint8), 1.0, (16, 12))
    return Annotation(image, (5.0, 3.0, 11.0, 7.0), _figure(), np.zeros((17, 3)), list(notes), unsure)


def test_an_annotation_becomes_box_mask_and_joints_in_image_pixels() -> None:
    state = annotation_state(_annotation(), (12, 16, 3))
    assert state.box == (5.0, 3.0, 11.0, 7.0) and all(isinstance(v, float) for v in state.box)
    assert state.mask is not None and state.mask.shape == (12, 16)
    assert state.mask.sum() == 255 * 8 and state.mask[4:6, 6:10].all()  # the box's mask, placed at its corner
    assert state.skeleton is not None
    np.testing.assert_array_equal(state.skeleton.joints, [[8, 4], [8, 5], [9, 6]])
    assert state.detected is not None and state.detected is not state.skeleton.joints  # "reset" has its own copy
    np.testing.assert_array_equal(state.detected, state.skeleton.joints)
    assert state.unsure == frozenset({"foot"})


def test_strokes_annotate_again_until_the_annotation_is_fixed_by_hand() -> None:
    space = Workspace()
    space.document_replaced(Document.blank())
    assert space.annotate_after_strokes  # a new drawing: each stroke annotates it again
    space.fixed_by_hand()
    assert not space.annotate_after_strokes
    doc = Document.blank(16, 12)
    outcome = space.annotation_arrived(doc, _annotation(), automatic=False, revision=doc.revision)
    assert outcome.command is not None and space.annotate_after_strokes  # a new annotation frees it again
    space.document_replaced(Document.from_character(sample_character(), sample_image()))
    assert not space.annotate_after_strokes  # an opened character keeps its annotation


def test_a_finished_annotation_is_one_undoable_command_with_its_notes() -> None:
    space, doc = Workspace(), Document.blank(16, 12)
    outcome = space.annotation_arrived(doc, _annotation(), automatic=True, revision=doc.revision)
    assert outcome.command is not None and outcome.notes == ("2 figures detected",) and outcome.message is None
    assert outcome.command.text == "Annotate drawing (automatic)"
    history = History(doc)
    history.push(outcome.command)
    assert doc.annotated and doc.unsure_joints() == [2]
    history.undo()
    assert not doc.annotated


def test_a_result_for_an_edited_drawing_is_dropped() -> None:
    space, doc = Workspace(), Document.blank(16, 12)
    started = doc.revision
    doc.set_annotation((1.0, 1.0, 9.0, 9.0), None, None, None)  # edited while the annotation ran
    asked = space.annotation_arrived(doc, _annotation(), automatic=False, revision=started)
    assert asked.command is None and asked.message and "annotate again (Ctrl+R)" in asked.message
    assert not asked.retry
    automatic = space.annotation_arrived(doc, _annotation(), automatic=True, revision=started)
    assert automatic.command is None and automatic.message is None and automatic.retry  # tried again later
    space.fixed_by_hand()
    assert not space.annotation_arrived(doc, _annotation(), automatic=True, revision=started).retry


def test_failures_say_what_to_try_next() -> None:
    assert annotation_failure("no figure found", automatic=True).endswith("Draw a bigger figure, or drag a box "
                                                                          "around it with the Box tool (B).")
    assert "it annotates inside it" in annotation_failure("no figure found", automatic=False)
    assert annotation_failure("timed out", automatic=False) == "Annotating failed: timed out"


def test_the_motion_check_reads_the_clip_once_for_the_preview_too(tmp_path: Path, monkeypatch: Any) -> None:
    import studio.core.preview as preview

    loads: list[str] = []
    real = preview.load_motion

    def counted(spec: str, character: Character) -> object:
        loads.append(spec)
        return real(spec, character)

    monkeypatch.setattr(preview, "load_motion", counted)
    engine = PreviewEngine()
    space = Workspace(engine)
    doc = Document.from_character(sample_character(), sample_image())
    figure = space.motion_figure(doc)
    assert space.motion_problem("wave", figure) is None
    engine.build(PreviewRequest(doc.character(), "wave", 4, 32))
    assert loads == ["wave"]  # the preview found the clip the check had read
    broken = tmp_path / "broken.bvh"
    broken.write_text("HIERARCHY\nROOT x\n")
    problem = space.motion_problem(str(broken), figure)
    assert problem and "\n" not in problem  # one line, not an exception
    assert space.motion_problem("wave", space.motion_figure(Document.blank())) is None  # nothing to map onto yet
