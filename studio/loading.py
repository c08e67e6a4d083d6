"""What a path opens as in the studio: an image, an AD character folder or a project, as a Document."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from studio.document import Document
from studio.pipeline.character import IMAGE, read_character
from studio.pipeline.intake import decode_image, read_image

PROJECT_SUFFIX = ".studio"


class OpenError(ValueError):
    """The path cannot be opened; the message says why and what would work."""


def open_path(path: str | Path) -> Document:
    """A Document for ``path``: a ``.studio`` project, an AD character folder (char_cfg.yaml inside), or any
    image Pillow or OpenCV can read (a new, unrigged drawing)."""
    path = Path(path)
    if not path.exists():
        raise OpenError(f"{path}: no such file or folder")
    if path.is_dir():
        if not (path / "char_cfg.yaml").is_file():
            raise OpenError(f"{path}: not a character folder (it has no char_cfg.yaml)")
        character = read_character(path)
        image = None
        if (path / IMAGE).is_file():
            data = np.fromfile(str(path / IMAGE), np.uint8)
            decoded = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
            image = None if decoded is None else cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
        return Document.from_character(character, image, source=str(path))
    if path.suffix.lower() == PROJECT_SUFFIX:
        from studio.project import open_project

        return open_project(path)
    return document_from_image(read_image(path).rgb, str(path))


def document_from_image(rgb: np.ndarray, source: str = "") -> Document:
    """A new drawing whose paper is ``rgb`` ((H, W, 3) uint8): not rigged yet."""
    return Document(np.ascontiguousarray(rgb), source=source)


def document_from_bytes(data: bytes, source: str = "<clipboard>") -> Document:
    """A new drawing from encoded image bytes (a paste or a drop)."""
    return document_from_image(decode_image(data, source).rgb, source)
