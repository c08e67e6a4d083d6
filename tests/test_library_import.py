"""BVH import in the motion library runs off the UI thread: the card says "importing…" at once, the clip is
chosen when it is read, and any failure is shown inline (a long clip froze the window for 19 s)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import Qt  # noqa: E402

from studio.ui import motion_library  # noqa: E402
from studio.ui.motion_library import IMPORTING, MotionLibrary  # noqa: E402

TINY_BVH = """HIERARCHY
ROOT Hips
{
\tOFFSET 0 0 0
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\tJOINT Head
\t{
\t\tOFFSET 0 10 0
\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0 5 0
\t\t}
\t}
}
MOTION
Frames: 2
Frame Time: 0.1
0 0 0 0 0 0 0 0 0
0 0 0 10 0 0 5 0 0
"""


@pytest.fixture
def library(qtbot: Any) -> MotionLibrary:
    widget = MotionLibrary()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_an_import_returns_at_once_and_reads_the_clip_on_a_worker_thread(library: MotionLibrary, qtbot: Any,
                                                                         tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "long.bvh"
    path.write_text(TINY_BVH, encoding="utf-8")
    release, threads = threading.Event(), []
    card = motion_library.clip_card

    def slow_card(bvh_path: Path, config: Any = None) -> Any:  # a long clip: reading it takes until the test says so
        threads.append(threading.current_thread())
        assert release.wait(10)
        return card(bvh_path, config)

    monkeypatch.setattr(motion_library, "clip_card", slow_card)
    spec = str(path.resolve())
    with qtbot.assertNotEmitted(library.motion_chosen):
        assert library.import_files([path]) == [spec]  # back while the clip is still being read
        placeholder = library.list.item(library.list.count() - 1)
        assert placeholder.text() == f"long\n{IMPORTING}" and not placeholder.flags() & Qt.ItemFlag.ItemIsEnabled
    with qtbot.waitSignal(library.imported, timeout=10_000), qtbot.waitSignal(library.motion_chosen, timeout=10_000):
        release.set()
    assert threads and threads[0] is not threading.main_thread()
    item = library.list.item(library.list.count() - 1)
    assert item.text() == "long" and not item.icon().isNull() and "2 frames" in item.toolTip()
    assert library.current() == spec and library.specs().count(spec) == 1


def test_a_malformed_bvh_is_reported_inline_and_its_card_goes(library: MotionLibrary, qtbot: Any,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "broken.bvh"
    path.write_text("HIERARCHY\nROOT Hips\n{\n\tOFFSET 0 0\n", encoding="utf-8")
    count = library.list.count()
    with qtbot.assertNotEmitted(library.motion_chosen):
        library.import_files([path])
        qtbot.waitUntil(lambda: library.error() is not None, timeout=10_000)
    assert library.list.count() == count and library.error_label.isVisible()
    assert (library.error() or "").startswith("Cannot import broken.bvh: ")


def test_whatever_reading_a_clip_raises_is_reported_inline(library: MotionLibrary, qtbot: Any, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(bvh_path: Path, config: Any = None) -> None:
        raise MemoryError

    monkeypatch.setattr(motion_library, "clip_card", fail)
    path = tmp_path / "huge.bvh"
    path.write_text(TINY_BVH, encoding="utf-8")
    library.import_files([path])
    qtbot.waitUntil(lambda: library.error() is not None, timeout=10_000)
    assert library.error() == "Cannot import huge.bvh: too large to open (there was not enough memory)"
    assert str(path.resolve()) not in library.specs()


def test_selecting_a_clip_not_listed_yet_imports_it_without_choosing_it(library: MotionLibrary, qtbot: Any,
                                                                        tmp_path: Path) -> None:
    """A project whose motion is a .bvh file: the library shows it, highlighted, once it is read."""
    path = tmp_path / "walk.bvh"
    path.write_text(TINY_BVH, encoding="utf-8")
    spec = str(path.resolve())
    with qtbot.assertNotEmitted(library.motion_chosen):
        with qtbot.waitSignal(library.imported, timeout=10_000):
            library.select(str(path))
    assert library.current() == spec and library.list.currentItem().text() == "walk"
