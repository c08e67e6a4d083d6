"""The export panel offers the game-ready formats, and exporting one from it writes a valid file (offscreen)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")

from studio.core.settings import AppSettings  # noqa: E402

pytestmark = pytest.mark.slow  # real exports from a real widget


@pytest.fixture
def panel(qtbot: Any) -> Iterator[Any]:
    """An ExportPanel on a bare controller holding the sample, set to export 4 frames at 48²."""
    from studio.ui.app import sample_document
    from studio.ui.controller import StudioController
    from studio.ui.export_panel import ExportPanel

    controller = StudioController(sample_document(), AppSettings())
    controller.doc.set_preview(motion="jump", frames=4, size=48)
    widget = ExportPanel(controller)
    qtbot.addWidget(widget)
    yield widget
    controller.shutdown()


def _export(panel: Any, qtbot: Any, kind: str, target: Path) -> None:
    panel.kind.setCurrentIndex(panel.kind.findData(kind))
    assert panel.controller.doc.export.kind == kind  # the choice is the document's, not the widget's
    job = panel.export(target)
    qtbot.waitUntil(lambda: job.done.is_set() and target.name in panel.result.text(), timeout=60000)


def test_the_panel_offers_every_format(panel: Any) -> None:
    offered = [panel.kind.itemData(i) for i in range(panel.kind.count())]
    assert offered == ["gif", "mp4", "png", "webm", "apng", "sheet", "sheet-packed"]
    panel.kind.setCurrentIndex(panel.kind.findData("sheet-packed"))
    assert panel.export_button.text() == "Export packed sheet"
    assert panel.default_output("jump").suffix == ".png"
    panel.kind.setCurrentIndex(panel.kind.findData("gif"))
    assert panel.export_button.text() == "Export GIF"


def test_exporting_a_packed_sheet_writes_the_png_and_its_json(panel: Any, qtbot: Any, tmp_path: Path) -> None:
    _export(panel, qtbot, "sheet-packed", tmp_path / "jump.png")
    data = json.loads((tmp_path / "jump.json").read_text())
    with Image.open(tmp_path / "jump.png") as im:
        sheet = np.array(im)
    assert sheet.shape[2] == 4 and len(data["frames"]) == 4
    assert all(e["trimmed"] and e["sourceSize"] == {"w": 48, "h": 48} for e in data["frames"].values())
    assert panel.last_outputs == [tmp_path / "jump.png", tmp_path / "jump.json"]
    assert "jump.json" in panel.result.text()


def test_exporting_webm_and_apng_from_the_panel(panel: Any, qtbot: Any, tmp_path: Path) -> None:
    _export(panel, qtbot, "apng", tmp_path / "jump.apng")
    with Image.open(tmp_path / "jump.apng") as im:
        assert im.n_frames == 4 and im.size == (48, 48)
        assert im.convert("RGBA").getpixel((0, 0))[3] == 0  # transparent by default
    _export(panel, qtbot, "webm", tmp_path / "jump.webm")
    assert (tmp_path / "jump.webm").read_bytes()[:4] == b"\x1a\x45\xdf\xa3"
