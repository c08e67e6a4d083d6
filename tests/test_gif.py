"""GIF export: delays, GIF-safe frame counts, and GifWriter output decoded back by Pillow and by a strict LZW reader."""

from __future__ import annotations

import errno
import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.pipeline.encode import gif
from studio.pipeline.files.atomic import ExportCancelled
from studio.pipeline.encode.gif import (
    GifError,
    GifWriter,
    gif_frame_delays,
    gif_safe_frame_count,
    gif_safe_frame_time,
    write_gif,
)

RNG_SEED = 7


def _palette(n: int = 256) -> np.ndarray:
    rng = np.random.default_rng(RNG_SEED)
    palette = rng.integers(0, 256, (n, 3)).astype(np.uint8)
    palette[: min(n, 4)] = [(255, 0, 0), (0, 128, 0), (0, 0, 255), (20, 20, 20)][: min(n, 4)]
    return palette


def _expected_rgba(indices: np.ndarray, palette: np.ndarray, transparent: int | None) -> np.ndarray:
    rgba = np.empty((*indices.shape, 4), np.uint8)
    rgba[..., :3] = palette[indices]
    rgba[..., 3] = 255
    if transparent is not None:
        rgba[indices == transparent] = 0
    return rgba


def _decoded(path: Path) -> tuple[list[np.ndarray], list[dict]]:
    """Every frame as Pillow composites it (RGBA, fully transparent pixels zeroed), and its info."""
    frames, infos = [], []
    with Image.open(path) as im:
        for k in range(im.n_frames):
            im.seek(k)
            rgba = np.array(im.convert("RGBA"))
            rgba[rgba[..., 3] == 0] = 0
            frames.append(rgba)
            infos.append(dict(im.info))
    return frames, infos


def _moving_figure(n: int, h: int = 40, w: int = 56, t: int = 255) -> list[np.ndarray]:
    """A figure that moves, grows, shrinks, vanishes and comes back; some frames repeat."""
    rng = np.random.default_rng(RNG_SEED)
    frames = []
    yy, xx = np.mgrid[0:h, 0:w]
    for k in range(n):
        f = np.full((h, w), t, np.uint8)
        if k not in (6, 7):  # 6 and 7: empty canvas
            r = 6 + (k * 5) % 11
            cy, cx = 20 + 8 * np.sin(k / 2), 10 + (k * 3) % 40
            blob = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
            f[blob] = rng.integers(0, 6, int(blob.sum()))
            f[k % h, :] = 3  # an ink line across the canvas
        frames.append(f)
    if n > 4:
        frames[4] = frames[3].copy()  # an unchanged frame
    return frames


def _write(path: Path, frames: list[np.ndarray], palette: np.ndarray, t: int | None, delays: list[int],
           **kwargs: object) -> Path:
    h, w = frames[0].shape
    with GifWriter(path, w, h, palette, t, **kwargs) as writer:  # type: ignore[arg-type]
        for frame, delay in zip(frames, delays):
            writer.add(frame, delay)
    return path


# ---- frame timing -----------------------------------------------------------------------------

def test_delays_for_30_fps_follow_the_clock() -> None:
    delays = gif_frame_delays(9, 1 / 30)
    assert delays == [30, 30, 40, 30, 30, 40, 30, 30, 40]
    running = np.cumsum(gif_frame_delays(1000, 1 / 30))
    exact = np.arange(1, 1001) * 1000 / 30
    assert np.all(running <= exact + 1e-6) and np.all(exact - running < 10)


@pytest.mark.parametrize("frame_time", [0.001, 0.01, 0.0199, 0.02, 0.025, 1 / 24, 0.0333333, 0.1, 0.123])
def test_delays_are_multiples_of_ten_and_never_below_twenty(frame_time: float) -> None:
    delays = gif_frame_delays(500, frame_time)
    assert len(delays) == 500
    assert all(d % 10 == 0 and d >= 20 for d in delays)
    played = max(frame_time, 0.02) * 1000
    assert abs(sum(delays) - 500 * played) < 10


def test_delays_edge_cases() -> None:
    assert gif_frame_delays(0, 0.04) == []
    assert gif_frame_delays(3, 0.04) == [40, 40, 40]
    with pytest.raises(GifError, match="frame_time_s"):
        gif_frame_delays(3, 0.0)
    with pytest.raises(GifError, match="n_frames"):
        gif_frame_delays(-1, 0.04)


def test_fast_clip_is_resampled_not_slowed() -> None:
    assert gif_safe_frame_count(1007, 0.01) == 503  # halved, keeping 10.07 s
    assert gif_safe_frame_time(1007, 0.01) == pytest.approx(10.07 / 503)
    assert gif_safe_frame_time(1007, 0.01) >= 0.02
    assert gif_safe_frame_count(600, 1 / 120) == 250  # 5 s at 50 fps
    assert gif_safe_frame_count(339, 1 / 30) == 339  # slow enough already
    assert gif_safe_frame_count(100, 0.02) == 100
    assert gif_safe_frame_count(1, 0.001) == 1
    assert gif_safe_frame_count(90, 1 / 30, max_fps=25.0) == 75
    for n, ft in [(1007, 0.01), (777, 0.0083333), (13, 0.015)]:
        count = gif_safe_frame_count(n, ft)
        assert n * ft / count >= 0.02 - 1e-12
        assert all(d == 20 or d == 30 for d in gif_frame_delays(count, n * ft / count))


# ---- what the writer produces ---------------------------------------------------------------

@pytest.mark.parametrize("threaded", [False, True])
def test_transparent_animation_round_trips(tmp_path: Path, threaded: bool) -> None:
    palette, t = _palette(), 255
    frames = _moving_figure(16)
    delays = gif_frame_delays(len(frames), 1 / 30)
    path = _write(tmp_path / "a.gif", frames, palette, t, delays, threaded=threaded)
    decoded, infos = _decoded(path)
    assert len(decoded) == len(frames)
    for k, (got, frame) in enumerate(zip(decoded, frames)):
        assert np.array_equal(got, _expected_rgba(frame, palette, t)), f"frame {k}"
    assert [info["duration"] for info in infos] == delays
    assert all(info["loop"] == 0 for info in infos)
    assert infos[0]["transparency"] == t
    assert not list(tmp_path.glob(".*"))  # no temp file left


def test_opaque_animation_round_trips_with_a_small_palette(tmp_path: Path) -> None:
    palette = _palette(5)  # a 3-bit colour table, LZW minimum code size 3
    rng = np.random.default_rng(RNG_SEED)
    frames = [np.zeros((23, 31), np.uint8) for _ in range(6)]
    for k, f in enumerate(frames):
        f[k: k + 9, 2 * k: 2 * k + 12] = rng.integers(1, 5, (9, 12))
    path = _write(tmp_path / "o.gif", frames, palette, None, [50] * 6, loop=None)
    decoded, infos = _decoded(path)
    for got, frame in zip(decoded, frames):
        assert np.array_equal(got, _expected_rgba(frame, palette, None))
    assert "loop" not in infos[0] and "transparency" not in infos[0]
    with Image.open(path) as im:
        assert im.info["duration"] == 50


def test_changed_rectangles_keep_the_file_small(tmp_path: Path) -> None:
    """A small square moving over a large canvas: later frames are small rectangles."""
    palette, t = _palette(), 255
    frames = []
    for k in range(10):
        f = np.full((200, 300), t, np.uint8)
        f[50 + k: 70 + k, 100 + 2 * k: 120 + 2 * k] = 1 + k % 3
        frames.append(f)
    path = _write(tmp_path / "r.gif", frames, palette, t, [40] * 10)
    sizes = []
    with Image.open(path) as im:
        for k in range(1, 10):
            im.seek(k)
            sizes.append(im.dispose_extent)
    assert all((x1 - x0) * (y1 - y0) <= 24 * 24 for x0, y0, x1, y1 in sizes)
    decoded, _ = _decoded(path)
    assert all(np.array_equal(g, _expected_rgba(f, palette, t)) for g, f in zip(decoded, frames))


def test_disposal_follows_what_the_next_frame_needs(tmp_path: Path) -> None:
    """Growing: leave each frame (disposal 1). Shrinking or vanishing: clear it (disposal 2)."""
    palette, t = _palette(), 255
    frames = []
    for r in (3, 5, 8, 8, 4, 2, 0, 6):
        f = np.full((30, 30), t, np.uint8)
        f[15 - r: 15 + r, 15 - r: 15 + r] = 1 + r % 4
        frames.append(f)
    path = _write(tmp_path / "d.gif", frames, palette, t, [40] * len(frames))
    with Image.open(path) as im:
        methods = []
        for k in range(len(frames)):
            im.seek(k)
            methods.append(im.disposal_method)
    assert methods == [1, 1, 1, 2, 2, 2, 1, 2]  # the last clears, as a looping GIF's first frame assumes
    decoded, _ = _decoded(path)
    assert all(np.array_equal(g, _expected_rgba(f, palette, t)) for g, f in zip(decoded, frames))


def test_single_frame_and_fully_transparent_frames(tmp_path: Path) -> None:
    palette, t = _palette(), 0
    blank = np.zeros((8, 9), np.uint8)
    _write(tmp_path / "one.gif", [blank], palette, t, [100])
    decoded, infos = _decoded(tmp_path / "one.gif")
    assert len(decoded) == 1 and decoded[0].max() == 0 and infos[0]["duration"] == 100


def _lzw_decode_strict(data: bytes, min_size: int, n_pixels: int) -> list[int]:
    """A GIF LZW reader that insists on exact code widths, an end-of-information code right after
    the last pixel, and the sub-block terminator right after it."""
    stream, pos = bytearray(), 0
    while data[pos]:
        stream += data[pos + 1: pos + 1 + data[pos]]
        pos += 1 + data[pos]
    assert pos == len(data) - 1, "bytes after the block terminator"
    bits = int.from_bytes(stream, "little")
    clear, eoi = 1 << min_size, (1 << min_size) + 1
    size, at, prev, out = min_size + 1, 0, None, []
    table: list[list[int]] = []

    def reset() -> None:
        table[:] = [[i] for i in range(clear)] + [[], []]

    reset()
    while True:
        code = (bits >> at) & ((1 << size) - 1)
        at += size
        if code == clear:
            reset()
            size, prev = min_size + 1, None
            continue
        if code == eoi:
            assert len(out) == n_pixels
            assert at <= len(stream) * 8 < at + 8, "padding after the end code"
            return out
        assert len(out) < n_pixels, "no end code after the last pixel"
        if prev is None:
            entry = table[code]
        else:
            entry = table[code] if code < len(table) else table[prev] + table[prev][:1]
            assert code <= len(table), "code beyond the dictionary"
            if len(table) < 4096:
                table.append(table[prev] + entry[:1])
                if len(table) == (1 << size) and size < 12:
                    size += 1
        out += entry
        prev = code


@pytest.mark.parametrize("seed", range(6))
def test_lzw_stream_is_exact(seed: int) -> None:
    """Noise, runs and their mix, over dictionary resets and every code-width change."""
    rng = np.random.default_rng(seed)
    work = gif.lzw_workspace(200 * 200)
    out = np.empty(2 * 200 * 200 + 64, np.uint8)
    for trial in range(25):
        min_size = int(rng.integers(2, 9))
        h, w = (int(v) for v in rng.integers(1, 90, 2))
        colours = 1 << min_size
        values = rng.integers(0, colours, h * w)
        if trial % 3:
            values = np.repeat(rng.integers(0, min(colours, 3), h * w), rng.integers(1, 40, h * w))[: h * w]
        frame = np.zeros((h + 4, w + 4), np.uint8)
        frame[2: h + 2, 3: w + 3] = values.reshape(h, w)
        n = gif.lzw_encode(frame, 2, 3, h + 2, w + 3, min_size, work, out)
        decoded = _lzw_decode_strict(out[:n].tobytes(), min_size, h * w)
        assert decoded == values.tolist()


def test_header_blocks(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.gif", _moving_figure(3), _palette(), 255, [20, 30, 40])
    data = path.read_bytes()
    assert data[:6] == b"GIF89a" and struct.unpack("<HH", data[6:10]) == (56, 40)
    assert data[10] & 0x80 and data[10] & 7 == 7  # a global table of 256 entries
    assert b"NETSCAPE2.0\x03\x01\x00\x00\x00" in data
    assert data.endswith(b";")


# ---- atomicity, cancel and errors -------------------------------------------------------------

def test_cancel_leaves_no_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "out.gif"
    target.write_bytes(b"previous export")
    frames = _moving_figure(12)
    pulled = []

    def lazy():  # type: ignore[no-untyped-def]
        for f in frames:
            pulled.append(1)
            yield f

    asked = iter(range(100))
    with pytest.raises(ExportCancelled):
        write_gif(target, lazy(), _palette(), 255, [40] * len(frames), cancel=lambda: next(asked) >= 5)
    assert len(pulled) == 5  # asked before each frame: the 6th was never rendered
    assert target.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gif"]


@pytest.mark.parametrize("threaded", [False, True])
def test_failing_frame_source_leaves_nothing(tmp_path: Path, threaded: bool) -> None:
    def broken():  # type: ignore[no-untyped-def]
        yield from _moving_figure(3)
        raise RuntimeError("renderer exploded")

    with pytest.raises(RuntimeError, match="exploded"):
        write_gif(tmp_path / "x.gif", broken(), _palette(), 255, [40] * 10, threaded=threaded)
    assert list(tmp_path.iterdir()) == []


def test_write_gif_reports_progress_and_checks_counts(tmp_path: Path) -> None:
    frames = _moving_figure(5)
    seen: list[tuple[int, int]] = []
    path = write_gif(tmp_path / "p.gif", frames, _palette(), 255, [40] * len(frames),
                     progress=lambda d, t: seen.append((d, t)))
    assert seen == [(k, len(frames)) for k in range(1, len(frames) + 1)]
    assert Image.open(path).n_frames == len(frames)
    with pytest.raises(GifError, match="only 5 frames"):
        write_gif(tmp_path / "q.gif", frames, _palette(), 255, [40] * 6)
    with pytest.raises(GifError, match="more frames"):
        write_gif(tmp_path / "q.gif", frames, _palette(), 255, [40] * 4)
    assert not (tmp_path / "q.gif").exists()


def test_bad_frames_are_refused_and_the_rest_is_written(tmp_path: Path) -> None:
    palette = _palette(4)
    with GifWriter(tmp_path / "b.gif", 10, 8, palette, None, threaded=True) as writer:
        with pytest.raises(GifError, match=r"\(8, 10\) uint8"):
            writer.add(np.zeros((10, 8), np.uint8), 40)
        with pytest.raises(GifError, match="index 9, beyond the 4-entry colour table"):
            writer.add(np.full((8, 10), 9, np.uint8), 40)
        with pytest.raises(GifError, match="delay"):
            writer.add(np.zeros((8, 10), np.uint8), -10)
        writer.add(np.full((8, 10), 2, np.uint8), 40)
    decoded, _ = _decoded(tmp_path / "b.gif")
    assert len(decoded) == 1 and np.array_equal(decoded[0], _expected_rgba(np.full((8, 10), 2), palette, None))


@pytest.mark.parametrize("threaded", [False, True])
def test_a_failure_while_encoding_aborts_the_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    threaded: bool) -> None:
    original = gif._Encoder._write
    calls = []

    def failing(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(gif._Encoder, "_write", failing)
    target = tmp_path / "f.gif"
    target.write_bytes(b"old")
    with pytest.raises(GifError, match="no space left"):
        write_gif(target, _moving_figure(10), _palette(), 255, [40] * 10, threaded=threaded)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.gif"]


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("fails_at", ["frame", "close"])
def test_a_full_disk_is_reported_in_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threaded: bool,
                                          fails_at: str) -> None:
    class FullDisk(io.BufferedWriter):
        """The writer's file on a full disk: the header fits, then every write (or the flush at close) fails."""

        writes = 0

        def write(self, data) -> int:  # type: ignore[no-untyped-def, override]
            FullDisk.writes += 1
            if fails_at == "frame" and FullDisk.writes > 1:
                raise OSError(errno.ENOSPC, "No space left on device", str(self.name))
            return super().write(data)

        def close(self) -> None:
            if fails_at == "close" and not self.closed:
                super().close()
                raise OSError(errno.ENOSPC, "No space left on device", str(self.name))
            super().close()

    def full_open(path: str, mode: str = "r") -> FullDisk:
        assert mode == "wb"
        return FullDisk(io.FileIO(path, "w"))

    monkeypatch.setattr(gif, "open", full_open, raising=False)
    target = tmp_path / "full.gif"
    with pytest.raises(GifError) as caught:
        write_gif(target, _moving_figure(4), _palette(), 255, [40] * 4, threaded=threaded)
    assert str(caught.value) == f"{target}: encoding failed: no space left on device"
    assert not list(tmp_path.iterdir())


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(GifError, match="palette"):
        GifWriter(tmp_path / "a.gif", 4, 4, np.zeros((300, 3), np.uint8), None)
    with pytest.raises(GifError, match="transparent_index"):
        GifWriter(tmp_path / "a.gif", 4, 4, _palette(16), 16)
    with pytest.raises(GifError, match="pixels"):
        GifWriter(tmp_path / "a.gif", 0, 4, _palette(), None)
    writer = GifWriter(tmp_path / "a.gif", 4, 4, _palette(), None)
    with pytest.raises(GifError, match="at least one frame"):
        writer.close()
    with pytest.raises(GifError, match="closed"):
        writer.add(np.zeros((4, 4), np.uint8), 40)
    assert list(tmp_path.iterdir()) == []
