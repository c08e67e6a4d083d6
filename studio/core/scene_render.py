"""The SceneAnimation: every character of a Scene animated, placed on the canvas and composited back to front, on the
scene's shared clock; any frame rendered on demand (premultiplied, or straight RGBA over a background).

Clock: the scene plays at the first character's clip frame time (AnimatedDrawings' rule) for as long as the latest
``start + clip duration`` lasts; a frame count (the scene's ``frames``, or the caller's) resamples that duration
instead. Each character's clip is resampled (keeping its duration) to the scene's frame time when its own differs,
and character i shows, at scene time t, its frame round((t - start_i) / frame_time_i), held on its first frame
before and its last frame after. For an AD config whose clips share one frame time this is exactly AD's count and
frames: the longest clip's, each character on frame k.

Compositing: each character is rasterised premultiplied through its own camera (studio.core.scene_camera), only
inside the box its mesh can cover, and laid over the ones behind it (premultiplied "over", rounded as
studio.pipeline.compositing rounds); the result is unpremultiplied and composited over the background as a single
render's frame is. A GIF's frames are rasterised as palette indices instead, back to front (``render_indexed``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from studio.core.motion_source import MotionSource, load_motion
from studio.core.render import (MAX_FPS, MAX_FRAMES, Animation, Background, RenderError, canvas_box, composite,
                                 plan_clip)
from studio.core.scene import PROJECT, SAMPLE, Scene, SceneCharacter, SceneError
from studio.core.scene_camera import PlaneCamera, ad_placed_camera, placed_camera
from studio.pipeline.character import Character, read_character
from studio.pipeline.compositing import premultiply, unpremultiply
from studio.pipeline.deform.camera import frames_on_canvas
from studio.pipeline.deform.raster import fill_source_maps, sample_rgba
from studio.pipeline.deform.rig import Rig
from studio.pipeline.encode.gif import gif_safe_frame_count
from studio.pipeline.motion.config import read_retarget_config


@dataclass(frozen=True, eq=False)
class SceneActor:
    """One placed character: ``index`` in the scene's list, its entry, its Animation (camera included), and its
    texture premultiplied (sampled bilinearly without pulling in the paper around the figure)."""

    index: int
    entry: SceneCharacter
    animation: Animation
    premultiplied: np.ndarray

    def box(self, j: int) -> tuple[int, int, int, int] | None:
        """(top, bottom, left, right): the canvas rows and columns clip frame j can cover; None when off canvas."""
        animation = self.animation
        return canvas_box(animation.canvas_vertices(j), animation.width, animation.height)

    def layer(self, j: int, box: tuple[int, int, int, int]) -> np.ndarray:
        """(bottom - top, right - left, 4) uint8 premultiplied RGBA of clip frame j inside ``box``: the rasteriser
        run on the box only (a full-canvas remap per character cost most of a scene frame)."""
        top, bottom, left, right = box
        animation = self.animation
        corner = np.array([left, top], float)
        map_x, map_y = fill_source_maps(animation.canvas_vertices(j) - corner, animation.rig.mesh.vertices,
                                        animation.triangles(j), right - left, bottom - top)
        return sample_rgba(self.premultiplied, map_x, map_y)

    def frame_at(self, seconds: float) -> int:
        """The clip frame this character shows at scene time ``seconds``: round((t - start) / frame time), held on
        the first frame before its start and on the last one after its end."""
        local = (seconds - self.entry.start) / self.animation.frame_time
        return min(max(int(math.floor(local + 0.5 + 1e-9)), 0), self.animation.n_frames - 1)


@dataclass(frozen=True, eq=False)
class _Loaded:
    """A character and its motion, read but not yet timed."""

    character: Character
    source: MotionSource
    rig_key: str
    starting_location: tuple[float, float, float]  # the given retarget config's, even when it was replaced


class SceneAnimation:
    """A Scene ready to render any frame. ``size`` and ``frames`` override the scene's; ``max_fps`` caps the frame
    rate (a GIF's); ``own`` is the character a 'project' entry stands for."""

    def __init__(self, scene: Scene, size: tuple[int, int] | None = None, frames: int | None = None,
                 max_fps: float | None = None, own: Character | None = None,
                 background: Background | None = None) -> None:
        """``background``: already parsed (parse_background of scene.background when None). Raises SceneError
        naming the character for any input that cannot be used, RenderError for timing out of range."""
        from studio.core.render import parse_background

        started = time.perf_counter()
        self.scene = scene
        self.width, self.height = size or scene.size
        self.notes: list[str] = []
        self.background = background if background is not None else parse_background(scene.background)
        self._read: dict[str, Character] = {}  # one drawing used twice is read once (and rigged once)
        loaded = [self._load(k, entry, own) for k, entry in enumerate(scene.characters)]
        self.timings = {"load": time.perf_counter() - started}
        self.n_frames, self.frame_time = self._clock(loaded, frames or scene.frames, max_fps)
        started = time.perf_counter()
        rigs: dict[str, Rig] = {}
        self.actors = [self._actor(k, entry, item, rigs) for k, (entry, item) in
                       enumerate(zip(scene.characters, loaded))]
        self.order = [self.actors[k] for k in scene.drawing_order()]
        self.timings["retarget"] = time.perf_counter() - started

    # ------------------------------------------------------------------------------------------ building
    def _name(self, k: int, entry: SceneCharacter) -> str:
        return f"character {k + 1} ({entry.label})"

    def _load(self, k: int, entry: SceneCharacter, own: Character | None) -> _Loaded:
        """Read character k and its motion; any failure becomes one SceneError naming the character."""
        from studio.core.loading import describe_error, is_expected

        try:
            if entry.character == PROJECT:
                if own is None:
                    raise SceneError("'project' stands for a project's own drawing: only a scene kept in a "
                                     "project (.studio) can use it")
                character, key = own, PROJECT
            else:
                key = entry.character
                if key not in self._read:
                    self._read[key] = _sample() if key == SAMPLE else read_character(key)
                character = self._read[key]
            source = load_motion(entry.motion, character, entry.retarget, entry.bvh)
            start = source.retarget_config.char_starting_location
            if entry.retarget is not None and source.retarget_config.source != entry.retarget:
                start = read_retarget_config(entry.retarget).char_starting_location  # automapped: keep its place
            if self.scene.frame_time is not None:
                config = dataclasses.replace(source.motion_config, frame_time=self.scene.frame_time)
                source = dataclasses.replace(source, motion_config=config)
        except Exception as exc:  # noqa: BLE001 - the user's input: say which character, keep the message
            if not (is_expected(exc) or isinstance(exc, ValueError)):
                raise
            raise SceneError(f"{self._name(k, entry)}: {describe_error(exc, limit=600)}") from None
        self.notes.extend(f"{self._name(k, entry)}: {note}" for note in source.notes)
        return _Loaded(character, source, key, start)

    def _clock(self, loaded: list[_Loaded], frames: int | None, max_fps: float | None) -> tuple[int, float]:
        """(frame count, frame time) of the scene; see the module docstring."""
        clips = [plan_clip(item.source, None, None).clip for item in loaded]
        duration = max(entry.start + clip.duration for entry, clip in zip(self.scene.characters, clips))
        if frames is not None:
            most = max(1, min(MAX_FRAMES, int(math.ceil(duration * MAX_FPS))))
            if frames > most:
                raise RenderError(f"{frames} frames is too many for a {duration:.2f} s scene: at most {most} "
                                  f"({MAX_FPS} fps, {MAX_FRAMES} frames in all)")
            count, step = frames, duration / frames
        else:
            step = clips[0].frame_time
            count = max(1, int(math.floor(duration / step + 0.5 - 1e-9)))
            if count > MAX_FRAMES:
                raise RenderError(f"the scene lasts {duration:.1f} s, {count} frames at {1 / step:.3g} fps: more "
                                  f"than {MAX_FRAMES}; give a frame count")
        if max_fps is not None:
            safe = gif_safe_frame_count(count, step, max_fps)
            if safe < count:
                self.notes.append(f"{count} frames would play faster than {max_fps:g} fps as a GIF: resampled to "
                                  f"{safe} frames, keeping the {count * step:.2f} s duration")
                count, step = safe, count * step / safe
        return count, step

    def _actor(self, k: int, entry: SceneCharacter, item: _Loaded, rigs: dict[str, Rig]) -> SceneActor:
        """Character k's Animation on the scene clock, placed by its own camera."""
        from studio.core.loading import describe_error

        clip = plan_clip(item.source, None, None).clip
        count = max(1, int(math.floor(clip.duration / self.frame_time + 0.5)))
        try:
            camera = self._camera(entry, item)
            animation = Animation(item.character, item.source, (self.width, self.height),
                                  None if count == clip.n_frames else count, rig=rigs.get(item.rig_key),
                                  framing=camera)
        except ValueError as exc:
            raise SceneError(f"{self._name(k, entry)}: {describe_error(exc, limit=600)}") from None
        rigs[item.rig_key] = animation.rig
        self.notes.extend(f"{self._name(k, entry)}: {note}" for note in animation.notes)
        size = max(item.character.width, item.character.height)
        if not frames_on_canvas(camera, animation.pose.joints, size / 2.0).any():
            self.notes.append(f"{self._name(k, entry)} is outside the {self.width}×{self.height} canvas in every "
                              "frame: check its position (or the retarget config's char_starting_location)")
        return SceneActor(k, entry, animation, premultiply(item.character.texture))

    def _camera(self, entry: SceneCharacter, item: _Loaded) -> PlaneCamera:
        if entry.position is not None:
            return placed_camera(item.character, self.width, self.height, entry.position, entry.scale, entry.mirror)
        return ad_placed_camera(item.character, self.width, self.height, self.scene.camera, item.starting_location,
                                entry.scale, entry.mirror)

    # ------------------------------------------------------------------------------------------ frames
    @property
    def characters(self) -> list[Character]:
        """Each actor's character, in the scene's list order."""
        return [actor.animation.character for actor in self.actors]

    def frames_of(self, k: int) -> list[int]:
        """The clip frame each character (in list order) shows in scene frame ``k``."""
        return [actor.frame_at(k * self.frame_time) for actor in self.actors]

    def render_premultiplied(self, k: int) -> np.ndarray:
        """(h, w, 4) uint8 premultiplied RGBA of scene frame k, characters only (transparent elsewhere)."""
        canvas = np.zeros((self.height, self.width, 4), np.uint8)
        seconds = k * self.frame_time
        for actor in self.order:
            j = actor.frame_at(seconds)
            box = actor.box(j)
            if box is not None:
                top, bottom, left, right = box
                over_premultiplied(actor.layer(j, box), canvas[top:bottom, left:right])
        return canvas

    def render_indexed(self, k: int, textures: list[np.ndarray], empty: int, out: np.ndarray | None = None,
                       scratch: np.ndarray | None = None) -> np.ndarray:
        """(h, w) uint8 palette indices of scene frame k, back to front, nearest-neighbour (a GIF's raster):
        ``textures[i]`` is actor i's texture as indices of one shared palette, ``empty`` where it is see-through;
        ``empty`` is also written where no character is. ``out``, ``scratch``: (h, w) uint8 arrays to reuse."""
        out = np.empty((self.height, self.width), np.uint8) if out is None else out
        scratch = np.empty_like(out) if scratch is None else scratch
        out.fill(empty)
        seconds = k * self.frame_time
        for actor in self.order:
            j = actor.frame_at(seconds)
            if actor.box(j) is None:
                continue
            layer = actor.animation.render_indexed(j, textures[actor.index], empty, scratch)
            np.copyto(out, layer, where=layer != empty)
        return out

    def render_rgba(self, k: int, background: Background | None = None) -> np.ndarray:
        """(h, w, 4) uint8 straight RGBA of scene frame k, composited over ``background`` if given."""
        rgba = unpremultiply(self.render_premultiplied(k))
        return composite(rgba, background) if background is not None else rgba


def _sample() -> Character:
    from studio.core.sample import sample_character  # built from strokes: only when a scene asks for it

    return sample_character()


def over_premultiplied(top: np.ndarray, canvas: np.ndarray) -> None:
    """Lay premultiplied ``top`` over premultiplied ``canvas`` in place, both (h, w, 4) uint8: every channel becomes
    top + canvas · (255 - top alpha) / 255, rounded halves up as studio.pipeline.compositing rounds (never above 255,
    since a premultiplied channel is at most its alpha)."""
    covered = top[:, :, 3] > 0
    if not covered.any():
        return
    rows = np.flatnonzero(covered.any(axis=1))
    cols = np.flatnonzero(covered.any(axis=0))
    t = top[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.uint16)
    c = canvas[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    keep = 255 - t[:, :, 3:4]
    c[...] = t + (c.astype(np.uint16) * keep + 127) // 255
