"""Render jobs in-process: cancel leaves no partial file, snapped joints are reported, framing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.core.motion_source import load_motion
from studio.pipeline.files.atomic import ExportCancelled
from studio.core.render import Animation, Background, plan_clip
from studio.core.render_job import export_animation
from studio.core.sample import sample_character


@pytest.fixture(scope="module")
def animation() -> Animation:
    character = sample_character()
    return Animation(character, load_motion("wave", character), (64, 64), frames=12)


@pytest.mark.parametrize("name", ["out.gif", "out.mp4", "frames"])
def test_cancel_leaves_the_previous_export_untouched(animation: Animation, tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    if name == "frames":
        target.mkdir()
        (target / "frame_0000.png").write_bytes(b"old")
    else:
        target.write_bytes(b"old")
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(ExportCancelled):
        export_animation(animation, target, Background(), cancel=cancel)
    kept = target / "frame_0000.png" if name == "frames" else target
    assert kept.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_progress_reports_every_frame(animation: Animation, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    export_animation(animation, tmp_path / "a.gif", Background(), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (12, 12) and len(seen) == 12


def test_a_joint_outside_the_mask_is_pinned_and_reported() -> None:
    character = sample_character()
    rest = character.rest.copy()
    hand = character.index("right_hand")
    rest[hand, 0] = 1.0  # far left of the crop, off the figure
    moved = character.with_rest(rest)
    animation = Animation(moved, load_motion("idle", moved), (64, 64), frames=4)
    assert any("right_hand" in note and "outside the mask" in note for note in animation.notes)


def test_every_frame_fits_the_canvas_with_the_ad_camera(animation: Animation) -> None:
    for k in range(animation.n_frames):
        points = animation.canvas_vertices(k)
        assert points.min() >= 0 and points[:, 0].max() <= 64 and points[:, 1].max() <= 64
    assert np.isfinite(animation.camera.scale) and animation.camera.scale > 0


def test_premultiplied_frames_match_the_straight_ones() -> None:
    from studio.pipeline.compositing import premultiply

    animation = Animation(sample_character(), load_motion("wave", sample_character()), (96, 96), 6)
    straight = animation.render_rgba(3)
    pre = animation.render_premultiplied(3)
    assert pre.shape == straight.shape and (pre[:, :, 3] == straight[:, :, 3]).all()
    np.testing.assert_allclose(pre.astype(int), premultiply(straight).astype(int), atol=2)


def test_an_export_leaves_the_animations_timings_as_they_were(animation: Animation, tmp_path: Path) -> None:
    before = animation.timings
    exported = export_animation(animation, tmp_path / "t.gif", Background())
    assert animation.timings == before and "render+encode" not in before
    assert {"render+encode", "raster", "deform", "encode_wait"} <= set(exported)
    animation.timings["x"] = 1.0  # a copy: writing into it changes nothing
    assert "x" not in animation.timings


def test_plan_clip_caps_a_gif_at_50_fps_keeping_the_duration() -> None:
    from studio.pipeline.encode.gif import GIF_MAX_FPS

    character = sample_character()
    source = load_motion("wave", character)
    plan = plan_clip(source, None, None)
    clip, notes = plan.clip, plan.notes
    assert notes == []
    planned = plan_clip(source, int(clip.duration * 100), GIF_MAX_FPS)
    fast, notes = planned.clip, planned.notes
    assert fast.n_frames <= clip.duration * GIF_MAX_FPS + 1e-6 and "faster than 50 fps" in notes[0]
    assert fast.duration == pytest.approx(clip.duration, rel=1e-6)
