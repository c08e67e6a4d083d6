"""Benchmark GIF export: 339 frames of 500×500 palette indices (a moving drawn figure) through GifWriter vs Pillow.

Run: .venv/bin/python bench/gif_encode.py [--frames 339] [--size 500] [--runs 3] [--jobs [--motions a,b] [--smooth]]
Prints encode time (median of runs, total and per frame), file size, and the same for Pillow's
``save(save_all=True, append_images=...)`` of the same indexed frames; then the raw LZW kernels
on full frames, and threaded vs inline writing with a render-like load on the calling thread.

--jobs: real render jobs instead (frames rendered once by studio's own path, then only encoding
timed, inline, interleaved, median of --runs): the built-in sample with each bundled motion (or
--motions a,b) and AD's char2 + dab (--data folder) at --size, on a transparent and a white
background. Columns: our writer with the 255-colour texture palette (before close colours were
merged), our writer now, the same with the colour table cut to the entries used, and a stand-in
for AD's GIF of the same job: our own full-colour RGBA frames written the way AD's GIFWriter does
(see ``write_ad_standin``). Each with its encode time, size, and PSNR of every decoded frame
against the full-colour frames, all laid on white. --smooth: under each white job, the same job drawn
from its full-colour frames (soft edges) mapped to the trimmed palette.
Assumptions of the stand-in: Pillow as installed here (AD pins Pillow 9.2.0); our bilinear RGBA
frames in place of AD's OpenGL read-back (straight alpha, fully transparent pixels white as AD's
clear colour [1, 1, 1, 0] leaves them; on white, composited and opaque); AD's single delay
int(frame time in ms); the time is Pillow's save alone (AD also converts BGRA to RGBA and keeps
every frame in memory first).
"""

from __future__ import annotations

import argparse
import io
import math
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from PIL import Image, ImageSequence

from studio.core.motion_source import bundled_motions
from studio.pipeline.encode import gif as gifmod
from studio.pipeline.encode.gif import GifWriter, gif_frame_delays
from studio.pipeline.encode.palette import MIN_TEXTURE_PSNR, quantise_texture, quantise_to_palette


def drawn_figure(size: int, seed: int = 0) -> np.ndarray:
    """(size, size, 4) uint8 RGBA: a child's-drawing-like figure, paper-white fill with scanner noise and ink."""
    rng = np.random.default_rng(seed)
    s = size / 500
    alpha = np.zeros((size, size), np.uint8)
    limbs = [((190, 200), (45, 330)), ((310, 200), (455, 310)), ((205, 360), (160, 475)), ((295, 360), (345, 475))]
    cv2.ellipse(alpha, (int(250 * s), int(265 * s)), (int(120 * s), int(130 * s)), 0, 0, 360, 255, -1)  # body
    cv2.circle(alpha, (int(250 * s), int(95 * s)), int(75 * s), 255, -1)  # head
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


def timed(fn: Callable[[], T], runs: int) -> tuple[float, T]:
    """Median seconds of ``runs`` calls (at least one), and the last call's result."""
    times, results = [], []
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        results.append(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times), results[-1]


T = TypeVar("T")
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
    if t is None:
        images[0].save(path, save_all=True, append_images=images[1:], duration=delays, loop=0)
    else:
        images[0].save(path, save_all=True, append_images=images[1:], duration=delays, loop=0, transparency=t,
                       disposal=2)
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


Variant = tuple[list[np.ndarray], np.ndarray, int | None]  # indexed frames, palette, transparent index


@dataclass(eq=False)
class Job:
    """A real job's frames: indexed with the shared palette before merging colours (``old``) and now (``new``),
    each as (frames (h, w) uint8, palette (256, 3), transparent index or None); and RGBA for AD's writer."""

    name: str
    delays: list[int]
    ad_delay: int
    old: Variant
    new: Variant
    rgba: list[np.ndarray]


def real_jobs(data: Path, size: int, motions: list[str]) -> Iterator[Job]:
    """Each real job on a transparent and a white background, rendered as ``studio render`` does."""
    from studio.core.motion_source import load_motion
    from studio.core.render import Animation, Background
    from studio.core.render_job import load_character

    jobs: list[tuple[str, str, str, Path | None, Path | None]] = [
        (f"sample {name}", "sample", name, None, None) for name in motions]
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
        ad_delay = max(20, int(animation.frame_time * 1000))  # AD: one int(frame time in ms) for all, at least 20
        for background in ("transparent", "white"):
            colour = None if background == "transparent" else (255, 255, 255)
            variants = []
            for min_psnr in (None, MIN_TEXTURE_PSNR):
                texture_idx, palette, reserved = quantise_texture(character.texture, background_colour=colour,
                                                                  min_psnr=min_psnr)
                frames = [animation.render_indexed(k, texture_idx, reserved) for k in range(animation.n_frames)]
                variants.append((frames, palette, reserved if colour is None else None))
            rgba = [ad_frame(animation.render_rgba(k, None if colour is None else Background(colour=colour)))
                    for k in range(animation.n_frames)]
            yield Job(f"{name}, {background}", delays, ad_delay, variants[0], variants[1], rgba)


def ad_frame(rgba: np.ndarray) -> np.ndarray:
    """A frame as AD's GL read-back gives it: its clear colour is white with alpha 0 (opaque on a white
    background), so a fully transparent pixel is (255, 255, 255, 0)."""
    rgba = rgba.copy()
    rgba[rgba[..., 3] == 0, :3] = 255
    return rgba


def write_ad_standin(path: Path, rgba: list[np.ndarray], delay_ms: int) -> int:
    """AD's GIFWriter (video_render_controller.py) as a stand-in: every RGBA frame to a Pillow image, then
    ``save(save_all=True, append_images=..., duration=delay_ms, disposal=2, loop=0)``. Pillow turns each
    RGBA frame into P with its own adaptive palette (its convert(ADAPTIVE): a fast octree on RGBA), makes
    the first alpha-0 palette entry that frame's transparent colour, and gives each later frame a local
    colour table. With disposal 2 and no transparency in the first frame's info it sends whole frames."""
    images = [Image.fromarray(frame) for frame in rgba]
    images[0].save(path, save_all=True, append_images=images[1:], duration=delay_ms, disposal=2, loop=0)
    return path.stat().st_size


def psnr_on_white(path: Path, reference: list[np.ndarray], hold_ms: int | None = None) -> float:
    """PSNR (dB) of every frame of the GIF at ``path``, decoded by Pillow and laid on white, against the
    full-colour frames ``reference`` ((h, w, 4) uint8 RGBA, straight alpha) laid on white.

    hold_ms: the writer's one frame delay, when it merges a run of identical frames into one image shown
    longer (Pillow does): an image shown d ms then stands for round(d / hold_ms) frames."""
    squared, count, k = 0.0, 0, 0
    with Image.open(path) as im:
        for frame in ImageSequence.Iterator(im):
            shown = _on_white(np.asarray(frame.convert("RGBA"), np.float64))
            repeat = 1 if hold_ms is None else max(1, round(frame.info.get("duration", hold_ms) / hold_ms))
            for ref in reference[k: k + repeat]:
                squared += float(np.sum((shown - _on_white(ref.astype(np.float64))) ** 2))
                count += shown.size
            k += repeat
    if k != len(reference):
        raise SystemExit(f"{path}: decoded {k} frames, expected {len(reference)}")
    return 10 * math.log10(255.0 ** 2 / max(squared / count, 1e-12))


def _on_white(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[..., 3:] / 255.0
    return rgba[..., :3] * alpha + 255.0 * (1 - alpha)


def jobs_table(data: Path, size: int, runs: int, folder: Path, motions: list[str], smooth: bool = False) -> None:
    """Encode time (median of ``runs``, inline, interleaved), size and PSNR against the full-colour frames of each
    real job: our writer with the 255-colour palette (before close colours were merged), now, and AD's writer.
    smooth: under each white job, its full-colour frames mapped to the trimmed palette (see ``smooth_line``)."""
    columns = ("ours, 255 colours", "ours now", "now, table trimmed", "AD's writer (Pillow)")
    print(f"{'':30}" + "".join(f"{c:>26}" for c in columns))
    print(f"{'job':24} {'frames':>5}" + f"{'s':>8} {'KiB':>7} {'dB':>6}   " * len(columns))
    for job in real_jobs(data, size, motions):
        write_ours(folder / "warm.gif", *_args(job.new, job.delays, 3))
        encoders: list[Callable[[Path], int]] = [
            lambda path: write_ours(path, *_args(job.old, job.delays)),
            lambda path: write_ours(path, *_args(job.new, job.delays)),
            lambda path: write_ours(path, *_args(_trimmed(job.new), job.delays)),
            lambda path: write_ad_standin(path, job.rgba, job.ad_delay)]
        times: list[list[float]] = [[] for _ in encoders]
        sizes = [0] * len(encoders)
        for _ in range(runs):
            for i, encode in enumerate(encoders):
                start = time.perf_counter()
                sizes[i] = encode(folder / f"{i}.gif")
                times[i].append(time.perf_counter() - start)
        holds = (None, None, None, job.ad_delay)
        cells = [f"{statistics.median(times[i]):8.3f} {sizes[i] / 1024:7.0f} "
                 f"{psnr_on_white(folder / f'{i}.gif', job.rgba, holds[i]):6.2f}   " for i in range(len(encoders))]
        print(f"{job.name:24} {len(job.rgba):5d}" + "".join(cells), flush=True)
        if smooth and job.new[2] is None:
            smooth_line(job, runs, folder)


def smooth_line(job: Job, runs: int, folder: Path) -> None:
    """A white job drawn from its full-colour frames (bilinear, soft edges, composited on white: AD's frames
    here) mapped to our trimmed palette by ``quantise_to_palette``, written by our writer: mapping ms/frame,
    encode s (median of ``runs``), KiB, dB. What render_job's colour backgrounds could do instead of indices."""
    palette = _trimmed(job.new)[1]
    start = time.perf_counter()
    frames = [quantise_to_palette(np.ascontiguousarray(frame[..., :3]), palette) for frame in job.rgba]
    mapping = (time.perf_counter() - start) / len(frames) * 1000
    seconds, size = timed(lambda: write_ours(folder / "smooth.gif", frames, palette, None, job.delays), runs)
    print(f"{'  smooth edges':24} {'':5}{'':26}{'':26}{seconds:8.3f} {size / 1024:7.0f} "
          f"{psnr_on_white(folder / 'smooth.gif', job.rgba):6.2f}   (mapping {mapping:.2f} ms/frame)", flush=True)


def _trimmed(variant: Variant) -> Variant:
    """The palette cut to the entries the frames use (texture colours and the reserved entry, which is the
    highest), so the colour table and the LZW codes start smaller: what render_job could pass."""
    frames, palette, transparent = variant
    highest = max(int(frame.max()) for frame in frames)
    return frames, palette[: max(2, highest + 1)], transparent


def _args(variant: Variant, delays: list[int],
          n: int | None = None) -> tuple[list[np.ndarray], np.ndarray, int | None, list[int]]:
    frames, palette, transparent = variant
    return frames[:n], palette, transparent, delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=339)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", action="store_true", help="real render jobs (sample, char2) instead")
    parser.add_argument("--motions", default="all", help="with --jobs: the sample's motions, comma-separated")
    parser.add_argument("--smooth", action="store_true",
                        help="with --jobs: also each white job from its full-colour frames mapped to the palette")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    n, size = args.frames, args.size
    if args.jobs:
        with tempfile.TemporaryDirectory() as tmp:
            motions = sorted(bundled_motions()) if args.motions == "all" else args.motions.split(",")
            jobs_table(args.data, size, args.runs, Path(tmp), motions, args.smooth)
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
        print(f"check: Pillow reads {getattr(Image.open(buffer), 'n_frames', 1)} frames")


if __name__ == "__main__":
    main()
