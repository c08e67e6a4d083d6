"""Project files (.studio zips: project.json, paper.png, mask.png) and crash autosave/recovery of a Document.

A project may also keep a Scene (studio.core.scene): project.json's optional ``scene`` holds the scene file's own
mapping (``scene_to_dict``), file names inside the project's folder relative to it; its character ``project`` is
the project's own drawing. The Document carries it (``Document.scene``), so every save of a document keeps it (the
window's, the autosave's). Projects without one are read as before (the key is simply absent)."""

from __future__ import annotations

import json
import math
import os
import re
import struct
import zipfile
import zlib
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable, TypeVar

import cv2
import numpy as np

from studio.core.document import Document, ExportSettings, PreviewSettings, Skeleton
from studio.core.render import MAX_FRAMES  # a project asks for no more frames than a render allows
from studio.core.render_job import EXPORT_KINDS  # every format an export can be saved as
from studio.core.scene import Scene, SceneError, scene_from_dict, scene_to_dict
from studio.pipeline.files.atomic import atomic_write_path
from studio.pipeline.files.capped_read import NotRegularFileError, open_regular
from studio.pipeline.intake.images import MAX_PIXELS, ImageError, decode_capped
from studio.pipeline.intake.strokes import Stroke
from studio.pipeline.quoting import clip, excerpt

FORMAT = "drawing-studio-project"
VERSION = 1
MAX_MEMBER = 200 * 1024 * 1024  # bytes a member may hold uncompressed; beyond this, a zip bomb
# project.json: 16 MB is some 800k stroke points; parsed, JSON takes up to ~13x its size in Python objects
# (a 199 MB one took 21 s and 3.6 GB before it was refused), so it has its own, smaller cap.
MAX_JSON = 16 * 1024 * 1024
MAX_JSON_DEPTH = 32  # nested lists and mappings; a project nests 4 deep (strokes > stroke > points > [x, y])
MAX_SIZE = 4096  # px of a preview or export side
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ProjectError(ValueError):
    """A project file cannot be read or written; the one-line message names the file and what is wrong."""

    @classmethod
    def of(cls, path: Path, problem: object) -> "ProjectError":
        return cls(f"{path}: {' '.join(str(problem).split())}")


class _Bad(Exception):
    """What is wrong inside a project, before the file name is added."""


# ---------------------------------------------------------------------------------------------- writing
def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image))
    if not ok:
        raise ValueError("could not encode an image as PNG")
    return data.tobytes()


def _manifest(doc: Document, scene: Scene | None, folder: Path) -> dict[str, Any]:
    sk, p = doc.skeleton, doc.preview
    kept = {} if scene is None else {"scene": scene_to_dict(scene, folder)}
    return {
        "format": FORMAT, "version": VERSION, "size": list(doc.size), "source": doc.source,
        "strokes": [s.to_dict() for s in doc.strokes],
        "box": None if doc.box is None else [float(v) for v in doc.box],
        "mask": doc.mask is not None,
        "skeleton": None if sk is None else {"names": list(sk.names), "parents": list(sk.parents),
                                             "joints": np.asarray(sk.joints, float).tolist()},
        "detected": None if doc.detected is None else np.asarray(doc.detected, float).tolist(),
        "unsure": sorted(doc.unsure),
        "preview": {"motion": p.motion, "frames": p.frames, "size": p.size, "speed": p.speed},
        "export": doc.export.to_dict(),
        **kept,
    }


def save_project(doc: Document, path: str | os.PathLike[str], *, mark_saved: bool = True,
                 scene: Scene | None = None) -> Path:
    """Write ``doc`` and its scene (``scene`` when given, else ``doc.scene``) to ``path`` atomically (a failed or
    killed save leaves any old file as it was). The scene's file names inside the project's folder are stored
    relative to it.

    mark_saved: the user's own save marks the document clean; an autosave passes False.
    Raises ProjectError when the document cannot be stored (e.g. non-finite joints), OSError on disk errors.
    """
    path = Path(path)
    try:
        kept = scene if scene is not None else doc.scene
        text = json.dumps(_manifest(doc, kept, Path(os.path.abspath(path)).parent), allow_nan=False,
                          separators=(",", ":"))
        paper = _png(cv2.cvtColor(doc.paper, cv2.COLOR_RGB2BGR))
        mask = None if doc.mask is None else _png(doc.mask.astype(np.uint8, copy=False))
    except (ValueError, cv2.error) as exc:  # json's "Out of range float values" is a ValueError
        raise ProjectError.of(path, f"cannot save: {exc}") from None
    for name, size, limit in (("the drawing's data", len(text), MAX_JSON), ("the paper image", len(paper), MAX_MEMBER),
                              ("the mask", 0 if mask is None else len(mask), MAX_MEMBER)):
        if size > limit:  # a project that open_project would refuse is never written
            raise ProjectError.of(path, f"cannot save: {name} takes {size // 1024 // 1024} MB, "
                                        f"more than the {limit // 1024 // 1024} MB a project holds")
    with atomic_write_path(path) as temp, zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.json", text)
        archive.writestr("paper.png", paper, compress_type=zipfile.ZIP_STORED)
        if mask is not None:
            archive.writestr("mask.png", mask, compress_type=zipfile.ZIP_STORED)
    if mark_saved:
        doc.mark_saved()
    return path


# ---------------------------------------------------------------------------------------------- reading
def _member(archive: zipfile.ZipFile, name: str, limit: int | None = None) -> bytes:
    """One member's bytes, in memory, refused beyond ``limit`` (default MAX_MEMBER) whatever its header claims."""
    limit = MAX_MEMBER if limit is None else limit
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _Bad(f"it has no {name} (not a Drawing Studio project, or a damaged one)") from None
    if info.file_size > limit:
        raise _Bad(f"{name} is too large ({info.file_size} bytes uncompressed; at most {limit})")
    with archive.open(info) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise _Bad(f"{name} is too large (over {limit} bytes uncompressed)")
    return data


# A JSON string, or an unterminated one up to the end: every '"' starts a match that cannot fail, so the
# scan stays linear on hostile text (a pattern that can fail retries from every later quote: quadratic).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\[\s\S][^"\\]*)*(?:"|\\?\Z)')


def _json_depth(data: bytes) -> int:
    """How deep lists and mappings nest in JSON text (strings skipped), in linear time and without recursion:
    json.loads itself recurses once per level."""
    codes = np.frombuffer(_JSON_STRING.sub(b'""', data), np.uint8)
    step = ((codes == ord("[")) | (codes == ord("{"))).view(np.int8) - ((codes == ord("]")) | (codes == ord("}")))
    return int(np.cumsum(step, dtype=np.int32).max(initial=0))


def _manifest_of(archive: zipfile.ZipFile) -> Any:
    """project.json parsed: size and nesting checked first, NaN and Infinity refused."""
    text = _member(archive, "project.json", MAX_JSON)
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise _Bad(f"project.json nests {depth} levels deep (at most {MAX_JSON_DEPTH}): not a project")
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_finite)
    except (ValueError, RecursionError) as exc:
        raise _Bad(f"project.json is not valid JSON ({clip(str(exc))})") from None


def _finite(text: str) -> float:
    """json's hook for floats and NaN/Infinity (1e999 parses as inf, so floats are checked too)."""
    value = float(text)
    if not math.isfinite(value):
        raise _Bad(f"project.json holds a non-finite number ({clip(text, 40)})")
    return value


def _num(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1e300 < value < 1e300:
        raise _Bad(f"{what} must be a finite number, got {excerpt(value, 40)}")
    return float(value)


def _int(value: Any, what: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _Bad(f"{what} must be a whole number of at least {low}, got {excerpt(value, 40)}")
    return value


def _settings(cls: type[Any], value: Any, what: str) -> Any:
    """A settings dataclass from a mapping: a missing key keeps its default; a value must have the default's type."""
    if not isinstance(value, dict):
        raise _Bad(f"{what} settings must be a mapping")
    found: dict[str, Any] = {}
    for field in fields(cls):
        v, name = value.get(field.name, field.default), f"{what} {field.name}"
        if isinstance(field.default, str) and not isinstance(v, str):
            raise _Bad(f"{name} must be text, got {type(v).__name__}")
        if isinstance(field.default, float):
            v = _num(v, name)
        elif isinstance(field.default, int) or (field.default is None and v is not None):
            v = _int(v, name)
        found[field.name] = v
    return cls(**found)


def _points(value: Any, what: str, count: int | None = None) -> np.ndarray:
    """(n, 2) float64 from a list of [x, y] pairs; n == count when given."""
    if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
        raise _Bad(f"{what} must be a list of [x, y] pairs")
    if count is not None and len(value) != count:
        raise _Bad(f"{what} has {len(value)} joints, the skeleton has {count}")
    return np.array([[_num(x, what), _num(y, what)] for x, y in value], float).reshape(-1, 2)


def _image(data: bytes, name: str, size: tuple[int, int], flags: int) -> np.ndarray:
    """A PNG member, its header checked against the drawing's (width, height) before decoding; _document has
    checked that size against intake's MAX_PIXELS, so no member decodes to more."""
    if len(data) < 24 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise _Bad(f"{name} is not a PNG image")
    if struct.unpack(">II", data[16:24]) != size:
        raise _Bad(f"{name} is {struct.unpack('>II', data[16:24])} px, the drawing is {size} (width, height)")
    try:
        return decode_capped(data, flags, name)
    except ImageError:
        raise _Bad(f"{name} is a damaged PNG image") from None


def _skeleton(value: Any) -> Skeleton | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Bad("skeleton must be a mapping of names, parents and joints")
    names, parents = value.get("names"), value.get("parents")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise _Bad("skeleton names must be a non-empty list of text")
    if not isinstance(parents, list) or len(parents) != len(names):
        raise _Bad(f"skeleton parents must be a list of {len(names)} joint indices")
    for parent in parents:
        if _int(parent, "a skeleton parent", low=-1) >= len(names):
            raise _Bad(f"a skeleton parent ({excerpt(parent)}) is not a joint index")
    if len(set(names)) != len(names):
        raise _Bad("skeleton joint names must be unique")
    if sum(1 for p in parents if p < 0) != 1:
        raise _Bad("the skeleton must have exactly one root joint (parent -1)")
    for start in range(len(names)):  # every joint reaches the root without a loop
        seen, joint = set(), start
        while joint >= 0:
            if joint in seen:
                raise _Bad(f"the skeleton's parents form a loop at joint {excerpt(names[joint], 40)}")
            seen.add(joint)
            joint = parents[joint]
    return Skeleton(tuple(names), tuple(parents), _points(value.get("joints"), "skeleton joints", len(names)))


def _document(data: dict[str, Any], archive: zipfile.ZipFile) -> Document:
    size = data.get("size")
    if not isinstance(size, list) or len(size) != 2:
        raise _Bad("size must be [width, height] in px")
    width, height = _int(size[0], "width"), _int(size[1], "height")
    if width * height > MAX_PIXELS:
        raise _Bad(f"the drawing is {excerpt(width)}x{excerpt(height)} px, more than {MAX_PIXELS} pixels")
    strokes, box, source = data.get("strokes", []), data.get("box"), data.get("source", "")
    if not isinstance(strokes, list) or not isinstance(source, str):
        raise _Bad("strokes must be a list and source text")
    try:
        strokes = [Stroke.from_dict(s) for s in strokes]
    except ValueError as exc:
        raise _Bad(f"bad stroke: {clip(str(exc))}") from None
    if box is not None:
        if not isinstance(box, list) or len(box) != 4:
            raise _Bad("box must be [left, top, right, bottom] or null")
        box = tuple(_num(v, "box") for v in box)
    skeleton = _skeleton(data.get("skeleton"))
    detected = data.get("detected")
    if detected is not None:
        detected = _points(detected, "detected joints", None if skeleton is None else len(skeleton.names))
    unsure = data.get("unsure", [])
    names = () if skeleton is None else skeleton.names
    if not isinstance(unsure, list) or not all(isinstance(n, str) and n in names for n in unsure):
        raise _Bad(f"unsure must list joints of the skeleton, got {excerpt(unsure, 60)}")
    preview: PreviewSettings = _settings(PreviewSettings, data.get("preview", {}), "preview")
    export: ExportSettings = _settings(ExportSettings, data.get("export", {}), "export")
    if not 0 < preview.speed <= 8:
        raise _Bad(f"preview speed must be in (0, 8], got {excerpt(preview.speed)}")
    for what, settings in (("preview", preview), ("export", export)):
        if not 16 <= settings.size <= MAX_SIZE:
            raise _Bad(f"{what} size must be 16..{MAX_SIZE} px, got {excerpt(settings.size)}")
        if settings.frames is not None and not 1 <= settings.frames <= MAX_FRAMES:
            raise _Bad(f"{what} frame count must be 1..{MAX_FRAMES}, got {excerpt(settings.frames)}")
    if export.kind not in EXPORT_KINDS:
        raise _Bad(f"export kind must be one of {', '.join(EXPORT_KINDS)}, got {excerpt(export.kind, 40)}")
    bgr = _image(_member(archive, "paper.png"), "paper.png", (width, height), cv2.IMREAD_COLOR)
    mask = None
    if data.get("mask"):
        mask = _image(_member(archive, "mask.png"), "mask.png", (width, height), cv2.IMREAD_UNCHANGED)
        if mask.ndim != 2 or mask.dtype != np.uint8:
            raise _Bad("mask.png must be a one-channel 8-bit image")
    paper = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return Document(paper, strokes, box, mask, skeleton, detected, preview, export, source, unsure=frozenset(unsure))


def _scene(value: Any, folder: Path) -> Scene | None:
    """The scene project.json keeps (None when it keeps none), its relative file names taken from ``folder``."""
    if value is None:
        return None
    try:
        return scene_from_dict(value, folder)
    except SceneError as exc:
        raise _Bad(f"its scene: {exc}") from None


_Read = TypeVar("_Read")


def _open(path: Path, read: Callable[[dict[str, Any], zipfile.ZipFile], _Read]) -> _Read:
    """``read(manifest, archive)`` on the project at ``path`` once its manifest passed the checks every reader
    needs; every failure becomes one ProjectError naming ``path``."""
    try:
        file = open_regular(path)  # a FIFO would hang the window; /dev/zero would be read without end
    except NotRegularFileError as exc:
        raise ProjectError(str(exc)) from None
    with file:
        try:
            with zipfile.ZipFile(file) as archive:
                data = _manifest_of(archive)
                if not isinstance(data, dict) or data.get("format") != FORMAT:
                    raise _Bad("not a Drawing Studio project (project.json has no drawing-studio-project marker)")
                version = data.get("version")
                if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                    raise _Bad(f"project.json has no valid version (got {excerpt(version, 40)})")
                if version > VERSION:
                    raise _Bad(f"saved by a newer Drawing Studio (project version {excerpt(version)}; this one reads "
                               f"up to {VERSION}): update Drawing Studio to open it")
                return read(data, archive)
        except _Bad as exc:
            raise ProjectError.of(path, exc) from None
        except zipfile.BadZipFile as exc:
            problem = f"not a Drawing Studio project, or a truncated or damaged one ({clip(str(exc))})"
            raise ProjectError.of(path, problem) from None
        except (zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:  # bad deflate data, encryption
            raise ProjectError.of(path, f"the project file is damaged ({clip(str(exc))})") from None
        except OSError as exc:  # zipfile seeks to offsets a damaged directory gives: EINVAL when negative
            raise ProjectError.of(path, f"the project file is damaged or unreadable ({clip(str(exc))})") from None


def _document_with_scene(data: dict[str, Any], archive: zipfile.ZipFile, folder: Path) -> Document:
    """The Document with the scene project.json keeps (file names from ``folder``, made absolute)."""
    doc = _document(data, archive)
    doc.scene = _scene(data.get("scene"), folder)
    return doc


def open_project(path: str | os.PathLike[str]) -> Document:
    """The Document saved in ``path``, with its scene, clean (saved_revision == revision). Raises ProjectError
    naming ``path`` for anything damaged, foreign, too new or too large; OSError when the file cannot be opened."""
    folder = Path(os.path.abspath(path)).parent
    return _open(Path(path), lambda data, archive: _document_with_scene(data, archive, folder))


def open_project_scene(path: str | os.PathLike[str]) -> Scene | None:
    """The Scene kept in the project at ``path`` (None when it keeps none), without decoding its images; its
    relative file names are taken from the project's folder. Raises ProjectError as open_project does."""
    folder = Path(os.path.abspath(path)).parent
    return _open(Path(path), lambda data, archive: _scene(data.get("scene"), folder))


def open_project_with_scene(path: str | os.PathLike[str]) -> tuple[Document, Scene | None]:
    """open_project and open_project_scene in one read of the file (the scene is also the Document's)."""
    doc = open_project(path)
    return doc, doc.scene
