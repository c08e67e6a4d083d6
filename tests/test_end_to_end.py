"""One run through the real window: garlic.png → annotate → drag a joint, undo, redo → motion, frames, size →
GIF export → share to a real weed mini, and the shared bytes are the exported file's."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from s3_fixture import WeedS3  # noqa: E402

from studio.pipeline.encode.gif import gif_frame_delays  # noqa: E402
from studio.core.settings import AppSettings  # noqa: E402
from studio.core.share import ShareSettings  # noqa: E402
from studio.core.workspace import JobKind  # noqa: E402
from studio.ui.app import create_app, wait_for_preview  # noqa: E402

pytestmark = pytest.mark.slow  # end to end: the real window and a real S3 server


def test_garlic_from_photo_to_shared_gif(qtbot: Any, shared: Path, s3_env: WeedS3, tmp_path: Path) -> None:
    settings = AppSettings(export_folder=str(tmp_path / "exports"),
                           share=ShareSettings(endpoint_url=s3_env.endpoint, bucket=s3_env.bucket, expires=600))
    _, w = create_app(shared / "drawings" / "garlic.png", settings=settings)
    c = w.controller
    try:
        w.show()
        qtbot.waitUntil(lambda: c.doc.annotated, timeout=30000)  # annotated automatically on open
        assert wait_for_preview(w), w.banner.label.text()
        assert c.doc.size == (750, 1000)  # the 3024×4032 phone photo, EXIF-rotated and downscaled

        # Drag a joint: one undoable command; undo and redo.
        w.set_tool("joints")
        foot = c.doc.skeleton.names.index("left_foot")
        before = c.doc.skeleton.joints.copy()
        start = w.canvas.to_widget(*before[foot]).toPoint()
        QTest.mousePress(w.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
        for step in range(1, 5):
            QTest.mouseMove(w.canvas, start + QPoint(6 * step, 4 * step))
        QTest.mouseRelease(w.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                           start + QPoint(24, 16))
        moved = c.doc.skeleton.joints.copy()
        assert not np.allclose(moved[foot], before[foot])
        w.actions_by_name["undo"].trigger()
        np.testing.assert_array_equal(c.doc.skeleton.joints, before)
        w.actions_by_name["redo"].trigger()
        np.testing.assert_array_equal(c.doc.skeleton.joints, moved)

        # Pick a motion in the library, then a frame count and a resolution in the preview's controls.
        row = w.library.specs().index("jacks")
        with qtbot.waitSignal(w.library.motion_chosen, timeout=5000):
            w.library.list.setCurrentRow(row)
        assert c.doc.preview.motion == "jacks"
        w.preview.frames_box.setValue(24)
        w.preview.size_box.setCurrentIndex(w.preview.size_box.findData(256))
        qtbot.waitUntil(lambda: c.animation is not None and c.animation.n_frames == 24
                        and c.animation.width == 256 and JobKind.PREVIEW not in c.preview_jobs.running, timeout=30000)
        duration = c.animation.n_frames * c.animation.frame_time

        # One-click GIF export.
        with qtbot.waitSignal(w.export_panel.exported, timeout=60000) as exported:
            w.export_panel.export_button.click()
        gif_path = Path(exported.args[0])
        assert gif_path.parent == tmp_path / "exports" and gif_path.name == "garlic-jacks.gif"
        with Image.open(gif_path) as gif:
            assert gif.size == (256, 256) and gif.n_frames == 24
            delays = []
            for k in range(gif.n_frames):
                gif.seek(k)
                delays.append(gif.info["duration"])
        assert delays == gif_frame_delays(24, duration / 24)  # ms, exact in 10 ms steps
        assert abs(sum(delays) / 1000 - duration) < 0.02  # resampling kept the clip's duration

        # Share: upload, presigned link on the clipboard, the same bytes back.
        with qtbot.waitSignal(w.export_panel.shared, timeout=60000) as shared_signal:
            w.export_panel.share_button.click()
        urls = shared_signal.args[0]
        url = QGuiApplication.clipboard().text()
        assert list(urls.values()) == [url] and url.startswith(s3_env.endpoint)
        shared_gif = sorted((tmp_path / "exports").glob("garlic-jacks*.gif"))[-1]
        with urllib.request.urlopen(url, timeout=10) as reply:
            assert reply.read() == shared_gif.read_bytes()
    finally:
        c.forget_changes()
        w.close()
