"""Scene edits as undoable commands on a Document, and the scene kept through project saves and autosave recovery
(Qt-free)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from studio.core.document import Document, DocumentError
from studio.core.project import open_project, open_project_scene, save_project
from studio.core.recovery import Autosaver, Recovery
from studio.core.sample import sample_character, sample_character_files
from studio.core.scene import PROJECT, SAMPLE
from studio.core.scene_camera import placed_camera
from studio.core.scene_commands import (add_character, change_character, move_character, planar_placement,
                                        remove_character, restack, scene_size, set_background)


@pytest.fixture
def doc() -> Document:
    return Document.from_character(sample_character())


def _run(doc: Document, command: object) -> object:
    command.do(doc)  # type: ignore[attr-defined]
    return command


def test_adding_characters_builds_a_scene_and_undo_takes_them_out(doc: Document) -> None:
    first = _run(doc, add_character(doc, PROJECT))
    second = _run(doc, add_character(doc, SAMPLE, "wave"))
    scene = doc.scene
    assert scene is not None and [c.character for c in scene.characters] == [PROJECT, SAMPLE]
    assert [c.motion for c in scene.characters] == [doc.preview.motion, "wave"]
    assert scene.drawing_order() == [0, 1]  # the one added last is in front
    assert scene.characters[0].position != scene.characters[1].position  # not on top of each other
    assert doc.dirty
    second.undo(doc)  # type: ignore[attr-defined]
    assert doc.scene is not None and len(doc.scene.characters) == 1
    first.undo(doc)  # type: ignore[attr-defined]
    assert doc.scene is None


def test_an_unannotated_drawing_cannot_join_the_scene() -> None:
    with pytest.raises(DocumentError, match="not annotated"):
        add_character(Document.blank(), PROJECT)


def test_move_scale_mirror_start_and_motion_are_each_one_undoable_edit(doc: Document) -> None:
    _run(doc, add_character(doc, PROJECT))
    before = doc.scene
    move = _run(doc, move_character(doc, 0, (0.25, 0.5), 1.5))
    assert doc.scene is not None and doc.scene.characters[0].position == (0.25, 0.5)
    assert doc.scene.characters[0].scale == 1.5
    move.undo(doc)  # type: ignore[attr-defined]
    assert doc.scene is before
    for text, changes in (("Mirror", {"mirror": True}), ("Start", {"start": 0.75}), ("Motion", {"motion": "jump"})):
        command = _run(doc, change_character(doc, 0, text, **changes))
        assert all(getattr(doc.scene.characters[0], k) == v for k, v in changes.items())
        command.undo(doc)  # type: ignore[attr-defined]
        assert doc.scene is before
    assert change_character(doc, 0, "Mirror", mirror=False) is None  # no change, no command
    with pytest.raises(DocumentError, match="start must be"):
        change_character(doc, 0, "Start", start=-1.0)


def test_restack_moves_one_place_in_the_drawing_order(doc: Document) -> None:
    for _ in range(3):
        _run(doc, add_character(doc, SAMPLE))
    assert doc.scene is not None and doc.scene.drawing_order() == [0, 1, 2]
    back = _run(doc, restack(doc, 2, -1))
    assert doc.scene.drawing_order() == [0, 2, 1]
    assert restack(doc, 0, -1) is None  # already at the back
    _run(doc, restack(doc, 0, +1))
    assert doc.scene.drawing_order() == [2, 0, 1]
    back.undo(doc)  # type: ignore[attr-defined]  # undo restores the scene as it was before that edit
    assert doc.scene.drawing_order() == [0, 1, 2]


def test_removing_the_last_character_leaves_no_scene(doc: Document) -> None:
    _run(doc, add_character(doc, PROJECT))
    _run(doc, set_background(doc, "#336699"))
    remove = _run(doc, remove_character(doc, 0))
    assert doc.scene is None
    remove.undo(doc)  # type: ignore[attr-defined]
    assert doc.scene is not None and doc.scene.background == "#336699"
    with pytest.raises(DocumentError, match="no character 5"):
        remove_character(doc, 4)


def test_planar_placement_gives_back_the_placement_it_came_from() -> None:
    character = sample_character()
    camera = placed_camera(character, 800, 450, (0.3, 0.55), 1.7, mirror=True)
    position, scale = planar_placement(character, camera, 800, 450)
    assert np.allclose(position, (0.3, 0.55)) and scale == pytest.approx(1.7)


def test_scene_size_keeps_the_aspect_at_the_preview_resolution(doc: Document) -> None:
    _run(doc, add_character(doc, PROJECT))
    assert doc.scene is not None and scene_size(doc.scene, 512) == (512, 288)


def test_a_scene_survives_save_and_reopen(doc: Document, tmp_path: Path) -> None:
    folder = sample_character_files(tmp_path / "chars" / "hero")
    _run(doc, add_character(doc, PROJECT))
    _run(doc, add_character(doc, str(folder), "jump"))
    _run(doc, move_character(doc, 1, (0.8, 0.55), 0.8))
    path = save_project(doc, tmp_path / "duo.studio")
    stored = json.loads(zipfile.ZipFile(path).read("project.json"))
    assert stored["scene"]["characters"][1]["character"] == "chars/hero"  # relative to the project's folder
    again = open_project(path)
    assert again.scene == doc.scene and not again.dirty
    assert open_project_scene(path) == doc.scene


def test_autosave_recovery_keeps_the_scene(doc: Document, tmp_path: Path) -> None:
    _run(doc, add_character(doc, PROJECT))
    _run(doc, add_character(doc, SAMPLE, "wave"))
    autosaver = Autosaver(tmp_path / "recovery")
    written = autosaver.save(doc.snapshot(), None)
    recovered = Recovery(written, autosaver.pid, 0.0, None, "").open()
    assert recovered.scene == doc.scene and recovered.dirty
