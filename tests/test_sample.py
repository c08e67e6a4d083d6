"""The built-in sample character: a valid AD folder, joints inside the figure, deterministic bytes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml

from studio.pipeline.character import read_character
from studio.core.sample import Stroke, render_strokes, sample_character_files, sample_strokes

AD_JOINTS = {"root", "hip", "torso", "neck", "right_shoulder", "right_elbow", "right_hand", "left_shoulder",
             "left_elbow", "left_hand", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot"}


def test_strokes_are_replayable_vector_data() -> None:
    strokes = sample_strokes()
    assert len(strokes) > 10 and all(isinstance(s, Stroke) for s in strokes)
    assert all(len(s.points) >= 2 and s.width > 0 and 0 < s.opacity <= 1 for s in strokes)
    assert all(all(0 <= c <= 255 for c in s.colour) for s in strokes)
    assert strokes == sample_strokes()


def test_render_strokes_draws_on_paper() -> None:
    paper = render_strokes([Stroke(((4.0, 4.0), (28.0, 28.0)), (255, 0, 0), 5.0)], 32, 32, background=(250, 250, 240))
    assert paper.shape == (32, 32, 3) and paper.dtype == np.uint8
    assert tuple(paper[0, 31]) == (250, 250, 240)
    assert tuple(paper[16, 16]) == (255, 0, 0)  # RGB, not BGR


def test_sample_folder_files_have_the_right_shapes(tmp_path: Path) -> None:
    folder = sample_character_files(tmp_path / "sample")
    assert folder == tmp_path / "sample"
    texture = cv2.imread(str(folder / "texture.png"), cv2.IMREAD_UNCHANGED)
    mask = cv2.imread(str(folder / "mask.png"), cv2.IMREAD_UNCHANGED)
    image = cv2.imread(str(folder / "image.png"), cv2.IMREAD_UNCHANGED)
    assert texture.dtype == mask.dtype == image.dtype == np.uint8
    assert texture.ndim == 3 and texture.shape[2] == 4 and mask.ndim == 2 and image.shape[2] == 3
    assert texture.shape[:2] == mask.shape
    assert set(np.unique(mask)) == {0, 255}
    assert np.array_equal(texture[:, :, 3], mask)
    cfg = yaml.safe_load((folder / "char_cfg.yaml").read_text())
    assert (cfg["width"], cfg["height"]) == (mask.shape[1], mask.shape[0])
    assert 300 <= cfg["height"] <= 420
    box = yaml.safe_load((folder / "bounding_box.yaml").read_text())
    assert (box["right"] - box["left"], box["bottom"] - box["top"]) == (cfg["width"], cfg["height"])
    assert 0 <= box["left"] and box["right"] <= image.shape[1] and box["bottom"] <= image.shape[0]
    crop = image[box["top"]:box["bottom"], box["left"]:box["right"]]
    assert np.array_equal(crop, texture[:, :, :3])
    assert not list(folder.glob(".*.tmp"))


def test_the_mask_is_a_filled_silhouette(tmp_path: Path) -> None:
    character = read_character(sample_character_files(tmp_path / "sample"))
    mask = character.mask > 0
    # One piece, no holes: flood-filling the background from the border reaches every empty pixel.
    count, _ = cv2.connectedComponents(mask.astype(np.uint8))
    assert count == 2
    outside = np.pad((~mask).astype(np.uint8) * 255, 1, constant_values=255)
    cv2.floodFill(outside, None, (0, 0), 128)
    assert not np.any(outside == 255)
    # More than ink: the coloured-in shirt and face are inside it.
    assert mask.mean() > 0.25


def test_joints_are_inside_the_figure_and_sided_correctly(tmp_path: Path) -> None:
    folder = sample_character_files(tmp_path / "sample")
    cfg = yaml.safe_load((folder / "char_cfg.yaml").read_text())
    mask = cv2.imread(str(folder / "mask.png"), cv2.IMREAD_GRAYSCALE)
    joints = {j["name"]: j for j in cfg["skeleton"]}
    assert set(joints) == AD_JOINTS
    for joint in cfg["skeleton"]:
        x, y = joint["loc"]
        assert isinstance(x, int) and isinstance(y, int)
        assert 0 <= x < cfg["width"] and 0 <= y < cfg["height"], joint
        assert mask[y, x] == 255, f"{joint['name']} at {(x, y)} is outside the mask"
    assert joints["root"]["parent"] is None and joints["hip"]["parent"] == "root"
    assert joints["root"]["loc"] == joints["hip"]["loc"]
    for part in ("shoulder", "elbow", "hand", "hip", "knee", "foot"):
        assert joints[f"right_{part}"]["loc"][0] < joints[f"left_{part}"]["loc"][0], part
    assert joints["neck"]["loc"][1] < joints["torso"]["loc"][1] < joints["hip"]["loc"][1] < joints["left_foot"]["loc"][1]
    read_character(folder)  # the project's own loader accepts it


def test_sample_files_are_deterministic(tmp_path: Path) -> None:
    first = sample_character_files(tmp_path / "a")
    second = sample_character_files(tmp_path / "b")
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert {"texture.png", "mask.png", "char_cfg.yaml", "bounding_box.yaml", "image.png"} <= set(names)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
