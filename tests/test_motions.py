"""The bundled motion clips (they parse, loop, fit their configs, and regenerate byte for byte), and where a motion
config's filepath may point."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from studio.core import motion_source
from studio.core.motion_source import MotionSourceError, load_motion
from studio.pipeline.motion.bvh import BvhError, parse_bvh, read_bvh
from studio.pipeline.motion.bvh_writer import format_bvh
from studio.pipeline.motion.config import read_motion_config, read_retarget_config
from studio.pipeline.motion.kinematics import world_positions
from studio.pipeline.motion.normalise import normalise_motion
from studio.core.sample import sample_character

MOTIONS = Path(__file__).resolve().parents[1] / "motions"
CLIPS = sorted(p.name[: -len(".motion.yaml")] for p in MOTIONS.glob("*.motion.yaml"))
REQUIRED = {"idle", "walk", "wave", "jump", "dance", "cheer"}


def _author() -> ModuleType:
    spec = importlib.util.spec_from_file_location("motions_author", MOTIONS / "author.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass needs to find its module
    spec.loader.exec_module(module)
    return module


def test_the_library_has_the_required_clips() -> None:
    assert REQUIRED <= set(CLIPS)
    assert {p.stem for p in MOTIONS.glob("*.bvh")} == set(CLIPS)


@pytest.mark.parametrize("name", CLIPS)
def test_clip_parses_loops_and_lasts_two_to_four_seconds(name: str) -> None:
    bvh = read_bvh(MOTIONS / f"{name}.bvh")
    assert bvh.frame_time == pytest.approx(1 / 30, abs=1e-7)
    assert 2.0 <= bvh.duration <= 4.0
    np.testing.assert_allclose(bvh.motion[0], bvh.motion[-1], atol=1e-6)
    # No channel jumps between frames (an Euler flip would show up here).
    assert np.abs(np.diff(bvh.motion, axis=0)).max() < 45.0
    assert parse_bvh(format_bvh(bvh)).names == bvh.names


@pytest.mark.parametrize("name", CLIPS)
def test_clip_stands_on_the_ground_at_frame_zero(name: str) -> None:
    bvh = read_bvh(MOTIONS / f"{name}.bvh")
    pos = world_positions(bvh)[0]
    toes = [pos[bvh.index(f"{side}ToeBase_end"), 1] for side in ("Left", "Right")]
    ankles = [pos[bvh.index(f"{side}Foot"), 1] for side in ("Left", "Right")]
    assert all(-0.5 <= y <= 1.0 for y in toes), toes
    assert all(5.0 <= y <= 12.0 for y in ankles), ankles
    height = pos[bvh.index("Head_end"), 1] - min(toes)
    assert 150.0 <= height <= 180.0
    # The figure faces +Z: its left shoulder is at +X.
    assert pos[bvh.index("LeftArm"), 0] > pos[bvh.index("RightArm"), 0]


@pytest.mark.parametrize("name", CLIPS)
def test_clip_has_configs_that_fit_it(name: str) -> None:
    config = read_motion_config(MOTIONS / f"{name}.motion.yaml")
    assert config.filepath == f"{name}.bvh"
    assert config.up == "+y" and 0.005 <= config.scale <= 0.02
    bvh = read_bvh(MOTIONS / config.filepath)
    retarget = read_retarget_config(MOTIONS / "biped.retarget.yaml")
    used = {n for pair in retarget.joint_mapping.values() for n in pair}
    used |= {n for g in retarget.projection_groups for n in g.bvh_joint_names}
    used |= {n for g in retarget.bodypart_groups for n in g.bvh_depth_drivers}
    assert used <= set(bvh.names)
    motion = normalise_motion(bvh, config)
    assert np.all(np.isfinite(motion.local))
    # Normalised, the figure faces +X and stays roughly facing it (frontal clips).
    assert np.all(motion.forward[:, 0] > 0.9)


def test_retarget_config_is_frontal_and_maps_every_limb() -> None:
    retarget = read_retarget_config(MOTIONS / "biped.retarget.yaml")
    assert {g.method for g in retarget.projection_groups} == {"frontal"}
    limbs = {f"{side}_{j}" for side in ("left", "right") for j in ("elbow", "hand", "knee", "foot")}
    assert limbs | {"torso", "neck"} == set(retarget.joint_mapping)


def test_author_regenerates_identical_files(tmp_path: Path) -> None:
    written = _author().generate(tmp_path)
    assert written
    committed = sorted(p.name for p in MOTIONS.iterdir() if p.suffix in (".bvh", ".yaml"))
    assert sorted(p.name for p in written) == committed
    for path in written:
        assert path.read_bytes() == (MOTIONS / path.name).read_bytes(), f"{path.name} differs: run motions/author.py"


# --- a motion config's filepath -------------------------------------------------------------------------------


def _config(folder: Path, filepath: str) -> Path:
    """An AD motion config in ``folder`` whose filepath is ``filepath`` (the rest copied from the walk clip's)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (MOTIONS / "walk.motion.yaml").read_text().replace("filepath: walk.bvh", f"filepath: '{filepath}'")
    assert f"filepath: '{filepath}'" in text
    (folder / "m.motion.yaml").write_text(text)
    return folder / "m.motion.yaml"


def test_a_filepath_that_is_not_a_bvh_file_is_refused_unopened(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, ``../../../secret.txt`` (like ``../../../etc/passwd``) was read, then called 'not a BVH file'."""
    (tmp_path / "secret.txt").write_text("root:x:0:0\n")
    config = _config(tmp_path / "a" / "b" / "c", "../../../secret.txt")
    monkeypatch.setattr(motion_source, "read_bvh", lambda path: pytest.fail(f"{path} was opened"))
    with pytest.raises(MotionSourceError) as info:
        load_motion(str(config), sample_character())
    assert str(info.value) == (f"{config}: its filepath '../../../secret.txt' (resolved to "
                               f"{str(tmp_path / 'secret.txt')!r}) is not a .bvh file; pass the clip with --bvh "
                               "FILE.bvh")


def test_a_bvh_outside_the_config_folder_is_read_and_errors_name_its_resolved_path(tmp_path: Path) -> None:
    """A user's config may point at their clip folder; a read error names the file, without '..' in it."""
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "bad.bvh").write_text("HIERARCHY\nROOT A\n{\n")
    config = _config(tmp_path / "configs", "../clips/bad.bvh")
    with pytest.raises(BvhError, match=f"^{re.escape(str(tmp_path / 'clips' / 'bad.bvh'))}, line 3: no MOTION section"):
        load_motion(str(config), sample_character())
    shutil.copy(MOTIONS / "walk.bvh", tmp_path / "clips" / "bad.bvh")
    assert load_motion(str(config), sample_character()).bvh.n_frames == read_bvh(MOTIONS / "walk.bvh").n_frames


@pytest.mark.parametrize(("filepath", "words"), [
    ("a" * 5000 + ".bvh", r"its filepath 'a{60}…a{56}\.bvh' cannot be looked up \(File name too long\)"),
    ("**.bvh", r"its filepath '\*\*\.bvh' does not exist \(not at '.*\*\*\.bvh'\)"),
])
def test_an_odd_bvh_filepath_is_a_sentence(tmp_path: Path, filepath: str, words: str) -> None:
    """Before: OSError quoting the 5000-character name; ValueError 'Invalid pattern' from a glob."""
    config = _config(tmp_path, filepath)
    with pytest.raises(MotionSourceError, match=f"^{re.escape(str(config))}: {words}; pass the clip with --bvh"):
        load_motion(str(config), sample_character())
