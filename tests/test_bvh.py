"""BVH parsing, writing and forward kinematics, on tiny inline files and on the real sample clips."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from studio.pipeline.motion.bvh import Bvh, BvhError, parse_bvh, read_bvh
from studio.pipeline.motion.bvh_writer import format_bvh, write_bvh
from studio.pipeline.motion.kinematics import world_positions

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(),
                                  reason="../shared/data not present (it is not part of a user's clone)")


def skeleton(order: str = "Zrotation Xrotation Yrotation", frames: list[str] | None = None,
             frame_time: str = "0.0333333", chest_offset: str = "1 2 3", head_offset: str = "0 2 0",
             end_offset: str = "0 0.5 0") -> str:
    """A 3-joint BVH (Hips → Chest → Head → End Site), all joints using rotation ``order``."""
    frames = frames if frames is not None else ["0 0 0 0 0 0 0 0 0 0 0 0"]
    return "\n".join([
        "HIERARCHY",
        "ROOT Hips",
        "{",
        "\tOFFSET 0 0 0",
        f"\tCHANNELS 6 Xposition Yposition Zposition {order}",
        "\tJOINT Chest",
        "\t{",
        f"\t\tOFFSET {chest_offset}",
        f"\t\tCHANNELS 3 {order}",
        "\t\tJOINT Head",
        "\t\t{",
        f"\t\t\tOFFSET {head_offset}",
        f"\t\t\tCHANNELS 3 {order}",
        "\t\t\tEnd Site",
        "\t\t\t{",
        f"\t\t\t\tOFFSET {end_offset}",
        "\t\t\t}",
        "\t\t}",
        "\t}",
        "}",
        "MOTION",
        f"Frames: {len(frames)}",
        f"Frame Time: {frame_time}",
        *frames,
    ]) + "\n"


def line_of(text: str, snippet: str, occurrence: int = 1) -> int:
    """1-based number of the line holding the ``occurrence``-th ``snippet``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if snippet in line]
    return hits[occurrence - 1]


def raises_at(text: str, line: int, words: str = "") -> BvhError:
    """Parse ``text`` expecting a BvhError naming ``demo.bvh`` and ``line``."""
    with pytest.raises(BvhError) as info:
        parse_bvh(text, "demo.bvh")
    message = str(info.value)
    assert message.startswith(f"demo.bvh, line {line}:"), message
    assert re.search(words, message, re.IGNORECASE), message
    return info.value


HIPS, CHEST, HEAD, HEAD_END = range(4)


# --- structure ---------------------------------------------------------------------------------------


def test_structure_of_a_three_joint_file() -> None:
    bvh = parse_bvh(skeleton(), "demo.bvh")
    assert bvh.names == ("Hips", "Chest", "Head", "Head_end")
    assert bvh.parents == (-1, 0, 1, 2)
    assert bvh.end_sites == frozenset({HEAD_END})
    assert bvh.channels[HIPS] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
    assert bvh.channels[CHEST] == ("Zrotation", "Xrotation", "Yrotation")
    assert bvh.channels[HEAD_END] == ()
    np.testing.assert_array_equal(bvh.offsets, [[0, 0, 0], [1, 2, 3], [0, 2, 0], [0, 0.5, 0]])
    assert bvh.motion.shape == (1, 12)
    assert bvh.frame_time == pytest.approx(0.0333333)
    assert bvh.n_frames == 1
    assert bvh.duration == pytest.approx(0.0333333)
    np.testing.assert_array_equal(bvh.channel_offsets(), [0, 6, 9, 12])
    assert bvh.index("Head") == HEAD
    with pytest.raises(KeyError, match="Neck"):
        bvh.index("Neck")


def test_rest_pose_is_the_sum_of_offsets() -> None:
    world = world_positions(parse_bvh(skeleton()))
    np.testing.assert_allclose(world[0], [[0, 0, 0], [1, 2, 3], [1, 4, 3], [1, 4.5, 3]])


def test_position_channels_add_to_the_root_offset() -> None:
    text = skeleton(frames=["10 20 30 0 0 0 0 0 0 0 0 0"]).replace("\tOFFSET 0 0 0", "\tOFFSET 1 1 1", 1)
    world = world_positions(parse_bvh(text))
    np.testing.assert_allclose(world[0, HIPS], [11, 21, 31])
    np.testing.assert_allclose(world[0, CHEST], [12, 23, 34])


def test_keywords_are_case_insensitive_and_braces_may_share_lines() -> None:
    text = ("hierarchy\nroot A {\n offset 0 0 0 channels 3 zrotation XROTATION yRotation\n"
            " end site { offset 0 1 0 } }\nmotion\nframes: 1\nframe time: 0.5\n0 0 90\n")
    bvh = parse_bvh(text)
    assert bvh.names == ("A", "A_end")
    assert bvh.channels[0] == ("Zrotation", "Xrotation", "Yrotation")
    assert bvh.frame_time == 0.5


def test_crlf_line_endings_and_a_byte_order_mark() -> None:
    text = "\ufeff" + skeleton().replace("\n", "\r\n")
    assert parse_bvh(text).names == ("Hips", "Chest", "Head", "Head_end")


# --- forward kinematics: rotation orders ----------------------------------------------------------------
# Rx(90): (x, y, z) → (x, −z, y);  Ry(90): (x, y, z) → (z, y, −x);  Rz(90): (x, y, z) → (−y, x, z).
# Root at (10, 20, 30); the Chest's OFFSET v = (1, 2, 3) is turned by the root's rotation.


@pytest.mark.parametrize(("order", "angles", "chest"), [
    # R = Rz·Rx: Rx v = (1, −3, 2), then Rz → (3, 1, 2).  (Rx·Rz would give (−2, −3, 1).)
    ("Zrotation Xrotation Yrotation", "90 90 0", (3, 1, 2)),
    # R = Rx·Rz (X=90, Y=0, Z=90): Rz v = (−2, 1, 3), then Rx → (−2, −3, 1).  (Rz·Rx would give (3, 1, 2).)
    ("Xrotation Yrotation Zrotation", "90 0 90", (-2, -3, 1)),
    # R = Ry·Rx: Rx v = (1, −3, 2), then Ry → (2, −3, −1).  (Rx·Ry would give (3, 1, 2).)
    ("Yrotation Xrotation Zrotation", "90 90 0", (2, -3, -1)),
    # Single axes: Rz v = (−2, 1, 3); Ry v = (3, 2, −1).
    ("Zrotation Xrotation Yrotation", "90 0 0", (-2, 1, 3)),
    ("Xrotation Yrotation Zrotation", "0 90 0", (3, 2, -1)),
])
def test_root_rotation_composes_in_channel_order(order: str, angles: str, chest: tuple[int, ...]) -> None:
    bvh = parse_bvh(skeleton(order, [f"10 20 30 {angles} 0 0 0 0 0 0"]))
    world = world_positions(bvh)[0]
    np.testing.assert_allclose(world[HIPS], [10, 20, 30], atol=1e-12)
    np.testing.assert_allclose(world[CHEST], np.add([10, 20, 30], chest), atol=1e-12)


def test_child_rotations_chain_through_the_parents() -> None:
    # Root Rz(90), Chest Rx(90), Head unrotated; Head OFFSET (0, 2, 0), End Site OFFSET (0, 0.5, 0).
    # Chest = Rz(1, 2, 3) = (−2, 1, 3); Head = Chest + Rz·Rx (0, 2, 0) = Chest + Rz (0, 0, 2) = (−2, 1, 5);
    # End = Head + Rz·Rx (0, 0.5, 0) = (−2, 1, 5.5).
    bvh = parse_bvh(skeleton("Zrotation Xrotation Yrotation", ["0 0 0 90 0 0 0 90 0 0 0 0"]))
    world = world_positions(bvh)[0]
    np.testing.assert_allclose(world[CHEST], [-2, 1, 3], atol=1e-12)
    np.testing.assert_allclose(world[HEAD], [-2, 1, 5], atol=1e-12)
    np.testing.assert_allclose(world[HEAD_END], [-2, 1, 5.5], atol=1e-12)


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_fk_matches_intrinsic_euler_for_every_order(order: str) -> None:
    """Against scipy's intrinsic (uppercase) Euler sequences, random angles, 5 frames."""
    rng = np.random.default_rng(7)
    rows = np.column_stack([rng.uniform(-5, 5, (5, 3)), rng.uniform(-180, 180, (5, 9))])
    channels = " ".join(f"{axis}rotation" for axis in order)
    bvh = parse_bvh(skeleton(channels, [" ".join(f"{v:.9f}" for v in row) for row in rows]))
    world = world_positions(bvh)
    r_hips = Rotation.from_euler(order, rows[:, 3:6], degrees=True)
    r_chest = r_hips * Rotation.from_euler(order, rows[:, 6:9], degrees=True)
    r_head = r_chest * Rotation.from_euler(order, rows[:, 9:12], degrees=True)
    chest = rows[:, :3] + r_hips.apply([1, 2, 3])
    head = chest + r_chest.apply([0, 2, 0])
    end = head + r_head.apply([0, 0.5, 0])
    np.testing.assert_allclose(world[:, CHEST], chest, atol=1e-6)
    np.testing.assert_allclose(world[:, HEAD], head, atol=1e-6)
    np.testing.assert_allclose(world[:, HEAD_END], end, atol=1e-6)


def test_y_up_and_z_up_files_parse_the_same_way() -> None:
    """The parser keeps the file's axes; a Z-up skeleton is the Y-up one turned by Rx(90)."""
    y_up = parse_bvh(skeleton(chest_offset="0 1 0", head_offset="0 2 0", end_offset="0 0.5 0"))
    z_up = parse_bvh(skeleton(chest_offset="0 0 1", head_offset="0 0 2", end_offset="0 0 0.5"))
    assert z_up.names == y_up.names and z_up.parents == y_up.parents and z_up.channels == y_up.channels
    np.testing.assert_array_equal(z_up.offsets[:, [0, 2, 1]], y_up.offsets)
    world_y, world_z = world_positions(y_up)[0], world_positions(z_up)[0]
    assert world_y[HEAD, 1] == 3 and world_z[HEAD, 2] == 3
    np.testing.assert_allclose(world_z, Rotation.from_euler("X", 90, degrees=True).apply(world_y), atol=1e-12)


# --- numbers ------------------------------------------------------------------------------------------


def test_numbers_without_leading_zero_and_with_exponents() -> None:
    text = skeleton(frames=["-.5 .25 1e-3 1E+2 +3 -0 0 0 0 0 0 .5"], frame_time=".03333", chest_offset="-.5 1e-3 2.",
                    end_offset="0 0 -1.5E1")
    bvh = parse_bvh(text)
    assert bvh.frame_time == 0.03333
    np.testing.assert_array_equal(bvh.offsets[CHEST], [-0.5, 0.001, 2.0])
    np.testing.assert_array_equal(bvh.offsets[HEAD_END], [0, 0, -15])
    np.testing.assert_array_equal(bvh.motion[0, :6], [-0.5, 0.25, 0.001, 100, 3, 0])
    assert bvh.motion[0, 11] == 0.5


def test_frame_time_after_a_tab_and_trailing_blank_lines() -> None:
    text = skeleton(frames=["0 " * 12, "1 " * 12]).replace("Frame Time: ", "Frame Time:\t") + "\n\n   \n"
    bvh = parse_bvh(text)
    assert bvh.n_frames == 2 and bvh.frame_time == 0.0333333


# --- writing ------------------------------------------------------------------------------------------


def random_clip(order: str = "Yrotation Xrotation Zrotation", n: int = 4, seed: int = 3) -> Bvh:
    rng = np.random.default_rng(seed)
    rows = np.column_stack([rng.uniform(-50, 50, (n, 3)), rng.uniform(-180, 180, (n, 9))])
    return parse_bvh(skeleton(order, [" ".join(f"{v:.10f}" for v in row) for row in rows], frame_time="0.0083333333"))


def test_format_round_trip_within_precision() -> None:
    bvh = random_clip()
    again = parse_bvh(format_bvh(bvh))
    assert again.names == bvh.names and again.parents == bvh.parents
    assert again.channels == bvh.channels and again.end_sites == bvh.end_sites
    np.testing.assert_allclose(again.offsets, bvh.offsets, atol=5e-7)
    np.testing.assert_allclose(again.motion, bvh.motion, atol=5e-7)
    assert again.frame_time == pytest.approx(bvh.frame_time, rel=1e-6)
    coarse = parse_bvh(format_bvh(bvh, precision=2))
    np.testing.assert_allclose(coarse.motion, bvh.motion, atol=5e-3)
    assert np.abs(coarse.motion - bvh.motion).max() > 1e-4  # the precision really was 2 decimals


def test_end_sites_are_written_as_end_sites() -> None:
    text = format_bvh(parse_bvh(skeleton()))
    assert "Head_end" not in text
    assert text.count("End Site") == 1
    assert parse_bvh(text).end_sites == frozenset({HEAD_END})
    assert parse_bvh(text).names[HEAD_END] == "Head_end"


def test_write_and_read_a_file(tmp_path: Path) -> None:
    bvh = random_clip()
    path = write_bvh(bvh, tmp_path / "clip.bvh")
    assert path == tmp_path / "clip.bvh" and not list(tmp_path.glob(".*.tmp"))
    again = read_bvh(path)
    np.testing.assert_allclose(world_positions(again), world_positions(bvh), atol=1e-4)


def test_format_keeps_columns_of_a_skeleton_that_is_not_depth_first() -> None:
    """Joints listed R, A, B, A2 (A2 a child of A) are written depth first: R, A, A2, B, columns moved too."""
    bvh = Bvh(names=("R", "A", "B", "A2", "A2_end"), parents=(-1, 0, 0, 1, 3),
              offsets=np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1.0]]),
              channels=(("Zrotation",), ("Zrotation",), ("Xrotation",), ("Yrotation",), ()),
              motion=np.array([[10.0, 20.0, 30.0, 40.0]]), frame_time=0.1, end_sites=frozenset({4}))
    again = parse_bvh(format_bvh(bvh))
    assert again.names == ("R", "A", "A2", "A2_end", "B")
    np.testing.assert_array_equal(again.motion, [[10, 20, 40, 30]])
    order = [0, 1, 3, 4, 2]
    np.testing.assert_allclose(world_positions(again)[0], world_positions(bvh)[0][order], atol=1e-6)


# --- malformed files ----------------------------------------------------------------------------------

ZEROS = "0 0 0 0 0 0 0 0 0 0 0 0"


def test_truncated_motion_names_the_last_line() -> None:
    text = skeleton(frames=[ZEROS, ZEROS, ZEROS]).replace("Frames: 3", "Frames: 5")
    raises_at(text, line_of(text, ZEROS, 3), "truncated.*5 frames.*3")


def test_motion_header_cut_off() -> None:
    text = skeleton().split("Frame Time")[0]
    raises_at(text, line_of(text, "Frames:"), "Frame Time.*truncated")


def test_frame_with_too_few_values() -> None:
    text = skeleton(frames=[ZEROS, "0 0 0 0 0 0 0 0 0 0 0", ZEROS])
    raises_at(text, line_of(text, ZEROS, 1) + 1, "frame 1 has 11 values.*12")


def test_frame_with_too_many_values() -> None:
    text = skeleton(frames=[ZEROS + " 0"])
    raises_at(text, line_of(text, ZEROS), "13 values")


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_non_finite_values_in_a_frame(bad: str) -> None:
    text = skeleton(frames=[ZEROS, f"0 0 0 0 {bad} 0 0 0 0 0 0 0"])
    raises_at(text, line_of(text, bad), "frame 1: Hips Xrotation -?(nan|inf) is not a usable number")


def test_non_number_in_a_frame() -> None:
    text = skeleton(frames=["0 0 0 0 0 0 0 0 0 0 1,5 0"])
    raises_at(text, line_of(text, "1,5"), "'1,5' is not a number")


def test_non_number_in_an_offset() -> None:
    text = skeleton(head_offset="0 two 0")
    raises_at(text, line_of(text, "two"), "expected a number.*OFFSET.*'two'")


def test_non_finite_offset() -> None:
    text = skeleton(head_offset="0 nan 0")
    raises_at(text, line_of(text, "nan"), "OFFSET.*finite")


def test_unknown_keyword_in_the_hierarchy() -> None:
    text = skeleton().replace("\t\tJOINT Head", "\t\tSCALE 2\n\t\tJOINT Head")
    raises_at(text, line_of(text, "SCALE"), "unknown keyword 'SCALE'")


def test_missing_motion_names_the_last_line() -> None:
    text = skeleton().split("MOTION")[0]
    raises_at(text, len(text.splitlines()), "no MOTION")


def test_missing_closing_brace() -> None:
    text = skeleton().replace("\t\t\t}\n", "", 1)
    raises_at(text, line_of(text, "MOTION"), "joint 'Hips' is not closed")  # the braces below close the rest


def test_extra_closing_brace() -> None:
    text = skeleton().replace("}\nMOTION", "}\n}\nMOTION")
    raises_at(text, line_of(text, "MOTION") - 1, "unbalanced")


def test_opening_brace_without_a_joint() -> None:
    text = skeleton().replace("\tJOINT Chest\n", "\tJOINT Chest\n\t{\n\t}\n\t{\n", 1)
    raises_at(text, line_of(text, "{", 3), "'\\{' without a joint")


def test_channels_count_larger_than_the_names() -> None:
    text = skeleton().replace("\t\tCHANNELS 3 Zrotation Xrotation Yrotation",
                              "\t\tCHANNELS 4 Zrotation Xrotation Yrotation")
    raises_at(text, line_of(text, "CHANNELS 4"), "CHANNELS 4.*expected 4 channel names.*'JOINT'")


def test_channels_count_smaller_than_the_names() -> None:
    text = skeleton().replace("\t\tCHANNELS 3 Zrotation Xrotation Yrotation",
                              "\t\tCHANNELS 2 Zrotation Xrotation Yrotation")
    raises_at(text, line_of(text, "CHANNELS 2"), "'Yrotation' outside a CHANNELS list")


def test_channels_count_not_an_integer() -> None:
    text = skeleton().replace("CHANNELS 6", "CHANNELS six")
    raises_at(text, line_of(text, "CHANNELS six"), "integer")


def test_unknown_channel_name() -> None:
    text = skeleton().replace("\t\tCHANNELS 3 Zrotation Xrotation Yrotation",
                              "\t\tCHANNELS 3 Zrotation Xrotation Wrotation")
    raises_at(text, line_of(text, "Wrotation"), "'Wrotation'")


def test_repeated_channel() -> None:
    text = skeleton().replace("\t\tCHANNELS 3 Zrotation Xrotation Yrotation",
                              "\t\tCHANNELS 3 Zrotation Xrotation Zrotation")
    raises_at(text, line_of(text, "Xrotation Zrotation"), "repeated channel")


@pytest.mark.parametrize("value", ["0", "-0.1", "0.0"])
def test_frame_time_must_be_positive(value: str) -> None:
    text = skeleton(frame_time=value)
    raises_at(text, line_of(text, "Frame Time"), "positive")


def test_frame_time_not_a_number() -> None:
    text = skeleton(frame_time="fast")
    raises_at(text, line_of(text, "Frame Time"), "'fast'")


@pytest.mark.parametrize("value", ["2.5", "-1", "many"])
def test_frames_must_be_a_whole_number(value: str) -> None:
    text = skeleton().replace("Frames: 1", f"Frames: {value}")
    raises_at(text, line_of(text, "Frames:"), "whole number")


def test_no_frames() -> None:
    text = skeleton(frames=[])
    raises_at(text, line_of(text, "Frames: 0"), "no frames")


def test_more_frame_lines_than_frames() -> None:
    text = skeleton(frames=[ZEROS, ZEROS]).replace("Frames: 2", "Frames: 1")
    raises_at(text, line_of(text, ZEROS, 2), "more frame lines")


def test_file_must_start_with_hierarchy() -> None:
    raises_at("ROOT Hips\n{\n}\nMOTION\n", 1, "HIERARCHY")


def test_end_site_cannot_have_channels() -> None:
    text = skeleton(end_offset="0 1 0\n\t\t\t\tCHANNELS 1 Xrotation")
    raises_at(text, line_of(text, "CHANNELS 1"), "End Site")


def test_duplicate_joint_name() -> None:
    text = skeleton().replace("JOINT Head", "JOINT Chest")
    raises_at(text, line_of(text, "JOINT Chest", 2), "twice")


def test_second_root() -> None:
    text = skeleton().replace("}\nMOTION", "}\nROOT Other\n{\n\tOFFSET 0 0 0\n}\nMOTION")
    raises_at(text, line_of(text, "ROOT Other"), "more than one ROOT")


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BvhError, match=re.escape(str(tmp_path / "nope.bvh"))):
        read_bvh(tmp_path / "nope.bvh")


def test_read_error_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.bvh"
    path.write_text(skeleton(frame_time="0"))
    with pytest.raises(BvhError, match=re.escape(f"{path}, line {line_of(skeleton(), 'Frame Time')}:")):
        read_bvh(path)


# --- the real sample clips ----------------------------------------------------------------------------


@needs_shared
@pytest.mark.parametrize(("name", "frames", "frame_time", "joints"), [
    ("fair1_dab.bvh", 339, 0.0333333, 34),
    ("cmu1_jumping_jacks.bvh", 125, 0.03333, 38),
    ("rokoko_jesse_dance.bvh", 1007, 0.01, 73),
])
def test_real_files_parse(name: str, frames: int, frame_time: float, joints: int) -> None:
    bvh = read_bvh(SHARED / "bvh" / name)
    assert bvh.n_frames == frames
    assert bvh.frame_time == frame_time
    assert len(bvh.names) == joints
    assert bvh.names[0] == "Hips" and "Head" in bvh.names
    assert bvh.motion.shape == (frames, sum(len(c) for c in bvh.channels))
    world = world_positions(bvh)
    assert world.shape == (frames, joints, 3) and np.all(np.isfinite(world))


@needs_shared
@pytest.mark.parametrize(("name", "up", "feet"), [("fair1_dab.bvh", 2, ("LeftFoot", "RightFoot")),
                                                  ("cmu1_jumping_jacks.bvh", 1, ("LeftAnkle", "RightAnkle")),
                                                  ("rokoko_jesse_dance.bvh", 1, ("LeftFoot", "RightFoot"))])
def test_real_files_head_is_above_the_hips(name: str, up: int, feet: tuple[str, str]) -> None:
    """fair1 is Z-up, cmu1 and rokoko are Y-up: at frame 0 the Head is above the Hips, above the feet."""
    bvh = read_bvh(SHARED / "bvh" / name)
    world = world_positions(bvh)[0]
    rise = world[bvh.index("Head")] - world[bvh.index("Hips")]
    assert rise[up] > 0
    assert abs(rise[up]) > 2 * np.delete(np.abs(rise), up).max(), rise  # mostly straight up
    assert world[bvh.index("Hips"), up] > max(world[bvh.index(foot), up] for foot in feet)


@needs_shared
def test_real_file_round_trip() -> None:
    bvh = read_bvh(SHARED / "bvh" / "fair1_dab.bvh")
    again = parse_bvh(format_bvh(bvh))
    assert again.names == bvh.names and again.channels == bvh.channels
    np.testing.assert_allclose(again.motion, bvh.motion, atol=5e-7)
    np.testing.assert_allclose(world_positions(again), world_positions(bvh), atol=1e-4)


def test_joint_names_with_spaces_are_kept_whole() -> None:
    """3ds Max Biped exports name joints 'Bip01 L Thigh'."""
    text = ("HIERARCHY\nROOT Bip01 Pelvis\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition "
            "Zrotation Xrotation Yrotation\n JOINT Bip01 L Thigh\n {\n  OFFSET 1 0 0\n  CHANNELS 3 Zrotation "
            "Xrotation Yrotation\n  End Site\n  {\n   OFFSET 0 -1 0\n  }\n }\n}\nMOTION\nFrames: 1\n"
            "Frame Time: 0.1\n0 0 0 0 0 0 0 0 0\n")
    bvh = parse_bvh(text)
    assert bvh.names[:2] == ("Bip01 Pelvis", "Bip01 L Thigh")
    assert parse_bvh(format_bvh(bvh)).names == bvh.names
