"""Retargeting: unit behaviour on tiny rigs, and frame-by-frame agreement with AD's own output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.pipeline.motion.bvh import parse_bvh, read_bvh
from studio.pipeline.character import Character, read_character
from studio.pipeline.motion.config import MotionConfig, RetargetConfig, read_motion_config, read_retarget_config
from studio.pipeline.motion.normalise import MotionError, normalise_motion
from studio.pipeline.motion.retarget import RetargetError, bone_angles, retarget, runtime_checks
from studio.pipeline.motion.rigdump import rig_dump

# A tiny Y-up biped facing +Z: the character's left is +X.
TINY_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Chest
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT Head
    {
      OFFSET 0 5 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 2 0
      }
    }
    JOINT LArm
    {
      OFFSET 3 0 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      JOINT LHand
      {
        OFFSET 6 0 0
        CHANNELS 3 Zrotation Xrotation Yrotation
        End Site
        {
          OFFSET 1 0 0
        }
      }
    }
    JOINT RArm
    {
      OFFSET -3 0 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET -6 0 0
      }
    }
  }
  JOINT LLeg
  {
    OFFSET 2 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT LFoot
    {
      OFFSET 0 -10 0
      CHANNELS 3 Zrotation Xrotation Yrotation
    }
  }
  JOINT RLeg
  {
    OFFSET -2 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT RFoot
    {
      OFFSET 0 -10 0
      CHANNELS 3 Zrotation Xrotation Yrotation
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.1
0 10 0 0 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0
5 10 0 0 0 0  0 0 0  0 0 0  90 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0
"""

MOTION = MotionConfig(filepath="tiny.bvh", groundplane_joint="LFoot",
                      forward_perp_joint_vectors=(("LArm", "RArm"), ("LLeg", "RLeg")), scale=0.1, up="+y")


def tiny_character(neck_y: float = 10.0) -> Character:
    names = ("root", "torso", "neck", "left_shoulder", "left_elbow", "left_hand")
    parents = (-1, 0, 1, 1, 3, 4)
    rest = np.array([[50, 60], [50, 30], [50, neck_y], [60, 30], [75, 30], [90, 30]], float)
    mask = np.full((100, 100), 255, np.uint8)
    texture = np.zeros((100, 100, 4), np.uint8)
    return Character(names, parents, rest, texture, mask)


def tiny_config(checks: tuple[tuple[str, ...], ...] = ()) -> RetargetConfig:
    return RetargetConfig.from_dict({
        "char_starting_location": [0, 0, -0.5],
        "bvh_projection_bodypart_groups": [
            {"name": "Upper Limbs", "method": "frontal", "bvh_joint_names": ["LArm", "LHand", "LHand_end", "RArm"]},
            {"name": "Lower Limbs", "method": "frontal", "bvh_joint_names": ["LLeg", "LFoot", "RLeg", "RFoot"]},
            {"name": "Trunk", "method": "frontal", "bvh_joint_names": ["Hips", "Chest", "Head"]}],
        "char_bodypart_groups": [
            {"char_joints": ["torso", "neck", "left_shoulder"], "bvh_depth_drivers": ["Hips"]},
            {"char_joints": ["left_elbow", "left_hand"], "bvh_depth_drivers": ["LHand"]}],
        "char_bvh_root_offset": {"bvh_projection_bodypart_group_for_offset": "Lower Limbs",
                                 "bvh_joints": [["LFoot", "LLeg"]], "char_joints": [["torso", "root"]]},
        "char_joint_bvh_joints_mapping": {"torso": ["Hips", "Chest"], "neck": ["Hips", "Head"],
                                          "left_elbow": ["LArm", "LHand"], "left_hand": ["LHand", "LHand_end"]},
        "char_runtime_checks": [list(c) for c in checks],
    })


def test_bone_angles_convention() -> None:
    points = np.array([[0.0, 0.0], [0.0, -1.0], [-1.0, 0.0], [1.0, 0.0]])  # up, left, right of the root
    angles = bone_angles(points, (-1, 0, 0, 0))
    assert np.isnan(angles[0])
    assert angles[1:] == pytest.approx([0.0, 90.0, 270.0])


def test_rest_pose_maps_onto_the_drawing() -> None:
    motion = normalise_motion(parse_bvh(TINY_BVH), MOTION)
    pose = retarget(tiny_character(), motion, tiny_config())
    # Frame 0 is a T-pose like the drawing: every joint stays where it was drawn.
    np.testing.assert_allclose(pose.joints[0], tiny_character().rest, atol=1e-9)
    # The character's left arm points to the viewer's right: 270° (CCW from up).
    assert pose.target_angle[0, 4] == pytest.approx(270.0)


def test_raised_arm_and_root_motion() -> None:
    character = tiny_character()
    pose = retarget(character, normalise_motion(parse_bvh(TINY_BVH), MOTION), tiny_config())
    # Frame 1: LArm rotated +90° about Z: the forearm (LArm→LHand) now points up.
    assert pose.target_angle[1, 4] == pytest.approx(0.0, abs=1e-9)
    hand, elbow = pose.joints[1, 5], pose.joints[1, 4]
    assert hand[1] < elbow[1] - 10  # the hand is above the elbow (y down)
    # The root moved 5 units (0.5 scaled) to the figure's left, which is the viewer's right; scaled by
    # char/BVH chain lengths (30 px / 100 px) / (10 × 0.1) = 0.3, in texture px: 0.5 × 0.3 × 100 = 15.
    assert pose.root_offset[1, 0] == pytest.approx(15.0)
    assert pose.root_offset[1, 1] == pytest.approx(0.0)


def test_arms_inherit_the_neck_through_an_unmapped_shoulder() -> None:
    """AD rule 5: an unmapped shoulder passes the torso frame's (the neck's) rotation on to the arm."""
    character = tiny_character(neck_y=10.0)
    tilted = character.with_rest(character.rest + np.array([[0, 0], [0, 0], [6, 0], [0, 0], [0, 0], [0, 0]]))
    pose = retarget(tilted, normalise_motion(parse_bvh(TINY_BVH), MOTION), tiny_config())
    rest = bone_angles(tilted.rest, tilted.parents)
    delta_neck = (pose.target_angle[0, 2] - rest[2] + 180) % 360 - 180
    assert abs(delta_neck) > 5
    # Upper arm bone = target + Δneck; the torso→shoulder bone = rest + Δneck.
    assert (pose.bone_angle[0, 4] - pose.target_angle[0, 4] - delta_neck + 180) % 360 - 180 == pytest.approx(0, abs=1e-6)
    assert (pose.bone_angle[0, 3] - rest[3] - delta_neck + 180) % 360 - 180 == pytest.approx(0, abs=1e-6)
    # Mapped trunk bones hit their targets exactly.
    assert pose.bone_angle[0, 2] == pytest.approx(pose.target_angle[0, 2])


def test_tadpole_runtime_check_drops_the_neck() -> None:
    check = (("above", "neck", "torso", "left_shoulder"),)
    character = tiny_character(neck_y=40.0)  # "nose" below the shoulder line
    mapping, notes = runtime_checks(character, tiny_config(check))
    assert "neck" not in mapping and "tadpole" in notes[0]
    mapping, notes = runtime_checks(tiny_character(neck_y=10.0), tiny_config(check))
    assert "neck" in mapping and not notes


def test_missing_joints_are_named() -> None:
    character = tiny_character()
    config = tiny_config()
    bad = RetargetConfig(config.char_starting_location, config.projection_groups, config.bodypart_groups,
                         config.root_offset, {**config.joint_mapping, "left_foot": ("LLeg", "LToe")})
    with pytest.raises(RetargetError, match="LToe"):
        retarget(character, normalise_motion(parse_bvh(TINY_BVH), MOTION), bad)
    with pytest.raises(MotionError, match="Spine"):
        normalise_motion(parse_bvh(TINY_BVH), MotionConfig("x", "Spine", (("LArm", "RArm"),), 1.0))


CASES = {
    "char2_dab": ("fair1_dab.bvh", "dab.yaml", "fair1_ppf.yaml"),
    "char2_jumping_jacks": ("cmu1_jumping_jacks.bvh", "jumping_jacks.yaml", "cmu1_pfp.yaml"),
    "char2_jesse_dance": ("rokoko_jesse_dance.bvh", "jesse_dance.yaml", "mixamo_fff.yaml"),
}


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + 180.0) % 360.0 - 180.0


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_ad_reference_frame_by_frame(shared: Path, case: str, tmp_path: Path) -> None:
    bvh_name, motion_name, retarget_name = CASES[case]
    reference_path = shared / "ad_reference" / case / "reference.json"
    if not reference_path.is_file():
        pytest.skip(f"{reference_path} not present")
    reference = json.loads(reference_path.read_text())
    character = read_character(shared / "characters" / "char2")
    motion = normalise_motion(read_bvh(shared / "bvh" / bvh_name),
                              read_motion_config(shared / "ad_config" / "motion" / motion_name))
    pose = retarget(character, motion, read_retarget_config(shared / "ad_config" / "retarget" / retarget_name))
    frames = reference["frames"]
    ref_angle = np.array(frames["bone_angle"], dtype=float)
    error = np.abs(_wrap(pose.bone_angle - ref_angle))
    assert pose.n_frames == len(ref_angle)
    assert np.nanmean(error) <= 1.0 and np.nanmax(error) <= 5.0
    assert np.nanmax(error) < 0.01  # we actually reproduce AD to rounding
    np.testing.assert_allclose(pose.joints, np.array(frames["px"]), atol=0.01)
    np.testing.assert_array_equal(pose.draw_order, np.array(frames["draw_order"]))
    np.testing.assert_array_equal(pose.group_reversed, np.array(frames["group_reversed"], bool))
    assert pose.char_to_bvh_scale == pytest.approx(reference["meta"]["char_to_bvh_scale"], rel=1e-6)

    # AD's own comparison script agrees, with a 1° mean threshold instead of its lenient 2°.
    dump = tmp_path / "ours.json"
    dump.write_text(json.dumps(rig_dump(pose, character, case)))
    result = subprocess.run([sys.executable, str(shared / "ad_reference" / "compare.py"), str(reference_path),
                             str(dump), "--max-mean-angle", "1.0"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_momentarily_sideways_frame_keeps_the_previous_heading() -> None:
    """Frame 1's shoulder and hip pairs are rotated to vertical: forward is undefined there."""
    text = TINY_BVH.replace("Frames: 2", "Frames: 3")
    sideways = "0 10 0 90 0 0" + "  0 0 0" * 9
    bvh = parse_bvh(text.rstrip("\n") + "\n" + sideways + "\n")
    bvh = bvh.with_motion(bvh.motion[[0, 2, 1]])
    motion = normalise_motion(bvh, MOTION)
    np.testing.assert_allclose(motion.forward[1], motion.forward[0])
