"""The window never crashes on a file: whatever opening, pasting, saving or recovering one raises becomes a short
banner sentence, and the window goes on with the work it had."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent, QGuiApplication  # noqa: E402

from studio.pipeline.character import CHAR_CFG, write_character  # noqa: E402
from studio.core.project import save_project  # noqa: E402
from studio.core.sample import sample_character  # noqa: E402
from studio.core.settings import AppSettings  # noqa: E402
from studio.ui.app import create_app, offer_recovery, sample_document, wait_for_preview  # noqa: E402

pytestmark = pytest.mark.slow  # end to end: the real window, offscreen

BANNER_LIMIT = 300  # a sentence or two; the reason itself is cut at loading.MESSAGE_LIMIT


def _still_works(window: Any, tmp_path: Path) -> None:
    """The sample is still there, unchanged, and the window opens the next (good) file."""
    c = window.controller
    assert c.doc.source == "sample" and c.doc.annotated and c.undo.count() == 0
    good = save_project(sample_document(), tmp_path / "good.studio")
    assert window.files.load(good) and window.files.project_path == good


def _banner(window: Any) -> str:
    assert window.banner.isVisible()
    text: str = window.banner.label.text()
    assert len(text) <= BANNER_LIMIT and "\n" not in text and "Traceback" not in text, text[:400]
    return text


def test_a_char_cfg_nested_100k_deep_is_a_banner_not_a_crash(window: Any, tmp_path: Path) -> None:
    """It raised RecursionError out of the window."""
    folder = tmp_path / "deep"
    folder.mkdir()
    (folder / CHAR_CFG).write_text("width: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert not window.files.load(folder)
    assert _banner(window).startswith("Cannot open deep: ")
    _still_works(window, tmp_path)


def test_a_yaml_alias_bomb_is_a_short_banner(window: Any, tmp_path: Path) -> None:
    """A 300-byte char_cfg whose joint name expands to 59,049 strings: the banner quoted it all back (428 KB)."""
    folder = tmp_path / "bomb"
    write_character(sample_character(), folder)
    width, height = sample_character().width, sample_character().height
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"{b}: &{b} [" + ", ".join([f"*{a}"] * 9) + "]" for a, b in zip("abcd", "bcde")]
    (folder / CHAR_CFG).write_text("\n".join(levels) + f"\nwidth: {width}\nheight: {height}\nskeleton:\n"
                                   "- {name: *e, parent: null, loc: [1, 1]}\n")
    assert not window.files.load(folder)
    assert _banner(window).startswith("Cannot open bomb: ")
    _still_works(window, tmp_path)


@pytest.mark.parametrize("error, reason", [
    (MemoryError(), "too large to open"),  # a .studio whose JSON expands to 199 MB
    (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
    (KeyError("texture"), "unexpected KeyError"),  # what no reader foresaw, say Pillow's DecompressionBombError
])
def test_whatever_a_reader_raises_is_a_banner(window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capfd: pytest.CaptureFixture[str], error: BaseException,
                                              reason: str) -> None:
    def fail(path: object) -> None:
        raise error

    monkeypatch.setattr("studio.ui.file_actions.open_path", fail)
    picture = tmp_path / "huge.png"
    picture.write_bytes(b"crafted")
    assert not window.files.load(picture)
    assert _banner(window).startswith(f"Cannot open huge.png: {reason}")
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(picture))])
    window.banner.hide()
    window.dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))
    assert _banner(window).startswith(f"Cannot open huge.png: {reason}")
    assert ("Traceback" in capfd.readouterr().err) == isinstance(error, KeyError)  # only a bug is worth reporting
    monkeypatch.undo()
    _still_works(window, tmp_path)


def test_a_file_given_on_the_command_line_cannot_stop_the_window_starting(tmp_path: Path) -> None:
    folder = tmp_path / "deep"
    folder.mkdir()
    (folder / CHAR_CFG).write_text("a: " + "{b: " * 100_000 + "1" + "}" * 100_000 + "\n")
    _, w = create_app(folder, settings=AppSettings())
    try:
        assert w.banner.label.text().startswith("Cannot open deep: ") and w.controller.doc.source == "sample"
    finally:
        w.controller.forget_changes()
        w.close()


def test_a_pasted_image_that_cannot_be_converted_is_a_banner(window: Any, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.core.sample import sample_image
    from studio.ui.images import qimage_from_rgb

    def fail(image: object) -> None:
        raise MemoryError

    monkeypatch.setattr("studio.ui.file_actions.rgb_from_qimage", fail)
    QGuiApplication.clipboard().setImage(qimage_from_rgb(sample_image()))
    window.files.paste()
    assert _banner(window) == "Cannot open the pasted image: too large to open (there was not enough memory)"
    monkeypatch.undo()
    _still_works(window, tmp_path)


def test_no_permission_to_open_reads_as_a_sentence(window: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as root, whom chmod 000 does not stop: the read raises what it raises for a user."""
    locked = tmp_path / "x.png"
    locked.write_bytes(b"\x89PNG")
    import os

    real_open = os.open

    def denied(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:  # readers open through os.open
        if os.fspath(path).endswith("x.png"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    assert not window.files.load(locked)
    assert _banner(window) == "Cannot open x.png: permission denied"  # was "… [Errno 13] Permission denied: '/…'"


def test_no_permission_to_save_reads_as_a_sentence(window: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(doc: object, path: Path, **kwargs: object) -> None:  # a read-only folder: the temp file is refused
        raise PermissionError(13, "Permission denied", str(path.parent / f".{path.name}.4242.k2j3.tmp"))

    monkeypatch.setattr("studio.core.project.save_project", denied)
    c = window.controller
    c.set_frames(20)
    assert not window.files._save_to(tmp_path / "boy.studio")
    assert _banner(window) == "Could not save boy.studio: permission denied. Nothing was written."  # no file before
    assert c.has_unsaved() and window.files.project_path is None  # the work is still there, still unsaved
    (tmp_path / "boy.studio").write_bytes(b"an earlier save")
    assert not window.files._save_to(tmp_path / "boy.studio")
    assert _banner(window) == "Could not save boy.studio: permission denied. The previous file is unchanged."


def test_an_unreadable_background_image_says_why_there_is_no_estimate(window: Any, qtbot: Any,
                                                                      tmp_path: Path) -> None:
    """The estimate read 'Estimating the export…' for ever."""
    bad = tmp_path / "paper.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    window.controller.doc.set_export(background=str(bad))
    estimate = window.preview.estimate
    qtbot.waitUntil(lambda: estimate.text().startswith("No export estimate: "), timeout=20_000)
    assert "paper.png" in estimate.text() and "not an image" in estimate.text()


def test_an_autosave_that_fails_when_recovered_is_a_banner_and_is_kept(window: Any, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.core.recovery import Autosaver, Recovery

    folder = tmp_path / "recovery"
    folder.mkdir()
    path = save_project(sample_document(), folder / "autosave-999989.studio", mark_saved=False)
    path.with_suffix(".json").write_text(json.dumps({"pid": 999_989, "time": time.time(), "source": "cat.png"}))
    window.controller.enable_autosave(Autosaver(folder))

    def fail(self: Recovery) -> None:
        raise MemoryError

    monkeypatch.setattr(Recovery, "open", fail)
    assert not offer_recovery(window, ask=lambda when, what: True)
    assert "too large to open" in _banner(window) and path.exists()  # offered again at the next start
    assert window.controller.doc.source == "sample"


def test_the_file_actions_are_a_component_any_window_can_own(qtbot: Any, tmp_path: Path) -> None:
    """FileActions needs a window to parent its dialogs and a banner, not to be the window's base class."""
    from PySide6.QtWidgets import QMainWindow

    from studio.core.document import Document
    from studio.ui.banner import Banner
    from studio.ui.controller import StudioController
    from studio.ui.export_panel import ExportPanel
    from studio.ui.file_actions import FileActions

    controller, host, banner = StudioController(Document.blank(), AppSettings()), QMainWindow(), Banner()
    tools: list[str] = []
    titles: list[bool] = []
    files = FileActions(host, controller, banner, ExportPanel(controller), tools.append, lambda: titles.append(True))
    assert files._save_to(tmp_path / "page.studio") and titles == [True]
    assert files.project_path == tmp_path / "page.studio" and controller.project_path == str(files.project_path)
    assert host.statusBar().currentMessage() == f"Saved {tmp_path / 'page.studio'}"
    files.new_drawing()
    assert tools == ["draw"] and files.project_path is None
    assert not files.load(tmp_path / "missing.png") and "Cannot open missing.png" in banner.label.text()
    controller.shutdown()
