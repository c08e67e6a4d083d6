"""The scene in the real window, offscreen: two characters added, dragged with undo, restacked, previewed live, saved
and reopened, and exported whole; and Export as names a sprite sheet .png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from studio.core.sample import sample_character_files  # noqa: E402
from studio.core.scene import PROJECT  # noqa: E402
from studio.core.scene_commands import move_character  # noqa: E402

pytestmark = pytest.mark.slow  # end to end: the real window, offscreen


def _scene_window(window: Any, qtbot: Any, tmp_path: Path) -> Any:
    """The window on its scene tab with the drawing and a character folder in the scene, the preview built."""
    window.resize(1280, 800)
    window.add_to_scene()
    assert window.modes.currentWidget() is window.scene_panel and window.scenes.active
    assert window.scene_panel.add_folder(sample_character_files(tmp_path / "hero"))
    qtbot.waitUntil(lambda: _scene_previewed(window, 2), timeout=60000)
    return window


def _scene_previewed(window: Any, count: int) -> bool:
    animation = window.scenes.animation
    return (animation is not None and animation.scene is window.controller.doc.scene and len(animation.actors) == count
            and getattr(window.preview.animation, "animation", None) is animation)


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    data = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return data.reshape(image.height(), image.bytesPerLine())[:, :4 * image.width()].reshape(
        image.height(), image.width(), 4).copy()


def _root(window: Any, index: int) -> QPoint:
    """Where character ``index``'s root joint (on its figure: the hips) is on the scene canvas."""
    character = window.scene_panel.character_of(index)
    root = int([i for i, p in enumerate(character.parents) if p < 0][0])
    return window.scene_panel.canvas.widget_point(index, tuple(character.rest[root])).toPoint()


def test_two_characters_are_placed_and_previewed_live(window: Any, qtbot: Any, tmp_path: Path) -> None:
    w = _scene_window(window, qtbot, tmp_path)
    scene = w.controller.doc.scene
    assert [c.character for c in scene.characters] == [PROJECT, str(tmp_path / "hero")]
    assert [p.index for p in w.scene_panel.canvas.placed] == [0, 1]
    preview = w.preview
    assert preview.animation.n_frames > 1 and preview.play.isEnabled()
    first = preview.frame
    qtbot.waitUntil(lambda: preview.frame != first, timeout=5000)  # it plays
    frame = _pixels(preview.view.image)
    assert frame.shape[:2] == (288, 512)  # 800 x 450 at the preview's 512 px
    assert (frame[:, :, 3] == 255).all()  # over the scene's paper, not transparency
    assert "2 characters" in preview.estimate.text()
    w.controller.set_frames(24)  # the preview's own frame-count control drives the scene too
    qtbot.waitUntil(lambda: w.scenes.animation is not None and w.scenes.animation.n_frames == 24
                    and preview.animation.n_frames == 24, timeout=60000)


def test_dragging_a_character_moves_it_and_undo_puts_it_back(window: Any, qtbot: Any, tmp_path: Path) -> None:
    w = _scene_window(window, qtbot, tmp_path)
    canvas = w.scene_panel.canvas
    before = w.controller.doc.scene.characters[1].position
    start = _root(w, 1)
    end = start + QPoint(-70, 30)
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, 7):
        QTest.mouseMove(canvas, start + (end - start) * (i / 6))
    assert w.controller.doc.scene.characters[1].position == before  # live preview only, until release
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    after = w.controller.doc.scene.characters[1].position
    scale = canvas.view().m11()
    assert after[0] == pytest.approx(before[0] - 70 / scale / 800, abs=2e-3)
    assert after[1] == pytest.approx(before[1] + 30 / scale / 450, abs=2e-3)
    assert w.scenes.selected == 1 and w.controller.undo.count() == 3  # two adds and one move
    w.actions_by_name["undo"].trigger()  # Ctrl+Z
    assert w.controller.doc.scene.characters[1].position == before
    w.actions_by_name["redo"].trigger()
    assert w.controller.doc.scene.characters[1].position == after


def test_the_wheel_scales_the_character_under_the_pointer(window: Any, qtbot: Any, tmp_path: Path) -> None:
    w = _scene_window(window, qtbot, tmp_path)
    canvas = w.scene_panel.canvas
    at = _root(w, 0)
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent

    event = QWheelEvent(QPointF(at), QPointF(canvas.mapToGlobal(at)), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    canvas.wheelEvent(event)
    assert w.controller.doc.scene.characters[0].scale == pytest.approx(1.21)
    w.controller.undo.undo()
    assert w.controller.doc.scene.characters[0].scale == 1.0


def test_z_order_changes_the_canvas_where_characters_overlap(window: Any, qtbot: Any, tmp_path: Path) -> None:
    w = _scene_window(window, qtbot, tmp_path)
    w.scenes.edit(move_character, 0, (0.5, 0.6), 1.0)
    w.scenes.edit(move_character, 1, (0.53, 0.62), 1.0)
    w.scenes.select(None)  # no selection outline in the pictures
    canvas = w.scene_panel.canvas
    front_before = _pixels(canvas.grab().toImage())
    w.scenes.select(1)
    w.scene_panel.back.click()  # send the hero behind the drawing
    assert w.controller.doc.scene.drawing_order() == [1, 0]
    w.scenes.select(None)
    front_after = _pixels(canvas.grab().toImage())
    changed = np.argwhere((front_before != front_after).any(axis=2))
    assert len(changed) > 50
    boxes = [canvas.view().map(_polygon(p.corners())).boundingRect() for p in canvas.placed]
    left, top = max(b.left() for b in boxes), max(b.top() for b in boxes)
    right, bottom = min(b.right() for b in boxes), min(b.bottom() for b in boxes)
    ys, xs = changed[:, 0], changed[:, 1]
    assert (xs >= left - 2).all() and (xs <= right + 2).all() and (ys >= top - 2).all() and (ys <= bottom + 2).all()
    w.actions_by_name["undo"].trigger()
    assert w.controller.doc.scene.drawing_order() == [0, 1]


def _polygon(points: np.ndarray) -> Any:
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QPolygonF

    return QPolygonF([QPointF(float(x), float(y)) for x, y in points])


def test_the_scene_is_saved_in_the_project_and_reopens(window: Any, qtbot: Any, tmp_path: Path) -> None:
    w = _scene_window(window, qtbot, tmp_path)
    w.scene_panel.mirror.setChecked(True)  # the hero is selected: mirror it
    scene = w.controller.doc.scene
    assert scene.characters[1].mirror and w.controller.has_unsaved()
    path = tmp_path / "duo.studio"
    assert w.files._save_to(path)
    assert not w.controller.has_unsaved()
    w.controller.replace_document(type(w.controller.doc).blank())
    assert w.controller.doc.scene is None and w.scene_panel.canvas.placed == []
    assert w.files.load(path)
    assert w.controller.doc.scene == scene
    qtbot.waitUntil(lambda: _scene_previewed(w, 2), timeout=60000)
    assert [p.index for p in w.scene_panel.canvas.placed] == [0, 1]


def test_export_takes_the_whole_scene(window: Any, qtbot: Any, tmp_path: Path) -> None:
    w = _scene_window(window, qtbot, tmp_path)
    panel = w.export_panel
    assert panel.export_button.text() == "Export scene GIF" and not panel.all_button.isEnabled()
    out = tmp_path / "scene.gif"
    job = panel.export(out)
    assert job is not None
    qtbot.waitUntil(lambda: job.done.is_set() and not panel.progress.isVisible(), timeout=120000)
    assert panel.last_outputs == [out] and out.is_file()
    with Image.open(out) as gif:
        assert gif.n_frames == w.scenes.animation.n_frames
        assert gif.size == (512, 288)
        frame = np.asarray(gif.convert("RGB"), int)
    paper = np.array([250, 246, 236])
    ink = (np.abs(frame - paper).sum(axis=2) > 60)
    left, right = ink[:, :256].sum(), ink[:, 256:].sum()  # the drawing at 0.3 of the width, the hero at 0.7
    assert left > 500 and right > 500, (left, right)
    w.modes.setCurrentIndex(0)  # back to the drawing: exports take its motion again
    assert panel.export_button.text() == "Export GIF" and panel.all_button.isEnabled()


def test_export_as_names_a_sprite_sheet_png(window: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QFileDialog

    asked: list[str] = []

    def save_name(parent: Any, title: str, start: str, filter_: str) -> tuple[str, str]:  # the dialog, answered
        asked.append(filter_)
        return str(tmp_path / "walk"), filter_

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    exported: list[Path] = []
    monkeypatch.setattr(window.export_panel, "export", lambda path: exported.append(path))
    window.export_panel.kind.setCurrentIndex(window.export_panel.kind.findData("sheet"))
    window.files.export_as()
    assert exported == [tmp_path / "walk.png"] and "*.png" in asked[0]
