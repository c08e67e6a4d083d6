"""AnimatedDrawings' MVC ("scene") configs read as they are, into a Scene: characters, camera, window, background,
output path. What each key means, as AD defines it (``animated_drawings/config.py``, ``mvc_base_cfg.yaml``, the
controller and view modules, ``examples/config/README.md``):

- ``scene.ANIMATED_CHARACTERS``: a list of ``{character_cfg, motion_cfg, retarget_cfg}`` file names. The character
  folder is the one holding ``character_cfg`` (its texture.png and mask.png sit beside it). Characters are drawn in
  list order with depth testing off: a later one paints over an earlier one. ``ADD_FLOOR`` and
  ``ADD_AD_RETARGET_BVH`` (default false) add a floor and the driving BVH skeleton: not supported here when true.
- ``view``: ``WINDOW_DIMENSIONS`` [width, height] px (default [500, 500]); ``CAMERA_POS`` (default [0, 0.7, 2]) and
  ``CAMERA_FWD`` (default [0, 0.5, 2]; see studio.core.scene_camera); ``BACKGROUND_IMAGE`` (default none) stretched
  to the window; ``CLEAR_COLOR`` RGBA 0..1 (default [1, 1, 1, 0]: transparent in a GIF). ``DRAW_AD_TXTR`` (default
  true) must stay true; ``DRAW_AD_RIG``, ``DRAW_AD_COLOR``, ``DRAW_AD_MESH_LINES`` (debug overlays, default false)
  are not supported when true; ``USE_MESA`` only picks AD's OpenGL back end and is ignored.
- ``controller``: ``MODE`` 'interactive' (the default: AD's window) or 'video_render'; ``OUTPUT_VIDEO_PATH``
  (default ./output_video.mp4; .gif or .mp4) the file a video render writes; ``OUTPUT_VIDEO_CODEC`` (default avc1)
  the MP4's fourcc: the studio always writes H.264; ``FRAME_TIME`` (default null) overrides the BVHs' frame time;
  ``KEYBOARD_TIMESTEP`` only steps the interactive window and is ignored.
- Frames: AD renders as many frames as the longest (sliced) clip, at the first character's BVH frame time, each
  character at frame round(t / its frame time), held on its last frame once its clip ends.

Relative file names resolve as AD resolves them: from the folder the command runs in (the current directory); AD
then tries its own checkout, so when that fails and the config sits in an ``examples/`` tree, from the folder above
``examples/`` too. A motion config's BVH ``filepath`` is resolved the same way and, as in AD, must be found.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.scene import MAX_SIZE, MIN_SIZE, Scene, SceneCharacter, SceneError
from studio.core.scene_camera import AD_CAMERA_FWD, AD_CAMERA_POS, AdCamera
from studio.pipeline.character import CHAR_CFG
from studio.pipeline.motion.config import ConfigError, load_yaml, read_motion_config
from studio.pipeline.quoting import clip, excerpt

SECTIONS = ("scene", "view", "controller")
SCENE_KEYS = ("ADD_FLOOR", "ADD_AD_RETARGET_BVH", "ANIMATED_CHARACTERS")
VIEW_KEYS = ("CLEAR_COLOR", "BACKGROUND_IMAGE", "WINDOW_DIMENSIONS", "DRAW_AD_RIG", "DRAW_AD_TXTR", "DRAW_AD_COLOR",
             "DRAW_AD_MESH_LINES", "USE_MESA", "CAMERA_POS", "CAMERA_FWD")
CONTROLLER_KEYS = ("MODE", "KEYBOARD_TIMESTEP", "OUTPUT_VIDEO_PATH", "OUTPUT_VIDEO_CODEC", "FRAME_TIME")
CHARACTER_KEYS = ("character_cfg", "motion_cfg", "retarget_cfg")
MODES = ("interactive", "video_render")
DEFAULT_OUTPUT = "./output_video.mp4"  # mvc_base_cfg.yaml's OUTPUT_VIDEO_PATH
H264_CODECS = ("avc1", "h264", "x264", "avc3")
# Switches whose non-default value would draw something the studio does not: (section, key, default, what it adds)
UNSUPPORTED = (("scene", "ADD_FLOOR", False, "a floor"), ("scene", "ADD_AD_RETARGET_BVH", False, "the BVH skeleton"),
               ("view", "DRAW_AD_RIG", False, "the rig's bones"), ("view", "DRAW_AD_COLOR", False, "per-joint colours"),
               ("view", "DRAW_AD_MESH_LINES", False, "mesh lines"), ("view", "DRAW_AD_TXTR", True, "no texture"))


class MvcConfigError(SceneError):
    """An AD MVC config that cannot be used (or uses what is not supported); the message names the key."""


@dataclass(frozen=True)
class MvcScene:
    """An AD MVC config as a Scene: ``output`` is OUTPUT_VIDEO_PATH from the current folder; ``mode`` AD's MODE."""

    scene: Scene
    output: Path
    mode: str
    notes: tuple[str, ...]
    source: Path


def looks_like_mvc(data: Any) -> bool:
    """Whether parsed YAML is shaped like an AD MVC config: a mapping of scene/view/controller, with a scene."""
    return isinstance(data, dict) and "scene" in data and all(isinstance(k, str) for k in data) \
        and set(data) <= set(SECTIONS)


def read_mvc_config(path: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None) -> MvcScene:
    """The scene an AD MVC config describes; relative names from ``cwd`` (default: the current folder), else from
    the AD tree the config sits in. Raises MvcConfigError or ConfigError naming the file and key."""
    path = Path(path)
    return mvc_from_dict(load_yaml(path), path, cwd)


def mvc_from_dict(data: Any, source: Path, cwd: str | os.PathLike[str] | None = None) -> MvcScene:
    """As read_mvc_config, from the parsed mapping of file ``source``."""
    if not isinstance(data, dict):
        raise MvcConfigError(f"{source}: an AD MVC config is a mapping of scene, view and controller")
    resolver = _Resolver(Path(os.path.abspath(cwd if cwd is not None else os.getcwd())), source)
    try:
        _check_keys(data, SECTIONS, "")
        sections = {name: _section(data, name) for name in SECTIONS}
        _check_keys(sections["scene"], SCENE_KEYS, "scene.")
        _check_keys(sections["view"], VIEW_KEYS, "view.")
        _check_keys(sections["controller"], CONTROLLER_KEYS, "controller.")
        for section, key, default, what in UNSUPPORTED:
            value = sections[section].get(key, default)
            if not isinstance(value, bool):
                raise MvcConfigError(f"{section}.{key} must be true or false, got {excerpt(value)}")
            if value != default:
                raise MvcConfigError(f"not supported: {section}.{key}: {str(value).lower()} (it draws {what}); "
                                     f"set it to {str(default).lower()} or remove it")
        view, controller = sections["view"], sections["controller"]
        notes: list[str] = []
        characters = _characters(sections["scene"].get("ANIMATED_CHARACTERS"), resolver)
        size = _window(view.get("WINDOW_DIMENSIONS", [500, 500]))
        camera = AdCamera(_vector(view.get("CAMERA_POS", list(AD_CAMERA_POS)), "view.CAMERA_POS"),
                          _vector(view.get("CAMERA_FWD", list(AD_CAMERA_FWD)), "view.CAMERA_FWD"))
        background = _background(view, resolver, notes)
        mode = controller.get("MODE", "interactive")
        if mode not in MODES:
            raise MvcConfigError(f"controller.MODE must be 'interactive' or 'video_render', got {excerpt(mode)}")
        output = controller.get("OUTPUT_VIDEO_PATH", DEFAULT_OUTPUT)
        if not isinstance(output, str) or not output.strip():
            raise MvcConfigError(f"controller.OUTPUT_VIDEO_PATH must be a file name, got {excerpt(output)}")
        codec = controller.get("OUTPUT_VIDEO_CODEC", "avc1")
        if codec is not None and str(codec).lower() not in H264_CODECS and output.lower().endswith(".mp4"):
            notes.append(f"controller.OUTPUT_VIDEO_CODEC {excerpt(codec)}: the studio writes MP4s as H.264 (avc1)")
        frame_time = controller.get("FRAME_TIME")
        if frame_time is not None and not (_number(frame_time) and 0.001 <= frame_time <= 10):
            raise MvcConfigError(f"controller.FRAME_TIME must be 0.001..10 seconds or null, got {excerpt(frame_time)}")
        scene = Scene(characters, size, background, None, None if frame_time is None else float(frame_time), camera)
    except SceneError as exc:
        raise MvcConfigError(f"{source}: {exc}") from None
    notes.extend(resolver.notes)
    return MvcScene(scene, resolver.cwd / output, mode, tuple(notes), source)


def _check_keys(data: dict[Any, Any], known: tuple[str, ...], prefix: str) -> None:
    for key in data:
        if key not in known:
            name = clip(prefix + key, 60) if isinstance(key, str) else prefix + excerpt(key, 40)
            raise MvcConfigError(f"unknown key {name}: AD's MVC configs know {', '.join(prefix + k for k in known)}")


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MvcConfigError(f"{name} must be a mapping, got {excerpt(value)}")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _vector(value: Any, what: str) -> tuple[float, float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 3 or not all(_number(v) for v in value):
        raise MvcConfigError(f"{what} must be [x, y, z] numbers, got {excerpt(value)}")
    return float(value[0]), float(value[1]), float(value[2])


def _window(value: Any) -> tuple[int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 2 or \
            not all(isinstance(v, int) and not isinstance(v, bool) and MIN_SIZE <= v <= MAX_SIZE for v in value):
        raise MvcConfigError(f"view.WINDOW_DIMENSIONS must be [width, height], whole numbers {MIN_SIZE}..{MAX_SIZE} "
                             f"px, got {excerpt(value)}")
    return int(value[0]), int(value[1])


def _background(view: dict[str, Any], resolver: "_Resolver", notes: list[str]) -> str:
    """The Scene background: BACKGROUND_IMAGE's file when set, else CLEAR_COLOR ('transparent' when its alpha is 0)."""
    image = view.get("BACKGROUND_IMAGE")
    if image is not None:
        if not isinstance(image, str) or not image.strip():
            raise MvcConfigError(f"view.BACKGROUND_IMAGE must be an image file name or null, got {excerpt(image)}")
        return str(resolver.existing(image, "view.BACKGROUND_IMAGE"))
    clear = view.get("CLEAR_COLOR", [1.0, 1.0, 1.0, 0.0])
    if not isinstance(clear, (list, tuple)) or len(clear) != 4 or not all(_number(v) and 0 <= v <= 1 for v in clear):
        raise MvcConfigError(f"view.CLEAR_COLOR must be [r, g, b, a] numbers 0..1, got {excerpt(clear)}")
    rgb = "#" + "".join(f"{round(v * 255):02x}" for v in clear[:3])
    if clear[3] == 0:
        if rgb != "#ffffff":
            notes.append(f"view.CLEAR_COLOR {list(clear)}: transparent (alpha 0); AD's MP4s show its colour, the "
                         "studio's show white")
        return "transparent"
    if clear[3] < 1:
        notes.append(f"view.CLEAR_COLOR {list(clear)}: drawn opaque (the studio's backgrounds are opaque or "
                     "transparent)")
    return rgb


def _characters(value: Any, resolver: "_Resolver") -> tuple[SceneCharacter, ...]:
    if not isinstance(value, list) or not value:
        raise MvcConfigError("scene.ANIMATED_CHARACTERS must be a non-empty list of {character_cfg, motion_cfg, "
                             f"retarget_cfg}}, got {excerpt(value)}")
    characters = []
    for k, entry in enumerate(value):
        where = f"scene.ANIMATED_CHARACTERS[{k}]"
        if not isinstance(entry, dict):
            raise MvcConfigError(f"{where} must be a mapping of character_cfg, motion_cfg and retarget_cfg")
        _check_keys(entry, CHARACTER_KEYS, f"{where}.")
        names = {}
        for key in CHARACTER_KEYS:
            text = entry.get(key)
            if not isinstance(text, str) or not text.strip():
                raise MvcConfigError(f"{where}.{key} must be a file name, got {excerpt(text)}")
            names[key] = resolver.existing(text, f"{where}.{key}")
        cfg = names["character_cfg"]
        if cfg.name != CHAR_CFG:
            raise MvcConfigError(f"not supported: {where}.character_cfg {cfg.name!r}: the studio reads character "
                                 f"folders, whose config is named {CHAR_CFG}")
        bvh = resolver.bvh_of(names["motion_cfg"], f"{where}.motion_cfg")
        characters.append(SceneCharacter(str(cfg.parent), str(names["motion_cfg"]), str(names["retarget_cfg"]),
                                         bvh=str(bvh), z=k))
    return tuple(characters)


class _Resolver:
    """AD's file lookup: from the current folder, then from the AD tree holding the config (the folder above its
    ``examples/``), as AD falls back to its own checkout."""

    def __init__(self, cwd: Path, source: Path) -> None:
        self.cwd = cwd
        absolute = Path(os.path.abspath(source))
        self.tree = next((p.parent for p in absolute.parents if p.name == "examples"), None)
        self.notes: list[str] = []

    def find(self, text: str) -> Path | None:
        given = Path(os.path.expanduser(text))
        first = given if given.is_absolute() else self.cwd / given
        if first.exists():
            return Path(os.path.normpath(first))
        if self.tree not in (None, self.cwd) and not given.is_absolute() and (self.tree / given).exists():
            self.notes.append(f"{text}: not in the current folder; using the AD tree's {self.tree / given}")
            return Path(os.path.normpath(self.tree / given))
        return None

    def existing(self, text: str, what: str) -> Path:
        found = self.find(text)
        if found is None:
            also = f" or {self.tree}" if self.tree not in (None, self.cwd) and not Path(text).is_absolute() else ""
            raise MvcConfigError(f"{what}: {text} not found (looked from {self.cwd}{also}; AD resolves relative "
                                 "names from the folder it runs in)")
        return found

    def bvh_of(self, motion_cfg: Path, what: str) -> Path:
        """The BVH a motion config's filepath names, resolved as AD resolves it (AD stops when it is not found)."""
        try:
            config = read_motion_config(motion_cfg)
        except ConfigError as exc:
            raise MvcConfigError(f"{what}: {exc}") from None
        return self.existing(config.filepath, f"{what} {motion_cfg.name}'s filepath")
