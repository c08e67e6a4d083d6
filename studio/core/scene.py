"""The Scene: a background plus characters, each with its own motion and place; its YAML format, checks and files.

A scene file (``*.scene.yaml`` by convention; any name works) reads::

    studio_scene: 1                # marks the format and its version
    size: [640, 360]               # canvas width, height in px (8..8192; default 500 x 500)
    background: paper              # 'transparent' (default), a colour name, '#rrggbb', or an image file
    frames: null                   # a fixed frame count for the whole scene (default: from the clips, below)
    frame_time: null               # seconds per BVH frame for every clip, overriding the BVHs' own (AD's FRAME_TIME)
    camera:                        # AD's camera, for characters placed 'ad' (default: AD's default camera)
      position: [0.0, 0.7, 2.0]    #   AD's CAMERA_POS
      forward: [0.0, 0.5, 2.0]     #   AD's CAMERA_FWD: the direction the camera faces away from
    characters:                    # at least one
      - character: chars/char2     # an AD character folder, 'sample' (the built-in one), or 'project' (the
                                   #   drawing of the project the scene is saved in)
        motion: dab                # a bundled motion name, a FILE.bvh, or an AD motion config .yaml
        retarget: null             # an AD retarget config .yaml (default: the motion's own, else automatic)
        bvh: null                  # the BVH for a motion config whose filepath does not resolve (render's --bvh)
        position: [0.3, 0.6]       # where the root joint's rest position lands, as fractions of the canvas width
                                   #   and height from the top left; 'ad' (the default) places it as AnimatedDrawings
                                   #   does: at the retarget config's char_starting_location, through the camera
        scale: 1.0                 # size: 1 is AD's size at this canvas height (one world unit = 0.605 of it)
        z: 0                       # draw order: higher is in front; equal z: later in the list is in front
        start: 0.0                 # seconds of scene time before this character starts its clip
        mirror: false              # flip the animation left-right about the root

Timing (scene_render): the scene plays at the first character's clip frame time, for as long as the latest
``start + clip duration``, or is resampled to ``frames`` over that duration. Before its start a character holds its
clip's first pose, after its end the last one (AnimatedDrawings holds the last frame of a shorter clip too).

Relative paths are taken from the scene file's folder (from the project file's folder for a scene kept in a
project); ``save_scene`` writes paths inside the destination's folder relative to it, others absolute. An AD MVC
config (studio.core.mvc_config) is another way to make a Scene; its paths resolve as AD resolves them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeGuard

import yaml

from studio.core.render import COLOURS, MAX_FRAMES
from studio.core.scene_camera import AD_CAMERA_FWD, AD_CAMERA_POS, AdCamera
from studio.pipeline.files.atomic import atomic_write_path
from studio.pipeline.motion.config import load_yaml
from studio.pipeline.quoting import excerpt

SCENE_MARKER = "studio_scene"
SCENE_VERSION = 1
MIN_SIZE, MAX_SIZE = 8, 8192  # px of a canvas side, as the CLI's --size
MAX_CHARACTERS = 64
MAX_START = 3600.0  # seconds
SAMPLE, PROJECT = "sample", "project"  # character names that are not folders
MOTION_FILE_SUFFIXES = (".bvh", ".yaml", ".yml")
_SCENE_KEYS = (SCENE_MARKER, "size", "background", "frames", "frame_time", "camera", "characters")
_CHARACTER_KEYS = ("character", "motion", "retarget", "bvh", "position", "scale", "z", "start", "mirror")


class SceneError(ValueError):
    """A scene that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class SceneCharacter:
    """One character of a scene. ``position`` None: placed as AD places it (through the scene's camera)."""

    character: str
    motion: str
    retarget: str | None = None
    bvh: str | None = None
    position: tuple[float, float] | None = None
    scale: float = 1.0
    z: int = 0
    start: float = 0.0
    mirror: bool = False

    def __post_init__(self) -> None:
        for name in ("character", "motion"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise SceneError(f"{name} must be a non-empty text, got {excerpt(value)}")
        for name in ("retarget", "bvh"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise SceneError(f"{name} must be a file name or null, got {excerpt(value)}")
        if self.position is not None:
            if len(self.position) != 2 or not all(_finite(v) and abs(v) <= 100 for v in self.position):
                raise SceneError(f"position must be [x, y] fractions of the canvas (-100..100) or 'ad', "
                                 f"got {excerpt(self.position)}")
        if not (_finite(self.scale) and 0.001 <= self.scale <= 1000):
            raise SceneError(f"scale must be a number from 0.001 to 1000, got {excerpt(self.scale)}")
        if isinstance(self.z, bool) or not isinstance(self.z, int) or abs(self.z) > 10 ** 6:
            raise SceneError(f"z must be a whole number (-1000000..1000000), got {excerpt(self.z)}")
        if not (_finite(self.start) and 0 <= self.start <= MAX_START):
            raise SceneError(f"start must be 0..{MAX_START:g} seconds, got {excerpt(self.start)}")
        if not isinstance(self.mirror, bool):
            raise SceneError(f"mirror must be true or false, got {excerpt(self.mirror)}")

    @property
    def label(self) -> str:
        """A short name for messages: the folder's name, or 'sample' / 'project'."""
        return Path(self.character).name or self.character


@dataclass(frozen=True)
class Scene:
    """A background and characters on a canvas of ``size`` (width, height) px. See the module docstring."""

    characters: tuple[SceneCharacter, ...]
    size: tuple[int, int] = (500, 500)
    background: str = "transparent"
    frames: int | None = None
    frame_time: float | None = None
    camera: AdCamera = field(default_factory=AdCamera)

    def __post_init__(self) -> None:
        if not isinstance(self.characters, tuple) or not all(isinstance(c, SceneCharacter) for c in self.characters):
            raise SceneError("characters must be a tuple of SceneCharacter")
        if not 1 <= len(self.characters) <= MAX_CHARACTERS:
            raise SceneError(f"a scene needs 1 to {MAX_CHARACTERS} characters, got {len(self.characters)}")
        if len(self.size) != 2 or not all(_whole(v) and MIN_SIZE <= v <= MAX_SIZE for v in self.size):
            raise SceneError(f"size must be [width, height], each {MIN_SIZE}..{MAX_SIZE} px, got {excerpt(self.size)}")
        if not isinstance(self.background, str):
            raise SceneError(f"background must be text, got {excerpt(self.background)}")
        if self.frames is not None and not (_whole(self.frames) and 1 <= self.frames <= MAX_FRAMES):
            raise SceneError(f"frames must be 1..{MAX_FRAMES} or null, got {excerpt(self.frames)}")
        if self.frame_time is not None and not (_finite(self.frame_time) and 0.001 <= self.frame_time <= 10):
            raise SceneError(f"frame_time must be 0.001..10 seconds or null, got {excerpt(self.frame_time)}")

    def drawing_order(self) -> list[int]:
        """Character indices back to front: by z, then list order (later in front, as AD draws them)."""
        return sorted(range(len(self.characters)), key=lambda i: (self.characters[i].z, i))

    def with_character(self, index: int, character: SceneCharacter) -> "Scene":
        """This scene with character ``index`` replaced (scene edits are whole-value replacements)."""
        characters = list(self.characters)
        characters[index] = character
        return replace(self, characters=tuple(characters))


def _finite(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# ------------------------------------------------------------------------------------------------ paths
def is_background_file(text: str) -> bool:
    """Whether a background value names an image file (rather than 'transparent', a colour name or '#rrggbb')."""
    value = text.strip().lower()
    return not (value in ("", "none", "transparent") or value in COLOURS or (value.startswith("#") and len(value) == 7))


def is_motion_file(text: str) -> bool:
    """Whether a motion value names a file (.bvh or a .yaml config) rather than a bundled motion."""
    return Path(text).suffix.lower() in MOTION_FILE_SUFFIXES


def _map_paths(scene: Scene, change: Any) -> Scene:
    """``scene`` with ``change(path_text)`` applied to every value that names a file."""
    def entry(c: SceneCharacter) -> SceneCharacter:
        return replace(c, character=c.character if c.character in (SAMPLE, PROJECT) else change(c.character),
                       motion=change(c.motion) if is_motion_file(c.motion) else c.motion,
                       retarget=None if c.retarget is None else change(c.retarget),
                       bvh=None if c.bvh is None else change(c.bvh))
    background = change(scene.background) if is_background_file(scene.background) else scene.background
    return replace(scene, background=background, characters=tuple(entry(c) for c in scene.characters))


def resolved(scene: Scene, base: str | os.PathLike[str]) -> Scene:
    """``scene`` with relative file names taken from folder ``base``, made absolute."""
    folder = os.path.abspath(base)
    return _map_paths(scene, lambda p: os.path.normpath(os.path.join(folder, os.path.expanduser(p))))


def relative(scene: Scene, base: str | os.PathLike[str]) -> Scene:
    """``scene`` with absolute file names inside folder ``base`` written relative to it (others stay as they are)."""
    folder = Path(os.path.abspath(base))

    def shorten(text: str) -> str:
        path = Path(text)
        if path.is_absolute() and path.is_relative_to(folder):
            return path.relative_to(folder).as_posix() or "."
        return text
    return _map_paths(scene, shorten)


# ------------------------------------------------------------------------------------------------ reading
def _check_keys(data: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    unknown = [k for k in data if k not in known]
    if unknown:
        raise SceneError(f"{where}unknown key {excerpt(unknown[0], 40)} (known: {', '.join(known)})")


def _triple(value: Any, what: str) -> tuple[float, float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 3 or not all(_finite(v) for v in value):
        raise SceneError(f"{what} must be [x, y, z] numbers, got {excerpt(value)}")
    return float(value[0]), float(value[1]), float(value[2])


def _camera(value: Any) -> AdCamera:
    if value is None:
        return AdCamera()
    if not isinstance(value, dict):
        raise SceneError(f"camera must be a mapping of position and forward, got {excerpt(value)}")
    _check_keys(value, ("position", "forward"), "camera: ")
    return AdCamera(_triple(value.get("position", list(AD_CAMERA_POS)), "camera position"),
                    _triple(value.get("forward", list(AD_CAMERA_FWD)), "camera forward"))


def _character(data: Any, k: int) -> SceneCharacter:
    where = f"characters[{k}]: "
    if not isinstance(data, dict):
        raise SceneError(f"{where}must be a mapping with character and motion, got {excerpt(data)}")
    _check_keys(data, _CHARACTER_KEYS, where)
    for key in ("character", "motion"):
        if data.get(key) is None:
            raise SceneError(f"{where}missing {key!r}")
    position = data.get("position")
    if position == "ad":
        position = None
    elif position is not None:
        if not isinstance(position, (list, tuple)):
            raise SceneError(f"{where}position must be [x, y] fractions of the canvas or 'ad', "
                             f"got {excerpt(position)}")
        position = tuple(float(v) if _finite(v) else v for v in position)
    values = {key: data[key] for key in ("retarget", "bvh", "z", "mirror") if key in data}
    for key in ("scale", "start"):
        if key in data:
            values[key] = float(data[key]) if _finite(data[key]) else data[key]
    try:
        return SceneCharacter(data["character"], data["motion"], position=position, **values)
    except SceneError as exc:
        raise SceneError(f"{where}{exc}") from None


def scene_from_dict(data: Any, base: str | os.PathLike[str] | None = None) -> Scene:
    """A Scene from the parsed YAML mapping (its relative paths taken from ``base`` when given). Raises
    SceneError naming the field."""
    if not isinstance(data, dict):
        raise SceneError(f"a scene must be a mapping with '{SCENE_MARKER}: {SCENE_VERSION}' and characters, "
                         f"got {excerpt(data)}")
    version = data.get(SCENE_MARKER)
    if isinstance(version, bool) or version != SCENE_VERSION:  # True == 1 in Python, but it is no version
        newer = _whole(version) and version > SCENE_VERSION
        raise SceneError(f"saved by a newer Drawing Studio (scene version {excerpt(version)}; this one reads "
                         f"{SCENE_VERSION})" if newer else
                         f"not a studio scene: '{SCENE_MARKER}' must be {SCENE_VERSION}, got {excerpt(version)}")
    _check_keys(data, _SCENE_KEYS, "")
    characters = data.get("characters")
    if not isinstance(characters, list) or not characters:
        raise SceneError("characters must be a non-empty list of characters")
    if len(characters) > MAX_CHARACTERS:
        raise SceneError(f"a scene holds at most {MAX_CHARACTERS} characters, got {len(characters)}")
    size = data.get("size", [500, 500])
    if not isinstance(size, (list, tuple)):
        raise SceneError(f"size must be [width, height] in px, got {excerpt(size)}")
    background = data.get("background", "transparent")
    frame_time = data.get("frame_time")
    scene = Scene(tuple(_character(c, k) for k, c in enumerate(characters)), tuple(size),  # type: ignore[arg-type]
                  "transparent" if background is None else background, data.get("frames"),
                  float(frame_time) if _finite(frame_time) else frame_time, _camera(data.get("camera")))
    return scene if base is None else resolved(scene, base)


def load_scene(path: str | os.PathLike[str]) -> Scene:
    """The scene in YAML file ``path``, its relative paths taken from the file's folder. Raises SceneError (or
    ConfigError for unreadable YAML), naming the file."""
    path = Path(path)
    data = load_yaml(path)
    try:
        return scene_from_dict(data, path.parent)
    except SceneError as exc:
        raise SceneError(f"{path}: {exc}") from None


# ------------------------------------------------------------------------------------------------ writing
def scene_to_dict(scene: Scene, base: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The YAML mapping of ``scene`` (plain lists, text and numbers; JSON-safe too), file names inside ``base``
    written relative to it."""
    if base is not None:
        scene = relative(scene, base)
    camera = scene.camera
    return {
        SCENE_MARKER: SCENE_VERSION, "size": list(scene.size), "background": scene.background,
        "frames": scene.frames, "frame_time": scene.frame_time,
        "camera": {"position": list(camera.position), "forward": list(camera.forward)},
        "characters": [{"character": c.character, "motion": c.motion, "retarget": c.retarget, "bvh": c.bvh,
                        "position": "ad" if c.position is None else list(c.position), "scale": c.scale, "z": c.z,
                        "start": c.start, "mirror": c.mirror} for c in scene.characters],
    }


def save_scene(scene: Scene, path: str | os.PathLike[str]) -> Path:
    """Write ``scene`` to ``path`` as YAML, atomically (a failed save leaves any old file as it was)."""
    path = Path(path)
    text = yaml.safe_dump(scene_to_dict(scene, path.parent), sort_keys=False, allow_unicode=True)
    with atomic_write_path(path) as temp:
        temp.write_text(text, encoding="utf-8")
    return path
