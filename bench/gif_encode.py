"""Benchmark GIF export: 339 frames of 500×500 palette indices (a moving drawn figure) through GifWriter vs Pillow.

Run: .venv/bin/python bench/gif_encode.py [--frames 339] [--size 500] [--runs 3] [--jobs]
Prints encode time (median of runs, total and per frame), file size, and the same for Pillow's
``save(save_all=True, append_images=...)`` of the same indexed frames; then the raw LZW kernels
on full frames, and threaded vs inline writing with a render-like load on the calling thread.

--jobs: real render jobs instead (frames rendered once by studio's own path, then only encoding
timed, inline, median of --runs): the built-in sample with every bundled motion, and AD's char2 +
dab (--data folder) at --size, each on a transparent and a white background; each with and
without sending unchanged pixels see-through.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from studio.pipeline.encode import gif as gifmod
from studio.pipeline.encode.gif import GifWriter, gif_frame_delays
from studio.pipeline.encode.palette import quantise_texture


def drawn_figure(size: int, seed: int = 0) -> np.ndarray:
    """(size, size, 4) uint8 RGBA: a child's-drawing-like figure, paper-white fill with scanner noise and ink."""
    rng = np.random.default_rng(seed)
    s = size / 500
    alpha = np.zeros((size, size), np.uint8)
    parts = [("ellipse", (250, 265), (120, 130)), ("circle", (250, 95), 75)]
    limbs = [((190, 200), (45, 330)), ((310, 200), (455, 310)), ((205, 360), (160, 475)), ((295, 360), (345, 475))]
    for kind, centre, radius in parts:
        c = (int(centre[0] * s), int(centre[1] * s))
        if kind == "ellipse":
            cv2.ellipse(alpha, c, (int(radius[0] * s), int(radius[1] * s)), 0, 0, 360, 255, -1)
        else:
            cv2.circle(alpha, c, int(radius * s), 255, -1)
    for a, b in limbs:
        cv2.line(alpha, (int(a[0] * s), int(a[1] * s)), (int(b[0] * s), int(b[1] * s)), 255, int(60 * s))
    paper = 238 + rng.normal(0, 5, (size, size, 1))  # scanned paper: noisy near-white
    rgb = np.repeat(paper, 3, axis=2)
    colours = [(220, 60, 50), (60, 120, 220), (250, 200, 40), (80, 170, 90)]
    for i, colour in enumerate(colours):  # crayon patches
        mask = np.zeros((size, size), np.uint8)
        cv2.circle(mask, (int((200 + 35 * i) * s), int(280 * s)), int(22 * s), 255, -1)
        rgb[mask > 0] = np.array(colour) + rng.normal(0, 12, (int((mask > 0).sum()), 3))
    ink = cv2.morphologyEx(alpha, cv2.MORPH_GRADIENT, np.ones((5, 5), np.uint8)) > 0
    ink |= cv2.Canny(cv2.GaussianBlur((rgb[:, :, 0] < 200).astype(np.uint8) * 255, (3, 3), 0), 50, 150) > 0
    rgb[ink] = 30 + rng.normal(0, 10, (int(ink.sum()), 3))
    return np.dstack([np.clip(rgb, 0, 255).astype(np.uint8), alpha])


def animate(texture_idx: np.ndarray, transparent: int, n: int, size: int) -> list[np.ndarray]:
    """n frames (size, size) uint8: the figure bobbing, swaying and drifting, as a deformed render would."""
    return list(animate_lazy(texture_idx, transparent, n, size))


def animate_lazy(texture_idx: np.ndarray, transparent: int, n: int, size: int,
                 remap: bool = False) -> Iterator[np.ndarray]:
    """The frames one at a time: the figure bobbing, swaying and drifting.

    remap: render like studio's rasteriser does (per-pixel source maps, then cv2.remap), about
    2 ms a frame, instead of one warpAffine (0.2 ms).
    """
    grid = np.mgrid[0:size, 0:size].astype(np.float32)[::-1] if remap else None
    for k in range(n):
        a = 2 * np.pi * k / 60
        m = cv2.getRotationMatrix2D((size / 2, size / 2), 12 * np.sin(a), 0.92 + 0.05 * np.sin(2 * a))
        m[:, 2] += (40 * np.sin(a / 2) * size / 500, 15 * np.cos(a) * size / 500)
        if grid is None:
            yield cv2.warpAffine(texture_idx, m, (size, size), flags=cv2.INTER_NEAREST,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=transparent)
            continue
        inv = cv2.invertAffineTransform(m).astype(np.float32)
        map_x = inv[0, 0] * grid[0] + inv[0, 1] * grid[1] + inv[0, 2]
        map_y = inv[1, 0] * grid[0] + inv[1, 1] * grid[1] + inv[1, 2]
        yield cv2.remap(texture_idx, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                        borderValue=transparent)


def timed(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


CLOSE_TIMES: list[float] = []


def write_ours(path: Path, frames: list[np.ndarray], palette: np.ndarray, t: int | None, delays: list[int],
               threaded: bool = False) -> int:
    h, w = frames[0].shape
    writer = GifWriter(path, w, h, palette, t, threaded=threaded)
    for frame, delay in zip(frames, delays):
        writer.add(frame, delay)
    start = time.perf_counter()
    writer.close()  # the last frame, fsync and rename
    CLOSE_TIMES.append(time.perf_counter() - start)
    return path.stat().st_size


def write_pillow(path: Path, frames: list[np.ndarray], palette: np.ndarray, t: int | None, delays: list[int]) -> int:
    images = []
    for frame in frames:
        im = Image.frombuffer("P", (frame.shape[1], frame.shape[0]), frame, "raw", "P", 0, 1)
        im.putpalette(palette.tobytes())
        images.append(im)
    extra = {"transparency": t, "disposal": 2} if t is not None else {}
    images[0].save(path, save_all=True, append_images=images[1:], duration=delays, loop=0, **extra)
    return path.stat().st_size


def scenario(name: str, frames: list[np.ndarray], palette: np.ndarray, t: int | None, delays: list[int],
             runs: int, folder: Path) -> None:
    n = len(frames)
    CLOSE_TIMES.clear()
    ours, size = timed(lambda: write_ours(folder / "ours.gif", frames, palette, t, delays), runs)
    close = statistics.median(CLOSE_TIMES)
    pil, pil_size = timed(lambda: write_pillow(folder / "pil.gif", frames, palette, t, delays), runs)
    print(f"{name}:")
    print(f"  GifWriter          {ours:6.3f} s  {ours / n * 1000:5.2f} ms/frame  {size / 1024:8.0f} KiB  "
          f"(of which close: {close:.3f} s, mostly fsync)")
    print(f"  Pillow save_all    {pil:6.3f} s  {pil / n * 1000:5.2f} ms/frame  {pil_size / 1024:8.0f} KiB  "
          f"({pil / ours:.1f}× slower)")


def kernels(frames: list[np.ndarray], runs: int) -> None:
    """Full-frame LZW only: our numba kernel vs Pillow's C encoder (Image.tobytes('gif'))."""
    h, w = frames[0].shape
    work, out = gifmod.lzw_workspace(h * w), np.empty(2 * h * w + 64, np.uint8)
    ours, _ = timed(lambda: [gifmod.lzw_encode(f, 0, 0, h, w, 8, work, out) for f in frames], runs)
    images = [Image.frombuffer("P", (w, h), f, "raw", "P", 0, 1) for f in frames]
    pil, _ = timed(lambda: [im.tobytes("gif", "P") for im in images], runs)
    n = len(frames)
    print(f"full-frame LZW only: numba kernel {ours / n * 1000:.2f} ms/frame, "
          f"Pillow C encoder {pil / n * 1000:.2f} ms/frame")


def overlap(texture_idx: np.ndarray, palette: np.ndarray, t: int, delays: list[int], n: int, size: int,
            runs: int, folder: Path) -> None:
    """Render-like work on the calling thread while writing: encoding inline vs in GifWriter's thread."""
    def render_only() -> None:
        for _ in animate_lazy(texture_idx, t, n, size, remap=True):
            pass

    def write(threaded: bool) -> None:
        with GifWriter(folder / "o.gif", size, size, palette, t, threaded=threaded) as writer:
            for frame, delay in zip(animate_lazy(texture_idx, t, n, size, remap=True), delays):
                writer.add(frame, delay)

    render, _ = timed(render_only, runs)
    inline, _ = timed(lambda: write(False), runs)
    threaded, _ = timed(lambda: write(True), runs)
    print(f"render + write, {n} frames: render alone {render:.3f} s; with encoding inline {inline:.3f} s, "
          f"in a thread {threaded:.3f} s")


def real_jobs(data: Path, size: int) -> Iterator[tuple[str, list[np.ndarray], np.ndarray, int | None, list[int]]]:
    """(name, frames, palette, transparent index, delays) of each real job, rendered as ``studio render`` does."""
    from studio.core.motion_source import bundled_motions, load_motion
    from studio.core.render import Animation
    from studio.core.render_job import load_character

    jobs: list[tuple[str, str, str, Path | None, Path | None]] = [
        (f"sample {name}", "sample", name, None, None) for name in sorted(bundled_motions())]
    char2 = data / "characters" / "char2"
    if char2.is_dir():
        jobs.append(("char2 dab", str(char2), str(data / "ad_config/motion/dab.yaml"),
                     data / "ad_config/retarget/fair1_ppf.yaml", data / "bvh/fair1_dab.bvh"))
    else:
        print(f"({char2} not found: char2 skipped)")
    for name, folder, motion, retarget, bvh in jobs:
        character = load_character(folder)
        animation = Animation(character, load_motion(motion, character, retarget, bvh), (size, size),
                              max_fps=gifmod.GIF_MAX_FPS)
        delays = gif_frame_delays(animation.n_frames, animation.frame_time)
        for background in ("transparent", "white"):
            colour = None if background == "transparent" else (255, 255, 255)
            texture_idx, palette, reserved = quantise_texture(character.texture, background_colour=colour)
            frames = [animation.render_indexed(k, texture_idx, reserved) for k in range(animation.n_frames)]
            yield f"{name}, {background}", frames, palette, reserved if colour is None else None, delays


def jobs_table(data: Path, size: int, runs: int, folder: Path) -> None:
    """Encode time (median of ``runs``, inline) and file size of each real job, with the writer as it is
    (unchanged pixels see-through) and with that step off (only the changed rectangles), runs interleaved."""
    masking = gifmod.mask_unchanged

    def encode(frames: list[np.ndarray], palette: np.ndarray, t: int | None, delays: list[int],
               mask: bool) -> int:
        gifmod.mask_unchanged = masking if mask else (lambda *args: -1)  # type: ignore[assignment]
        try:
            return write_ours(folder / "job.gif", frames, palette, t, delays)
        finally:
            gifmod.mask_unchanged = masking

    print(f"{'':34} {'rectangles only':>28}   {'+ unchanged see-through':>28}")
    print(f"{'job':28} {'frames':>6} {'encode s':>9} {'ms/frame':>9} {'KiB':>8}   "
          f"{'encode s':>9} {'ms/frame':>9} {'KiB':>8}")
    for name, frames, palette, t, delays in real_jobs(data, size):
        write_ours(folder / "warm.gif", frames[:3], palette, t, delays)
        times: dict[bool, list[float]] = {False: [], True: []}
        sizes = {}
        for _ in range(runs):
            for mask in (False, True):
                start = time.perf_counter()
                sizes[mask] = encode(frames, palette, t, delays, mask)
                times[mask].append(time.perf_counter() - start)
        cells = [f"{statistics.median(times[m]):9.3f} {statistics.median(times[m]) / len(frames) * 1000:9.2f} "
                 f"{sizes[m] / 1024:8.0f}" for m in (False, True)]
        print(f"{name:28} {len(frames):6d} {cells[0]}   {cells[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=339)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", action="store_true", help="real render jobs (sample, char2) instead")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    n, size = args.frames, args.size
    if args.jobs:
        with tempfile.TemporaryDirectory() as tmp:
            jobs_table(args.data, size, args.runs, Path(tmp))
        return

    texture = drawn_figure(size)
    start = time.perf_counter()
    texture_idx, palette, t = quantise_texture(texture)
    print(f"quantise_texture: {time.perf_counter() - start:.3f} s (first call includes numba cache load)")
    frames = animate(texture_idx, t, n, size)
    cover = np.mean([np.mean(f != t) for f in frames])
    print(f"{n} frames {size}×{size}, figure covers {cover:.0%} of the canvas, {len(np.unique(texture_idx))} colours")
    delays = gif_frame_delays(n, 1 / 30)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_ours(folder / "warm.gif", frames[:3], palette, t, delays)  # numba cache load, not timed
        scenario("transparent background", frames, palette, t, delays, args.runs, folder)
        solid = [np.where(f == t, np.uint8(t), f) for f in frames]  # the reserved entry as a colour
        scenario("solid background (opaque GIF)", solid, palette, None, delays, args.runs, folder)
        kernels(frames, args.runs)
        overlap(texture_idx, palette, t, delays, n, size, args.runs, folder)
        buffer = io.BytesIO((folder / "ours.gif").read_bytes())
        print(f"check: Pillow reads {Image.open(buffer).n_frames} frames")


if __name__ == "__main__":
    main()
