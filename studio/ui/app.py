"""Starting the studio window: create_app() for tests and scripts, run() for `studio [FILE]` and --screenshot."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from studio.core.document import Document
from studio.core.loading import describe_error
from studio.core.recovery import Autosaver, find_recoverable
from studio.core.settings import AppSettings
from studio.core.workspace import JobKind


def _no_display() -> bool:
    return (sys.platform.startswith("linux") and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
            and os.environ.get("QT_QPA_PLATFORM", "") != "offscreen")


def _ensure_platform(offscreen: bool) -> None:
    if offscreen or _no_display():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def sample_document() -> Document:
    from studio.core.sample import sample_character, sample_image

    return Document.from_character(sample_character(), sample_image(), source="sample")


def create_app(path: str | Path | None = None, settings: AppSettings | None = None, offscreen: bool = False,
               ) -> tuple[object, object]:
    """(QApplication, MainWindow) showing ``path`` or the built-in sample, annotated and animating."""
    _ensure_platform(offscreen)
    from PySide6.QtWidgets import QApplication

    from studio.ui.controller import StudioController
    from studio.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Drawing Studio")
    app.setOrganizationName("drawing-studio")
    controller = StudioController(sample_document(), settings if settings is not None else AppSettings.load())
    window = MainWindow(controller)
    if path is not None:
        window.files.load(path)
    else:
        controller.schedule_preview()
    return app, window


def wait_for_preview(window: object, timeout_s: float = 60.0) -> bool:
    """Process events until the window's preview shows a frame (or there is an error to show)."""
    from PySide6.QtWidgets import QApplication

    deadline = time.perf_counter() + timeout_s
    w = window
    while time.perf_counter() < deadline:
        QApplication.processEvents()
        c = w.controller  # type: ignore[attr-defined]
        busy = bool(c.preview_jobs.running or JobKind.ANNOTATE in c.jobs.running)
        if w.preview.view.image is not None and not busy:  # type: ignore[attr-defined]
            return True
        if not busy and not w.controller._preview_timer.isActive() and w.banner.isVisible():  # type: ignore[attr-defined]
            return False
        time.sleep(0.005)
    return False


def screenshot(out: Path, path: str | None) -> int:
    """Open the window offscreen on ``path`` (or the sample), annotate it, show one preview frame, save a grab."""
    app, window = create_app(path, offscreen=True)
    w = window
    w.show()  # type: ignore[attr-defined]
    ok = wait_for_preview(window)
    if ok:
        w.preview.set_playing(False)  # type: ignore[attr-defined]
        w.preview.show_frame(w.preview.animation.n_frames // 3)  # type: ignore[attr-defined]
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    image = w.grab()  # type: ignore[attr-defined]
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = image.save(str(out))
    w.controller.forget_changes()  # type: ignore[attr-defined]
    w.close()  # type: ignore[attr-defined]
    if not saved:
        print(f"studio: error: could not write {out}", file=sys.stderr)
        return 1
    print(out)
    if not ok:
        print("studio: the preview did not come up; the screenshot shows the window's message", file=sys.stderr)
        return 1
    return 0


def offer_recovery(window: object, ask: Callable[[str, str], bool] | None = None) -> bool:
    """After a crash (or kill -9): offer the autosaves dead processes left, newest first, until one is
    recovered (True). Declined ones are removed, so each question comes once; later ones wait.

    Recovered work becomes this process's autosave (the window's autosaver; one is enabled if it has none) before
    the dead process's file is removed, so a second crash before the user saves still leaves it to recover."""
    w: Any = window  # a MainWindow (imported lazily: this module starts without Qt)
    controller = w.controller
    if controller.autosaver is None:
        controller.enable_autosave(Autosaver())
    autosaver: Autosaver = controller.autosaver
    found = find_recoverable(autosaver.recovery_dir)
    if not found:
        return False
    if ask is None:
        from studio.ui.dialogs import ask_recover

        def ask(when: str, what: str) -> bool:
            return ask_recover(w, when, what)

    for item in found:  # newest first; one recovered at a time, the rest wait for the next start
        when = time.strftime("%d %b %Y %H:%M", time.localtime(item.time))
        if item.error:
            w.banner.show_message(f"An autosave from {when} could not be read ({item.error}); it was removed.")
            item.discard()
            continue
        if not ask(when, item.what):
            item.discard()  # the user said no: do not ask again
            continue
        doc = w.files.open_guarded(f"the autosave from {when}", item.open, item.path)
        if doc is None:
            return False  # it stays, offered again at the next start; the banner says why
        controller.replace_document(doc)
        w.files.project_path = Path(item.project) if item.project else None
        controller.undo.resetClean()
        w._update_title()
        try:
            autosaver.adopt(item, controller.doc.snapshot())
        except Exception as exc:  # noqa: BLE001 - the work is in the window; its old autosave stays until saved
            w.banner.show_message(f"The recovered work could not be autosaved again ({describe_error(exc)}): save "
                                  "it soon. Until then its old autosave is kept.")
        return True
    return False


def run(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="studio", description="Drawing Studio: bring a drawing to life. "
                                     "Run 'studio --help-cli' for the command-line tools.")
    parser.add_argument("file", nargs="?", help="an image, an AD character folder or a .studio project")
    parser.add_argument("--screenshot", metavar="OUT.png", type=Path,
                        help="open offscreen, annotate, show one preview frame, save a grab of the window and exit")
    args = parser.parse_args(list(argv))
    if args.file is not None and not Path(args.file).exists():
        print(f"studio: error: {args.file}: no such file or folder", file=sys.stderr)
        return 1
    if args.screenshot is not None:
        return screenshot(args.screenshot, args.file)
    if _no_display():
        print("studio: error: no display to open the window on (DISPLAY is not set). Use 'studio --screenshot "
              "OUT.png [FILE]' for a picture of it, or the command-line tools: 'studio --help-cli'.", file=sys.stderr)
        return 1
    from studio.core.first_start import in_background

    in_background()  # a new install compiles its kernels while the window opens, not during a paint
    app, window = create_app(args.file)
    window.controller.enable_autosave(Autosaver())  # type: ignore[attr-defined]
    offer_recovery(window)  # after: recovered work is autosaved again at once
    window.restore_geometry()  # type: ignore[attr-defined]
    window.show()  # type: ignore[attr-defined]
    return int(app.exec())  # type: ignore[attr-defined]
