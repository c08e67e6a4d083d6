"""The studio window, offscreen: opens annotated and animating, edits are undoable, errors show inline, exports work."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from studio.core.settings import AppSettings  # noqa: E402
from studio.core.workspace import JobKind  # noqa: E402
from studio.ui.app import create_app, wait_for_preview  # noqa: E402

pytestmark = pytest.mark.slow  # end to end: the real window, offscreen


def wait_until(qtbot: Any, condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    qtbot.waitUntil(condition, timeout=int(timeout_s * 1000))


def _drag(canvas: Any, start: QPoint, end: QPoint, steps: int = 6) -> None:
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, steps + 1):
        QTest.mouseMove(canvas, start + (end - start) * (i / steps))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def test_opens_on_the_sample_annotated_and_animating(window: Any, qtbot: Any) -> None:
    assert window.controller.doc.annotated and window.preview.animation is not None
    first = window.preview.frame
    wait_until(qtbot, lambda: window.preview.frame != first, 5)  # it plays by itself
    grab = window.grab()
    assert not grab.isNull() and grab.width() >= 1000
    assert window.plot is not None and window.library.current() == window.controller.doc.preview.motion


def test_with_nothing_to_play_the_transport_is_off_and_comes_back(window: Any, qtbot: Any) -> None:
    preview = window.preview
    assert preview.play.isEnabled() and preview.scrub.isEnabled() and preview.playing
    window.controller.preview_failed.emit("the motion needs an annotated drawing")
    assert not preview.play.isEnabled() and not preview.scrub.isEnabled() and preview.time_label.text() == "–"
    assert preview.view.message == "The motion needs an annotated drawing" and not preview.timer.isActive()
    window.controller.request_preview()
    wait_until(qtbot, lambda: preview.animation is not None and preview.play.isEnabled(), 30)
    assert preview.scrub.isEnabled() and preview.playing and preview.timer.isActive()


def test_the_export_estimate_never_shows_the_last_animations_frames(window: Any, qtbot: Any) -> None:
    estimate = window.preview.estimate
    wait_until(qtbot, lambda: "frames at" in estimate.text())
    before = estimate.text()
    seen: list[str] = []
    window.controller.estimate_ready.connect(seen.append)
    window.controller.set_frames(24)
    wait_until(qtbot, lambda: window.preview.animation.n_frames == 24 and "24 frames at" in estimate.text())
    assert "24 frames" not in before and seen[0] == "Estimating the export…"
    assert all("24 frames at" in text for text in seen[1:])
    window.controller.preview_failed.emit("the motion needs an annotated drawing")
    assert estimate.text() == ""


def test_the_estimate_times_the_chosen_format(window: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import studio.core.export_jobs as export_jobs

    asked: list[str] = []
    real = export_jobs.estimate_export
    monkeypatch.setattr(export_jobs, "estimate_export", lambda a, kind, *rest, **kw: (asked.append(kind),
                                                                                        real(a, kind, *rest, **kw))[1])
    window.export_panel.kind.setCurrentIndex(window.export_panel.kind.findData("mp4"))
    wait_until(qtbot, lambda: bool(asked) and "frames at" in window.preview.estimate.text())
    assert asked[-1] == "mp4" and "GIF ≈" not in window.preview.estimate.text()


def test_rig_notes_read_as_sentences_in_the_status_bar(window: Any) -> None:
    window.controller.annotation_finished.emit(["low confidence: check hip, left knee", "2 figures detected."])
    assert window.statusBar().currentMessage() == "Annotated. Low confidence: check hip, left knee. 2 figures detected."


def test_joint_drag_previews_live_and_is_one_undoable_command(window: Any, qtbot: Any) -> None:
    c, canvas = window.controller, window.canvas
    window.set_tool("joints")
    hand = c.doc.skeleton.names.index("left_hand")
    before = c.doc.skeleton.joints.copy()
    start = canvas.to_widget(*before[hand]).toPoint()
    end = start + QPoint(30, -40)
    shown = c.animation
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(canvas, start + QPoint(15, -20))
    wait_until(qtbot, lambda: c.animation is not shown, 10)  # the animation follows during the drag
    assert c.undo.count() == 0 and np.array_equal(c.doc.skeleton.joints, before)  # nothing committed yet
    QTest.mouseMove(canvas, end)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert c.undo.count() == 1 and "left hand" in c.undo.undoText()
    moved = c.doc.skeleton.joints.copy()
    assert not np.allclose(moved[hand], before[hand]) and np.allclose(np.delete(moved, hand, 0),
                                                                      np.delete(before, hand, 0))
    c.undo.undo()
    np.testing.assert_array_equal(c.doc.skeleton.joints, before)
    c.undo.redo()
    np.testing.assert_array_equal(c.doc.skeleton.joints, moved)


def test_box_and_mask_edits_undo(window: Any) -> None:
    c, canvas = window.controller, window.canvas
    window.set_tool("box")
    box = c.doc.box
    inside = canvas.to_widget((box[0] + box[2]) / 2, (box[1] + box[3]) / 2).toPoint()
    _drag(canvas, inside, inside + QPoint(-10, 5))
    assert c.doc.box != box and c.undo.count() == 1
    window.set_tool("mask")
    mask = c.doc.mask.copy()
    corner = canvas.to_widget(box[0] + 3, box[1] + 3).toPoint()
    _drag(canvas, corner, corner + QPoint(20, 0))
    assert c.undo.count() == 2 and (c.doc.mask != mask).any()
    c.undo.undo()
    np.testing.assert_array_equal(c.doc.mask, mask)
    c.undo.undo()
    assert c.doc.box == box


def test_drawing_on_a_new_page_rigs_it_automatically(window: Any, qtbot: Any) -> None:
    c, canvas = window.controller, window.canvas
    window.files.new_drawing()
    assert not c.doc.annotated and window.canvas.tool == "draw"
    window.options.width_slider.setValue(40)
    w, h = c.doc.size
    to = canvas.to_widget
    _drag(canvas, to(w * 0.5, h * 0.15).toPoint(), to(w * 0.5, h * 0.85).toPoint())  # body
    _drag(canvas, to(w * 0.25, h * 0.4).toPoint(), to(w * 0.75, h * 0.4).toPoint())  # arms
    assert len(c.doc.strokes) == 2
    wait_until(qtbot, lambda: c.doc.annotated and c.animation is not None and c.animation.character.width < w, 30)
    assert c.undo.count() == 3  # two strokes and the automatic annotation, each undoable


def test_a_corrupt_image_shows_an_inline_error(window: Any, tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert not window.files.load(bad)
    assert window.banner.isVisible() and "broken.png" in window.banner.label.text()
    assert window.banner.label.text().count("broken.png") == 1  # named once, not "broken.png: …/broken.png: …"
    assert window.controller.doc.annotated  # the sample is still there: nothing lost


def test_a_blank_page_says_no_figure_found(window: Any, qtbot: Any, tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 300), "white").save(blank)
    window.files.load(blank)
    wait_until(qtbot, lambda: window.banner.isVisible(), 20)
    assert window.banner.label.text().startswith("No figure found")  # a sentence, capitalised
    assert window.statusBar().currentMessage() == ""  # not "Finding the figure…" under the error


def test_one_click_gif_export_has_the_preview_frames(window: Any, qtbot: Any, tmp_path: Path) -> None:
    c = window.controller
    c.set_frames(12)
    c.set_size(256)
    wait_until(qtbot, lambda: c.animation is not None and c.animation.n_frames == 12 and c.animation.width == 256)
    job = window.export_panel.export(tmp_path / "out.gif")
    wait_until(qtbot, lambda: job.done.is_set(), 30)
    with Image.open(tmp_path / "out.gif") as gif:
        assert gif.size == (256, 256) and gif.n_frames == 12
    wait_until(qtbot, lambda: "out.gif" in window.export_panel.result.text(), 10)  # delivered after job.done


def test_cancelled_export_leaves_nothing(window: Any, qtbot: Any, tmp_path: Path) -> None:
    c = window.controller
    c.set_size(1024)
    wait_until(qtbot, lambda: c.animation is not None and c.animation.width == 1024)
    job = window.export_panel.export(tmp_path / "big.gif")
    reports: list[tuple[int, int]] = []
    cancelled: list[bool] = []

    def progressed(done: int, total: int) -> None:  # cancel mid-run: after the first frame, not before the start
        reports.append((done, total))
        job.cancel()

    job.progress.connect(progressed)
    job.cancelled.connect(lambda: cancelled.append(True))
    wait_until(qtbot, lambda: job.done.is_set() and bool(cancelled), 30)
    assert reports and reports[0][0] < reports[0][1]  # the export had begun and had frames left
    assert not (tmp_path / "big.gif").exists() and not list(tmp_path.iterdir())  # no partial file either


def test_ten_thousand_void_qt_calls_do_not_abort() -> None:
    """PySide6 6.12.0 on Python 3.11 aborts after ~5k void calls (DESIGN.md §7); run them in a fresh process."""
    code = ("import os; os.environ['QT_QPA_PLATFORM']='offscreen'\n"
            "from PySide6.QtWidgets import QApplication, QLabel\n"
            "app = QApplication([]); label = QLabel()\n"
            "for i in range(12000):\n    label.setText(str(i)); label.update(); label.setToolTip('t')\n"
            "print('survived', label.text())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "survived 11999" in result.stdout, result.stderr[-2000:]


def test_screenshot_mode_writes_a_picture_of_the_window(tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "studio.launcher", "--screenshot", str(out)], capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    with Image.open(out) as shot:
        assert shot.size[0] >= 1000 and shot.size[1] >= 700
        pixels = np.asarray(shot.convert("RGB"))
    assert pixels.std() > 10, f"a blank screenshot after {time.perf_counter() - started:.1f} s"


def test_save_and_reopen_a_project(window: Any, tmp_path: Path) -> None:
    c = window.controller
    hand = c.doc.skeleton.names.index("right_hand")
    moved = c.doc.skeleton.joints.copy()
    moved[hand] += (7.0, 9.0)
    c.set_joints(c.doc.skeleton.joints.copy(), moved, hand)
    c.set_frames(20)
    assert not c.undo.isClean() and window.isWindowModified()
    assert window.files._save_to(tmp_path / "boy.studio")
    assert c.undo.isClean() and "boy.studio" in window.windowTitle()
    assert window.files.load(tmp_path / "boy.studio")
    np.testing.assert_array_equal(c.doc.skeleton.joints, moved)
    assert c.doc.preview.frames == 20 and window.files.project_path == tmp_path / "boy.studio"


CRASHING_STUDIO = """
import sys, time
import numpy as np
from studio.core.recovery import Autosaver
from studio.core.settings import AppSettings
from studio.ui.app import create_app, wait_for_preview
_, w = create_app(settings=AppSettings(), offscreen=True)
c = w.controller
c.enable_autosave(Autosaver())
joints = c.doc.skeleton.joints.copy()
joints[9] += (11.0, -13.0)
c.set_joints(c.doc.skeleton.joints.copy(), joints, 9)
deadline = time.time() + 30
while not c.autosaver.path.exists() and time.time() < deadline:
    w.controller.jobs.wait(10)
    from PySide6.QtWidgets import QApplication
    QApplication.processEvents()
    time.sleep(0.05)
print("saved", joints[9][0], joints[9][1], flush=True)
time.sleep(120)
"""


def test_after_kill_9_the_next_start_offers_the_unsaved_work(qtbot: Any, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal

    from studio.ui.app import offer_recovery

    monkeypatch.setenv("STUDIO_RECOVERY_DIR", str(tmp_path / "recovery"))
    child = subprocess.Popen([sys.executable, "-c", CRASHING_STUDIO], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    try:
        line = child.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("saved"), line
        expected = [float(v) for v in line.split()[1:]]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(30)
    _, w = create_app(settings=AppSettings())
    try:
        asked: list[str] = []
        assert offer_recovery(w, ask=lambda when, what: asked.append(what) or True)
        assert asked == ["sample"]  # the work was on the built-in sample
        np.testing.assert_allclose(w.controller.doc.skeleton.joints[9], expected)
        assert not w.controller.undo.isClean()  # recovered work is unsaved work
        assert not offer_recovery(w, ask=lambda when, what: True)  # asked once only
    finally:
        w.controller.forget_changes()
        w.close()


def test_paste_and_drop_open_images(window: Any, qtbot: Any, tmp_path: Path) -> None:
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent, QGuiApplication, QImage

    from studio.core.sample import sample_image
    from studio.ui.images import qimage_from_rgb

    c = window.controller
    QGuiApplication.clipboard().setImage(qimage_from_rgb(sample_image()))
    window.files.paste()
    assert c.doc.source == "pasted drawing" and c.doc.size == (400, 440)
    qtbot.waitUntil(lambda: c.doc.annotated, timeout=20000)
    QGuiApplication.clipboard().setText("just text")
    window.files.paste()
    assert "no image" in window.banner.label.text()
    picture = tmp_path / "dropped.png"
    Image.fromarray(sample_image()).save(picture)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(picture))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    c.forget_changes()
    window.dropEvent(event)
    assert Path(c.doc.source) == picture
    assert isinstance(QImage(), QImage)


def test_a_pasted_image_is_a_new_drawing_not_the_open_project(window: Any, tmp_path: Path) -> None:
    """Ctrl+S after a paste wrote the pasted picture over the project opened before it."""
    from PySide6.QtGui import QGuiApplication

    from studio.core.sample import sample_image
    from studio.ui.images import qimage_from_rgb

    project = tmp_path / "kept.studio"
    assert window.files._save_to(project) and window.files.project_path == project
    before = project.read_bytes()
    QGuiApplication.clipboard().setImage(qimage_from_rgb(sample_image()))
    window.files.paste()
    assert window.controller.doc.source == "pasted drawing" and window.files.project_path is None
    assert project.read_bytes() == before


def test_annotating_can_be_cancelled_and_changes_nothing(window: Any, qtbot: Any) -> None:
    c = window.controller
    before = c.doc.skeleton.joints.copy()
    job = c.annotate()
    assert window.annotate_cancel.isVisible()
    window.annotate_cancel.click()
    qtbot.waitUntil(lambda: job.done.is_set(), timeout=20000)
    qtbot.waitUntil(lambda: not window.annotate_cancel.isVisible(), timeout=5000)
    np.testing.assert_array_equal(c.doc.skeleton.joints, before)
    assert c.undo.count() == 0


def test_a_fast_mask_stroke_leaves_no_gaps(window: Any) -> None:
    c, canvas = window.controller, window.canvas
    window.set_tool("mask")
    window.options.erase.setChecked(True)
    window.options.brush_slider.setValue(6)
    box = c.doc.box
    y = (box[1] + box[3]) / 2
    a, b = canvas.to_widget(box[0] + 20, y).toPoint(), canvas.to_widget(box[2] - 20, y).toPoint()
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    QTest.mouseMove(canvas, b)  # one big jump, as a quick flick gives
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)
    x0, x1 = canvas.to_image(QPointF(a))[0], canvas.to_image(QPointF(b))[0]
    row = c.doc.mask[int(round(y)), int(x0) + 1:int(x1)]
    assert (row == 0).all()  # erased all along the line


def test_paste_asks_before_replacing_unsaved_work(window: Any, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QGuiApplication

    from studio.core.sample import sample_image

    c = window.controller
    c.set_frames(30)  # a settings change is unsaved work too
    assert c.has_unsaved() and window.isWindowModified()
    picture = tmp_path / "other.png"
    Image.fromarray(sample_image()).save(picture)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(picture))])  # a file copied in a file manager
    QGuiApplication.clipboard().setMimeData(data)
    asked: list[bool] = []
    monkeypatch.setattr(window.files, "maybe_save", lambda: asked.append(True) or False)  # the user cancels
    try:
        window.files.paste()
    finally:
        QGuiApplication.clipboard().clear()  # the clipboard owns the mime data: free it while Qt is up
    assert asked == [True] and c.doc.source == "sample" and c.doc.preview.frames == 30


def test_a_steady_drag_keeps_the_preview_moving(window: Any) -> None:
    from PySide6.QtWidgets import QApplication

    c, canvas = window.controller, window.canvas
    window.set_tool("joints")
    hand = c.doc.skeleton.names.index("right_hand")
    start = canvas.to_widget(*c.doc.skeleton.joints[hand]).toPoint()
    shown: list[bool] = []  # draft? for each preview shown
    c.preview_ready.connect(lambda animation: shown.append(c.animation_is_draft))
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    deadline = time.perf_counter() + 60  # a bound on a stuck drag, not a speed requirement
    i = 0
    # A move every 8 ms, faster than a build: if each move cancelled the running build, no preview would show
    # until the release. Previews keep coming while the pointer still moves, however slow the machine.
    while len(shown) < 3 and time.perf_counter() < deadline:
        i += 1
        QTest.mouseMove(canvas, start + QPoint(i % 40, -(i % 25)))
        QApplication.processEvents()
        time.sleep(0.008)
    during = list(shown)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    assert len(during) >= 3 and all(during), f"{len(during)} previews during {i} moves of a drag"


def test_a_rig_result_does_not_overwrite_edits_made_meanwhile(window: Any, qtbot: Any) -> None:
    c = window.controller
    job = c.annotate()
    joints = c.doc.skeleton.joints.copy()
    joints[5] += (4.0, 4.0)
    c.set_joints(c.doc.skeleton.joints.copy(), joints, 5)  # before the annotation's result is delivered
    qtbot.waitUntil(lambda: job.done.is_set(), timeout=20000)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=5000)
    np.testing.assert_array_equal(c.doc.skeleton.joints, joints)
    assert "changed while it was being annotated" in window.banner.label.text() and c.undo.count() == 1


def test_a_second_export_does_not_cancel_the_first(window: Any, qtbot: Any, tmp_path: Path) -> None:
    panel = window.export_panel
    first = panel.export(tmp_path / "a.gif")
    assert panel.export(tmp_path / "b.gif") is None
    window.actions_by_name["export"].trigger()  # Ctrl+E while busy
    qtbot.waitUntil(lambda: first.done.is_set(), timeout=60000)
    assert (tmp_path / "a.gif").is_file() and not (tmp_path / "b.gif").exists()


def test_share_with_settings_out_of_range_says_so(window: Any) -> None:
    window.controller.settings.share.bucket = "b"
    window.controller.settings.share.expires = 30 * 24 * 3600
    assert window.export_panel.share() is None
    assert "Share settings" in window.banner.label.text() and window.banner.isVisible()


def test_recovery_offers_each_autosave_in_turn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import os

    from studio.core.project import save_project
    from studio.ui.app import offer_recovery, sample_document

    folder = tmp_path / "recovery"
    folder.mkdir()
    monkeypatch.setenv("STUDIO_RECOVERY_DIR", str(folder))
    for pid, name, age in ((999_991, "cat.png", 100), (999_992, "dog.png", 10)):
        doc = sample_document()
        doc.source = name
        path = save_project(doc, folder / f"autosave-{pid}.studio", mark_saved=False)
        (folder / f"autosave-{pid}.json").write_text(json.dumps(
            {"pid": pid, "time": time.time() - age, "project": None, "source": name}))
        os.utime(path, (time.time() - age, time.time() - age))
    _, w = create_app(settings=AppSettings())
    try:
        asked: list[str] = []
        assert offer_recovery(w, ask=lambda when, what: asked.append(what) or what == "cat.png")
        assert asked == ["dog.png", "cat.png"] and w.controller.doc.source == "cat.png"
        assert [p.name for p in folder.glob("*.studio")] == [f"autosave-{os.getpid()}.studio"]  # cat.png, now ours
    finally:
        w.controller.forget_changes()
        w.close()


def test_recovered_work_survives_a_second_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Accepting a recovery removed its autosave, and nothing was written until the next edit: a crash in between
    lost the work for good. Now it is this process's autosave at once, so a kill -9 leaves it to recover again."""
    import json
    import os

    from studio.core.project import open_project, save_project
    from studio.core.recovery import Autosaver
    from studio.ui.app import offer_recovery, sample_document

    folder = tmp_path / "recovery"
    folder.mkdir()
    monkeypatch.setenv("STUDIO_RECOVERY_DIR", str(folder))
    doc = sample_document()
    doc.source = "cat.png"
    doc.set_preview(frames=17)
    old = save_project(doc, folder / "autosave-999993.studio", mark_saved=False)
    old.with_suffix(".json").write_text(json.dumps({"pid": 999_993, "time": time.time(), "source": "cat.png"}))
    _, w = create_app(settings=AppSettings())
    try:
        autosaver = Autosaver()
        w.controller.enable_autosave(autosaver)  # as run() does, before offering
        assert offer_recovery(w, ask=lambda when, what: True)
        assert not old.exists() and autosaver.path == folder / f"autosave-{os.getpid()}.studio"
        second = open_project(autosaver.path)  # what the start after a second crash would recover
        assert second.source == "cat.png" and second.preview.frames == 17
        assert json.loads(autosaver.sidecar.read_text())["source"] == "cat.png"
    finally:
        w.controller.forget_changes()
        w.close()


EDITING_STUDIO = """
import time
from PySide6.QtWidgets import QApplication
from studio.pipeline.intake.strokes import Stroke
from studio.core.recovery import Autosaver, AutosaveSchedule
from studio.core.settings import AppSettings
from studio.ui.app import create_app
_, w = create_app(settings=AppSettings(), offscreen=True)
c = w.controller
w.files.new_drawing()
c.annotation_fixed_by_hand = True  # no automatic annotation between the strokes: this is about saving them
c.enable_autosave(Autosaver(), AutosaveSchedule(quiet_s=0.5, max_wait_s=1.0))
k, due = 0, time.monotonic()
while True:  # a stroke every 0.3 s, for ever: never the 0.5 s pause a debounce alone would wait for
    if time.monotonic() >= due:
        k, due = k + 1, due + 0.3
        c.add_stroke(Stroke(((10.0 * k, 10.0), (10.0 * k, 200.0)), (0, 0, 0), 6.0))
    QApplication.processEvents()
    time.sleep(0.01)
"""


def test_steady_editing_is_autosaved_and_survives_kill_9(tmp_path: Path) -> None:
    """A stroke a second for 30 s, then kill -9, lost all 30: each stroke put the autosave off again. With a
    maximum wait (1 s here) the autosave comes while the editing goes on, and the next start finds the strokes."""
    import os
    import signal

    from studio.core.recovery import find_recoverable

    folder = tmp_path / "recovery"
    with open(tmp_path / "stderr.txt", "w") as err:
        child = subprocess.Popen([sys.executable, "-c", EDITING_STUDIO], stdout=subprocess.DEVNULL, stderr=err,
                                 env={**os.environ, "STUDIO_RECOVERY_DIR": str(folder),
                                      "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    try:
        autosave = folder / f"autosave-{child.pid}.studio"
        deadline = time.monotonic() + 60  # a bound on the wait, not a speed test: it comes ~1 s after a stroke
        while not autosave.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.poll() is None, (tmp_path / "stderr.txt").read_text()[-2000:]
        assert autosave.exists(), "no autosave while the editing went on"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(30)
    [found] = find_recoverable(folder)
    strokes = found.open().strokes
    assert strokes and [s.points[0][0] for s in strokes] == [10.0 * (k + 1) for k in range(len(strokes))]


def test_unsure_joints_are_ringed_and_listed_until_fixed_or_confirmed(window: Any, qtbot: Any) -> None:
    from studio.core.commands import AnnotationState, SetAnnotation

    c, canvas = window.controller, window.canvas
    window.set_tool("joints")
    assert not window.joint_check.isVisible()
    plain = AnnotationState.of(c.doc)
    c.undo.run(SetAnnotation(plain, AnnotationState(plain.box, plain.mask, plain.skeleton, plain.detected,
                                       frozenset({"left_hand", "right_knee"}))))
    assert window.joint_check.isVisible()
    assert "left hand and right knee" in window.joint_check.label.text()
    hand = c.doc.skeleton.names.index("left_hand")
    centre = canvas.to_widget(*c.doc.skeleton.joints[hand])
    picture = canvas.grab().toImage()
    ring = [picture.pixelColor(int(centre.x() + 12 * np.cos(a)), int(centre.y() + 12 * np.sin(a)))
            for a in np.linspace(0, 2 * np.pi, 48, endpoint=False)]
    assert sum(q.red() > 200 and 120 < q.green() < 200 and q.blue() < 80 for q in ring) >= 8  # amber, dashed
    start = centre.toPoint()
    _drag(canvas, start, start + QPoint(25, 0))
    assert "right knee" in window.joint_check.label.text() and "hand" not in window.joint_check.label.text()
    window.joint_check.confirm.click()
    assert not window.joint_check.isVisible() and c.doc.unsure_joints() == []


def test_where_no_figure_is_found_a_dragged_box_rigs_inside_it(window: Any, qtbot: Any, tmp_path: Path) -> None:
    import cv2

    page = np.full((300, 400, 3), 240, np.uint8)
    for y in range(12, 300, 18):  # notebook rules across the page join everything to the border
        cv2.line(page, (0, y), (399, y + 4), (150, 180, 235), 1)
    cv2.circle(page, (200, 80), 20, (40, 40, 40), 3)
    for a, b in (((200, 100), (200, 170)), ((150, 125), (250, 125)), ((200, 170), (175, 240)),
                 ((200, 170), (225, 240))):
        cv2.line(page, a, b, (40, 40, 40), 3)
    path = tmp_path / "notebook.png"
    Image.fromarray(page).save(path)
    c, canvas = window.controller, window.canvas
    window.files.load(path)
    wait_until(qtbot, lambda: window.banner.isVisible(), 20)
    assert "No figure found" in window.banner.label.text() and "Box tool" in window.banner.label.text()
    assert not c.doc.annotated
    window.set_tool("box")
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     canvas.to_widget(20, 20).toPoint())
    assert c.doc.box is None  # a click is not a box
    _drag(canvas, canvas.to_widget(135, 50).toPoint(), canvas.to_widget(265, 255).toPoint())
    wait_until(qtbot, lambda: c.doc.annotated, 20)
    left, top, right, bottom = c.doc.box
    assert abs(left - 135) < 3 and abs(top - 50) < 3 and abs(right - 265) < 3 and abs(bottom - 255) < 3
    assert not window.banner.isVisible()


def test_a_small_figure_on_a_big_sheet_is_shown_large_and_the_view_zooms_and_pans(window: Any, qtbot: Any,
                                                                                     tmp_path: Path) -> None:
    """Annotating a photo whose figure covers little of it zooms to the figure; the wheel zooms about the pointer,
    a middle drag pans, and a joint dragged while zoomed lands where the pointer is; Fit shows it all again."""
    import cv2

    page = np.full((900, 1200, 3), 238, np.uint8)
    cv2.circle(page, (900, 260), 22, (40, 40, 40), 4)
    for a, b in (((900, 282), (900, 380)), ((850, 310), (950, 310)), ((900, 380), (875, 460)),
                 ((900, 380), (925, 460))):
        cv2.line(page, a, b, (40, 40, 40), 4)
    path = tmp_path / "small.png"
    Image.fromarray(page).save(path)
    c, canvas = window.controller, window.canvas
    window.files.load(path)
    wait_until(qtbot, lambda: c.doc.annotated and c.doc.source == str(path), 30)
    left, top, right, bottom = c.doc.box
    a, b = canvas.to_widget(left, top), canvas.to_widget(right, bottom)
    assert b.y() - a.y() > 0.6 * canvas.height()  # framed: the figure fills most of the canvas
    assert canvas.rect().contains(a.toPoint()) and canvas.rect().contains(b.toPoint())

    window.set_tool("joints")
    anchor = QPointF(canvas.width() * 0.3, canvas.height() * 0.6)
    under = canvas.to_image(anchor)
    zoom = canvas.viewport.zoom
    from PySide6.QtGui import QWheelEvent

    wheel = QWheelEvent(anchor, canvas.mapToGlobal(anchor), QPoint(0, 0), QPoint(0, 240), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    canvas.wheelEvent(wheel)  # two notches in
    assert canvas.viewport.zoom == pytest.approx(zoom * 1.25 ** 2)
    assert canvas.to_image(anchor) == pytest.approx(under)

    before = canvas.to_widget(*under)
    start = QPoint(canvas.width() // 2, canvas.height() // 2)
    QTest.mousePress(canvas, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(canvas, start + QPoint(40, -25))
    QTest.mouseRelease(canvas, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, start + QPoint(40, -25))
    after = canvas.to_widget(*under)
    assert (after.x() - before.x(), after.y() - before.y()) == pytest.approx((40, -25))

    hand = c.doc.skeleton.names.index("left_hand")
    grip = canvas.to_widget(*c.doc.skeleton.joints[hand]).toPoint()
    _drag(canvas, grip, grip + QPoint(30, 20))
    assert c.doc.skeleton.joints[hand] == pytest.approx(canvas.to_image(QPointF(grip + QPoint(30, 20))), abs=0.6)

    window.set_tool("box")  # the View menu's shortcuts work from any tool
    QTest.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert canvas.viewport.zoom == 1.0
    QTest.keyClick(window, Qt.Key.Key_F)
    assert canvas.viewport.zoom > 2


def test_panning_is_safe_whatever_else_the_mouse_and_keyboard_do(window: Any, qtbot: Any) -> None:
    """A click during a pan edits nothing; a pan whose release went elsewhere ends on the next move; two fingers
    on a touchpad pan; annotating again keeps a view the user chose; Ctrl+= zooms in."""
    c, canvas = window.controller, window.canvas
    window.set_tool("draw")
    strokes, revision = len(c.doc.strokes), c.doc.revision
    canvas.zoom_in()
    centre = QPoint(canvas.width() // 2, canvas.height() // 2)
    QTest.mousePress(canvas, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, centre)
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    assert len(c.doc.strokes) == strokes and c.doc.revision == revision  # no dot drawn mid-pan
    assert canvas.gesture is None  # nor a stroke half-started, to follow the pointer once the pan ends

    from PySide6.QtGui import QMouseEvent

    view, spot = canvas.viewport.centre, QPointF(centre + QPoint(50, 50))
    for _ in range(2):  # the middle release went elsewhere: hovering (no button) must not drag the drawing along
        canvas.mouseMoveEvent(QMouseEvent(QMouseEvent.Type.MouseMove, spot, canvas.mapToGlobal(spot),
                                          Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                                          Qt.KeyboardModifier.NoModifier))
        assert canvas.viewport.centre == view
    QTest.mouseRelease(canvas, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, centre)

    from PySide6.QtGui import QWheelEvent

    under = canvas.to_image(QPointF(centre))
    swipe = QWheelEvent(QPointF(centre), canvas.mapToGlobal(QPointF(centre)), QPoint(-30, 15), QPoint(-30, 15),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.ScrollUpdate, False)
    zoom = canvas.viewport.zoom
    canvas.wheelEvent(swipe)  # two fingers on a touchpad: a pan, not a zoom
    moved = canvas.to_widget(*under)
    assert (moved.x() - centre.x(), moved.y() - centre.y()) == pytest.approx((-30, 15))
    assert canvas.viewport.zoom == zoom

    zoom = canvas.viewport.zoom
    QTest.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert canvas.viewport.zoom == pytest.approx(zoom * 1.25)
    window.set_tool("joints")
    c.annotate()
    wait_until(qtbot, lambda: JobKind.ANNOTATE not in c.jobs.running, 30)
    assert canvas.viewport.zoom == pytest.approx(zoom * 1.25)  # annotating again leaves the user's view alone


def test_confirming_unsure_joints_marks_the_window_unsaved(window: Any) -> None:
    from studio.core.commands import AnnotationState, SetAnnotation

    c = window.controller
    plain = AnnotationState.of(c.doc)
    c.undo.run(SetAnnotation(plain, AnnotationState(plain.box, plain.mask, plain.skeleton, plain.detected,
                                                    frozenset({"neck"}))))
    c.doc.mark_saved()
    c.undo.setClean()
    window._update_title()
    assert not window.isWindowModified()
    window.joint_check.confirm.click()
    assert window.isWindowModified()


def test_a_chosen_motion_is_checked_off_the_ui_thread_and_read_once(window: Any, qtbot: Any, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's check used to load the clip on the UI thread, and the preview then loaded it again."""
    import threading

    import studio.core.preview as preview

    c, library = window.controller, window.library
    reads: list[tuple[str, threading.Thread]] = []
    real = preview.load_motion

    def counted(spec: str, character: Any) -> Any:
        reads.append((spec, threading.current_thread()))
        return real(spec, character)

    monkeypatch.setattr(preview, "load_motion", counted)
    target = next(spec for spec in library.specs() if spec != c.doc.preview.motion)
    with qtbot.waitSignal(c.preview_ready, timeout=30000):  # the preview of the chosen clip
        library.list.setCurrentRow(library.specs().index(target))
    assert c.doc.preview.motion == target
    assert [spec for spec, _ in reads] == [target]  # the preview found the clip the check had read
    assert all(thread is not threading.main_thread() for _, thread in reads)

    two_joints = tmp_path / "neck.bvh"  # no biped: it cannot play on the figure
    two_joints.write_text("HIERARCHY\nROOT Hips\n{\n\tOFFSET 0 0 0\n\tCHANNELS 3 Xposition Yposition Zposition\n"
                          "\tJOINT Head\n\t{\n\t\tOFFSET 0 10 0\n\t\tCHANNELS 3 Zrotation Xrotation Yrotation\n"
                          "\t\tEnd Site\n\t\t{\n\t\t\tOFFSET 0 5 0\n\t\t}\n\t}\n}\nMOTION\nFrames: 2\n"
                          "Frame Time: 0.1\n0 0 0 0 0 0\n0 0 0 10 0 0\n", encoding="utf-8")
    library.import_files([two_joints])
    wait_until(qtbot, lambda: "cannot play on this character" in (library.error() or ""))
    assert c.doc.preview.motion == target


def test_the_window_loads_the_pose_model_once_off_its_thread(window: Any, qtbot: Any) -> None:
    """Annotating twice with the same settings uses one loaded backend, built by the annotation job (a torch model
    took seconds to load on the window's thread before); a backend that cannot load says where to fix it."""
    import threading

    from studio.core import annotate as core_annotate

    c = window.controller
    built: list[int] = []
    real = core_annotate.make_backend

    def spy(*args: Any, **kwargs: Any) -> Any:
        built.append(threading.get_ident())
        return real(*args, **kwargs)

    core_annotate._LOADED.clear()
    c.settings.backend = "manual"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(core_annotate, "make_backend", spy)
        for _ in range(2):
            job = c.annotate()
            qtbot.waitUntil(lambda: job.done.is_set(), timeout=20000)
    assert len(built) == 1 and built[0] != threading.get_ident()
    c.settings.backend, c.settings.checkpoint = "torch", str(window.controller.doc.source) + ".missing.pth"
    with qtbot.waitSignal(c.failed, timeout=20000) as failure:
        c.annotate()
    assert "(Settings → Annotation)" in failure.args[0]
    c.settings.backend, c.settings.checkpoint = "auto", ""
