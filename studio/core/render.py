"""Render jobs: character + motion → animated frames → GIF, MP4 or PNG frames, with timings and cancel."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, cast

import cv2
import numpy as np

from studio.core.motion_source import MotionSource, load_motion
from studio.pipeline.deform import camera as cameras
from studio.pipeline.files.atomic import ExportCancelled, atomic_write_path, check_replaceable
from studio.pipeline.character import Character, read_character
from studio.pipeline.motion.clip import resample_clip, retime_clip, slice_clip
from studio.pipeline.encode.gif import GifWriter, gif_frame_delays, gif_safe_frame_count
from studio.pipeline.intake.images import ImageError, read_capped
from studio.pipeline.motion.normalise import normalise_motion
from studio.pipeline.encode.palette import background_palette, quantise_texture, quantise_to_palette
from studio.pipeline.deform.raster import fill_source_maps, raster_indexed, sample_rgba
from studio.pipeline.motion.retarget import Pose2D, retarget
from studio.pipeline.deform.rig import DrawOrder, Rig
from studio.pipeline.motion.rigdump import rig_dump

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]
COLOURS = {"white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128), "gray": (128, 128, 128),
           "red": (220, 40, 40), "green": (40, 160, 60), "blue": (40, 90, 220), "yellow": (250, 220, 60),
           "paper": (250, 246, 236)}


FRAMING_STEP = 0.02  # of the texture's larger side: joint motion tolerated between framing samples
MAX_FPS = 240
MAX_FRAMES = 20000


class RenderError(ValueError):
    """A render request that cannot be carried out (bad output path, bad background...)."""


@dataclass(frozen=True)
class Background:
    """transparent, a solid RGB colour, or an RGB image stretched to the canvas."""

    colour: tuple[int, int, int] | None = None
    image: np.ndarray | None = None

    @property
    def transparent(self) -> bool:
        return self.colour is None and self.image is None


def parse_background(text: str) -> Background:
    """'transparent', a colour name, '#rrggbb', or an image file path."""
    value = text.strip()
    if value.lower() in ("", "none", "transparent"):
        return Background()
    if value.lower() in COLOURS:
        return Background(colour=COLOURS[value.lower()])
    if value.startswith("#") and len(value) == 7:
        try:
            return Background(colour=tuple(int(value[i:i + 2], 16) for i in (1, 3, 5)))  # type: ignore[arg-type]
        except ValueError:
            pass
    path = Path(value)
    if path.is_file():
        try:
            image = read_capped(path, cv2.IMREAD_COLOR)  # a 20000² PNG is refused from its header, undecoded
        except ImageError as exc:
            raise RenderError(f"background {exc}") from None
        return Background(image=cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    raise RenderError(f"background {value!r}: use 'transparent', a colour name ({', '.join(sorted(COLOURS))}), "
                      "'#rrggbb' or an existing image file")


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
        raise RenderError(f"{parent}: the output folder does not exist")
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


class Animation:
    """A character posed by a clip, ready to render any frame. The rig can be reused across clips."""

    def __init__(self, character: Character, source: MotionSource, size: tuple[int, int], frames: int | None = None,
                 camera: str = "ad", rig: Rig | None = None, max_fps: float | None = None,
                 framing: cameras.Camera | None = None) -> None:
        """``framing``: keep this camera instead of fitting one to the clip (the live preview keeps the
        framing while a joint is dragged, so the figure does not jump)."""
        self.timings: dict[str, float] = {}
        self.notes: list[str] = list(source.notes)
        self.character = character
        self.width, self.height = size
        if rig is None:
            rig = Rig.build(character)
            self.timings.update(rig.timings)
        self.rig = rig
        for name, distance in rig.snapped_joints:
            self.notes.append(f"joint {name} lies {distance:.1f} px outside the mask: pinned to the nearest mesh point")

        started = time.perf_counter()
        clip = slice_clip(source.bvh, source.motion_config.start_frame_idx, source.motion_config.end_frame_idx)
        if source.motion_config.frame_time:
            clip = retime_clip(clip, source.motion_config.frame_time)
        target = frames
        most = max(1, min(MAX_FRAMES, int(np.ceil(clip.duration * MAX_FPS))))
        if target is not None and target > most:
            raise RenderError(f"{target} frames is too many for a {clip.duration:.2f} s clip: at most {most} "
                              f"({MAX_FPS} fps, {MAX_FRAMES} frames in all)")
        if max_fps is not None:
            safe = gif_safe_frame_count(target or clip.n_frames, clip.duration / (target or clip.n_frames), max_fps)
            if safe < (target or clip.n_frames):
                self.notes.append(f"{target or clip.n_frames} frames would play faster than {max_fps:g} fps as a GIF: "
                                  f"resampled to {safe} frames, keeping the {clip.duration:.2f} s duration")
                target = safe
        if target is not None and target != clip.n_frames:
            clip = resample_clip(clip, target)
        config = dataclasses.replace(source.motion_config, start_frame_idx=0, end_frame_idx=None, frame_time=None)
        motion = normalise_motion(clip, config)
        self.pose: Pose2D = retarget(character, motion, source.retarget_config)
        self.notes.extend(self.pose.notes)
        _check_finite(self.pose.joints)
        self.order = DrawOrder(rig, source.retarget_config.bodypart_groups)
        self.timings["retarget"] = time.perf_counter() - started

        self._vertices = np.empty((self.pose.n_frames, len(rig.mesh.vertices), 2))
        self._deformed = np.zeros(self.pose.n_frames, bool)
        self.deform_times = np.zeros(self.pose.n_frames)
        # Framing needs the extent of the whole clip, before the first frame is drawn.
        self.raster_times: list[float] = []
        self._premultiplied: np.ndarray | None = None
        if framing is not None:
            self.camera = framing
            return
        started = time.perf_counter()
        lo, hi = self._clip_extent(FRAMING_STEP * max(character.width, character.height))
        self.timings["framing"] = time.perf_counter() - started
        if camera == "fit":
            self.camera = cameras.fit_camera(self.width, self.height, lo, hi)
        else:
            root = int(np.flatnonzero(np.array(character.parents) < 0)[0])
            base = cameras.ad_camera(self.width, self.height, max(character.width, character.height),
                                     character.rest[root], source.retarget_config.char_starting_location)
            self.camera = cameras.keep_in_frame(base, lo, hi)
        self._check_on_canvas()

    def _check_on_canvas(self) -> None:
        """Refuse a clip that would export blank frames: a camera that is not finite, a character drawn under
        a pixel (a far-off frame shrank the framing), or one never on the canvas; note frames it is off."""
        size = max(self.character.width, self.character.height)
        drawn = abs(self.camera.scale) * size
        if not (np.isfinite(self.camera.scale) and np.isfinite(self.camera.offset).all()):
            raise RenderError("the character's place on the canvas is not a finite number: check the retarget "
                              "config's char_starting_location and the clip's root positions")
        if drawn < 2.0:
            far = np.abs(self.pose.joints - self.pose.joints[:1]).max(axis=(1, 2))
            k = int(np.argmax(far))
            raise RenderError(f"the character would be drawn {drawn:.2g} px tall: frame {k} moves it {far[k]:.3g} px "
                              "from where it starts, and the framing keeps every frame in view; check the clip's "
                              "root positions")
        shown = cameras.frames_on_canvas(self.camera, self.pose.joints, size / 2.0)
        if not shown.any():
            raise RenderError(f"the character is outside the {self.width}×{self.height} canvas in every frame: "
                              "check the retarget config's char_starting_location")
        if not shown.all():
            hidden = np.flatnonzero(~shown)
            self.notes.append(f"the character is outside the canvas in {hidden.size} of {shown.size} frames "
                              f"(first: frame {int(hidden[0])})")

    @property
    def n_frames(self) -> int:
        return self.pose.n_frames

    @property
    def frame_time(self) -> float:
        return self.pose.frame_time

    def _clip_extent(self, step: float) -> tuple[np.ndarray, np.ndarray]:
        """Texture-px box that every frame's deformed mesh fits in. Deforms only the frames where some
        joint has moved more than ``step`` px since the last deformed one, and grows the box by ``step``
        (the other frames deform later, while the GIF encoder runs on the second core)."""
        joints = self.pose.joints
        sampled, last = [0], 0
        for k in range(1, self.pose.n_frames):
            if np.abs(joints[k] - joints[last]).max() > step or k == self.pose.n_frames - 1:
                sampled.append(k)
                last = k
        boxes = np.array([[self.vertices(k).min(axis=0), self.vertices(k).max(axis=0)] for k in sampled])
        return boxes[:, 0].min(axis=0) - step, boxes[:, 1].max(axis=0) + step

    def vertices(self, k: int) -> np.ndarray:
        """(n, 2) deformed mesh vertices of frame k, texture px (ARAP back-substitution, cached)."""
        if not self._deformed[k]:
            tick = time.perf_counter()
            self._vertices[k] = self.rig.deform(self.pose.joints[k])
            self.deform_times[k] = time.perf_counter() - tick
            self._deformed[k] = True
        return self._vertices[k]

    def canvas_vertices(self, k: int) -> np.ndarray:
        return self.camera.apply(self.vertices(k))

    def triangles(self, k: int) -> np.ndarray:
        return self.rig.mesh.triangles[self.order.triangles(self.pose.draw_order[k], self.pose.group_reversed[k])]

    def render_indexed(self, k: int, texture_idx: np.ndarray, background: int, out: np.ndarray | None = None) -> np.ndarray:
        """(h, w) uint8 palette indices of frame k."""
        return raster_indexed(self.canvas_vertices(k), self.rig.mesh.vertices, self.triangles(k), texture_idx,
                              background, self.width, self.height, out)

    def render_premultiplied(self, k: int) -> np.ndarray:
        """(h, w, 4) uint8 RGBA of frame k with colour premultiplied by alpha: what a screen composites
        directly (the live preview), without the cost of unpremultiplying."""
        if self._premultiplied is None:
            self._premultiplied = premultiply(self.character.texture)
        map_x, map_y = fill_source_maps(self.canvas_vertices(k), self.rig.mesh.vertices, self.triangles(k),
                                        self.width, self.height)
        return sample_rgba(self._premultiplied, map_x, map_y)

    def render_rgba(self, k: int, background: Background | None = None) -> np.ndarray:
        """(h, w, 4) uint8 RGBA of frame k, composited over ``background`` if given."""
        if self._premultiplied is None:
            self._premultiplied = premultiply(self.character.texture)
        map_x, map_y = fill_source_maps(self.canvas_vertices(k), self.rig.mesh.vertices, self.triangles(k),
                                        self.width, self.height)
        rgba = unpremultiply(sample_rgba(self._premultiplied, map_x, map_y))
        return composite(rgba, background) if background is not None else rgba


def _check_finite(joints: np.ndarray) -> None:
    """Refuse retargeted joints that are not finite numbers (an inf or NaN in the clip), naming the first frame."""
    bad = ~np.isfinite(joints).all(axis=(1, 2))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise RenderError(f"frame {k}: the character's joints are not finite numbers after retargeting: check the "
                          "clip's values in that frame and the retarget config's numbers")


def premultiply(rgba: np.ndarray) -> np.ndarray:
    """(h, w, 4) uint8 with colour scaled by alpha, so bilinear sampling at the mask's edge does not
    pull in the colour of the transparent paper around the figure."""
    out = rgba.copy()
    out[:, :, :3] = (rgba[:, :, :3].astype(np.uint16) * rgba[:, :, 3:4] // 255).astype(np.uint8)
    return out


def unpremultiply(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[:, :, 3:4].astype(np.float32)
    rgb = rgba[:, :, :3].astype(np.float32) * 255.0 / np.maximum(alpha, 1.0)
    rgba[:, :, :3] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    return rgba


def composite(rgba: np.ndarray, background: Background) -> np.ndarray:
    """Alpha-composite (h, w, 4) RGBA over a colour or image background; transparent returns it as is."""
    if background.transparent:
        return rgba
    h, w = rgba.shape[:2]
    if background.image is not None:
        base = cv2.resize(background.image, (w, h), interpolation=cv2.INTER_AREA)
    else:
        base = np.empty((h, w, 3), np.uint8)
        base[:] = cast(tuple[int, int, int], background.colour)
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    rgb = (rgba[:, :, :3] * alpha + base * (1.0 - alpha)).astype(np.uint8)
    return np.dstack([rgb, np.full((h, w), 255, np.uint8)])


def _frames_rgba(animation: Animation, background: Background | None, cancel: Cancel | None) -> Iterator[np.ndarray]:
    for k in range(animation.n_frames):
        if cancel is not None and cancel():
            raise ExportCancelled("export cancelled")
        yield animation.render_rgba(k, background)


def export_animation(animation: Animation, output: Path, background: Background, progress: Progress | None = None,
                     cancel: Cancel | None = None) -> Path:
    """Write ``animation`` to ``output`` (.gif, .mp4 or a PNG folder) atomically."""
    kind = output_kind(output)
    check_output(output, kind)
    started = time.perf_counter()
    if kind == "gif":
        _write_gif(animation, output, background, progress, cancel)
    elif kind == "mp4":
        from studio.pipeline.encode.video import write_mp4

        fps = 1.0 / animation.frame_time
        write_mp4(output, _frames_rgba(animation, background, cancel), fps,
                  background=background.colour or (255, 255, 255), progress=progress, cancel=cancel,
                  total=animation.n_frames)
    else:
        from studio.pipeline.encode.video import write_png_frames

        write_png_frames(output, _frames_rgba(animation, background, cancel), progress=progress,
                         total=animation.n_frames,
                         cancel=cancel)
    animation.timings["render+encode"] = time.perf_counter() - started
    if animation.raster_times:
        animation.timings["raster"] = float(np.sum(animation.raster_times))
    animation.timings["deform"] = float(animation.deform_times.sum())
    return output


def _write_gif(animation: Animation, output: Path, background: Background, progress: Progress | None,
               cancel: Cancel | None) -> None:
    n = animation.n_frames
    delays = gif_frame_delays(n, animation.frame_time)
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

    with GifWriter(output, animation.width, animation.height, palette, transparent, threaded=True) as writer:
        for k in range(n):
            if cancel is not None and cancel():
                raise ExportCancelled("export cancelled")
            tick = time.perf_counter()
            frame = frame_at(k)
            animation.raster_times.append(time.perf_counter() - tick)
            writer.add(frame, delays[k])
            if progress is not None:
                progress(k + 1, n)
        tick = time.perf_counter()
        writer.close()
    animation.timings["encode_wait"] = time.perf_counter() - tick


def render_to_file(request: RenderRequest, progress: Progress | None = None, cancel: Cancel | None = None,
                   ) -> RenderResult:
    """The CLI's ``studio render``: load, retarget, deform, rasterise and encode, timing each stage."""
    started = time.perf_counter()
    kind = output_kind(request.output)
    inputs = tuple(Path(str(p)) for p in (request.character,) if str(p) != "sample")
    check_output(request.output, kind, inputs)
    if request.dump_rig is not None:
        check_output(request.dump_rig, "gif", ())  # same rules as a single file
    character = load_character(request.character)
    source = load_motion(request.motion, character, request.retarget, request.bvh)
    load_time = time.perf_counter() - started
    animation = Animation(character, source, request.size, request.frames, request.camera,
                          max_fps=50.0 if kind == "gif" else None)
    animation.timings["load"] = load_time
    export_animation(animation, request.output, request.background, progress, cancel)
    if request.dump_rig is not None:  # only once the export succeeded
        dump = rig_dump(animation.pose, character, f"{Path(str(request.character)).name}_{source.label}")
        with atomic_write_path(request.dump_rig) as tmp:
            tmp.write_text(json.dumps(dump))
    animation.timings["total"] = time.perf_counter() - started
    return RenderResult(request.output, animation.n_frames, animation.frame_time, animation.width, animation.height,
                        animation.notes, animation.timings)
