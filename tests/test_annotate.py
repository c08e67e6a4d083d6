"""Annotation end to end with the manual backend, the COCO↔AD conversion, and the CLI commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from studio.core.annotate import annotate, write_annotation
from studio.cli.main import main
from studio.pipeline.character import read_character
from studio.pipeline.pose.manual import ManualBackend, TEMPLATE, template_keypoints
from studio.pipeline.pose.backend import AD_SKELETON, ad_to_coco, coco_to_ad


def test_coco_to_ad_follows_ads_table() -> None:
    kp = np.arange(17 * 2, dtype=float).reshape(17, 2)
    names, parents, locs = coco_to_ad(kp)
    assert names[:4] == ("root", "hip", "torso", "neck") and parents[:4] == (None, "root", "hip", "torso")
    np.testing.assert_allclose(locs[0], (kp[11] + kp[12]) / 2)
    np.testing.assert_allclose(locs[2], (kp[5] + kp[6]) / 2)
    np.testing.assert_allclose(locs[names.index("right_hand")], kp[10])
    np.testing.assert_allclose(locs[names.index("left_foot")], kp[15])
    assert len(AD_SKELETON) == 16


def test_ad_to_coco_inverts_the_conversion() -> None:
    kp = template_keypoints((10, 20, 110, 220))[:, :2]
    names, _, locs = coco_to_ad(kp)
    back = ad_to_coco(names, locs)
    used = [0, *range(5, 17)]  # eyes and ears are dropped by AD and only re-placed around the nose
    np.testing.assert_allclose(back[used], kp[used])
    np.testing.assert_allclose(coco_to_ad(back)[2], locs)


def test_template_is_a_sensible_figure() -> None:
    left = TEMPLATE[[5, 7, 9, 11, 13, 15], 0]
    right = TEMPLATE[[6, 8, 10, 12, 14, 16], 0]
    assert (left > 0.5).all() and (right < 0.5).all()  # the figure's left is on the image's right
    assert TEMPLATE[0, 1] < TEMPLATE[5, 1] < TEMPLATE[11, 1] < TEMPLATE[13, 1] < TEMPLATE[15, 1]


def drawing_file(tmp_path: Path) -> Path:
    rgb = np.full((400, 300, 3), 240, np.uint8)
    cv2.circle(rgb, (150, 90), 40, (30, 30, 30), 4)
    cv2.rectangle(rgb, (110, 130), (190, 260), (30, 30, 30), 4)
    for a, b in (((110, 150), (40, 200)), ((190, 150), (260, 200)), ((130, 260), (110, 360)), ((170, 260), (190, 360))):
        cv2.line(rgb, a, b, (30, 30, 30), 8)
    path = tmp_path / "drawing.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def test_annotate_writes_a_renderable_ad_folder(tmp_path: Path) -> None:
    result = annotate(drawing_file(tmp_path), ManualBackend())
    folder = write_annotation(result, tmp_path / "char")
    for name in ("char_cfg.yaml", "texture.png", "mask.png", "bounding_box.yaml", "image.png", "joint_overlay.png"):
        assert (folder / name).is_file(), name
    character = read_character(folder)
    assert len(character.names) == 16 and character.bounding_box is not None
    xs, ys = character.rest[:, 0].astype(int), character.rest[:, 1].astype(int)
    assert (character.mask[ys, xs] == 255).all()  # every joint sits on the figure
    assert main(["render", str(folder), "-m", "wave", "-n", "6", "-s", "96", "-o", str(tmp_path / "w.gif")]) == 0


def test_a_late_write_failure_leaves_no_half_character(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import studio.core.annotate as annotate_module

    result = annotate(drawing_file(tmp_path), ManualBackend())
    folder = write_annotation(result, tmp_path / "kept")  # a character already there, with the user's notes
    (folder / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def disk_full(_: object) -> None:  # the overlay is written last: a full disk by then
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(annotate_module, "joint_overlay", disk_full)
    with pytest.raises(OSError):
        write_annotation(result, tmp_path / "new" / "char")
    assert (tmp_path / "new").is_dir() and list((tmp_path / "new").iterdir()) == []  # no half folder, no temp
    with pytest.raises(OSError):
        write_annotation(result, folder)  # --force over a character: what was there stays readable
    assert {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}.keys() == before.keys()
    assert (folder / "notes.txt").read_text() == "mine" and len(read_character(folder).names) == 16


def test_annotate_into_the_current_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = tmp_path / "char"
    here.mkdir()
    monkeypatch.chdir(here)
    folder = write_annotation(annotate(drawing_file(tmp_path), ManualBackend()), ".")
    assert folder == Path(".") and here.is_dir() and len(read_character(here).names) == 16
    assert sorted(p.name for p in here.iterdir() if p.name.startswith(".")) == []  # no staging left behind


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "studio.cli.main", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # end to end: `studio pose` in a subprocess
def test_pose_prints_17_keypoints_in_original_pixels(tmp_path: Path) -> None:
    result = run_cli("pose", str(drawing_file(tmp_path)), "--box", "full", "--json")
    points = json.loads(result.stdout)
    assert result.returncode == 0 and len(points) == 17 and all(len(p) == 3 for p in points)
    assert 0 <= points[0][0] <= 300 and 0 <= points[16][1] <= 400


@pytest.mark.slow  # end to end: `studio pose` in a subprocess
def test_pose_box_is_in_original_pixels_like_its_output(tmp_path: Path) -> None:
    photo = tmp_path / "big.png"  # 2400 px wide: the studio works on it at 1000 px
    cv2.imwrite(str(photo), np.full((1800, 2400, 3), 255, np.uint8))
    result = run_cli("pose", str(photo), "--backend", "manual", "--box", "1200,300,1800,1500", "--json")
    points = np.array(json.loads(result.stdout))
    assert result.returncode == 0, result.stderr
    assert points[:, 0].min() >= 1200 - 1 and points[:, 0].max() <= 1800 + 1
    assert points[:, 1].min() >= 300 - 1 and points[:, 1].max() <= 1500 + 1
    assert np.ptp(points[:, 1]) > 0.6 * 1200  # the skeleton spans the box, not half of it


@pytest.mark.slow  # end to end: `studio pose`/`annotate` in a subprocess
@pytest.mark.parametrize("command", ["pose", "annotate"])
def test_a_box_outside_the_image_is_refused(tmp_path: Path, command: str) -> None:
    extra = ["-o", str(tmp_path / "out")] if command == "annotate" else []
    result = run_cli(command, str(drawing_file(tmp_path)), "--backend", "manual", "--box", "500,10,600,90", *extra)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the box 500,10,600,90 lies outside the 300×400 px image" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # end to end: `studio annotate` in a subprocess
@pytest.mark.parametrize("args, match", [
    (["annotate", "{notimage}", "-o", "{out}"], "not an image"),
    (["annotate", "{blank}", "-o", "{out}"], "no figure found"),
    (["annotate", "{drawing}", "-o", "{out}", "--backend", "torchserve"], "needs --endpoint"),
    (["annotate", "{drawing}", "-o", "{out}", "--backend", "torch"], "needs --checkpoint"),
])
def test_annotate_errors(tmp_path: Path, args: list[str], match: str) -> None:
    (tmp_path / "notes.png").write_text("not really a png")
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((50, 50, 3), 250, np.uint8))
    values = {"notimage": str(tmp_path / "notes.png"), "blank": str(tmp_path / "blank.png"),
              "drawing": str(drawing_file(tmp_path)), "out": str(tmp_path / "out")}
    result = run_cli(*[a.format(**values) for a in args])
    assert result.returncode == 1 and match in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_garlic_annotates_and_renders(shared: Path, tmp_path: Path) -> None:
    assert main(["annotate", str(shared / "drawings" / "garlic.png"), "-o", str(tmp_path / "garlic")]) == 0
    character = read_character(tmp_path / "garlic")
    assert character.width > 400 and character.height > 500  # the figure, not a corner of the photo
    assert main(["render", str(tmp_path / "garlic"), "-m", "jump", "-n", "5", "-s", "96",
                 "-o", str(tmp_path / "g.gif")]) == 0


def test_low_confidence_joints_are_reported(tmp_path: Path) -> None:
    class Unsure(ManualBackend):
        def pose(self, image_rgb, box):  # type: ignore[no-untyped-def]
            result = super().pose(image_rgb, box)
            keypoints = result.keypoints.copy()
            keypoints[:, 2] = 0.9
            keypoints[9, 2] = 0.1  # left wrist
            return type(result)(keypoints)

    result = annotate(drawing_file(tmp_path), Unsure())
    assert any("low confidence" in n and "left hand" in n for n in result.notes)
    assert result.unsure == ("left_hand",)


def test_a_detector_score_outside_0_to_1_is_refused(tmp_path: Path) -> None:
    """A detector score of 50 was taken as the most confident figure."""
    from studio.pipeline.pose.backend import BackendError, Detection

    class Wild(ManualBackend):
        def detect(self, image_rgb):  # type: ignore[no-untyped-def]
            (found,) = super().detect(image_rgb)
            return [Detection(found.box, 50.0)]

    with pytest.raises(BackendError, match=r"^the manual detector returned a score of 50, outside 0\.\.1"):
        annotate(drawing_file(tmp_path), Wild())


@pytest.mark.slow  # end to end: `studio annotate` in a subprocess, four times
def test_annotate_never_overwrites_the_drawing_or_a_character_without_force(tmp_path: Path) -> None:
    """AD's folders keep the drawing as image.png: annotating it into its own folder would replace the photo
    with the working copy, and the hand-fixed char_cfg.yaml with a fresh guess."""
    folder = tmp_path / "char"
    folder.mkdir()
    photo = folder / "image.png"
    photo.write_bytes(drawing_file(tmp_path).read_bytes())
    (folder / "char_cfg.yaml").write_text("fixed: by hand\n")
    before = photo.read_bytes()
    result = run_cli("annotate", str(photo), "-o", str(folder), "--force")
    assert result.returncode == 1 and "would be overwritten" in result.stderr and "Traceback" not in result.stderr
    elsewhere = drawing_file(tmp_path)
    result = run_cli("annotate", str(elsewhere), "-o", str(folder))
    assert result.returncode == 1 and "--force" in result.stderr
    assert photo.read_bytes() == before and (folder / "char_cfg.yaml").read_text() == "fixed: by hand\n"
    result = run_cli("annotate", str(elsewhere), "-o", str(folder), "--force")
    assert result.returncode == 0, result.stderr
    assert photo.read_bytes() != before and "skeleton" in (folder / "char_cfg.yaml").read_text()
    (tmp_path / "afile").write_text("x")
    result = run_cli("annotate", str(elsewhere), "-o", str(tmp_path / "afile"))
    assert result.returncode == 1 and "is a file" in result.stderr


@pytest.mark.slow  # end to end: `studio annotate` in a subprocess
def test_file_system_errors_read_as_sentences_not_errno(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = run_cli("annotate", str(drawing_file(tmp_path)), "-o", str(tmp_path / "afile" / "inside"))
    assert result.returncode == 1 and "Errno" not in result.stderr and "Traceback" not in result.stderr
    assert "afile" in result.stderr and "not a directory" in result.stderr


def test_an_unsure_hip_is_named_once_not_as_root_and_hip(tmp_path: Path) -> None:
    class UnsureHips(ManualBackend):
        def pose(self, image_rgb, box):  # type: ignore[no-untyped-def]
            result = super().pose(image_rgb, box)
            keypoints = result.keypoints.copy()
            keypoints[:, 2] = 0.9
            keypoints[11, 2] = 0.1  # left hip: AD's root, hip and left_hip are all built from it
            return type(result)(keypoints)

    result = annotate(drawing_file(tmp_path), UnsureHips())
    assert set(result.unsure) == {"root", "hip", "left_hip"}  # all three are ringed in the editor
    assert "low confidence: check hip, left hip" in result.notes
