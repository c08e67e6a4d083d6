"""Regenerate the README's screenshots of each step, offscreen: .venv/bin/python scripts/screenshots.py [OUT_DIR]."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("STUDIO_CONFIG_DIR", tempfile.mkdtemp(prefix="studio-shots-"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication  # noqa: E402

from studio.core.sample import sample_strokes  # noqa: E402
from studio.core.settings import AppSettings  # noqa: E402
from studio.ui.app import create_app, wait_for_preview  # noqa: E402


def settle(window: object, seconds: float = 0.3) -> None:
    """Wait for the preview and the export estimate of the settings last set, then ``seconds`` more in which
    nothing new was estimated (a new estimate starts one event-loop turn after its preview)."""
    wait_for_preview(window)
    preview, controller = window.preview, window.controller  # type: ignore[attr-defined]
    deadline = time.perf_counter() + 20
    quiet_since = time.perf_counter()
    last = preview.estimate.text()
    while time.perf_counter() < deadline:
        QApplication.processEvents()
        if preview.estimate.text() != last:
            last, quiet_since = preview.estimate.text(), time.perf_counter()
        shown = preview.animation is not None and f" {preview.animation.n_frames} frames at" in last
        if shown and not controller.busy and time.perf_counter() - quiet_since >= seconds:
            return
        time.sleep(0.01)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    settings = AppSettings(export_folder=tempfile.mkdtemp(prefix="studio-shots-export-"))
    _, w = create_app(settings=settings, offscreen=True)
    win = w
    win.show()  # type: ignore[attr-defined]
    c = win.controller  # type: ignore[attr-defined]

    def shot(name: str, frame: int | None = None) -> None:
        settle(win)
        preview = win.preview  # type: ignore[attr-defined]
        if frame is not None and preview.animation is not None:
            preview.set_playing(False)
            preview.show_frame(min(frame, preview.animation.n_frames - 1))
        QApplication.processEvents()
        win.grab().save(str(out / name))  # type: ignore[attr-defined]
        print(out / name)

    shot("01-start.png", 40)
    win.files.new_drawing()  # type: ignore[attr-defined]
    for stroke in sample_strokes()[:-6]:
        c.add_stroke(stroke)
    deadline = time.perf_counter() + 20
    while not c.doc.annotated and time.perf_counter() < deadline:  # annotated automatically after the last stroke
        QApplication.processEvents()
        time.sleep(0.01)
    shot("02-draw.png", 10)
    c.forget_changes()
    from studio.ui.app import sample_document

    c.replace_document(sample_document())
    win.set_tool("box")  # type: ignore[attr-defined]
    shot("03-box.png", 20)
    win.set_tool("mask")  # type: ignore[attr-defined]
    shot("04-mask.png", 60)
    win.set_tool("joints")  # type: ignore[attr-defined]
    c.set_motion("wave")
    c.set_frames(24)
    shot("05-joints-and-preview.png", 8)
    job = win.export_panel.export()  # type: ignore[attr-defined]
    while job is not None and not job.done.is_set():
        QApplication.processEvents()
        time.sleep(0.01)
    shot("06-export.png", 12)
    c.forget_changes()
    drawing = Path(__file__).resolve().parents[2] / "shared" / "data" / "characters" / "char5" / "image.png"
    if drawing.is_file():  # a six-armed drawing no biped skeleton fits: the built-in model rings what it is unsure of
        win.files.load(drawing)  # type: ignore[attr-defined]
        deadline = time.perf_counter() + 30
        while not c.doc.annotated and time.perf_counter() < deadline:
            QApplication.processEvents()
            time.sleep(0.01)
        win.set_tool("joints")  # type: ignore[attr-defined]
        shot("07-check-joints.png", 0)
        c.forget_changes()
    else:
        print(f"skipped 07-check-joints.png: {drawing} not found")
    win.close()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
