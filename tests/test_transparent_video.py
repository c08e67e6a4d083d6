"""Transparent video: WebM VP9 with alpha decoded back by the same ffmpeg (libvpx-vp9 as the decoder), and APNG decoded
by Pillow with its delays, frame count and no smearing; both from rendered frames and synthetic ones; cancel and
failures leave nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from studio.core.document import ExportSettings
from studio.core.export_jobs import export_animation_for
from studio.core.render import Background
from studio.core.render_job import export_animation
from studio.core.sample import sample_character
from studio.pipeline.encode import video
from studio.pipeline.encode.apng import ApngError, apng_delay, write_apng
from studio.pipeline.encode.video import VideoError, write_webm
from studio.pipeline.files.atomic import ExportCancelled


def decode_webm(path: Path) -> tuple[np.ndarray, str]:
    """(n, h, w, 4) RGBA frames, decoded with libvpx-vp9 (ffmpeg's own vp9 decoder drops the alpha), and ffmpeg's
    description of the stream."""
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    probe = subprocess.run([exe, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    size = next(part for part in probe.split(", ") if "x" in part and part.split("x")[0].strip().isdigit())
    w, h = (int(v) for v in size.split()[0].split("x"))
    decoded = subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-c:v", "libvpx-vp9", "-i", str(path),
                              "-f", "rawvideo", "-pix_fmt", "rgba", "-"], capture_output=True, check=True)
    return np.frombuffer(decoded.stdout, np.uint8).reshape(-1, h, w, 4), probe


def decode_apng(path: Path) -> tuple[list[np.ndarray], list[float], dict[str, Any]]:
    with Image.open(path) as im:
        assert im.format == "PNG" and getattr(im, "is_animated", False)
        frames, delays = [], []
        for k in range(im.n_frames):
            im.seek(k)
            delays.append(im.info["duration"])
            frames.append(np.array(im.convert("RGBA")))
        return frames, delays, dict(im.info)


def _blinking(n: int, h: int = 31, w: int = 45) -> list[np.ndarray]:
    """RGBA frames: a red square that moves and, on odd frames, a half-transparent green one that then vanishes:
    pixels that go from opaque to transparent, which smear when a frame is drawn over the last."""
    frames = []
    for k in range(n):
        f = np.zeros((h, w, 4), np.uint8)
        f[6:22, 4 + 2 * k:20 + 2 * k] = (230, 20, 20, 255)
        if k % 2:
            f[2:10, 30:40] = (20, 200, 20, 128)
        frames.append(f)
    return frames


@pytest.fixture(scope="module")
def animation() -> Any:
    return export_animation_for(sample_character(), "jump", ExportSettings(size=80, frames=8), None)


def test_a_rendered_webm_decodes_with_transparent_corners_and_an_opaque_character(animation: Any,
                                                                                   tmp_path: Path) -> None:
    out = tmp_path / "jump.webm"
    export_animation(animation, out, Background())
    decoded, probe = decode_webm(out)
    assert "vp9" in probe and "alpha_mode" in probe and "bt709" in probe
    assert decoded.shape == (8, 80, 80, 4)
    for k, frame in enumerate(decoded):
        source = animation.render_rgba(k)
        assert (frame[[0, 0, -1, -1], [0, -1, 0, -1], 3] == 0).all(), k  # the corners see through
        solid = source[:, :, 3] == 255
        # The character is opaque, to a few levels of lossy alpha (most of its pixels exactly).
        assert solid.sum() > 300 and np.percentile(frame[:, :, 3][solid], 5) >= 235, k
        assert (frame[:, :, 3][solid] >= 250).mean() > 0.8, k
        assert (frame[:, :, 3][source[:, :, 3] == 0] < 16).mean() > 0.97, k  # and only the character
        # Its colours, through 4:2:0 chroma at a small size full of ink edges: 13 levels off on average here, while
        # channels out of order or colour lost would be 40 or more.
        assert np.abs(frame[:, :, :3][solid].astype(int) - source[:, :, :3][solid]).mean() < 20, k
        alphas = [animation.render_rgba(j)[:, :, 3] for j in range(animation.n_frames)]
        errors = [np.abs(frame[:, :, 3].astype(int) - a).mean() for a in alphas]
        assert errors[k] < 1.5 and errors[k] <= min(errors) + 0.5, k  # in its place (the last pose is the first)


def test_webm_keeps_odd_sizes_partial_alpha_and_the_frame_rate(tmp_path: Path) -> None:
    frames = _blinking(10)
    seen: list[tuple[int, int]] = []
    out = write_webm(tmp_path / "b.webm", frames, 24.0, progress=lambda d, t: seen.append((d, t)))
    decoded, probe = decode_webm(out)
    assert decoded.shape == (10, 31, 45, 4) and "24 fps" in probe
    assert abs(int(decoded[1, 5, 34, 3]) - 128) < 12 and decoded[0, 5, 34, 3] < 8  # half-transparent, then gone
    assert (decoded[:5, 14, 12, 3] > 240).all() and (decoded[:5, 14, 12, 0] > 200).all()  # the red square
    assert seen[-1] == (10, 10) and [p.name for p in tmp_path.iterdir()] == ["b.webm"]


def test_webm_cancel_and_a_missing_encoder_leave_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "c.webm"
    target.write_bytes(b"old video")
    asked = iter(range(100))
    with pytest.raises(ExportCancelled):
        write_webm(target, _blinking(12), 30.0, cancel=lambda: next(asked) >= 4)
    assert target.read_bytes() == b"old video"
    with pytest.raises(VideoError, match="the first was 45×31"):
        write_webm(target, _blinking(2) + _blinking(1, h=8), 30.0)
    # An ffmpeg built without libvpx cannot be shown by the real one: its encoder list is what is faked.
    monkeypatch.setattr(video, "_has_encoder", lambda name: False)
    with pytest.raises(VideoError, match="no libvpx-vp9 encoder"):
        write_webm(target, _blinking(2), 30.0)
    assert target.read_bytes() == b"old video" and [p.name for p in tmp_path.iterdir()] == ["c.webm"]


def test_a_rendered_apng_decodes_in_pillow_frame_for_frame_with_its_delays(animation: Any, tmp_path: Path) -> None:
    out = tmp_path / "jump.apng"
    export_animation(animation, out, Background())
    frames, delays, info = decode_apng(out)
    assert len(frames) == animation.n_frames == 8 and info["loop"] == 0
    for k, frame in enumerate(frames):
        assert np.array_equal(frame, animation.render_rgba(k)), k  # lossless, nothing smeared
    assert delays == pytest.approx([animation.frame_time * 1000] * 8, abs=0.01)
    assert sum(delays) == pytest.approx(animation.n_frames * animation.frame_time * 1000, abs=0.1)


def test_apng_pixels_that_turn_transparent_do_not_smear(tmp_path: Path) -> None:
    frames = _blinking(6)
    frames.append(frames[-1].copy())  # a frame equal to the last still counts as a frame
    out = write_apng(tmp_path / "b.apng", frames, [1000 / 30] * 5 + [40, 250])
    decoded, delays, _ = decode_apng(out)
    assert len(decoded) == 7
    for k, (frame, source) in enumerate(zip(decoded, frames)):
        assert np.array_equal(frame, source), k
    assert delays[:5] == pytest.approx([1000 / 30] * 5, abs=1e-6) and delays[5:] == [40, 250]
    assert apng_delay(1000 / 30) == (1, 30) and apng_delay(40) == (1, 25) and apng_delay(33) == (33, 1000)


def test_apng_refusals_and_cancel_leave_nothing(tmp_path: Path) -> None:
    target = tmp_path / "c.apng"
    target.write_bytes(b"old")
    asked = iter(range(100))
    with pytest.raises(ExportCancelled):
        write_apng(target, _blinking(8), [40] * 8, cancel=lambda: next(asked) >= 3)
    with pytest.raises(ApngError, match="2 frames for 3"):
        write_apng(target, _blinking(2), [40] * 3)
    with pytest.raises(ApngError, match="the first was 45×31"):
        write_apng(target, _blinking(1) + _blinking(1, w=9), [40] * 2)
    with pytest.raises(ApngError, match="delay"):
        write_apng(target, _blinking(1), [float("nan")])
    with pytest.raises(ApngError, match="no frames"):
        write_apng(target, [], [])
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["c.apng"]


def test_apng_clips_faster_than_90_fps_are_resampled_keeping_their_length() -> None:
    fast = export_animation_for(sample_character(), "wave", ExportSettings(kind="apng", size=32, frames=480), None)
    assert fast.frame_time >= 0.011 - 1e-9 and abs(fast.n_frames * fast.frame_time - 61 / 30) < 1e-6
    gif = export_animation_for(sample_character(), "wave", ExportSettings(kind="gif", size=32, frames=480), None)
    webm = export_animation_for(sample_character(), "wave", ExportSettings(kind="webm", size=32, frames=480), None)
    assert gif.frame_time >= 0.02 - 1e-9 and webm.n_frames == 480
