"""The render job: an Animation written to a GIF, MP4 or PNG folder atomically (the output's checks, the encoding,
its timings), and the CLI's ``studio render``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from studio.core.motion_source import load_motion
from studio.core.render import Animation, Background, RenderError
from studio.pipeline.character import Character, read_character
from studio.pipeline.encode.gif import GIF_MAX_FPS, gif_frame_delays, write_gif
from studio.pipeline.encode.palette import background_palette, quantise_texture, quantise_to_palette
from studio.pipeline.files.atomic import atomic_write_path, check_replaceable
from studio.pipeline.motion.rigdump import rig_dump
from studio.pipeline.progress import Cancel, Progress


@dataclass(frozen=True)
class RenderRequest:
    character: str | Path
    motion: str
    output: Path
    retarget: str | Path | None = None
    bvh: str | Path | None = None
    frames: int | None = None
    size: tuple[int, int] = (500, 500)
    background: Background = field(default_factory=Background)
    camera: str = "ad"
    dump_rig: Path | None = None


@dataclass
class RenderResult:
    output: Path
    frames: int
    frame_time: float
    width: int
    height: int
    notes: list[str]
    timings: dict[str, float]


def output_kind(path: Path) -> str:
    """'gif', 'mp4' or 'png' (a folder of frames), from the name."""
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return "gif"
    if suffix in (".mp4", ".m4v"):
        return "mp4"
    if suffix == "" or path.is_dir():
        return "png"
    raise RenderError(f"{path}: unknown output type {suffix!r}: use .gif, .mp4 or a folder for PNG frames")


def check_output(path: Path, kind: str, protected: tuple[Path, ...] = ()) -> None:
    """Refuse, before any work, an output that cannot be written or whose replacement would lose data:
    a missing parent folder, a folder where a file goes, a read-only file or folder (ReadOnlyTargetError,
    unless forced with ``atomic.overwrite_read_only``), and for PNG frames any existing file or any folder
    holding something other than frame PNGs (the input character folder included)."""
    parent = path.parent
    if not parent.is_dir():
        what = "is a file, not a folder" if parent.exists() else "the output folder does not exist"
        raise RenderError(f"{parent}: {what}")
    check_replaceable(path)
    if kind in ("gif", "mp4") and path.is_dir():
        raise RenderError(f"{path}: is a folder; give a file name ending in .{kind}")
    if kind == "png" and path.exists():
        resolved = path.resolve()
        if not path.is_dir():
            raise RenderError(f"{path}: an existing file; PNG frames go into a folder")
        if resolved == Path.cwd().resolve() or any(resolved == p.resolve() for p in protected):
            raise RenderError(f"{path}: refusing to replace this folder with PNG frames; name a new folder")
        others = [p.name for p in path.iterdir() if not (p.name.startswith("frame_") and p.suffix == ".png")]
        if others:
            raise RenderError(f"{path}: folder holds other files ({', '.join(sorted(others)[:3])}); PNG frames "
                              "replace a folder only when it is empty or holds earlier frames")


def load_character(spec: str | Path) -> Character:
    """A character folder, or 'sample' for the built-in sample character."""
    if str(spec) == "sample":
        from studio.core.sample import sample_character

        return sample_character()
    return read_character(spec)


def _frames_rgba(animation: Animation, background: Background | None) -> Iterator[np.ndarray]:
    """Each frame as RGBA, rendered as it is pulled (the writers ask cancel before pulling one)."""
    return (animation.render_rgba(k, background) for k in range(animation.n_frames))


def export_animation(animation: Animation, output: Path, background: Background, progress: Progress | None = None,
                     cancel: Cancel | None = None) -> dict[str, float]:
    """Write ``animation`` to ``output`` (.gif, .mp4 or a PNG folder) atomically. Returns the seconds the export
    took: render+encode, deform (every frame's, framing's included), and for a GIF raster and encode_wait (the
    encoder thread finishing after the last frame)."""
    kind = output_kind(output)
    check_output(output, kind)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    if kind == "gif":
        timings.update(_write_gif(animation, output, background, progress, cancel))
    elif kind == "mp4":
        from studio.pipeline.encode.video import write_mp4

        fps = 1.0 / animation.frame_time
        # write_mp4 composites over a colour itself: doing it here too cost 1.3 ms a frame for the same pixels
        behind = background if background.image is not None else None
        write_mp4(output, _frames_rgba(animation, behind), fps, background=background.colour or (255, 255, 255),
                  progress=progress, cancel=cancel, total=animation.n_frames)
    else:
        from studio.pipeline.encode.video import write_png_frames

        write_png_frames(output, _frames_rgba(animation, background), progress=progress, total=animation.n_frames,
                         cancel=cancel)
    timings["render+encode"] = time.perf_counter() - started
    timings["deform"] = float(animation.deform_times.sum())
    return timings


def _write_gif(animation: Animation, output: Path, background: Background, progress: Progress | None,
               cancel: Cancel | None) -> dict[str, float]:
    """Write the GIF; returns its raster seconds (all frames) and encode_wait."""
    if background.image is not None:
        # An image background needs its own colours: one fixed palette for texture + background, and
        # each composited frame mapped onto it (slower than the indexed path, still one palette).
        backdrop = cv2.resize(background.image, (animation.width, animation.height), interpolation=cv2.INTER_AREA)
        palette = background_palette(animation.character.texture, backdrop)
        transparent = None

        def frame_at(k: int) -> np.ndarray:
            return quantise_to_palette(np.ascontiguousarray(animation.render_rgba(k, background)[:, :, :3]), palette)
    else:
        texture_idx, palette, reserved = quantise_texture(animation.character.texture,
                                                          background_colour=background.colour)
        transparent = reserved if background.transparent else None

        def frame_at(k: int) -> np.ndarray:
            return animation.render_indexed(k, texture_idx, reserved)

    clock = {"raster": 0.0, "handed": 0.0}

    def frames() -> Iterator[np.ndarray]:
        for k in range(animation.n_frames):
            tick = time.perf_counter()
            frame = frame_at(k)
            clock["raster"] += time.perf_counter() - tick
            yield frame
        clock["handed"] = time.perf_counter()  # the writer asks for one more once the last frame is queued

    write_gif(output, frames(), palette, transparent, gif_frame_delays(animation.n_frames, animation.frame_time),
              progress, cancel, threaded=True)
    return {"raster": clock["raster"], "encode_wait": time.perf_counter() - clock["handed"]}


def _check_dump_path(dump: Path, character: tuple[Path, ...]) -> None:
    """The rig dump is JSON: a name ending in .json can be neither the export (GIF, MP4, frames) nor an input (a BVH,
    a YAML config, a texture); and never a file of the character folder."""
    if dump.suffix.lower() != ".json":
        raise RenderError(f"{dump}: --dump-rig writes JSON; give a file name ending in .json (it would have "
                          "replaced that file)")
    if any(dump.resolve().parent == folder.resolve() and dump.exists() for folder in character):
        raise RenderError(f"{dump}: is a file of the character folder; write the rig dump elsewhere")
    check_output(dump, "gif", ())  # the rules of a single file


def render_to_file(request: RenderRequest, progress: Progress | None = None, cancel: Cancel | None = None,
                   ) -> RenderResult:
    """The CLI's ``studio render``: load, retarget, deform, rasterise and encode, timing each stage."""
    started = time.perf_counter()
    kind = output_kind(request.output)
    inputs = tuple(Path(str(p)) for p in (request.character,) if str(p) != "sample")
    check_output(request.output, kind, inputs)
    if request.dump_rig is not None:
        _check_dump_path(request.dump_rig, inputs)
    character = load_character(request.character)
    source = load_motion(request.motion, character, request.retarget, request.bvh)
    load_time = time.perf_counter() - started
    animation = Animation(character, source, request.size, request.frames, request.camera,
                          max_fps=GIF_MAX_FPS if kind == "gif" else None)
    timings = {**animation.timings, "load": load_time}
    timings.update(export_animation(animation, request.output, request.background, progress, cancel))
    if request.dump_rig is not None:  # only once the export succeeded
        dump = rig_dump(animation.pose, character, f"{Path(str(request.character)).name}_{source.label}",
                        clip_frames=animation.clip_frames, clip_frame_time=animation.clip_frame_time)
        with atomic_write_path(request.dump_rig) as tmp:
            tmp.write_text(json.dumps(dump))
    timings["total"] = time.perf_counter() - started
    return RenderResult(request.output, animation.n_frames, animation.frame_time, animation.width, animation.height,
                        animation.notes, timings)
