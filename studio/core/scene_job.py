"""The scene job: a scene file (the studio's own YAML, an AD MVC config as it is, or a .studio project keeping a
scene) opened, rendered on its shared clock and written atomically to the export formats ``studio render``
writes; the CLI's ``studio scene``.

A GIF of a scene uses one palette for every character's texture (and an image background's colours), and each
composited frame is mapped onto it; the other formats take the composited RGBA frames as a render's do.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from studio.core.render import Background, RenderError, parse_background
from studio.core.render_job import EXPORT_FORMATS, SHEET_KINDS, check_output, output_files, output_kind
from studio.core.scene import (PROJECT, SAMPLE, Scene, SceneError, is_background_file, is_motion_file,
                                load_scene)
from studio.core.scene_render import SceneAnimation
from studio.pipeline.character import Character
from studio.pipeline.encode.gif import gif_frame_delays, write_gif
from studio.pipeline.encode.palette import (ALPHA_OPAQUE, background_palette, quantise_over_colour, quantise_texture,
                                            quantise_to_palette, used_entries)
from studio.pipeline.motion.config import load_yaml
from studio.pipeline.progress import Cancel, Progress

PROJECT_SUFFIX = ".studio"


@dataclass(frozen=True, eq=False)
class OpenedScene:
    """A scene as read from a file: ``kind`` 'studio', 'ad' (an MVC config) or 'project'; ``output`` the file an AD
    config names (OUTPUT_VIDEO_PATH), ``interactive`` when its MODE asks for AD's window; ``own`` the project's
    drawing, for its 'project' character."""

    scene: Scene
    kind: str
    output: Path | None = None
    interactive: bool = False
    notes: tuple[str, ...] = ()
    own: Character | None = None


def open_scene(path: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None) -> OpenedScene:
    """Read ``path``: a .studio project (its scene), a studio scene YAML (``studio_scene: 1``) or an AD MVC config
    (its relative names from ``cwd``, default the current folder, as AD resolves them)."""
    path = Path(path)
    if path.suffix.lower() == PROJECT_SUFFIX:
        from studio.core.project import open_project_with_scene

        doc, scene = open_project_with_scene(path)
        if scene is None:
            raise SceneError(f"{path}: this project keeps no scene (add characters to its scene in the window)")
        own = doc.character() if any(c.character == "project" for c in scene.characters) else None
        return OpenedScene(scene, "project", own=own)
    data = load_yaml(path)
    from studio.core.mvc_config import looks_like_mvc, mvc_from_dict

    if isinstance(data, dict) and "studio_scene" in data:
        return OpenedScene(load_scene(path), "studio")
    if looks_like_mvc(data):
        ad = mvc_from_dict(data, path, cwd)
        return OpenedScene(ad.scene, "ad", ad.output, ad.mode == "interactive", ad.notes)
    raise SceneError(f"{path}: neither a studio scene ('studio_scene: 1' with characters) nor an AD MVC config "
                     "(scene: ANIMATED_CHARACTERS, view, controller)")


@dataclass(frozen=True)
class SceneRequest:
    """``studio scene``: the scene file, and what overrides it (output, frame count, size, background text)."""

    scene: Path
    output: Path | None = None
    frames: int | None = None
    size: tuple[int, int] | None = None
    background: str | None = None
    sheet: bool = False
    packed: bool = False


@dataclass
class SceneResult:
    output: Path
    frames: int
    frame_time: float
    width: int
    height: int
    characters: int
    notes: list[str]
    timings: dict[str, float]
    files: list[Path] = field(default_factory=list)


def _output(request: SceneRequest, opened: OpenedScene, notes: list[str]) -> Path:
    """The output file: -o, else the AD config's OUTPUT_VIDEO_PATH (whose folder is made, as AD makes it)."""
    if request.output is not None:
        return request.output
    if opened.kind != "ad" or opened.output is None:
        raise SceneError(f"{request.scene}: give the output with -o OUT.gif, OUT.mp4 or a folder for PNG frames")
    if opened.interactive:
        raise SceneError(f"not supported: {request.scene} asks for AD's interactive window (controller.MODE "
                         "'interactive', AD's default); render it to a file with -o OUT.gif or OUT.mp4")
    return opened.output


def _make_output_folder(output: Path, notes: list[str]) -> None:
    """An AD config's OUTPUT_VIDEO_PATH folder is made as AD makes it (only once the output is known to be good)."""
    if not output.parent.exists():
        output.parent.mkdir(parents=True)
        notes.append(f"made the folder {output.parent} for OUTPUT_VIDEO_PATH, as AD does")


def scene_inputs(scene: Scene) -> tuple[Path, ...]:
    """The files and character folders a scene reads, which no export of it may replace."""
    paths = [c.character for c in scene.characters if c.character not in (SAMPLE, PROJECT)]
    for c in scene.characters:
        paths += [v for v in (c.retarget, c.bvh) if v is not None]
        paths += [c.motion] if is_motion_file(c.motion) else []
    paths += [scene.background] if is_background_file(scene.background) else []
    return tuple(Path(p) for p in paths)


def render_scene_to_file(request: SceneRequest, progress: Progress | None = None, cancel: Cancel | None = None,
                         cwd: str | os.PathLike[str] | None = None) -> SceneResult:
    """Open, check the output, build every character and export, timing each stage."""
    started = time.perf_counter()
    opened = open_scene(request.scene, cwd)
    notes = list(opened.notes)
    output = _output(request, opened, notes)
    kind = output_kind(output, request.sheet, request.packed)
    if request.output is None:  # the name and suffix are good: make its folder as AD would
        _make_output_folder(output, notes)
    check_output(output, kind, scene_inputs(opened.scene))
    background = parse_background(request.background) if request.background is not None else None
    timings = {"open": time.perf_counter() - started}
    animation = SceneAnimation(opened.scene, request.size, request.frames, EXPORT_FORMATS[kind].max_fps, opened.own,
                               background)
    notes.extend(animation.notes)
    timings.update(animation.timings)
    timings.update(export_scene(animation, output, progress, cancel, kind, request.scene.stem.split(".")[0]))
    timings["total"] = time.perf_counter() - started
    return SceneResult(output, animation.n_frames, animation.frame_time, animation.width, animation.height,
                       len(animation.actors), notes, timings, output_files(output, kind))


def export_scene(animation: SceneAnimation, output: Path, progress: Progress | None = None,
                 cancel: Cancel | None = None, kind: str | None = None, name: str = "scene") -> dict[str, float]:
    """Write ``animation`` over its background to ``output`` atomically, as ``kind`` (default: from the name); a
    sprite sheet tags its frames ``name``. Returns the seconds taken (render+encode; deform, every character's)."""
    kind = kind or output_kind(output)
    check_output(output, kind, scene_inputs(animation.scene))
    started = time.perf_counter()
    background, n = animation.background, animation.n_frames
    if kind == "gif":
        _write_gif(animation, output, progress, cancel)
    elif kind == "mp4":
        from studio.pipeline.encode.video import write_mp4

        behind = background if background.image is not None else None  # write_mp4 puts a colour under itself
        write_mp4(output, _frames(animation, behind), 1.0 / animation.frame_time,
                  background=background.colour or (255, 255, 255), progress=progress, cancel=cancel, total=n)
    elif kind == "png":
        from studio.pipeline.encode.video import write_png_frames

        write_png_frames(output, _frames(animation, background), progress=progress, total=n, cancel=cancel)
    elif kind == "webm":
        from studio.pipeline.encode.video import write_webm

        write_webm(output, _frames(animation, background), 1.0 / animation.frame_time, progress=progress,
                   cancel=cancel, total=n)
    elif kind == "apng":
        from studio.pipeline.encode.apng import write_apng

        write_apng(output, _frames(animation, background), [animation.frame_time * 1000.0] * n, progress=progress,
                   cancel=cancel)
    elif kind in SHEET_KINDS:
        _write_sheet(animation, output, kind == "sheet-packed", name, progress, cancel)
    else:
        raise RenderError(f"unknown export kind {kind!r}: use one of {', '.join(EXPORT_FORMATS)}")
    deform = sum(float(actor.animation.deform_times.sum()) for actor in animation.actors)
    return {"render+encode": time.perf_counter() - started, "deform": deform}


def _frames(animation: SceneAnimation, background: Background | None) -> Iterator[np.ndarray]:
    """Each scene frame as RGBA, rendered as it is pulled (the writers ask cancel before pulling one)."""
    return (animation.render_rgba(k, background) for k in range(animation.n_frames))


def _write_sheet(animation: SceneAnimation, output: Path, packed: bool, name: str, progress: Progress | None,
                 cancel: Cancel | None) -> None:
    """A sprite sheet of every scene frame, one tag ``name`` over them all, durations adding up to the scene."""
    from studio import __version__
    from studio.pipeline.encode.sprite_sheet import (FrameTag, SheetError, check_sheet_size, frame_durations_ms,
                                                     write_sprite_sheet)

    n = animation.n_frames
    try:
        check_sheet_size(n, animation.width, animation.height)
        durations = frame_durations_ms(n, animation.frame_time)
        write_sprite_sheet(output, _frames(animation, animation.background), durations, [FrameTag(name, 0, n - 1)],
                           packed, progress, cancel, version=__version__)
    except SheetError as exc:
        raise RenderError(str(exc)) from None


def _write_gif(animation: SceneAnimation, output: Path, progress: Progress | None, cancel: Cancel | None) -> None:
    """One palette for all the characters' textures. Over a colour or transparency each texture is mapped onto it
    once and the frames are rasterised as palette indices, back to front (as a render's GIF is); over an image,
    each composited frame is mapped onto a palette of textures and image together."""
    background = animation.background
    figures = np.concatenate([c.texture.reshape(-1, 4) for c in _distinct(animation.characters)])[:, None, :]
    transparent: int | None = None
    if background.image is not None:
        backdrop = cv2.resize(background.image, (animation.width, animation.height), interpolation=cv2.INTER_AREA)
        palette = background_palette(figures, backdrop)

        def frame_at(k: int) -> np.ndarray:
            rgb = np.ascontiguousarray(animation.render_rgba(k, background)[:, :, :3])
            return quantise_to_palette(rgb, palette)
    else:
        _, palette, empty = quantise_texture(figures, background_colour=background.colour)
        transparent = empty if background.transparent else None
        palette = used_entries(palette, empty, opaque=transparent is None)  # as a render's GIF
        colour = background.colour or (255, 255, 255)
        textures = []
        for character in animation.characters:  # nearest among the textures' colours only, never the reserved one
            indices = quantise_to_palette(np.ascontiguousarray(character.texture[:, :, :3]), palette[:empty])
            indices[character.texture[:, :, 3] < ALPHA_OPAQUE] = empty
            textures.append(indices)
        out = np.empty((animation.height, animation.width), np.uint8)
        scratch = np.empty_like(out)

        def frame_at(k: int) -> np.ndarray:
            if transparent is not None:
                return animation.render_indexed(k, textures, empty, out, scratch)
            # over a colour, soft edges mapped to the palette, as a render's GIF
            return quantise_over_colour(animation.render_premultiplied(k), colour, palette)

    frames = (frame_at(k) for k in range(animation.n_frames))
    write_gif(output, frames, palette, transparent, gif_frame_delays(animation.n_frames, animation.frame_time),
              progress, cancel, threaded=True)


def _distinct(characters: list[Character]) -> list[Character]:
    """Each character once (one drawing used twice in a scene weighs once in the palette)."""
    seen: dict[int, Character] = {}
    for character in characters:
        seen.setdefault(id(character), character)
    return list(seen.values())
