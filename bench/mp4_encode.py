"""Benchmark MP4 export: write_mp4's frames/s on 504 rendered 500×500 frames, and the x264 options it chose from.

Run: .venv/bin/python bench/mp4_encode.py [--frames 504] [--size 500] [--runs 3] [--motion PATH_OR_NAME]
    [--only-product]

The frames are the built-in sample character rendered by the product (studio.core.render.Animation, RGBA on a
transparent canvas, as ``studio render`` hands them to write_mp4) before the encoder rows, so those figures are the
encoder's alone. The motion defaults to the shared data's Rokoko dance (10 s, resampled to --frames), else the
bundled ``dance``. Each option row runs ffmpeg the way write_mp4 does (rgb24 on stdin, libx264, yuv420p, BT.709
tags) with one thing changed. Every row prints the median frames/s over --runs, ffmpeg's CPU time per frame, the
file size and the PSNR of the decoded frames against the composited source (mean over every 8th frame). Then
write_mp4 itself, as it was and as it is, and the export of ``studio render`` (render + encode).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.core.motion_source import load_motion  # noqa: E402
from studio.core.render import Animation, Background  # noqa: E402
from studio.core.render_job import export_animation  # noqa: E402
from studio.core.sample import sample_character  # noqa: E402
from studio.pipeline.compositing import over  # noqa: E402
from studio.pipeline.encode import video  # noqa: E402

ROKOKO = Path(__file__).resolve().parents[2] / "shared/data/bvh/rokoko_jesse_dance.bvh"
WHITE = np.array((255, 255, 255), np.int32)
VF_709 = ("scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,"
          "setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709")
HEADER = "| option | fps | median | range | ffmpeg CPU/frame | size | PSNR | speed |\n|---|---|---|---|---|---|---|---|"


def animation_of(motion: str, n: int, size: int) -> Animation:
    """The built-in sample character playing ``motion`` as n frames of size×size."""
    character = sample_character()
    return Animation(character, load_motion(motion, character, None, None), (size, size), n, "ad")


def render_frames(animation: Animation) -> list[np.ndarray]:
    """Every frame as (h, w, 4) uint8 RGBA on a transparent canvas."""
    start = time.perf_counter()
    frames = [animation.render_rgba(k, Background()) for k in range(animation.n_frames)]
    elapsed = time.perf_counter() - start
    print(f"rendered {len(frames)} frames of {animation.width}×{animation.height} in {elapsed:.2f} s "
          f"({elapsed / len(frames) * 1000:.1f} ms a frame; not in the encoder rows); "
          f"clip at {1 / animation.frame_time:.1f} fps")
    return frames


def encode(path: Path, frames: list[np.ndarray], fps: float, x264: list[str], feed: str = "reuse",
           vf: str = VF_709) -> None:
    """One ffmpeg run as write_mp4 drives it, with x264 options ``x264`` and frames fed by ``feed``:
    'alloc' (a new composited array a frame), 'reuse' (one buffer composited into), 'rgb' (pre-composited,
    the pipe and ffmpeg alone), 'rgba' (RGBA as rendered, composited over white by ffmpeg's overlay filter)."""
    h, w = frames[0].shape[:2]
    rate = Fraction(fps).limit_denominator(1001)
    graph = ["-filter_complex", f"color=c=white:s={w}x{h}:r={rate}[bg];[bg][0:v]overlay=shortest=1:format=rgb,{vf}"] \
        if feed == "rgba" else ["-vf", vf]
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgba" if feed == "rgba" else "rgb24", "-s", f"{w}x{h}",
               "-framerate", str(rate), "-i", "-", "-an", "-c:v", "libx264", *x264, *graph, "-movflags", "+faststart",
               "-f", "mp4", str(path)]
    ffmpeg = subprocess.Popen(command, stdin=subprocess.PIPE)
    assert ffmpeg.stdin is not None
    buffer = np.empty((h, w, 3), np.uint8)
    for frame in frames:
        if feed == "alloc":
            data = over(frame, WHITE)
        elif feed == "reuse":
            data = over(frame, WHITE, buffer)
        else:
            data = frame
        ffmpeg.stdin.write(data.data)
    ffmpeg.stdin.close()
    if ffmpeg.wait() != 0:
        raise RuntimeError(f"ffmpeg failed: {command}")


def psnr(path: Path, sources: list[np.ndarray]) -> float:
    """Mean PSNR (dB) of every 8th decoded frame against its (h, w, 3) source."""
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    values = []
    for k, data in enumerate(reader):
        if k % 8 == 0:
            decoded = np.frombuffer(data, np.uint8).reshape(h, w, 3).astype(np.float64)
            mse = float(np.mean((decoded - sources[k]) ** 2))
            values.append(99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse))
    return float(np.mean(values))


def row(name: str, run: Callable[[Path], object], path: Path, n: int, runs: int,
        sources: list[np.ndarray] | None, base: float | None) -> float:
    """Run ``run`` ``runs`` times and print one table row; returns the median seconds."""
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        run(path)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    median = statistics.median(times)
    ratio = f"{base / median:.2f}×" if base else "1.00×"
    quality = f"{psnr(path, sources):.1f} dB" if sources is not None else "–"
    print(f"| {name:<46} | {n / median:4.0f} | {median:5.2f} s | {min(times):.2f}–{max(times):.2f} s | "
          f"{statistics.median(cpu) / n * 1000:4.1f} ms | {path.stat().st_size / 1024:5.0f} KiB | {quality} | "
          f"{ratio} |")
    return median


OPTIONS: list[tuple[str, list[str], str, str]] = [  # name, x264 options, feed, filter
    ("medium, tune animation, crf 18 (before)", ["-preset", "medium", "-tune", "animation", "-crf", "18"], "alloc",
     VF_709),
    ("  same, composited into one reused buffer", ["-preset", "medium", "-tune", "animation", "-crf", "18"], "reuse",
     VF_709),
    ("faster, tune animation, crf 18", ["-preset", "faster", "-tune", "animation", "-crf", "18"], "reuse", VF_709),
    ("veryfast, tune animation, crf 18", ["-preset", "veryfast", "-tune", "animation", "-crf", "18"], "reuse",
     VF_709),
    ("veryfast, no tune, crf 18", ["-preset", "veryfast", "-crf", "18"], "reuse", VF_709),
    ("superfast, tune animation, crf 18", ["-preset", "superfast", "-tune", "animation", "-crf", "18"], "reuse",
     VF_709),
    ("ultrafast, tune animation, crf 18", ["-preset", "ultrafast", "-tune", "animation", "-crf", "18"], "reuse",
     VF_709),
    ("veryfast, animation, crf 18, threads 2", ["-preset", "veryfast", "-tune", "animation", "-crf", "18",
                                                "-threads", "2"], "reuse", VF_709),
    ("veryfast, animation, crf 18, threads 1", ["-preset", "veryfast", "-tune", "animation", "-crf", "18",
                                                "-threads", "1"], "reuse", VF_709),
    ("veryfast, animation, crf 18, pre-composited", ["-preset", "veryfast", "-tune", "animation", "-crf", "18"],
     "rgb", VF_709),
    ("veryfast, animation, crf 18, RGBA: ffmpeg overlays", ["-preset", "veryfast", "-tune", "animation", "-crf",
                                                             "18"], "rgba", VF_709),
    ("veryfast, animation, crf 18, untagged BT.601", ["-preset", "veryfast", "-tune", "animation", "-crf", "18"],
     "reuse", "format=yuv420p"),
    ("veryfast, animation, crf 20", ["-preset", "veryfast", "-tune", "animation", "-crf", "20"], "reuse", VF_709),
]


def product_rows(animation: Animation, frames: list[np.ndarray], sources: list[np.ndarray], runs: int,
                 folder: Path, base: float | None) -> None:
    """write_mp4 itself with the preset it chose, and as it was; then ``studio render``'s export."""
    fps, n = 1 / animation.frame_time, len(frames)
    chosen = video.X264_PRESET
    settings = [("medium", "with preset medium (before)"), (chosen, f"as now (preset {chosen})")]
    for preset, name in settings:
        video.X264_PRESET = preset
        elapsed = row(f"write_mp4 {name}", lambda p: video.write_mp4(p, frames, fps), folder / "w.mp4", n, runs,
                      sources, base)
        base = base or elapsed
    video.X264_PRESET = chosen
    row("write_mp4 as now, RGB frames in", lambda p: video.write_mp4(p, sources, fps), folder / "w.mp4", n, runs,
        sources, base)
    print("\nrender + encode: the export of `studio render ... out.mp4` (export_animation, transparent → white)\n")
    print(HEADER)
    first = None
    for preset, name in settings:
        video.X264_PRESET = preset
        elapsed = row(f"export {name}", lambda p: export_animation(animation, p, Background()), folder / "e.mp4",
                      n, runs, None, first)
        first = first or elapsed
    video.X264_PRESET = chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=504)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--motion", default=str(ROKOKO) if ROKOKO.exists() else "dance")
    parser.add_argument("--only-product", action="store_true", help="skip the option rows: write_mp4 and export")
    args = parser.parse_args()
    animation = animation_of(args.motion, args.frames, args.size)
    frames, fps = render_frames(animation), 1 / animation.frame_time
    n = len(frames)
    sources = [over(f, WHITE) for f in frames]
    print(f"median of {args.runs} runs each; ffmpeg {imageio_ffmpeg.get_ffmpeg_version()}; fps = frames written "
          "per second of wall time; CPU = ffmpeg's user + system time per frame\n")
    print(HEADER)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = None
        for name, x264, feed, vf in [] if args.only_product else OPTIONS:
            data = sources if feed == "rgb" else frames
            elapsed = row(name, lambda p: encode(p, data, fps, x264, feed, vf), folder / "v.mp4", n, args.runs,
                          sources, base)
            base = base or elapsed
        product_rows(animation, frames, sources, args.runs, folder, base)


if __name__ == "__main__":
    main()
