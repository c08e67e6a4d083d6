"""--dump-rig's frames: output frame k of a resampled clip is labelled with the clip frame and time it shows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.pipeline.character import Character, read_character
from studio.pipeline.motion.bvh import read_bvh
from studio.pipeline.motion.clip import resample_clip
from studio.pipeline.motion.config import read_motion_config, read_retarget_config
from studio.pipeline.motion.normalise import normalise_motion
from studio.pipeline.motion.retarget import Pose2D, retarget
from studio.pipeline.motion.rigdump import rig_dump


def _dump(clip_frames: np.ndarray | None = None, clip_frame_time: float | None = None) -> dict:
    """A root and one bone swinging over 5 output frames, 0.1 s apart."""
    character = Character(("root", "hand"), (-1, 0), np.array([[5.0, 5.0], [5.0, 1.0]]),
                          np.zeros((10, 10, 4), np.uint8), np.full((10, 10), 255, np.uint8))
    joints = np.array([[[5.0, 5.0], [5.0 + k, 1.0]] for k in range(5)])
    angles = np.array([[np.nan, 360.0 - 15.0 * k] for k in range(5)])
    pose = Pose2D(joints, angles, angles, np.zeros((5, 2)), np.zeros((5, 1)), np.zeros((5, 1), int),
                  np.zeros((5, 1), bool), {}, {}, 1.0, 0.1)
    return rig_dump(pose, character, "tiny", clip_frames=clip_frames, clip_frame_time=clip_frame_time)


def test_an_unresampled_dump_labels_output_frame_k_as_clip_frame_k() -> None:
    dump = _dump()
    assert dump["meta"]["format"] == "ad_ref_v1" and dump["meta"]["resampled"] is False
    assert dump["meta"]["frame_time"] == dump["meta"]["clip_frame_time"] == pytest.approx(0.1)
    assert dump["frames"]["bvh_frame_idx"] == [0, 1, 2, 3, 4]
    assert dump["frames"]["clip_frame"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert dump["frames"]["time"] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert _dump(clip_frame_time=0.1) == dump  # the caller may always pass the clip's frame time
    json.dumps(dump)


def test_a_resampled_dump_labels_the_clip_frame_and_time_each_output_frame_shows() -> None:
    """10 clip frames at 0.01 s shown as the 5 output frames of a 50 fps GIF (clip frames 0, 2.5, 5, 7.5, 9)."""
    dump = _dump(np.array([0.0, 2.5, 5.0, 7.5, 9.0]), 0.01)
    meta, frames = dump["meta"], dump["frames"]
    assert meta["resampled"] is True and meta["clip_frame_time"] == 0.01
    assert frames["clip_frame"] == [0.0, 2.5, 5.0, 7.5, 9.0]
    assert frames["time"] == [0.0, 0.025, 0.05, 0.075, 0.09]
    assert frames["bvh_frame_idx"] == [0, 3, 5, 8, 9]  # the nearest clip frame; a half rounds up


@pytest.mark.parametrize("frames, frame_time", [(np.arange(4.0), 0.1), (np.arange(5.0), None),
                                                (np.array([0, 1, 2, 3, np.nan]), 0.1), (-np.arange(5.0), 0.1)])
def test_clip_frames_must_fit_the_pose(frames: np.ndarray | None, frame_time: float | None) -> None:
    with pytest.raises(ValueError):
        _dump(frames, frame_time)


def test_a_resampled_dump_matches_the_source_on_the_clip_frames_it_shows(shared: Path) -> None:
    """jumping_jacks' 125 frames resampled to 25: output frame k shows clip frame 5k, and the dump says so."""
    character = read_character(shared / "characters" / "char2")
    config = read_motion_config(shared / "ad_config" / "motion" / "jumping_jacks.yaml")
    retarget_config = read_retarget_config(shared / "ad_config" / "retarget" / "cmu1_pfp.yaml")
    clip = read_bvh(shared / "bvh" / "cmu1_jumping_jacks.bvh")
    source = rig_dump(retarget(character, normalise_motion(clip, config), retarget_config), character, "jj")
    reference = json.loads((shared / "ad_reference" / "char2_jumping_jacks" / "reference.json").read_text())
    for field in ("bvh_frame_idx", "time"):  # unresampled, the labels are AD's own
        np.testing.assert_allclose(source["frames"][field], reference["frames"][field], atol=1e-6, err_msg=field)
    fewer = retarget(character, normalise_motion(resample_clip(clip, 25), config), retarget_config)
    dump = rig_dump(fewer, character, "jj", clip_frames=np.arange(25) * 125 / 25, clip_frame_time=clip.frame_time)
    shown = dump["frames"]["bvh_frame_idx"]
    assert shown == list(range(0, 125, 5))
    assert dump["frames"]["time"] == [source["frames"]["time"][k] for k in shown]
    assert dump["frames"]["draw_order"] == [source["frames"]["draw_order"][k] for k in shown]
    np.testing.assert_allclose(np.array(dump["frames"]["bone_angle"], float),
                               np.array(source["frames"]["bone_angle"], float)[shown], atol=0.002)
    # Root travel sums AD's per-frame steps, so it drifts a little with fewer frames; the pose about the root does not.
    ours, theirs = np.array(dump["frames"]["px"]), np.array(source["frames"]["px"])[shown]
    np.testing.assert_allclose(ours - ours[:, :1], theirs - theirs[:, :1], atol=0.002)
    np.testing.assert_allclose(ours, theirs, atol=0.25)
