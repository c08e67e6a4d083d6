"""The Animation: a character posed by a planned clip, framed on a canvas, each frame rendered on demand (as
palette indices, premultiplied or straight RGBA over a background); and the backgrounds."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from studio.core.motion_source import MotionSource
from studio.pipeline.character import Character
from studio.pipeline.compositing import over, premultiply, unpremultiply
from studio.pipeline.deform import camera as cameras
from studio.pipeline.deform.raster import fill_source_maps, raster_indexed, sample_rgba
from studio.pipeline.deform.rig import DrawOrder, Rig
from studio.pipeline.encode.gif import gif_safe_frame_count
from studio.pipeline.intake.images import ImageError, read_capped
from studio.pipeline.motion.bvh import Bvh
from studio.pipeline.motion.clip import resample_clip, resample_positions, retime_clip, slice_clip
from studio.pipeline.motion.normalise import normalise_motion
from studio.pipeline.motion.retarget import Pose2D, retarget

COLOURS = {"white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128), "gray": (128, 128, 128),
           "red": (220, 40, 40), "green": (40, 160, 60), "blue": (40, 90, 220), "yellow": (250, 220, 60),
           "paper": (250, 246, 236)}


FRAMING_STEP = 0.02  # of the texture's larger side: joint motion tolerated between framing samples
MAX_FPS = 240  # the most frames per second of clip a render may ask for
MAX_FRAMES = 20000


class RenderError(ValueError):
    """A render request that cannot be carried out (bad output path, bad background...)."""


@dataclass(frozen=True, eq=False)
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
    if path.exists() and not path.is_dir():  # a file, or a pipe or device that read_capped refuses with a sentence
        try:
            image = read_capped(path, cv2.IMREAD_COLOR)  # a 20000² PNG is refused from its header, undecoded
        except ImageError as exc:
            raise RenderError(f"background {exc}") from None
        return Background(image=cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    raise RenderError(f"background {value!r}: use 'transparent', a colour name ({', '.join(sorted(COLOURS))}), "
                      "'#rrggbb' or an existing image file")


class Animation:
    """A character posed by a clip, ready to render any frame. The rig can be reused across clips."""

    def __init__(self, character: Character, source: MotionSource, size: tuple[int, int], frames: int | None = None,
                 camera: str = "ad", rig: Rig | None = None, max_fps: float | None = None,
                 framing: cameras.Camera | None = None) -> None:
        """``framing``: keep this camera instead of fitting one to the clip (the live preview keeps the
        framing while a joint is dragged, so the figure does not jump)."""
        self._timings: dict[str, float] = {}
        self.notes: list[str] = list(source.notes)
        self.character = character
        self.width, self.height = size
        if rig is None:
            rig = Rig.build(character)
            self._timings.update(rig.timings)
        self.rig = rig
        for name, distance in rig.snapped_joints:
            self.notes.append(f"joint {name} lies {distance:.1f} px outside the mask: pinned to the nearest mesh point")

        started = time.perf_counter()
        plan = plan_clip(source, frames, max_fps)
        clip = plan.clip
        self.notes.extend(plan.notes)
        self.clip_frames, self.clip_frame_time = plan.clip_frames, plan.clip_frame_time
        config = dataclasses.replace(source.motion_config, start_frame_idx=0, end_frame_idx=None, frame_time=None)
        motion = normalise_motion(clip, config)
        self.pose: Pose2D = retarget(character, motion, source.retarget_config)
        self.notes.extend(self.pose.notes)
        _check_finite(self.pose.joints)
        self.order = DrawOrder(rig, source.retarget_config.bodypart_groups)
        self._timings["retarget"] = time.perf_counter() - started

        self._vertices = np.empty((self.pose.n_frames, len(rig.mesh.vertices), 2))
        self._deformed = np.zeros(self.pose.n_frames, bool)
        self.deform_times = np.zeros(self.pose.n_frames)
        # Framing needs the extent of the whole clip, before the first frame is drawn.
        self._premultiplied: np.ndarray | None = None
        if framing is not None:
            self.camera = framing
            return
        started = time.perf_counter()
        lo, hi = self._clip_extent(FRAMING_STEP * max(character.width, character.height))
        self._timings["framing"] = time.perf_counter() - started
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
    def timings(self) -> dict[str, float]:
        """Seconds this animation's own stages took (mesh, arap_factorise when it built the rig; retarget;
        framing when it fitted a camera): a copy, so an export's times stay the export's."""
        return dict(self._timings)

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

    def render_indexed(self, k: int, texture_idx: np.ndarray, background: int,
                       out: np.ndarray | None = None) -> np.ndarray:
        """(h, w) uint8 palette indices of frame k."""
        return raster_indexed(self.canvas_vertices(k), self.rig.mesh.vertices, self.triangles(k), texture_idx,
                              background, self.width, self.height, out)

    def render_premultiplied(self, k: int) -> np.ndarray:
        """(h, w, 4) uint8 RGBA of frame k with colour premultiplied by alpha: what a screen composites
        directly (the live preview), without the cost of unpremultiplying. Only the figure's box is rasterised
        (the rest of the canvas is transparent): 2-3x less than a whole-canvas remap for a figure in the middle."""
        if self._premultiplied is None:
            self._premultiplied = premultiply(self.character.texture)
        frame = np.zeros((self.height, self.width, 4), np.uint8)
        vertices = self.canvas_vertices(k)
        box = canvas_box(vertices, self.width, self.height)
        if box is not None:
            top, bottom, left, right = box
            map_x, map_y = fill_source_maps(vertices - np.array([left, top], float), self.rig.mesh.vertices,
                                            self.triangles(k), right - left, bottom - top)
            frame[top:bottom, left:right] = sample_rgba(self._premultiplied, map_x, map_y)
        return frame

    def render_rgba(self, k: int, background: Background | None = None) -> np.ndarray:
        """(h, w, 4) uint8 RGBA of frame k, composited over ``background`` if given."""
        rgba = unpremultiply(self.render_premultiplied(k))
        return composite(rgba, background) if background is not None else rgba


def canvas_box(vertices: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) canvas rows and columns that hold every pixel the mesh ``vertices`` ((n, 2)
    canvas px, NaN where unprojectable) can cover; None when nothing of it is on the canvas."""
    finite = vertices[np.isfinite(vertices).all(axis=1)]
    if not len(finite):
        return None
    limit = np.array([width, height], float) + 1.0
    lo = np.floor(np.clip(finite.min(axis=0), -1.0, limit)).astype(int) - 1  # clipped first: no int overflow
    hi = np.ceil(np.clip(finite.max(axis=0), -1.0, limit)).astype(int) + 2
    left, top = max(0, int(lo[0])), max(0, int(lo[1]))
    right, bottom = min(width, int(hi[0])), min(height, int(hi[1]))
    return (top, bottom, left, right) if left < right and top < bottom else None


def _check_finite(joints: np.ndarray) -> None:
    """Refuse retargeted joints that are not finite numbers (an inf or NaN in the clip), naming the first frame."""
    bad = ~np.isfinite(joints).all(axis=(1, 2))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise RenderError(f"frame {k}: the character's joints are not finite numbers after retargeting: check the "
                          "clip's values in that frame and the retarget config's numbers")


def composite(rgba: np.ndarray, background: Background) -> np.ndarray:
    """Alpha-composite (h, w, 4) RGBA over a colour or image background; transparent returns it as is."""
    if background.transparent:
        return rgba
    h, w = rgba.shape[:2]
    base = background.colour if background.image is None else \
        cv2.resize(background.image, (w, h), interpolation=cv2.INTER_AREA)
    return np.dstack([over(rgba, base), np.full((h, w), 255, np.uint8)])  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class ClipPlan:
    """The clip an animation plays. notes: what changed; clip_frames: (n,) float64, the frame of the sliced and
    retimed source clip each played frame shows (None when not resampled); clip_frame_time: that clip's s/frame."""

    clip: Bvh
    notes: list[str]
    clip_frames: np.ndarray | None
    clip_frame_time: float


def plan_clip(source: MotionSource, frames: int | None, max_fps: float | None) -> ClipPlan:
    """The clip an animation plays: ``source``'s BVH sliced to its motion config's frames and retimed to its
    frame time, then resampled (keeping its duration) to ``frames``, or to fewer when more would play faster than
    ``max_fps`` (a GIF's cap). Raises RenderError when ``frames`` is more than MAX_FPS per second of clip or
    MAX_FRAMES."""
    clip = slice_clip(source.bvh, source.motion_config.start_frame_idx, source.motion_config.end_frame_idx)
    if source.motion_config.frame_time:
        clip = retime_clip(clip, source.motion_config.frame_time)
    notes: list[str] = []
    target = frames
    most = max(1, min(MAX_FRAMES, int(np.ceil(clip.duration * MAX_FPS))))
    if target is not None and target > most:
        raise RenderError(f"{target} frames is too many for a {clip.duration:.2f} s clip: at most {most} "
                          f"({MAX_FPS} fps, {MAX_FRAMES} frames in all)")
    if max_fps is not None:
        wanted = target or clip.n_frames
        safe = gif_safe_frame_count(wanted, clip.duration / wanted, max_fps)
        if safe < wanted:
            notes.append(f"{wanted} frames would play faster than {max_fps:g} fps as a GIF: "
                         f"resampled to {safe} frames, keeping the {clip.duration:.2f} s duration")
            target = safe
    clip_frame_time = clip.frame_time
    if target is not None and target != clip.n_frames:
        positions = resample_positions(clip.n_frames, target)
        return ClipPlan(resample_clip(clip, target), notes, positions, clip_frame_time)
    return ClipPlan(clip, notes, None, clip_frame_time)
