"""The render job: an Animation written atomically to one of the export formats (GIF, MP4, a PNG folder, WebM with
alpha, APNG, a sprite sheet grid or packed), chosen by the output's name; the output's checks, the encoding, its
timings; and the CLI's ``studio render``."""

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
from studio.pipeline.encode.apng import APNG_MAX_FPS
from studio.pipeline.encode.gif import GIF_MAX_FPS, gif_frame_delays, write_gif
from studio.pipeline.encode.palette import (background_palette, quantise_over_colour, quantise_texture,
                                            quantise_to_palette, used_entries)
from studio.pipeline.encode.sprite_sheet import FrameTag, SheetError, check_sheet_size, sheet_data_path
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
    sheet: bool = False  # a .png output is a sprite sheet (and its JSON beside it)
    packed: bool = False  # the sheet's frames trimmed and packed
    more_motions: tuple[str, ...] = ()  # a sprite sheet's further motions, after ``motion``: one tag each


@dataclass
class RenderResult:
    output: Path
    frames: int
    frame_time: float
    width: int
    height: int
    notes: list[str]
    timings: dict[str, float]
    files: list[Path] = field(default_factory=list)  # every file written: a sprite sheet's JSON too


@dataclass(frozen=True)
class ExportFormat:
    """One kind of export: ``kind`` its name in settings and projects, ``label`` and ``short`` the words for it,
    ``suffix`` the output's file suffix ("" for a folder), ``max_fps`` the fastest clip it plays at its real speed
    (faster ones are resampled), or None."""

    kind: str
    label: str
    short: str
    suffix: str
    max_fps: float | None = None


EXPORT_FORMATS: dict[str, ExportFormat] = {f.kind: f for f in (
    ExportFormat("gif", "GIF", "GIF", ".gif", GIF_MAX_FPS),
    ExportFormat("mp4", "MP4 video", "MP4", ".mp4"),
    ExportFormat("png", "PNG frames", "PNG frames", ""),
    ExportFormat("webm", "WebM video, transparent", "WebM", ".webm"),
    ExportFormat("apng", "Animated PNG (APNG)", "APNG", ".apng", APNG_MAX_FPS),
    ExportFormat("sheet", "Sprite sheet + JSON", "sprite sheet", ".png"),
    ExportFormat("sheet-packed", "Sprite sheet, packed + JSON", "packed sheet", ".png"),
)}
EXPORT_KINDS = tuple(EXPORT_FORMATS)
SHEET_KINDS = ("sheet", "sheet-packed")


def output_kind(path: Path, sheet: bool = False, packed: bool = False) -> str:
    """The export kind (a key of EXPORT_FORMATS) from the output's name: .gif, .mp4, .webm, .apng, a folder for PNG
    frames, or with ``sheet`` a .png sprite sheet (``packed``: trimmed and packed)."""
    suffix = path.suffix.lower()
    if packed and not sheet:
        raise RenderError("--packed packs a sprite sheet: add --sheet (and an output ending in .png)")
    if sheet:
        if suffix != ".png":
            raise RenderError(f"{path}: --sheet writes a PNG sprite sheet and its JSON: give a name ending in .png"
                              + (f", not {suffix!r}" if suffix else ""))
        return "sheet-packed" if packed else "sheet"
    if suffix == ".gif":
        return "gif"
    if suffix in (".mp4", ".m4v"):
        return "mp4"
    if suffix == ".webm":
        return "webm"
    if suffix == ".apng":
        return "apng"
    if suffix == "" or path.is_dir():
        return "png"
    if suffix == ".png":
        raise RenderError(f"{path}: a .png output is a sprite sheet: add --sheet (--packed to trim and pack it); "
                          "use .apng for an animated PNG, or a folder name for PNG frames")
    raise RenderError(f"{path}: unknown output type {suffix!r}: use .gif, .mp4, .webm, .apng, .png with --sheet, "
                      "or a folder for PNG frames")


def output_files(path: Path, kind: str) -> list[Path]:
    """The files an export of ``kind`` to ``path`` writes (a sheet: the PNG and its JSON; PNG frames: the folder)."""
    return [path, sheet_data_path(path)] if kind in SHEET_KINDS else [path]


def check_output(path: Path, kind: str, protected: tuple[Path, ...] = ()) -> None:
    """Refuse, before any work, an output that cannot be written or whose replacement would lose data (``protected``:
    the input character folders, whose files are never replaced, and input files):
    a missing parent folder, a folder where a file goes, a read-only file or folder (ReadOnlyTargetError,
    unless forced with ``atomic.overwrite_read_only``), and for PNG frames any existing file or any folder
    holding something other than frame PNGs (the input character folder included)."""
    parent = path.parent
    if not parent.is_dir():
        what = "is a file, not a folder" if parent.exists() else "the output folder does not exist"
        raise RenderError(f"{parent}: {what}")
    check_replaceable(path)
    suffix = EXPORT_FORMATS[kind].suffix
    if kind != "png" and path.is_dir():
        raise RenderError(f"{path}: is a folder; give a file name ending in {suffix}")
    if kind in SHEET_KINDS:
        data = sheet_data_path(path)
        check_replaceable(data)
        if data.is_dir():
            raise RenderError(f"{data}: is a folder, and a sprite sheet's JSON goes there; name the sheet otherwise")
        for target in (path, data):
            if target.exists() and any(target.resolve().parent == p.resolve() or target.resolve() == p.resolve()
                                       for p in protected):
                raise RenderError(f"{target}: is a file of a character folder or an input of this export; write the "
                                  "sprite sheet elsewhere")
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
                     cancel: Cancel | None = None, kind: str | None = None, name: str = "animation",
                     ) -> dict[str, float]:
    """Write ``animation`` to ``output`` atomically, as ``kind`` (default: from the name, see ``output_kind``); a
    sprite sheet tags its frames ``name`` (the motion's). Returns the seconds the export took: render+encode, deform
    (every frame's, framing's included), and for a GIF raster and encode_wait (the encoder thread finishing after
    the last frame)."""
    kind = kind or output_kind(output)
    if kind not in EXPORT_FORMATS:
        raise RenderError(f"unknown export kind {kind!r}: use one of {', '.join(EXPORT_KINDS)}")
    suffix = EXPORT_FORMATS[kind].suffix
    if kind != "png" and output.suffix.lower() not in (suffix, ".m4v" if kind == "mp4" else suffix):
        raise RenderError(f"{output}: a {EXPORT_FORMATS[kind].short} export needs a name ending in {suffix}")
    check_output(output, kind)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    n = animation.n_frames
    if kind == "gif":
        timings.update(_write_gif(animation, output, background, progress, cancel))
    elif kind == "mp4":
        from studio.pipeline.encode.video import write_mp4

        fps = 1.0 / animation.frame_time
        # write_mp4 composites over a colour itself: doing it here too cost 1.3 ms a frame for the same pixels
        behind = background if background.image is not None else None
        write_mp4(output, _frames_rgba(animation, behind), fps, background=background.colour or (255, 255, 255),
                  progress=progress, cancel=cancel, total=n)
    elif kind == "png":
        from studio.pipeline.encode.video import write_png_frames

        write_png_frames(output, _frames_rgba(animation, background), progress=progress, total=n, cancel=cancel)
    elif kind == "webm":
        from studio.pipeline.encode.video import write_webm

        write_webm(output, _frames_rgba(animation, background), 1.0 / animation.frame_time, progress=progress,
                   cancel=cancel, total=n)
    elif kind == "apng":
        from studio.pipeline.encode.apng import write_apng

        write_apng(output, _frames_rgba(animation, background), [animation.frame_time * 1000.0] * n,
                   progress=progress, cancel=cancel)
    else:
        _write_sheet([(name, animation)], output, background, kind == "sheet-packed", progress, cancel)
    timings["render+encode"] = time.perf_counter() - started
    timings["deform"] = float(animation.deform_times.sum())
    return timings


def _write_sheet(animations: list[tuple[str, Animation]], output: Path, background: Background, packed: bool,
                 progress: Progress | None, cancel: Cancel | None) -> None:
    """A sprite sheet of every frame of each ``(name, animation)`` in turn (all one size), one tag per name, each
    frame's duration in whole ms, adding up to each clip's length."""
    from studio import __version__
    from studio.pipeline.encode.sprite_sheet import frame_durations_ms, write_sprite_sheet

    tags: list[FrameTag] = []
    durations: list[int] = []
    for name, animation in animations:
        tags.append(FrameTag(name, len(durations), len(durations) + animation.n_frames - 1))
        durations.extend(frame_durations_ms(animation.n_frames, animation.frame_time))
    frames = (frame for _, animation in animations for frame in _frames_rgba(animation, background))
    first = animations[0][1]
    try:
        check_sheet_size(len(durations), first.width, first.height, packed)  # before any frame is drawn
        write_sprite_sheet(output, frames, durations, tags, packed, progress, cancel, version=__version__)
    except SheetError as exc:
        raise RenderError(str(exc)) from None


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
        palette = used_entries(palette, reserved, opaque=transparent is None)
        colour = background.colour or (255, 255, 255)

        def frame_at(k: int) -> np.ndarray:
            if transparent is not None:  # GIF has no partial transparency: hard-edged indices, the fast path
                return animation.render_indexed(k, texture_idx, reserved)
            # Over a colour, the full-colour frame's soft edges mapped to the same palette: 46.9 against 38.2 dB
            # on char2 + dab on white, and 3630 against 3503 KiB (bench/gif_encode.py --jobs --smooth).
            return quantise_over_colour(animation.render_premultiplied(k), colour, palette)

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


def _check_dump_path(dump: Path, character: tuple[Path, ...], written: list[Path]) -> None:
    """The rig dump is JSON: a name ending in .json can be neither the export (GIF, MP4, frames...) nor an input (a
    BVH, a YAML config, a texture); never a file of the character folder, nor one the export writes (``written``:
    a sprite sheet's JSON)."""
    if dump.suffix.lower() != ".json":
        raise RenderError(f"{dump}: --dump-rig writes JSON; give a file name ending in .json (it would have "
                          "replaced that file)")
    if any(dump.resolve().parent == folder.resolve() and dump.exists() for folder in character):
        raise RenderError(f"{dump}: is a file of the character folder; write the rig dump elsewhere")
    if any(dump.resolve() == other.resolve() for other in written):
        raise RenderError(f"{dump}: is where the sprite sheet's JSON goes; give --dump-rig another name")
    check_output(dump, "gif", ())  # the rules of a single file


def render_to_file(request: RenderRequest, progress: Progress | None = None, cancel: Cancel | None = None,
                   ) -> RenderResult:
    """The CLI's ``studio render``: load, retarget, deform, rasterise and encode, timing each stage. With
    ``more_motions`` (sprite sheets only) every motion goes into one sheet, tagged with its name, on one rig."""
    started = time.perf_counter()
    kind = output_kind(request.output, request.sheet, request.packed)
    if request.more_motions and kind not in SHEET_KINDS:
        raise RenderError("several motions go into one sprite sheet only: add --sheet and an output ending in .png, "
                          "or give one --motion")
    if request.more_motions and request.dump_rig is not None:
        raise RenderError("--dump-rig writes the rig of one motion: give one --motion")
    inputs = tuple(Path(str(p)) for p in (request.character,) if str(p) != "sample")
    check_output(request.output, kind, inputs)
    if request.dump_rig is not None:
        _check_dump_path(request.dump_rig, inputs, output_files(request.output, kind))
    character = load_character(request.character)
    sources = [load_motion(m, character, request.retarget, request.bvh)
               for m in (request.motion, *request.more_motions)]
    load_time = time.perf_counter() - started
    animations: list[tuple[str, Animation]] = []
    for source in sources:
        rig = animations[0][1].rig if animations else None
        animations.append((source.label.removesuffix(".motion"),
                           Animation(character, source, request.size, request.frames, request.camera, rig=rig,
                                     max_fps=EXPORT_FORMATS[kind].max_fps)))
    animation = animations[0][1]
    timings = {**animation.timings, "load": load_time}
    if len(animations) > 1:
        tick = time.perf_counter()
        _write_sheet(animations, request.output, request.background, kind == "sheet-packed", progress, cancel)
        timings["render+encode"] = time.perf_counter() - tick
        timings["deform"] = float(sum(a.deform_times.sum() for _, a in animations))
    else:
        timings.update(export_animation(animation, request.output, request.background, progress, cancel, kind,
                                        animations[0][0]))
    if request.dump_rig is not None:  # only once the export succeeded
        source = sources[0]
        dump = rig_dump(animation.pose, character, f"{Path(str(request.character)).name}_{source.label}",
                        clip_frames=animation.clip_frames, clip_frame_time=animation.clip_frame_time)
        with atomic_write_path(request.dump_rig) as tmp:
            tmp.write_text(json.dumps(dump))
    timings["total"] = time.perf_counter() - started
    notes = [f"{name}: {note}" if len(animations) > 1 else note for name, a in animations for note in a.notes]
    return RenderResult(request.output, sum(a.n_frames for _, a in animations), animation.frame_time,
                        animation.width, animation.height, notes, timings, output_files(request.output, kind))
