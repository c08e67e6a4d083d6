"""The document written as an AnimatedDrawings character folder (File → Export character folder)."""

from __future__ import annotations

from pathlib import Path

from studio.core.document import Document
from studio.pipeline.character import write_character


def write_character_folder(doc: Document, folder: str | Path) -> Path:
    """char_cfg.yaml, texture, mask, bounding box and the whole drawing as image.png into ``folder``; raises
    DocumentError while the drawing is not annotated."""
    return write_character(doc.character(), Path(folder), image=doc.image)


__all__ = ["write_character_folder"]
