"""Classical segmentation (AD's method): synthetic drawings, errors, and AD's shipped masks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from studio.pipeline.intake.segment import SegmentError, fill_holes, iou, keep_largest, paint, segment_figure


def drawing() -> np.ndarray:
    paper = np.full((200, 160, 3), 245, np.uint8)
    cv2.ellipse(paper, (80, 60), (30, 35), 0, 0, 360, (30, 30, 30), 3)  # head outline: its inside is figure
    cv2.rectangle(paper, (65, 120), (95, 170), (200, 40, 40), 3)  # a smaller red box, apart from the head
    cv2.circle(paper, (20, 185), 2, (0, 0, 0), -1)  # a speck of dirt
    return paper


def test_outline_is_filled_and_the_largest_part_kept() -> None:
    mask = segment_figure(drawing())
    assert set(np.unique(mask)) == {0, 255}
    assert mask[60, 80] == 255  # inside the head outline
    assert mask[5, 5] == 0 and mask[185, 20] == 0  # paper and the speck
    assert mask[145, 80] == 0  # the separate, smaller box is dropped: only the largest part is kept
    connected = drawing()
    cv2.line(connected, (80, 94), (80, 121), (30, 30, 30), 3)  # join them with a neck
    joined = segment_figure(connected)
    assert joined[145, 80] == 255 and joined[60, 80] == 255


def test_blank_paper_says_no_figure() -> None:
    with pytest.raises(SegmentError, match="no figure found"):
        segment_figure(np.full((120, 90, 3), 250, np.uint8))


def test_mask_edits() -> None:
    ring = np.zeros((40, 40), np.uint8)
    cv2.circle(ring, (20, 20), 12, 255, 3)
    assert fill_holes(ring)[20, 20] == 255
    two = np.zeros((40, 40), np.uint8)
    two[2:6, 2:6] = 255
    two[10:30, 10:30] = 255
    assert keep_largest(two)[3, 3] == 0 and keep_largest(two)[20, 20] == 255
    painted = paint(two, (35, 35), 3)
    assert painted[35, 35] == 255 and two[35, 35] == 0
    assert paint(painted, (20, 20), 4, erase=True)[20, 20] == 0
    assert iou(two, two) == 1.0


def _ad_frame(image: np.ndarray, longest: int = 1000) -> np.ndarray:
    """image.png in the frame AD wrote bounding_box.yaml in: the longest side scaled to 1000 px."""
    h, w = image.shape[:2]
    scale = longest / max(h, w)
    size = (round(w * scale), round(h * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


@pytest.mark.parametrize("name", ["char5", "char6"])
def test_reproduces_ads_masks_from_image_and_box(shared: Path, name: str) -> None:
    folder = shared / "characters" / name
    image = cv2.imread(str(folder / "image.png"), cv2.IMREAD_UNCHANGED)
    if image.shape[2] == 4:  # alpha onto white
        alpha = image[:, :, 3:4] / 255.0
        image = (image[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    box = yaml.safe_load((folder / "bounding_box.yaml").read_text())
    crop = _ad_frame(image)[box["top"]:box["bottom"], box["left"]:box["right"]]
    reference = cv2.imread(str(folder / "mask.png"), cv2.IMREAD_GRAYSCALE)
    mask = segment_figure(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
    assert mask.shape == reference.shape
    assert iou(mask, reference) >= 0.99


def test_reproduces_char2_mask_from_its_texture(shared: Path) -> None:
    folder = shared / "characters" / "char2"
    texture = cv2.imread(str(folder / "texture.png"), cv2.IMREAD_UNCHANGED)
    reference = cv2.imread(str(folder / "mask.png"), cv2.IMREAD_GRAYSCALE)
    mask = segment_figure(cv2.cvtColor(texture[:, :, :3], cv2.COLOR_BGR2RGB))
    assert iou(mask, reference) >= 0.99
