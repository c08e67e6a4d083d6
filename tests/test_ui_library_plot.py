"""Widget tests of the motion library and the clip plot, and unit tests of the BVH stick-figure thumbnails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.core.motion_source import bundled_motions, load_motion, motions_dir
from studio.pipeline.motion.bvh import parse_bvh, read_bvh
from studio.pipeline.motion.thumbnail import stick_figure
from studio.core.sample import sample_character

TINY_BVH = """HIERARCHY
ROOT Hips
{
\tOFFSET 0 0 0
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\tJOINT Spine
\t{
\t\tOFFSET 0 10 0
\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\tJOINT Head
\t\t{
\t\t\tOFFSET 0 10 0
\t\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\t\tEnd Site
\t\t\t{
\t\t\t\tOFFSET 0 5 0
\t\t\t}
\t\t}
\t}
}
MOTION
Frames: 3
Frame Time: 0.1
0 0 0 0 0 0 0 0 0 0 0 0
0 0 0 10 0 0 5 0 0 0 0 0
0 0 0 20 0 0 10 0 0 0 0 0
"""


def _opaque_box(rgba: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(rgba[..., 3] > 0)
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


# --- bvh_thumbnail (no Qt) -------------------------------------------------------------------------------
def test_stick_figure_of_a_standing_biped_is_taller_than_wide() -> None:
    bvh = read_bvh(motions_dir() / "idle.bvh")
    picture = stick_figure(bvh, bvh.n_frames // 2, 96, "+y", [("LeftShoulder", "RightShoulder")])
    assert picture.shape == (96, 96, 4) and picture.dtype == np.uint8
    assert (picture[..., 3] == 255).sum() > 100
    width, height = _opaque_box(picture)
    assert height > 1.5 * width
    assert height >= 96 * 0.7  # fitted: it fills the picture, less the margin
    assert picture[0, 0, 3] == 0 and picture[-1, -1, 3] == 0  # transparent background


def test_stick_figure_is_deterministic_and_works_without_pairs() -> None:
    bvh = parse_bvh(TINY_BVH)
    first = stick_figure(bvh, 1, 48)
    assert np.array_equal(first, stick_figure(bvh, 1, 48))
    assert (first[..., 3] > 0).any()
    with pytest.raises(IndexError):
        stick_figure(bvh, 3)


# --- MotionLibrary ---------------------------------------------------------------------------------------
@pytest.fixture
def library(qtbot):  # type: ignore[no-untyped-def]
    from studio.ui.motion_library import MotionLibrary

    widget = MotionLibrary()
    qtbot.addWidget(widget)
    widget.resize(420, 360)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_library_lists_every_bundled_motion_with_an_icon(library) -> None:  # type: ignore[no-untyped-def]
    assert library.specs() == bundled_motions() and library.specs()
    for i in range(library.list.count()):
        item = library.list.item(i)
        assert not item.icon().isNull()
        assert "frames" in item.toolTip() and " s" in item.toolTip()
    assert library.error() is None and library.current() is None


def test_clicking_a_motion_emits_its_name(library, qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    row = library.specs().index("wave")
    rect = library.list.visualItemRect(library.list.item(row))
    with qtbot.waitSignal(library.motion_chosen, timeout=1000) as blocker:
        qtbot.mouseClick(library.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == ["wave"]
    assert library.current() == "wave"
    with qtbot.waitSignal(library.motion_chosen, timeout=1000) as blocker:
        library.list.setCurrentRow(library.specs().index("idle"))
    assert blocker.args == ["idle"]


def test_select_highlights_without_emitting(library, qtbot) -> None:  # type: ignore[no-untyped-def]
    with qtbot.assertNotEmitted(library.motion_chosen):
        library.select("jump")
    assert library.current() == "jump"


def test_importing_a_bvh_adds_and_emits_it(library, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "tiny.bvh"
    path.write_text(TINY_BVH, encoding="utf-8")
    count = library.list.count()
    with qtbot.waitSignal(library.motion_chosen, timeout=5000) as blocker:
        assert library.import_files([path]) == [str(path.resolve())]
    assert blocker.args == [str(path.resolve())]
    assert library.list.count() == count + 1
    item = library.list.item(count)
    assert item.text() == "tiny" and not item.icon().isNull() and "3 frames" in item.toolTip()
    assert library.current() == str(path.resolve())
    library.import_files([path])  # the same file again is not listed twice
    assert library.list.count() == count + 1


def test_dropping_a_bvh_imports_it(library, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    path = tmp_path / "dropped.bvh"
    path.write_text(TINY_BVH, encoding="utf-8")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(library.motion_chosen, timeout=5000):
        library.dropEvent(event)
    assert str(path.resolve()) in library.specs()


def test_a_malformed_bvh_shows_an_inline_error(library, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "broken.bvh"
    path.write_text("HIERARCHY\nROOT Hips\n{\n\tOFFSET 0 0\n", encoding="utf-8")
    count = library.list.count()
    with qtbot.assertNotEmitted(library.motion_chosen):
        library.import_files([path])  # returns at once; the clip is read in the background
        qtbot.waitUntil(lambda: library.error() is not None, timeout=5000)
    assert library.list.count() == count
    message = library.error()
    assert message is not None and "broken.bvh" in message and "Traceback" not in message
    assert library.error_label.isVisible()


def test_a_checker_problem_is_shown_and_nothing_emitted(library, qtbot) -> None:  # type: ignore[no-untyped-def]
    library.select("idle")
    library.set_checker(lambda spec, reply: reply("missing joints: x" if spec == "wave" else None))
    with qtbot.assertNotEmitted(library.motion_chosen):
        library.list.setCurrentRow(library.specs().index("wave"))
    message = library.error()
    assert message is not None and "missing joints: x" in message and "wave" in message
    qtbot.waitUntil(lambda: library.current() == "idle", timeout=1000)  # the clip in use stays highlighted
    with qtbot.waitSignal(library.motion_chosen, timeout=1000) as blocker:
        library.list.setCurrentRow(library.specs().index("jump"))
    assert blocker.args == ["jump"] and library.error() is None


def test_a_checker_that_raises_is_shown_not_raised(library, qtbot) -> None:  # type: ignore[no-untyped-def]
    def checker(spec: str, reply: Any) -> None:
        raise ValueError("BVH skeleton 'x': cannot find left foot")

    library.set_checker(checker)
    with qtbot.assertNotEmitted(library.motion_chosen):
        library.list.setCurrentRow(0)
    assert "cannot find left foot" in (library.error() or "")


def test_a_late_reply_chooses_the_clip_and_a_stale_one_is_dropped(library: Any) -> None:
    library.select("idle")
    replies: dict[str, Any] = {}
    library.set_checker(lambda spec, reply: replies.__setitem__(spec, reply))  # answered later, as from a thread
    chosen: list[str] = []
    library.motion_chosen.connect(chosen.append)
    library.list.setCurrentRow(library.specs().index("wave"))
    library.list.setCurrentRow(library.specs().index("jump"))  # chosen while wave is still being checked
    assert chosen == [] and set(replies) == {"wave", "jump"}
    replies["wave"](None)  # the stale answer: wave is no longer wanted
    assert chosen == []
    replies["jump"](None)
    assert chosen == ["jump"] and library.error() is None
    library.list.setCurrentRow(library.specs().index("wave"))
    library.select("idle")  # the document chose for itself meanwhile (say, a project was opened)
    replies["wave"](None)
    assert chosen == ["jump"]


# --- ClipPlot --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def animation():  # type: ignore[no-untyped-def]
    from studio.core.render import Animation

    character = sample_character()
    return Animation(character, load_motion("wave", character), (64, 64), frames=12)


def test_clip_plot_draws_the_limb_angles_over_the_clip(qtbot, animation) -> None:  # type: ignore[no-untyped-def]
    from studio.ui.clip_plot import ClipPlot

    plot = ClipPlot()
    qtbot.addWidget(plot)
    plot.resize(480, 260)
    plot.set_animation(animation)
    assert plot.curves
    duration = animation.n_frames * animation.frame_time
    for curve in plot.curves:
        x, y = curve.getData()
        assert len(x) == 12 and np.isclose(x[0], 0.0) and np.isclose(x[-1], 11 * animation.frame_time)
        assert np.isfinite(y).any()
        assert np.all(np.abs(np.diff(y[np.isfinite(y)])) < 180)  # unwrapped: no ±180° jumps
        assert curve.opts["symbol"] == "o"  # 12 frames: the samples show as dots
    (x0, x1), _ = plot.plot_item.viewRange()
    assert x0 <= 1e-9 and x1 >= duration - 1e-9
    plot.set_frame(5)
    assert np.isclose(plot.cursor_time, 5 * animation.frame_time)
    plot.set_frame(99)  # clamped to the last frame
    assert np.isclose(plot.cursor_time, 11 * animation.frame_time)
    assert not plot.grab().isNull()


def test_clip_plot_without_an_animation_is_empty(qtbot, animation) -> None:  # type: ignore[no-untyped-def]
    from studio.ui.clip_plot import ClipPlot

    plot = ClipPlot()
    qtbot.addWidget(plot)
    plot.set_animation(animation)
    plot.set_animation(None)
    assert plot.curves == [] and plot.plot_item.listDataItems() == []
    assert plot.hint.isVisible() and not plot.cursor_line.isVisible()
    plot.set_frame(3)  # harmless
    assert not plot.grab().isNull()


def test_library_grab_is_not_null(library) -> None:  # type: ignore[no-untyped-def]
    assert not library.grab().isNull()
