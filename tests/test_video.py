"""MP4 and PNG-frame export: decoded back, odd sizes, alpha over the background, cancel and failure leave nothing."""

from __future__ import annotations

import os
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from studio.pipeline.files.atomic import ExportCancelled
from studio.pipeline.encode.video import VideoError, write_mp4, write_png_frames


def _frames(n: int, h: int = 33, w: int = 47) -> list[np.ndarray]:
    """RGBA frames: a red square moving over a transparent canvas."""
    frames = []
    for k in range(n):
        f = np.zeros((h, w, 4), np.uint8)
        f[5:20, 2 + k: 17 + k] = (230, 20, 20, 255)
        frames.append(f)
    return frames


def _read_mp4(path: Path) -> tuple[dict, list[np.ndarray]]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    return meta, [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in reader]


def _ffmpeg_children() -> list[int]:
    """Live ffmpeg processes started by this process (Linux /proc; empty elsewhere)."""
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()) if os.path.isdir("/proc") else ():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1: stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if "ffmpeg" in name and int(rest[1]) == os.getpid() and rest[0] != "Z":
            found.append(int(pid))
    return found


def test_mp4_round_trips_with_even_size_and_background(tmp_path: Path) -> None:
    frames = _frames(12)
    seen: list[tuple[int, int]] = []
    path = write_mp4(tmp_path / "a.mp4", frames, 24.0, background=(0, 0, 255),
                     progress=lambda d, t: seen.append((d, t)))
    meta, decoded = _read_mp4(path)
    assert meta["size"] == (48, 34)  # 47×33 padded to even
    assert meta["fps"] == pytest.approx(24.0)
    assert len(decoded) == 12
    assert np.abs(decoded[0][12, 8].astype(int) - (230, 20, 20)).max() < 25  # the square
    assert np.abs(decoded[0][28, 40].astype(int) - (0, 0, 255)).max() < 25  # the background
    assert seen[-1] == (12, 12)
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"]


def test_mp4_accepts_rgb_frames_from_a_generator(tmp_path: Path) -> None:
    frames = (np.full((20, 30, 3), (k * 20, 100, 50), np.uint8) for k in range(5))
    meta, decoded = _read_mp4(write_mp4(tmp_path / "b.mp4", frames, 10.0))
    assert meta["size"] == (30, 20) and len(decoded) == 5


def test_mp4_cancel_leaves_nothing_and_stops_ffmpeg(tmp_path: Path) -> None:
    target = tmp_path / "c.mp4"
    target.write_bytes(b"old video")
    asked = iter(range(100))
    with pytest.raises(ExportCancelled):
        write_mp4(target, _frames(20), 30.0, cancel=lambda: next(asked) >= 6)
    assert target.read_bytes() == b"old video"
    assert [p.name for p in tmp_path.iterdir()] == ["c.mp4"]
    assert _ffmpeg_children() == []


def test_mp4_failing_source_and_bad_frames(tmp_path: Path) -> None:
    def broken():  # type: ignore[no-untyped-def]
        yield from _frames(3)
        raise RuntimeError("renderer exploded")

    with pytest.raises(RuntimeError, match="exploded"):
        write_mp4(tmp_path / "d.mp4", broken(), 30.0)
    with pytest.raises(VideoError, match="the first was 47×33"):
        write_mp4(tmp_path / "d.mp4", _frames(2) + _frames(1, h=10), 30.0)
    with pytest.raises(VideoError, match="no frames"):
        write_mp4(tmp_path / "d.mp4", [], 30.0)
    with pytest.raises(VideoError, match="fps"):
        write_mp4(tmp_path / "d.mp4", _frames(2), 0.0)
    assert list(tmp_path.iterdir()) == []
    assert _ffmpeg_children() == []


def test_png_frames_round_trip_and_replace_the_folder(tmp_path: Path) -> None:
    target = tmp_path / "frames"
    target.mkdir()
    (target / "old.png").write_bytes(b"x")
    frames = _frames(4)
    frames[1][0, 0] = (1, 2, 3, 4)  # partial alpha survives
    paths = write_png_frames(target, frames)
    assert [p.name for p in paths] == [f"frame_{k:04d}.png" for k in range(4)]
    assert sorted(p.name for p in target.iterdir()) == [p.name for p in paths]
    for path, frame in zip(paths, frames):
        with Image.open(path) as im:
            assert im.mode == "RGBA" and np.array_equal(np.array(im), frame)
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]


def test_png_frames_cancel_keeps_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "frames"
    target.mkdir()
    (target / "old.png").write_bytes(b"x")
    asked = iter(range(100))
    with pytest.raises(ExportCancelled):
        write_png_frames(target, _frames(10), cancel=lambda: next(asked) >= 3)
    assert [p.name for p in target.iterdir()] == ["old.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]
    with pytest.raises(VideoError, match="uint8"):
        write_png_frames(tmp_path / "bad", [np.zeros((4, 4), np.uint8)])
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]
