"""Exports from the studio: one motion, all motions with results.json, and the GIF estimate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from studio.core.document import ExportSettings
from studio.core.export_jobs import estimate_gif, export_all, export_animation_for, export_motion
from studio.pipeline.files.atomic import ExportCancelled
from studio.core.sample import sample_character


def test_export_one_motion_with_the_chosen_frames_and_size(tmp_path: Path) -> None:
    out = export_motion(sample_character(), "wave", ExportSettings(size=96, frames=10), tmp_path / "wave.gif")
    with Image.open(out) as gif:
        assert gif.size == (96, 96) and gif.n_frames == 10


def test_export_all_writes_every_motion_and_results_json(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    results = export_all(sample_character(), ["idle", "wave"], ExportSettings(size=64, frames=6), tmp_path / "all",
                         progress=lambda k, n: seen.append((k, n)))
    assert results == {"idle": "idle.gif", "wave": "wave.gif"}
    assert json.loads((tmp_path / "all" / "results.json").read_text()) == results
    assert all((tmp_path / "all" / name).is_file() for name in results.values())
    assert seen[-1][0] == seen[-1][1] and seen[0][1] == seen[-1][1]


def test_a_cancelled_export_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ExportCancelled):
        export_motion(sample_character(), "wave", ExportSettings(size=64), tmp_path / "x.gif", cancel=lambda: True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("background", ["transparent", "white"])
def test_the_gif_estimate_is_near_the_real_size(tmp_path: Path, background: str) -> None:
    settings = ExportSettings(size=160, background=background)
    animation = export_animation_for(sample_character(), "dance", settings, None)
    estimate = estimate_gif(animation, background)
    real = export_motion(sample_character(), "dance", settings, tmp_path / "d.gif").stat().st_size
    assert estimate.frames == animation.n_frames and estimate.size_bytes is not None
    assert 0.6 < estimate.size_bytes / real < 1.6, (estimate.size_bytes, real)
    assert estimate.seconds > 0
