"""AD character folders (char_cfg.yaml, texture.png, mask.png, bounding_box.yaml): read, validate, write."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import cv2
import numpy as np
import yaml

from studio.pipeline.files.atomic import atomic_write_path
from studio.pipeline.files.capped_read import NotRegularFileError, open_regular
from studio.pipeline.intake.images import ImageError, read_capped
from studio.pipeline.motion.config import ConfigError, load_yaml
from studio.pipeline.quoting import excerpt

CHAR_CFG = "char_cfg.yaml"
TEXTURE = "texture.png"
MASK = "mask.png"
BOUNDING_BOX = "bounding_box.yaml"
IMAGE = "image.png"


class CharacterError(ValueError):
    """A character folder that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, eq=False)
class Character:
    """A drawn character: its cut-out texture, mask and skeleton.

    names: joint names; parents: (J,) parent index, -1 for the root.
    rest: (J, 2) float64 joint locations in texture pixels (x right, y down).
    texture: (H, W, 4) uint8 RGBA; alpha is the mask.
    mask: (H, W) uint8, 0 or 255.
    bounding_box: (left, top, right, bottom) of the crop in image.png, if known.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    rest: np.ndarray
    texture: np.ndarray
    mask: np.ndarray
    bounding_box: tuple[int, int, int, int] | None = None
    source: str = ""

    @property
    def width(self) -> int:
        return int(self.mask.shape[1])

    @property
    def height(self) -> int:
        return int(self.mask.shape[0])

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"character has no joint named {name!r}") from None

    def parent_name(self, joint: int) -> str | None:
        p = self.parents[joint]
        return None if p < 0 else self.names[p]

    def with_rest(self, rest: np.ndarray) -> "Character":
        return Character(self.names, self.parents, np.asarray(rest, float), self.texture, self.mask,
                         self.bounding_box, self.source)


def skeleton_from_entries(entries: Any, width: int, height: int, source: str) -> tuple[
        tuple[str, ...], tuple[int, ...], np.ndarray]:
    """Validate char_cfg ``skeleton`` entries; returns names, parent indices and (J, 2) locations."""
    if not isinstance(entries, list) or not entries:
        raise CharacterError(f"{source}: 'skeleton' must be a non-empty list of joints")
    names: list[str] = []
    index: dict[str, int] = {}  # name → entry, so a skeleton of thousands of joints stays linear
    parent_names: list[str | None] = []
    locs: list[tuple[float, float]] = []
    for k, e in enumerate(entries):
        if not isinstance(e, dict) or "name" not in e or "loc" not in e:
            raise CharacterError(f"{source}: skeleton entry {k} needs 'name', 'parent' and 'loc'")
        name = _joint_name(e["name"])
        if name is None:
            raise CharacterError(f"{source}: skeleton entry {k} has no usable name ({excerpt(e['name'])})")
        if name in index:
            raise CharacterError(f"{source}: joint {excerpt(name)} is listed twice")
        loc = e["loc"]
        if not isinstance(loc, (list, tuple)) or len(loc) != 2 or not all(_is_coordinate(v) for v in loc):
            raise CharacterError(f"{source}: joint {excerpt(name)} has loc {excerpt(loc)}; expected [x, y] numbers")
        x, y = float(loc[0]), float(loc[1])
        if not (0 <= x <= width and 0 <= y <= height):
            raise CharacterError(f"{source}: joint {excerpt(name)} at ({x:g}, {y:g}) is outside the "
                                 f"{width}×{height} image")
        index[name] = len(names)
        names.append(name)
        parent = e.get("parent")
        parent_name = None if parent is None else _joint_name(parent)
        if parent is not None and parent_name is None:
            raise CharacterError(f"{source}: joint {excerpt(name)} has unusable parent {excerpt(parent)}")
        parent_names.append(parent_name)
        locs.append((x, y))
    parents: list[int] = []
    for name, parent_name in zip(names, parent_names):
        if parent_name is None:
            parents.append(-1)
        elif parent_name not in index:
            raise CharacterError(f"{source}: joint {excerpt(name)} has unknown parent {excerpt(parent_name)}")
        else:
            parents.append(index[parent_name])
    roots = [n for n, p in zip(names, parents) if p < 0]
    if len(roots) != 1:
        raise CharacterError(f"{source}: the skeleton needs exactly one root (a joint with parent null), "
                             f"found {len(roots)}: {excerpt(roots)}")
    order = _topological_order(parents)
    if order is None:
        raise CharacterError(f"{source}: the skeleton's parents form a cycle")
    if order != list(range(len(names))):
        names = [names[i] for i in order]
        locs = [locs[i] for i in order]
        remap = {old: new for new, old in enumerate(order)}
        parents = [-1 if parents[i] < 0 else remap[parents[i]] for i in order]
    return tuple(names), tuple(parents), np.array(locs, float)


def _joint_name(value: Any) -> str | None:
    """A joint name as text: a non-empty string, or an int as AD's YAML may read a numeric name; else None."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10 ** 18:
        return str(value)
    return None


def _is_coordinate(value: Any) -> TypeGuard[int | float]:
    """A finite int or float, not a bool (YAML's ``true`` would otherwise read as 1)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 1e300


def _topological_order(parents: list[int]) -> list[int] | None:
    """Joint indices with every parent before its children, or None for a cycle: by depth from the root, then
    by index (stable), in linear time."""
    if all(p < j for j, p in enumerate(parents)):
        return list(range(len(parents)))
    depth = [-1] * len(parents)  # -1: not known yet
    for start in range(len(parents)):
        chain: list[int] = []
        joint = start
        while joint >= 0 and depth[joint] < 0:
            if len(chain) > len(parents):
                return None  # walked more joints than there are: the chain loops
            chain.append(joint)
            joint = parents[joint]
        known = depth[joint] if joint >= 0 else -1
        for j in reversed(chain):
            known += 1
            depth[j] = known
    return sorted(range(len(parents)), key=lambda j: (depth[j], j))


def _check_file(path: Path, missing: str) -> None:
    """CharacterError unless ``path`` is a regular file: ``missing`` when there is nothing there, else what it is
    (a folder, a pipe or a device), rather than "missing". open_regular opens without blocking, so a FIFO is
    refused before anything waits on it for a writer."""
    try:
        with open_regular(path):
            pass
    except (FileNotFoundError, NotADirectoryError):
        raise CharacterError(missing) from None
    except IsADirectoryError:
        raise CharacterError(f"{path}: is a folder, not a file") from None
    except NotRegularFileError:
        raise CharacterError(f"{path}: is not a regular file (a pipe or a device?)") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CharacterError(f"{path}: cannot be read ({reason[:1].lower() + reason[1:]})") from None


def _read_image(path: Path, flags: int, what: str) -> np.ndarray:
    """OpenCV's decode of a texture or mask, its size checked against intake's pixel cap before decoding."""
    _check_file(path, f"{path}: missing {what}")
    try:
        return read_capped(path, flags)
    except ImageError as exc:
        raise CharacterError(str(exc)) from None


def read_character(folder: str | Path) -> Character:
    """Load an AD character folder; any number of joints. Raises CharacterError with specifics."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CharacterError(f"{folder}: not a character folder (it does not exist or is a file)")
    cfg_path = folder / CHAR_CFG
    _check_file(cfg_path, f"{cfg_path}: missing {CHAR_CFG}: this is not an AD character folder")
    try:
        cfg = load_yaml(cfg_path)
    except ConfigError as exc:
        raise CharacterError(str(exc)) from None
    if not isinstance(cfg, dict):
        raise CharacterError(f"{cfg_path}: expected a mapping with width, height and skeleton")
    texture = _read_image(folder / TEXTURE, cv2.IMREAD_UNCHANGED, "texture")
    mask = _read_image(folder / MASK, cv2.IMREAD_GRAYSCALE, "mask")
    texture = _to_rgba(texture)
    if texture.shape[:2] != mask.shape:
        raise CharacterError(f"{folder}: mask is {mask.shape[1]}×{mask.shape[0]} but texture is "
                             f"{texture.shape[1]}×{texture.shape[0]}; they must be the same size")
    height, width = mask.shape
    for key, actual in (("width", width), ("height", height)):
        value = cfg.get(key, actual)
        if isinstance(value, bool) or not isinstance(value, int):
            raise CharacterError(f"{cfg_path}: {key} must be a whole number of pixels, found {excerpt(value)}")
        if value != actual:
            raise CharacterError(f"{cfg_path}: {key} {excerpt(value)} differs from texture.png's {actual}")
    mask = np.where(mask > 127, 255, 0).astype(np.uint8)
    if not mask.any():
        raise CharacterError(f"{folder / MASK}: the mask is empty: no figure to animate")
    texture = texture.copy()
    texture[:, :, 3] = mask
    names, parents, rest = skeleton_from_entries(cfg.get("skeleton"), width, height, str(cfg_path))
    box = None
    if (folder / BOUNDING_BOX).is_file():
        box = _read_box(folder / BOUNDING_BOX)
    return Character(names, parents, rest, texture, mask, box, str(folder))


def _read_box(path: Path) -> tuple[int, int, int, int]:
    try:
        data = load_yaml(path)
    except ConfigError as exc:
        raise CharacterError(str(exc)) from None
    values = [data.get(k) for k in ("left", "top", "right", "bottom")] if isinstance(data, dict) else []
    whole = [int(v) for v in values if _is_coordinate(v) and v == int(v)]
    if len(whole) != 4:
        raise CharacterError(f"{path}: expected left, top, right, bottom whole numbers, found {excerpt(data)}")
    left, top, right, bottom = whole
    if right <= left or bottom <= top:
        raise CharacterError(f"{path}: box {excerpt((left, top, right, bottom))} has no area")
    return left, top, right, bottom


def _to_rgba(image: np.ndarray) -> np.ndarray:
    """OpenCV's BGR/BGRA/grey decode → RGBA uint8."""
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(1, int(np.iinfo(image.dtype).max)))
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGBA)
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGBA)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)


def character_cfg(character: Character) -> dict[str, Any]:
    """The char_cfg.yaml mapping: integer pixel locations, as AD writes them."""
    skeleton = [{"loc": [int(round(x)), int(round(y))], "name": n,
                 "parent": character.parent_name(j)}
                for j, (n, (x, y)) in enumerate(zip(character.names, character.rest))]
    return {"height": character.height, "skeleton": skeleton, "width": character.width}


def _atomic_bytes(path: Path, data: bytes) -> None:
    with atomic_write_path(path) as tmp:
        tmp.write_bytes(data)


def _png_bytes(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise CharacterError("could not encode PNG")
    return buf.tobytes()


def write_character(character: Character, folder: str | Path, image: np.ndarray | None = None) -> Path:
    """Write an AD-compatible character folder (each file atomically). ``image``: (H, W, 3) RGB original."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bgra = cv2.cvtColor(character.texture, cv2.COLOR_RGBA2BGRA)
    _atomic_bytes(folder / TEXTURE, _png_bytes(bgra))
    _atomic_bytes(folder / MASK, _png_bytes(character.mask))
    _atomic_bytes(folder / CHAR_CFG, yaml.safe_dump(character_cfg(character)).encode())
    if character.bounding_box is not None:
        box = dict(zip(("left", "top", "right", "bottom"), (int(v) for v in character.bounding_box)))
        _atomic_bytes(folder / BOUNDING_BOX, yaml.safe_dump(box).encode())
    if image is not None:
        _atomic_bytes(folder / IMAGE, _png_bytes(cv2.cvtColor(image, cv2.COLOR_RGB2BGR)))
    return folder
