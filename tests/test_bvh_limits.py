"""The BVH reader's caps and value bounds: oversized, deep, lying or absurd files are refused with a sentence."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from studio.pipeline.motion import bvh as bvh_module
from studio.pipeline.motion.bvh import MAX_ABS_VALUE, MAX_DEPTH, MAX_FRAMES, MAX_JOINTS, BvhError, parse_bvh, read_bvh
from studio.pipeline.motion.clip import retime_clip, scale_clip
from studio.pipeline.motion.kinematics import world_positions

ROT = "CHANNELS 3 Zrotation Xrotation Yrotation"


def chain(n_joints: int, frames: list[str] | None = None, frames_header: str | None = None,
          offset: str = "0 1 0") -> str:
    """A BVH of ``n_joints`` joints each nested in the previous one, 3 rotation channels each."""
    lines = ["HIERARCHY", "ROOT J0", "{", "OFFSET 0 0 0", "CHANNELS 6 Xposition Yposition Zposition "
             "Zrotation Xrotation Yrotation"]
    for k in range(1, n_joints):
        lines += [f"JOINT J{k}", "{", f"OFFSET {offset}", ROT]
    lines += ["}"] * n_joints
    zeros = " ".join(["0"] * (3 * n_joints + 3))
    frames = [zeros] if frames is None else frames
    header = str(len(frames)) if frames_header is None else frames_header
    return "\n".join(lines + ["MOTION", f"Frames: {header}", "Frame Time: 0.0333333", *frames]) + "\n"


def flat(n_joints: int) -> str:
    """A root with one channel and ``n_joints - 1`` children side by side, without channels."""
    lines = ["HIERARCHY", "ROOT R", "{", "OFFSET 0 0 0", "CHANNELS 1 Zrotation"]
    for k in range(1, n_joints):
        lines += [f"JOINT C{k}", "{", "OFFSET 1 0 0", "}"]
    return "\n".join(lines + ["}", "MOTION", "Frames: 1", "Frame Time: 0.1", "0"]) + "\n"


def line_of(text: str, snippet: str) -> int:
    """1-based number of the first line holding ``snippet``."""
    return next(n for n, line in enumerate(text.split("\n"), start=1) if snippet in line)


def refused(text: str, pattern: str) -> str:
    with pytest.raises(BvhError) as info:
        parse_bvh(text, "x.bvh")
    message = str(info.value)
    assert re.search(pattern, message), message
    assert "\n" not in message and len(message) < 300, message
    return message


# --- hierarchy caps -----------------------------------------------------------------------------------------


def test_a_deep_hierarchy_stops_at_the_depth_cap_not_at_python_recursion() -> None:
    """Before: 5,000 nested JOINTs parsed, then format_bvh raised RecursionError; 100,000 took 64 s to parse."""
    text = chain(5_000, frames=[])
    refused(text, rf"line {line_of(text, f'JOINT J{MAX_DEPTH}') + 1}: joints nest more than {MAX_DEPTH} levels deep")
    refused(chain(100_000, frames=[]), r"^x\.bvh: the HIERARCHY section is \d+ KB; at most 1024 KB")


def test_the_depth_cap_itself_parses() -> None:
    bvh = parse_bvh(chain(MAX_DEPTH))
    assert len(bvh.names) == MAX_DEPTH and bvh.parents[-1] == MAX_DEPTH - 2


def test_too_many_joints() -> None:
    text = flat(MAX_JOINTS + 1)
    refused(text, rf"line {line_of(text, f'JOINT C{MAX_JOINTS}')}: more than {MAX_JOINTS} joints")
    assert len(parse_bvh(flat(MAX_JOINTS)).names) == MAX_JOINTS


def test_a_huge_channels_count_is_refused() -> None:
    text = chain(2).replace(ROT, "CHANNELS " + "9" * 5000 + " Zrotation")
    message = refused(text, r"line 9: CHANNELS count '9{17}\.\.\.9{18}' is more than the 6 channels")
    assert "9" * 19 not in message


def test_a_long_joint_name_is_refused_and_not_quoted_whole() -> None:
    text = chain(2).replace("JOINT J1", "JOINT " + "J" * 10_000)
    refused(text, r"line 6: joint name 'J{17}\.\.\.J{18}' is longer than 128 characters")


def test_a_huge_hierarchy_section_is_refused_before_tokenising() -> None:
    text = chain(2).replace("OFFSET 0 1 0", "OFFSET 0 1 0" + " \n" * 600_000)
    refused(text, r"^x\.bvh: the HIERARCHY section is \d+ KB; at most 1024 KB")


# --- motion caps -----------------------------------------------------------------------------------------------


def test_a_frame_count_over_the_cap_is_refused_from_the_header() -> None:
    """Checked before the frame lines are counted or parsed: one frame line follows a header of a million."""
    refused(chain(2, frames_header="1000000"),
            rf"line 13: Frames: '1000000' is more than the {MAX_FRAMES} a BVH clip may have")


def test_a_frame_count_of_thousands_of_digits_is_a_sentence_not_a_python_limit() -> None:
    message = refused(chain(2, frames_header="9" * 5000), r"Frames: '9{17}\.\.\.9{18}' is more than the \d+ a BVH clip")
    assert "digits" not in message and "9" * 19 not in message


def test_frames_times_joints_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bvh_module, "MAX_JOINT_FRAMES", 20)
    text = chain(3, frames=["0 " * 12] * 7)
    refused(text, "7 frames of 3 joints is more than the 20 joint-frames")
    parse_bvh(chain(3, frames=["0 " * 12] * 6))


def test_a_header_that_understates_the_frames_is_not_trusted() -> None:
    """Frames: 2 with 50,000 frame lines: the lines are counted (without being split into a list) and refused."""
    text = chain(2, frames=["0 " * 9] * 50_000, frames_header="2")
    refused(text, r"line 17: more frame lines than 'Frames: 2'")


def test_frame_lines_are_read_in_bulk_and_still_name_a_bad_line() -> None:
    rows = [" ".join(f"{k + c / 10:.1f}" for c in range(9)) for k in range(300)]
    bvh = parse_bvh(chain(2, frames=rows))
    assert bvh.motion.shape == (300, 9) and bvh.motion[299, 8] == pytest.approx(299.8)
    rows[123] = rows[123].replace("123.4", "x")
    refused(chain(2, frames=rows), r"line 138: frame 123: 'x' is not a number")
    rows[123] = ""
    refused(chain(2, frames=rows), r"line 138: frame 123 has 0 values, the HIERARCHY declares 9 channels")


def test_a_file_over_the_size_cap_is_refused_before_reading_it_whole(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bvh_module, "MAX_BVH_BYTES", 2**20)
    path = tmp_path / "big.bvh"
    path.write_text(chain(2) + "\n" * 2**20)  # valid but for the size: trailing blank lines are allowed
    with pytest.raises(BvhError, match=r"big\.bvh: larger than 1 MB, the most a BVH file may hold"):
        read_bvh(path)
    with pytest.raises(BvhError, match=r"^<bvh>: larger than 1 MB"):
        parse_bvh(path.read_text())
    path.write_text(chain(2) + "\n" * (2**20 - len(chain(2))))
    assert read_bvh(path).n_frames == 1


def test_an_unreadable_path_is_a_bvh_error(tmp_path: Path) -> None:
    with pytest.raises(BvhError, match="is a folder"):
        read_bvh(tmp_path)


# --- absurd numbers -----------------------------------------------------------------------------------------


def test_a_1e300_offset_is_refused_naming_the_line() -> None:
    """Before, it parsed, and automap then called the skeleton '-x up' (forward kinematics overflowed to inf)."""
    text = chain(3).replace("OFFSET 0 1 0", "OFFSET 0 1e300 0", 1)
    refused(text, r"line 8: OFFSET '1e300' is not a usable number: values must be finite and within ±1,000,000")


def test_a_1e300_root_position_in_one_frame_is_refused_naming_the_frame() -> None:
    """Before, it parsed, and the render produced 339 transparent frames with exit 0."""
    zeros = ["0 " * 9] * 5
    rows = zeros[:3] + ["0 1e300 0 0 0 0 0 0 0"] + zeros[3:]
    refused(chain(2, frames=rows), r"line 18: frame 3: J0 Yposition 1e\+300 is not a usable number")


def test_values_within_the_bound_are_kept_exactly() -> None:
    near = MAX_ABS_VALUE * 0.999
    bvh = parse_bvh(chain(2, frames=[f"{near} 0 0 0 0 {-near} 0 0 0"]))
    assert bvh.motion[0, 0] == near and bvh.motion[0, 5] == -near
    assert np.all(np.isfinite(world_positions(bvh)))
    refused(chain(2, frames=[f"{MAX_ABS_VALUE} 0 0 0 0 0 0 0 0"]), "frame 0: J0 Xposition 1e\\+06 is not a usable")


@pytest.mark.parametrize(("value", "words"), [
    ("1e-9", "must be a positive number of seconds from 0.001 to 10, found 1e-09"),
    ("1e305", "'1e305' is not a usable number"),
])
def test_absurd_frame_times_are_refused(value: str, words: str) -> None:
    refused(chain(2).replace("Frame Time: 0.0333333", f"Frame Time: {value}"), "line 14: Frame Time " + words)


# --- clip operations keep to the same bounds ---------------------------------------------------------------


def test_scaling_a_clip_past_the_value_bound_is_refused() -> None:
    """Before, scale_clip(…, 1e300) returned offsets of 1e300 for forward kinematics to overflow."""
    clip = parse_bvh(chain(3))
    with pytest.raises(ValueError, match=r"^scale factor 1e\+300 makes J1 OFFSET Y 1e\+300, which is not a usable "
                                         "number: values must be finite and within ±1,000,000$"):
        scale_clip(clip, 1e300)
    assert scale_clip(clip, 1000).offsets[1, 1] == 1000


@pytest.mark.parametrize("frame_time", [1e-300, 1e300])
def test_retiming_a_clip_past_the_frame_time_bounds_is_refused(frame_time: float) -> None:
    """Before, any positive finite frame time passed: 1e300 s per frame overflows a render's frame count."""
    with pytest.raises(ValueError, match="frame_time must be a positive number of seconds from 0.001 to 10"):
        retime_clip(parse_bvh(chain(2)), frame_time)


def test_a_tab_inside_the_frame_time_label_is_read() -> None:
    """Tabs are accepted everywhere else in a BVH; 'Frame\tTime:' was refused."""
    text = "HIERARCHY\nROOT Hips\n{\n\tOFFSET 0 0 0\n\tCHANNELS 3 Xposition Yposition Zposition\n" \
           "\tEnd Site\n\t{\n\t\tOFFSET 0 1 0\n\t}\n}\nMOTION\nFrames:\t2\nFrame\tTime:\t0.04\n0 0 0\n1 1 1\n"
    assert parse_bvh(text).frame_time == 0.04
