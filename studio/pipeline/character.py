"""AD character folders (char_cfg.yaml, texture.png, mask.png, bounding_box.yaml): read, validate, write."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from studio.pipeline.atomic import atomic_write_path
from studio.pipeline.config import ConfigError, load_yaml

CHAR_CFG = "char_cfg.yaml"
TEXTURE = "texture.png"
MASK = "mask.png"
BOUNDING_BOX = "bounding_box.yaml"
IMAGE = "image.png"


class CharacterError(ValueError):
    """A character folder that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
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
    parent_names: list[str | None] = []
    locs: list[tuple[float, float]] = []
    for k, e in enumerate(entries):
        if not isinstance(e, dict) or "name" not in e or "loc" not in e:
            raise CharacterError(f"{source}: skeleton entry {k} needs 'name', 'parent' and 'loc'")
        if not isinstance(e["name"], (str, int)) or isinstance(e["name"], bool) or str(e["name"]) == "":
            raise CharacterError(f"{source}: skeleton entry {k} has no usable name ({e['name']!r})")
        name = str(e["name"])
        if name in names:
            raise CharacterError(f"{source}: joint {name!r} is listed twice")
        loc = e["loc"]
        if not isinstance(loc, (list, tuple)) or len(loc) != 2 or not all(
                isinstance(v, (int, float)) and np.isfinite(v) for v in loc):
            raise CharacterError(f"{source}: joint {name!r} has loc {loc!r}; expected [x, y] numbers")
        x, y = float(loc[0]), float(loc[1])
        if not (0 <= x <= width and 0 <= y <= height):
            raise CharacterError(f"{source}: joint {name!r} at ({x:g}, {y:g}) is outside the "
                                 f"{width}×{height} image")
        names.append(name)
        parent = e.get("parent")
        parent_names.append(None if parent is None else str(parent))
        locs.append((x, y))
    parents: list[int] = []
    for name, parent in zip(names, parent_names):
        if parent is None:
            parents.append(-1)
        elif parent not in names:
            raise CharacterError(f"{source}: joint {name!r} has unknown parent {parent!r}")
        else:
            parents.append(names.index(parent))
    roots = [n for n, p in zip(names, parents) if p < 0]
    if len(roots) != 1:
        raise CharacterError(f"{source}: the skeleton needs exactly one root (a joint with parent null), "
                             f"found {len(roots)}: {roots}")
    order = _topological_order(parents)
    if order is None:
        raise CharacterError(f"{source}: the skeleton's parents form a cycle")
    if order != list(range(len(names))):
        names = [names[i] for i in order]
        locs = [locs[i] for i in order]
        remap = {old: new for new, old in enumerate(order)}
        parents = [-1 if parents[i] < 0 else remap[parents[i]] for i in order]
    return tuple(names), tuple(parents), np.array(locs, float)


def _topological_order(parents: list[int]) -> list[int] | None:
    """Joint indices with every parent before its children (stable), or None for a cycle."""
    if all(p < j for j, p in enumerate(parents)):
        return list(range(len(parents)))
    order: list[int] = []
    placed: set[int] = set()
    remaining = list(range(len(parents)))
    while remaining:
        progress = [j for j in remaining if parents[j] < 0 or parents[j] in placed]
        if not progress:
            return None
        for j in progress:
            order.append(j)
            placed.add(j)
        remaining = [j for j in remaining if j not in placed]
    return order


def _read_image(path: Path, flags: int, what: str) -> np.ndarray:
    if not path.is_file():
        raise CharacterError(f"{path}: missing {what}")
    data = np.fromfile(str(path), np.uint8)
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise CharacterError(f"{path}: {what} is not a readable image (empty or corrupt file)")
    return image


def read_character(folder: str | Path) -> Character:
    """Load an AD character folder; any number of joints. Raises CharacterError with specifics."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CharacterError(f"{folder}: not a character folder (it does not exist or is a file)")
    cfg_path = folder / CHAR_CFG
    if not cfg_path.is_file():
        raise CharacterError(f"{cfg_path}: missing {CHAR_CFG}: this is not an AD character folder")
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
            raise CharacterError(f"{cfg_path}: {key} must be a whole number of pixels, found {value!r}")
        if value != actual:
            raise CharacterError(f"{cfg_path}: {key} {cfg[key]} differs from texture.png's {actual}")
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
        box = tuple(int(data[k]) for k in ("left", "top", "right", "bottom"))
    except (ConfigError, KeyError, TypeError, ValueError):
        raise CharacterError(f"{path}: expected left, top, right, bottom integers") from None
    if box[2] <= box[0] or box[3] <= box[1]:
        raise CharacterError(f"{path}: box {box} has no area")
    return box  # type: ignore[return-value]


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
