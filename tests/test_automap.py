"""Automatic motion/retarget configs: name families, hierarchy tie-breaks, up axis, errors, AD's own configs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

from studio.pipeline.motion.automap import (MappingError, auto_configs, detect_family, infer_motion_config,
                                     infer_retarget_config)
from studio.pipeline.motion.bvh import Bvh, parse_bvh, read_bvh
from studio.pipeline.motion.config import read_motion_config, read_retarget_config
from studio.pipeline.motion.joint_names import parse_bvh_name, parse_char_name

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data (AD's sample BVHs, configs and "
                                  "characters) is not present: it is not part of a user's clone")

# A T-posed humanoid, Y-up, facing +z (its left is +x): key → (parent key, offset). Keys left out of a
# family's names are skipped, their children hang from the nearest kept ancestor.
TEMPLATE: dict[str, tuple[str | None, tuple[float, float, float]]] = {
    "hips": (None, (0, 0, 0)), "spine": ("hips", (0, 8, 0)), "chest": ("spine", (0, 8, 0)),
    "neck": ("chest", (0, 8, 0)), "head": ("neck", (0, 5, 0)),
    "L.clavicle": ("chest", (2, 6, 0)), "L.upper_arm": ("L.clavicle", (4, 0, 0)),
    "L.forearm": ("L.upper_arm", (10, 0, 0)), "L.hand": ("L.forearm", (9, 0, 0)), "L.hand_end": ("L.hand", (3, 0, 0)),
    "L.pelvis": ("hips", (0, 0, 0)), "L.upleg": ("L.pelvis", (3, -2, 0)), "L.leg": ("L.upleg", (0, -18, 0)),
    "L.foot": ("L.leg", (0, -17, 0)), "L.toe": ("L.foot", (0, -2, 5)),
}
TEMPLATE.update({"R." + k[2:]: ("R." + p[2:] if p and p.startswith("L.") else p, (-o[0], o[1], o[2]))
                 for k, (p, o) in list(TEMPLATE.items()) if k.startswith("L.")})


def make_bvh(names: dict[str, str], extra: tuple[tuple[str, str, tuple[float, float, float]], ...] = (),
             reparent: dict[str, str] | None = None, up: str = "y",
             offsets: dict[str, tuple[float, float, float]] | None = None) -> Bvh:
    """A two-frame BVH with the template's joints renamed by ``names`` (key → joint name), plus ``extra``
    (name, parent name, offset) joints; ``reparent`` moves a key under another key or extra joint and
    ``offsets`` replaces a key's offset."""
    reparent, offsets = reparent or {}, offsets or {}
    nodes: dict[str, tuple[str | None, np.ndarray]] = {}
    for key, (parent, offset) in TEMPLATE.items():
        if key not in names:
            continue
        total = np.array(offsets.get(key, offset), float)
        parent = reparent.get(key, parent)
        while parent in TEMPLATE and parent not in names:
            total += TEMPLATE[parent][1]
            parent = TEMPLATE[parent][0]
        nodes[names[key]] = (names.get(parent, parent) if parent else None, total)
    for name, parent, offset in extra:
        nodes[name] = (names.get(parent, parent), np.array(offset, float))
    if up == "z":  # (x, y, z) y-up → (x, -z, y) z-up
        nodes = {n: (p, np.array([o[0], -o[2], o[1]])) for n, (p, o) in nodes.items()}
    lines = ["HIERARCHY"]
    n_channels = 0

    def emit(name: str, depth: int) -> None:
        nonlocal n_channels
        pad, (parent, offset) = "  " * depth, nodes[name]
        lines.append(f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}\n{pad}{{")
        lines.append(f"{pad}  OFFSET {offset[0]:g} {offset[1]:g} {offset[2]:g}")
        chans = ("Xposition Yposition Zposition " if parent is None else "") + "Zrotation Xrotation Yrotation"
        n_channels += len(chans.split())
        lines.append(f"{pad}  CHANNELS {len(chans.split())} {chans}")
        kids = [n for n, (p, _) in nodes.items() if p == name]
        for kid in kids:
            emit(kid, depth + 1)
        if not kids:
            lines.append(f"{pad}  End Site\n{pad}  {{\n{pad}    OFFSET 0 1 0\n{pad}  }}")
        lines.append(f"{pad}}}")

    emit(next(n for n, (p, _) in nodes.items() if p is None), 0)
    frame = " ".join(["0"] * n_channels)
    wiggle = " ".join(["0", "0", "0"] + ["3"] * (n_channels - 3))
    lines += ["MOTION", "Frames: 2", "Frame Time: 0.0333333", frame, wiggle]
    return parse_bvh("\n".join(lines) + "\n")


def sided(pattern: dict[str, str]) -> dict[str, str]:
    """Expand {'L.forearm': '{Side}ForeArm'} templates for both sides ({Side}, {S}, {s})."""
    out = {}
    for key, value in pattern.items():
        if key.startswith("S."):
            for side, Side in (("L", "Left"), ("R", "Right")):
                out[f"{side}.{key[2:]}"] = value.format(Side=Side, S=side, s=side.lower())
        else:
            out[key] = value
    return out


FAIR1 = sided({"hips": "Hips", "spine": "Spine", "chest": "Spine3", "neck": "Neck", "head": "Head",
               "S.clavicle": "{Side}Shoulder", "S.upper_arm": "{Side}Arm", "S.forearm": "{Side}ForeArm",
               "S.hand": "{Side}Hand", "S.hand_end": "{Side}HandEnd", "S.upleg": "{Side}UpLeg", "S.leg": "{Side}Leg",
               "S.foot": "{Side}Foot", "S.toe": "{Side}ToeBase"})
CMU = sided({"hips": "Hips", "spine": "lowerback", "chest": "Chest2", "neck": "Neck", "head": "Head",
             "S.clavicle": "{Side}Collar", "S.upper_arm": "{Side}Shoulder", "S.forearm": "{Side}Elbow",
             "S.hand": "{Side}Wrist", "S.hand_end": "{S}Fingers", "S.pelvis": "{S}HipJoint", "S.upleg": "{Side}Hip",
             "S.leg": "{Side}Knee", "S.foot": "{Side}Ankle", "S.toe": "{Side}Toe"})
MIXAMO = {k: "mixamorig:" + v.replace("Spine3", "Spine2").replace("HandEnd", "HandIndex1")
          for k, v in FAIR1.items()}
# bvh.py splits names at spaces, so Biped's "Bip01 L Thigh" is written with underscores here.
BIPED = sided({"hips": "Bip01_Pelvis", "spine": "Bip01_Spine", "chest": "Bip01_Spine1", "neck": "Bip01_Neck",
               "head": "Bip01_Head", "S.clavicle": "Bip01_{S}_Clavicle", "S.upper_arm": "Bip01_{S}_UpperArm",
               "S.forearm": "Bip01_{S}_Forearm", "S.hand": "Bip01_{S}_Hand", "S.hand_end": "Bip01_{S}_Finger1",
               "S.upleg": "Bip01_{S}_Thigh", "S.leg": "Bip01_{S}_Calf", "S.foot": "Bip01_{S}_Foot",
               "S.toe": "Bip01_{S}_Toe0"})
DAZ = sided({"hips": "hip", "spine": "abdomen", "chest": "chest", "neck": "neck", "head": "head",
             "S.clavicle": "{s}Collar", "S.upper_arm": "{s}Shldr", "S.forearm": "{s}ForeArm", "S.hand": "{s}Hand",
             "S.upleg": "{s}Thigh", "S.leg": "{s}Shin", "S.foot": "{s}Foot"})
UNREAL = sided({"hips": "pelvis", "spine": "spine_01", "chest": "spine_03", "neck": "neck_01", "head": "head",
                "S.clavicle": "clavicle_{s}", "S.upper_arm": "upperarm_{s}", "S.forearm": "lowerarm_{s}",
                "S.hand": "hand_{s}", "S.upleg": "thigh_{s}", "S.leg": "calf_{s}", "S.foot": "foot_{s}",
                "S.toe": "ball_{s}"})
UPLOW = sided({"hips": "Hips", "chest": "Chest", "neck": "Neck", "head": "Head", "S.upper_arm": "{Side}UpArm",
               "S.forearm": "{Side}LowArm", "S.hand": "{Side}Hand", "S.upleg": "{Side}UpLeg", "S.leg": "{Side}LowLeg",
               "S.foot": "{Side}Foot"})
KINECT = sided({"hips": "pelvis", "chest": "thorax", "neck": "neck", "head": "head", "S.upper_arm": "{s}_shoulder",
                "S.forearm": "{s}_elbow", "S.hand": "{s}_wrist", "S.upleg": "{s}_hip", "S.leg": "{s}_knee",
                "S.foot": "{s}_ankle"})
CHAR2 = ["root", "hip", "torso", "neck", "right_shoulder", "right_elbow", "right_hand", "left_shoulder", "left_elbow",
         "left_hand", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot"]
CHAR2_PARENTS = [None, "root", "hip", "torso", "torso", "right_shoulder", "right_elbow", "torso", "left_shoulder",
                 "left_elbow", "root", "right_hip", "right_knee", "root", "left_hip", "left_knee"]
ROLES = ["hips", "chest", "neck", "head", "upper_arm", "forearm", "hand", "upleg", "leg", "foot"]


def expected_roles(names: dict[str, str]) -> dict[str, str]:
    out = {}
    for role in ROLES:
        for key in ([role] if role in ("hips", "chest", "neck", "head") else [f"L.{role}", f"R.{role}"]):
            if key in names:
                out[key.replace("L.", "left_").replace("R.", "right_")] = names[key]
    return out


@pytest.mark.parametrize("names, family, prefix, reparent", [
    (FAIR1, "fair1", "", None),
    (CMU, "cmu", "", None),
    (MIXAMO, "mixamo", "mixamorig:", None),
    (BIPED, "3dsmax", "Bip01_", {"L.clavicle": "neck", "R.clavicle": "neck", "L.upleg": "spine", "R.upleg": "spine"}),
    (DAZ, "daz", "", None),
    (UNREAL, "unreal", "", None),
    (UPLOW, "biped", "", None),
    (KINECT, "biped", "", None),
])
def test_every_family_finds_every_role(names: dict[str, str], family: str, prefix: str,
                                       reparent: dict[str, str] | None) -> None:
    found = detect_family(make_bvh(names, reparent=reparent))
    assert (found.name, found.prefix) == (family, prefix)
    assert {k: v for k, v in found.roles.items() if k in expected_roles(names)} == expected_roles(names)
    config = infer_retarget_config(make_bvh(names, reparent=reparent), CHAR2, CHAR2_PARENTS)
    assert config.joint_mapping["left_elbow"] == (names["L.upper_arm"], names["L.forearm"])
    assert config.joint_mapping["right_foot"] == (names["R.leg"], names["R.foot"])
    assert config.joint_mapping["torso"] == (names["hips"], names["chest"])


def test_name_parsing_strips_namespaces_and_separators() -> None:
    cases = {"mixamorig1:LeftForeArm": ("left", "forearm"), "Armature|Character1_RightUpLeg": ("right", "upleg"),
             "Bip001 R Calf": ("right", "calf"), "Bip01 L UpperArm": ("left", "upperarm"),
             "upperarm_l": ("left", "upperarm"), "DEF-upper_arm.L": ("left", "upperarm"),
             "LHipJoint": ("left", "hipjoint"), "lhand": ("left", "hand"), "lowerback": (None, "lowerback"),
             "HandLeft": ("left", "hand"), "lShldr": ("left", "shldr"), "Spine3": (None, "spine3")}
    for name, (side, base) in cases.items():
        parts = parse_bvh_name(name)
        assert (parts.side, parts.base) == (side, base), name
    for name, expected in {"right_elbow3": ("right", "elbow", "3"), "left_knee_f": ("left", "knee", "f"),
                           "neck": (None, "neck", "")}.items():
        parts = parse_char_name(name)
        assert (parts.side, parts.base, parts.variant) == expected


def test_cmu_shoulder_is_the_upper_arm_and_hip_the_thigh() -> None:
    roles = detect_family(make_bvh(CMU)).roles
    assert roles["left_clavicle"] == "LeftCollar" and roles["left_upper_arm"] == "LeftShoulder"
    assert roles["right_upleg"] == "RightHip"  # RHipJoint above it is a pelvis bone, not the thigh
    # Without a collar above it, "Shoulder" with an "Arm" child is the clavicle (fair1, mixamo).
    assert detect_family(make_bvh(FAIR1)).roles["left_clavicle"] == "LeftShoulder"


def test_neck_source_and_forward_pairs_follow_ad_per_family() -> None:
    cmu_bvh = make_bvh(CMU, offsets={"L.clavicle": (0, 0, 0), "R.clavicle": (0, 0, 0)})
    fair1 = infer_retarget_config(make_bvh(FAIR1), CHAR2)
    cmu = infer_retarget_config(cmu_bvh, CHAR2)
    assert fair1.joint_mapping["neck"] == ("Hips", "Neck") and cmu.joint_mapping["neck"] == ("Hips", "Head")
    # CMU's collars have zero length: the forward pair uses the upper arms, the arm group drops the collars.
    assert "LeftCollar" not in cmu.projection_groups[0].bvh_joint_names
    assert infer_motion_config(cmu_bvh).forward_perp_joint_vectors == (("LeftShoulder", "RightShoulder"),
                                                                              ("LeftHip", "RightHip"))
    assert infer_motion_config(make_bvh(FAIR1)).forward_perp_joint_vectors == (("LeftShoulder", "RightShoulder"),
                                                                                ("LeftUpLeg", "RightUpLeg"))


@pytest.mark.parametrize("up", ["y", "z"])
def test_up_axis_scale_and_ground(up: str) -> None:
    config = infer_motion_config(make_bvh(FAIR1, up=up), "clip.bvh")
    assert config.up == f"+{up}" and config.groundplane_joint == "LeftFoot" and config.filepath == "clip.bvh"
    assert config.scale == pytest.approx(0.5419 / 35, rel=1e-2)  # thigh 18 + shin 17


def test_unsupported_up_axis_is_named() -> None:
    upright = make_bvh(FAIR1)
    lying = Bvh(upright.names, upright.parents, upright.offsets[:, [1, 0, 2]], upright.channels, upright.motion,
                upright.frame_time, upright.end_sites)
    with pytest.raises(MappingError, match=r"\+x up.*only \+y or \+z"):
        infer_motion_config(lying)


@pytest.mark.parametrize(("joint", "axis"), [("LeftUpLeg", 0), ("Head", 1)])
def test_an_absurd_offset_is_named_not_read_as_an_up_axis(joint: str, axis: int) -> None:
    """A Bvh built in code (parse_bvh refuses the file): before, LeftUpLeg X 1e300 gave 'is -x up' and Head Y
    1e300 passed as '+y'."""
    upright = make_bvh(FAIR1)
    offsets = upright.offsets.copy()
    offsets[upright.index(joint), axis] = 1e300
    with pytest.raises(MappingError, match=rf"^BVH skeleton 'fair1': {joint} OFFSET {'XYZ'[axis]} 1e\+300 is not a "
                                           r"usable number: values must be finite and within ±1,000,000$"):
        infer_motion_config(dataclasses.replace(upright, offsets=offsets))


def test_a_non_finite_motion_value_is_named() -> None:
    upright = make_bvh(FAIR1)
    motion = upright.motion.copy()
    motion[1, 4] = np.nan
    with pytest.raises(MappingError, match=r"frame 1: Hips Xrotation nan is not a usable number"):
        infer_motion_config(upright.with_motion(motion))


def test_missing_joints_are_listed_with_names_tried() -> None:
    left_arm = ("L.clavicle", "L.upper_arm", "L.forearm", "L.hand", "L.hand_end")
    no_left_arm = make_bvh({k: v for k, v in FAIR1.items() if k not in left_arm})
    with pytest.raises(MappingError) as err:
        infer_retarget_config(no_left_arm, CHAR2)
    message = str(err.value)
    assert message.startswith("BVH skeleton 'fair1': cannot find left upper arm (tried LeftArm, ")
    assert "; cannot find left forearm (tried LeftForeArm, LeftElbow, lForeArm, " in message
    assert "; cannot find left hand" in message and "right forearm" not in message
    assert "tried LeftForeArm, LeftElbow, lForeArm" in message and "found joints: Hips, Spine" in message


def test_unrecognised_bvh_lists_what_it_has() -> None:
    odd = make_bvh({"hips": "j0", "spine": "j1", "L.upleg": "j2", "R.upleg": "j3"})
    assert detect_family(odd).name == "unknown"
    with pytest.raises(MappingError, match=r"BVH skeleton 'unknown': cannot find hips \(tried Hips, .*"
                                           r"found joints: j0, j1, j2, j3"):
        infer_motion_config(odd)


def test_a_long_joint_list_is_cut_short_in_the_message() -> None:
    odd = make_bvh({"hips": "j0", "spine": "j1", "L.upleg": "j2", "R.upleg": "j3"},
                   extra=tuple((f"x{k}", "j1", (0.0, 1.0, 0.0)) for k in range(60)))
    with pytest.raises(MappingError) as err:
        infer_motion_config(odd)
    message = str(err.value)
    assert message.endswith("found joints: j0, j1, " + ", ".join(f"x{k}" for k in range(38)) + " and 24 more")


def test_character_without_known_joints_is_an_error() -> None:
    with pytest.raises(MappingError, match="none of the character's joints"):
        infer_retarget_config(make_bvh(FAIR1), ["root", "blob", "tentacle"])


def test_unknown_character_joints_follow_their_parent_and_are_noted() -> None:
    names = CHAR2 + ["tail", "left_finger"]
    parents = CHAR2_PARENTS + ["hip", "left_hand"]
    motion, config, notes = auto_configs(make_bvh(MIXAMO), names, parents)
    assert "tail" not in config.joint_mapping and "tail" in config.bodypart_groups[0].char_joints
    left_arm = next(g for g in config.bodypart_groups if "left_hand" in g.char_joints)
    assert left_arm.char_joints == ("left_elbow", "left_hand", "left_finger")
    assert "detected mixamo skeleton (prefix 'mixamorig:')" in notes and "up axis +y" in " ".join(notes)
    assert any("'tail' has no BVH counterpart: it follows its parent 'hip'" in n for n in notes)
    assert motion.groundplane_joint == "mixamorig:LeftFoot"


def test_six_arms_and_four_legs_by_name() -> None:
    six = [f"{s}_{p}{i}" for s in ("right", "left") for i in (1, 2, 3) for p in ("shoulder", "elbow", "hand")]
    config = infer_retarget_config(make_bvh(FAIR1), ["root", "hip", "torso", "neck", *six])
    assert config.joint_mapping["right_elbow2"] == ("RightArm", "RightForeArm")
    assert config.joint_mapping["left_hand3"] == ("LeftForeArm", "LeftHand")
    assert config.runtime_checks == (("above", "neck", "right_shoulder3", "left_shoulder3"),)
    legs = [f"{s}_{p}_{v}" for v in ("b", "f") for s in ("right", "left") for p in ("hip", "knee", "foot")]
    config = infer_retarget_config(make_bvh(FAIR1), ["root", "hip", "torso", "neck", *legs])
    assert config.joint_mapping["left_knee_f"] == config.joint_mapping["left_knee_b"] == ("LeftUpLeg", "LeftLeg")
    assert "torso" not in config.joint_mapping and config.runtime_checks == ()
    assert config.root_offset.char_chains[0] == ("left_foot_f", "left_knee_f", "left_hip_f")
    assert len(config.root_offset.char_chains) == 4


def _char(name: str) -> tuple[list[str], list[str | None], list[list[float]]]:
    data = yaml.safe_load((SHARED / "characters" / name / "char_cfg.yaml").read_text())
    return ([j["name"] for j in data["skeleton"]], [j["parent"] for j in data["skeleton"]],
            [j["loc"] for j in data["skeleton"]])


REAL = [("fair1_dab", "fair1", "dab", "fair1_ppf"), ("cmu1_jumping_jacks", "cmu", "jumping_jacks", "cmu1_pfp"),
        ("rokoko_jesse_dance", "rokoko", "jesse_dance", "mixamo_fff")]


@needs_shared
@pytest.mark.parametrize("clip, family, motion_yaml, retarget_yaml", REAL)
def test_real_clips_reproduce_ad_configs(clip: str, family: str, motion_yaml: str, retarget_yaml: str) -> None:
    bvh = read_bvh(SHARED / "bvh" / f"{clip}.bvh")
    names, parents, locs = _char("char2")
    motion, retarget, _ = auto_configs(bvh, names, parents, f"{clip}.bvh", locs)
    assert detect_family(bvh).name == family
    ad_motion = read_motion_config(SHARED / "ad_config" / "motion" / f"{motion_yaml}.yaml")
    assert (motion.up, motion.groundplane_joint, motion.forward_perp_joint_vectors) == \
        (ad_motion.up, ad_motion.groundplane_joint, ad_motion.forward_perp_joint_vectors)
    assert 1 / 1.5 < motion.scale / ad_motion.scale < 1.5
    ad = read_retarget_config(SHARED / "ad_config" / "retarget" / f"{retarget_yaml}.yaml")
    assert retarget.joint_mapping == ad.joint_mapping
    assert retarget.runtime_checks == ad.runtime_checks and retarget.bodypart_groups == ad.bodypart_groups
    if family == "fair1":
        assert motion.scale == ad_motion.scale
        assert (retarget.projection_groups, retarget.root_offset, retarget.char_starting_location) == \
            (ad.projection_groups, ad.root_offset, ad.char_starting_location)


@needs_shared
@pytest.mark.parametrize("character, retarget_yaml", [("char5", "six_arms"), ("char6", "four_legs")])
def test_real_non_biped_characters_match_ad(character: str, retarget_yaml: str) -> None:
    names, parents, locs = _char(character)
    config = infer_retarget_config(read_bvh(SHARED / "bvh" / "fair1_dab.bvh"), names, parents, char_locations=locs)
    ad = read_retarget_config(SHARED / "ad_config" / "retarget" / f"{retarget_yaml}.yaml")
    assert (config.joint_mapping, config.bodypart_groups, config.root_offset, config.runtime_checks,
            config.projection_groups) == (ad.joint_mapping, ad.bodypart_groups, ad.root_offset, ad.runtime_checks,
                                          ad.projection_groups)
