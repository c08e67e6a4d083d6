"""Core functions behind the window, without Qt: clip cards for the motion library and the character folder export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.core.character_folder import write_character_folder
from studio.core.clips import THUMB, bundled_card, clip_card
from studio.core.document import Document, DocumentError
from studio.core.motion_source import bundled_motions
from studio.core.sample import sample_character, sample_image
from studio.core.workspace import annotation_input
from studio.pipeline.character import read_character

TWO_FRAMES = """HIERARCHY
ROOT Hips
{
\tOFFSET 0 0 0
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\tJOINT Head
\t{
\t\tOFFSET 0 10 0
\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0 5 0
\t\t}
\t}
}
MOTION
Frames: 2
Frame Time: 0.04
0 0 0 0 0 0 0 0 0
0 1 0 0 0 0 0 10 0
"""


def test_a_clip_card_has_a_thumbnail_and_timing_and_is_read_once_per_file_version(tmp_path: Path) -> None:
    path = tmp_path / "tiny.bvh"
    path.write_text(TWO_FRAMES, encoding="utf-8")
    card = clip_card(path)
    assert card.thumbnail.shape == (THUMB, THUMB, 4) and card.thumbnail.dtype == np.uint8
    assert card.n_frames == 2 and card.duration == pytest.approx(0.08)
    assert card.tooltip("tiny", path) == f"tiny\n0.08 s · 2 frames · 25 fps\n{path}"
    assert clip_card(path) is card  # cached
    path.write_text(TWO_FRAMES.replace("Frame Time: 0.04", "Frame Time: 0.020"), encoding="utf-8")
    assert clip_card(path).duration == pytest.approx(0.04)  # a changed file (its size, say) is read again
    with pytest.raises(ValueError):
        (tmp_path / "bad.bvh").write_text("HIERARCHY\nROOT x\n", encoding="utf-8")
        clip_card(tmp_path / "bad.bvh")


def test_every_bundled_motion_has_a_card() -> None:
    names = bundled_motions()
    assert names and all(bundled_card(name).n_frames > 1 for name in names)


def test_the_document_is_written_as_a_character_folder(tmp_path: Path) -> None:
    doc = Document.from_character(sample_character(), sample_image())
    folder = write_character_folder(doc, tmp_path / "figure")
    again = read_character(folder)
    assert again.names == doc.character().names and again.mask.shape == doc.character().mask.shape
    with pytest.raises(DocumentError, match="not annotated yet"):
        write_character_folder(Document.blank(), tmp_path / "empty")


def test_an_annotation_reads_a_copy_of_the_drawing_and_the_box_only_when_asked() -> None:
    doc = Document.from_character(sample_character(), sample_image())
    image, box = annotation_input(doc, use_box=False)
    assert box is None and image.rgb.shape[:2] == doc.image.shape[:2] and image.rgb is not doc.image
    assert image.scale == 1.0 and image.original_size == doc.size
    assert annotation_input(doc, use_box=True)[1] == doc.box
