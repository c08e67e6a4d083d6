"""What a path opens as in the studio (an image, an AD character folder or a project, as a Document), and how a
failure to read or write one reads to the user (``describe_error``)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from studio.core.document import Document
from studio.pipeline.character import IMAGE, read_character
from studio.pipeline.compositing import WHITE, over
from studio.pipeline.intake.images import ImageError, read_capped, read_image

PROJECT_SUFFIX = ".studio"
MESSAGE_LIMIT = 240  # characters of an error the user reads: a sentence, never a whole document quoted back


class OpenError(ValueError):
    """The path cannot be opened; the message says why and what would work."""


def open_path(path: str | Path) -> Document:
    """A Document for ``path``: a ``.studio`` project, an AD character folder (char_cfg.yaml inside), or any
    image Pillow or OpenCV can read (a new drawing, not annotated yet)."""
    path = Path(path)
    if not path.exists():
        raise OpenError(f"{path}: no such file or folder")
    if path.is_dir():
        if not (path / "char_cfg.yaml").is_file():
            raise OpenError(f"{path}: not a character folder (it has no char_cfg.yaml)")
        character = read_character(path)
        image = None
        if (path / IMAGE).is_file():
            try:  # the photo is only shown beside the character: a missing or unreadable one is no reason to fail
                image = cv2.cvtColor(read_capped(path / IMAGE, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            except ImageError:
                image = None
        return Document.from_character(character, image, source=str(path))
    if path.suffix.lower() == PROJECT_SUFFIX:
        from studio.core.project import open_project

        return open_project(path)
    return document_from_image(read_image(path).rgb, str(path))


def document_from_image(rgb: np.ndarray, source: str = "") -> Document:
    """A new drawing whose paper is ``rgb`` ((H, W, 3) uint8, or (H, W, 4) RGBA put on white by
    ``paper_from_rgba``): not annotated yet."""
    paper = paper_from_rgba(rgb) if rgb.ndim == 3 and rgb.shape[2] == 4 else rgb
    return Document(np.ascontiguousarray(paper), source=source)


def paper_from_rgba(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 paper for an (H, W, 4) uint8 straight-alpha image (a paste, a drop): on white, as image
    intake puts a file's transparency."""
    return over(np.ascontiguousarray(rgba, np.uint8), WHITE)


def describe_error(exc: BaseException, about: str | os.PathLike[str] | None = None,
                   limit: int = MESSAGE_LIMIT) -> str:
    """One short line saying why reading or writing a file failed, for a banner or a CLI error.

    An OSError reads as its strerror in lower case, after the file it names ("x.png: permission denied", never
    "[Errno 13] …"); the name is left out when it is ``about`` (or a temp file beside it), which the caller names
    itself. A RecursionError or MemoryError says the file is nested too deeply or too large; the studio's own errors
    and ValueErrors read as their message; anything else is unexpected and names its type. Only the first line is
    kept, cut to ``limit`` characters (a terminal takes more than a banner: paths there are whole).
    """
    if isinstance(exc, OSError) and exc.strerror and type(exc).__module__ == "builtins":
        reason = exc.strerror[:1].lower() + exc.strerror[1:]
        where = os.fsdecode(exc.filename) if isinstance(exc.filename, (str, bytes, os.PathLike)) else ""
        if where and about is not None and _same_file(Path(where).name, Path(os.fsdecode(about)).name):
            where = ""
        text = f"{where}: {reason}" if where else reason
    elif isinstance(exc, RecursionError):
        text = "nested too deeply to read"
    elif isinstance(exc, MemoryError):
        text = "too large to open (there was not enough memory)"
    else:
        lines = str(exc)[:4 * limit].strip().splitlines()  # a message may quote megabytes
        message = lines[0] if lines else ""
        known = is_expected(exc) or isinstance(exc, ValueError)
        text = message if known and message else f"unexpected {type(exc).__name__}" + (f": {message}" if message
                                                                                         else "")
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def is_expected(exc: BaseException) -> bool:
    """Whether ``exc`` is a problem with the input or the machine, which its message (describe_error) explains: the
    studio's own errors (BoxError, BackendError, BvhError…), OSErrors, and a file nested too deeply or too large to
    read. Anything else is a bug: the user still reads one line, and its traceback goes to stderr for a report."""
    return (type(exc).__module__.split(".")[0] == "studio"
            or isinstance(exc, (OSError, RecursionError, MemoryError)))


def _same_file(name: str, about: str) -> bool:
    """Whether ``name`` is ``about`` or the temp sibling (``.x.studio.<pid>.<random>.tmp``) a save writes first."""
    return name == about or (name.startswith(f".{about}.") and name.endswith(".tmp"))
