"""Clip operations: slice, retime, scale, and resampling that keeps the duration (slerp)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from studio.pipeline.motion.bvh import ROTATION_CHANNELS, Bvh, parse_bvh, read_bvh
from studio.pipeline.motion.clip import resample_clip, retime_clip, scale_clip, slice_clip
from studio.pipeline.motion.kinematics import world_positions

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(),
                                  reason="../shared/data not present (it is not part of a user's clone)")

ZXY = ("Zrotation", "Xrotation", "Yrotation")
POS = ("Xposition", "Yposition", "Zposition")


def chain(motion: list[list[float]] | np.ndarray, root: tuple[str, ...] = POS + ZXY,
          child: tuple[str, ...] = ZXY, frame_time: float = 0.1) -> Bvh:
    """Root → Child → Child_end, offsets (0, 1, 0) and (0, 2, 0)."""
    return Bvh(names=("Root", "Child", "Child_end"), parents=(-1, 0, 1),
               offsets=np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 2.0, 0.0]]),
               channels=(root, child, ()), motion=np.array(motion, float), frame_time=frame_time,
               end_sites=frozenset({2}))


def numbered(n_frames: int, n_channels: int = 9) -> Bvh:
    """Frame k holds k in every channel, so a slice shows which frames it kept."""
    return chain(np.repeat(np.arange(n_frames, dtype=float)[:, None], n_channels, axis=1))


def smooth_clip(n_frames: int, orders: tuple[str, str] = ("ZXY", "ZXY"), seed: int = 0) -> Bvh:
    """Random smooth motion: rotations vary by up to ~20° per frame, any angle range."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)[:, None]
    pos = rng.uniform(-1, 1, 3) * t + rng.uniform(-5, 5, 3)
    angles = rng.uniform(-180, 180, 6) + rng.uniform(-20, 20, 6) * t
    root = POS + tuple(f"{a}rotation" for a in orders[0])
    child = tuple(f"{a}rotation" for a in orders[1])
    return chain(np.column_stack([pos, angles]), root, child, frame_time=1 / 30)


def rotations(bvh: Bvh, joint: int) -> Rotation:
    """(F,) rotations of a joint with three rotation channels."""
    start = bvh.channel_offsets()[joint]
    cols = [start + c for c, name in enumerate(bvh.channels[joint]) if name in ROTATION_CHANNELS]
    order = "".join(bvh.channels[joint][c - start][0] for c in cols)
    return Rotation.from_euler(order, bvh.motion[:, cols], degrees=True)


def reference_slerp(bvh: Bvh, joint: int, n_frames: int) -> Rotation:
    """scipy's Slerp between source frames, sampled where resample_clip samples: k·F/N, clamped."""
    times = np.minimum(np.arange(n_frames) * bvh.n_frames / n_frames, bvh.n_frames - 1)
    if bvh.n_frames == 1:
        return rotations(bvh, joint)[np.zeros(n_frames, int)]
    return Slerp(np.arange(bvh.n_frames), rotations(bvh, joint))(times)


def angle_between(a: Rotation, b: Rotation) -> np.ndarray:
    """(F,) degrees."""
    return np.degrees((a.inv() * b).magnitude())


# --- slice_clip ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "end", "kept"), [
    (0, None, [0, 1, 2, 3, 4]),
    (1, 3, [1, 2]),
    (2, None, [2, 3, 4]),
    (-2, None, [3, 4]),
    (0, -1, [0, 1, 2, 3]),
    (3, 100, [3, 4]),
    (None, 2, [0, 1]),
    (4, 5, [4]),
])
def test_slice_has_python_semantics(start: int | None, end: int | None, kept: list[int]) -> None:
    clip = numbered(5)
    part = slice_clip(clip, start, end)
    np.testing.assert_array_equal(part.motion[:, 0], kept)
    assert part.frame_time == clip.frame_time
    assert part.names == clip.names and part.channels == clip.channels
    np.testing.assert_array_equal(part.offsets, clip.offsets)


@pytest.mark.parametrize(("start", "end"), [(3, 3), (4, 2), (5, None), (10, 20), (0, 0), (-1, -1)])
def test_empty_slice_is_a_clear_error(start: int, end: int | None) -> None:
    with pytest.raises(ValueError, match=rf"frames \[{start}:{end}\] of a 5-frame clip are empty"):
        slice_clip(numbered(5), start, end)


def test_slice_copies_and_leaves_the_source_alone() -> None:
    clip = numbered(5)
    part = slice_clip(clip, 1, 3)
    part.motion[:] = -1
    np.testing.assert_array_equal(clip.motion[:, 0], [0, 1, 2, 3, 4])


# --- retime_clip ---------------------------------------------------------------------------------------


def test_retime_changes_only_the_frame_time() -> None:
    clip = numbered(4)
    faster = retime_clip(clip, 0.025)
    assert faster.frame_time == 0.025
    assert faster.duration == pytest.approx(0.1)
    np.testing.assert_array_equal(faster.motion, clip.motion)
    assert clip.frame_time == 0.1


@pytest.mark.parametrize("bad", [0.0, -0.1, float("nan"), float("inf")])
def test_retime_rejects_a_non_positive_frame_time(bad: float) -> None:
    with pytest.raises(ValueError, match="frame_time must be a positive"):
        retime_clip(numbered(2), bad)


# --- scale_clip ----------------------------------------------------------------------------------------


def test_scale_multiplies_offsets_and_positions_only() -> None:
    clip = smooth_clip(6)
    small = scale_clip(clip, 0.025)
    np.testing.assert_allclose(small.offsets, clip.offsets * 0.025)
    np.testing.assert_allclose(small.motion[:, :3], clip.motion[:, :3] * 0.025)
    np.testing.assert_array_equal(small.motion[:, 3:], clip.motion[:, 3:])
    np.testing.assert_allclose(world_positions(small), world_positions(clip) * 0.025, atol=1e-12)
    assert small.frame_time == clip.frame_time and small.end_sites == clip.end_sites


def test_scale_finds_position_channels_anywhere() -> None:
    """A joint whose channels interleave rotation and position (allowed by BVH)."""
    clip = chain([[1, 10, 2, 20, 30, 3, 4, 5, 6]], root=("Zrotation", "Xposition", "Xrotation", "Yposition",
                                                           "Zposition", "Yrotation"))
    np.testing.assert_array_equal(scale_clip(clip, 2).motion, [[1, 20, 2, 40, 60, 3, 4, 5, 6]])


@pytest.mark.parametrize("bad", [0.0, -2.0, float("nan"), float("inf")])
def test_scale_rejects_a_non_positive_factor(bad: float) -> None:
    with pytest.raises(ValueError, match="scale factor must be a positive"):
        scale_clip(numbered(2), bad)


# --- resample_clip: timing -----------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "target"), [(339, 169), (10, 3), (5, 10), (2, 7), (1, 4), (7, 1)])
def test_resample_keeps_the_duration(source: int, target: int) -> None:
    clip = smooth_clip(source)
    out = resample_clip(clip, target)
    assert out.n_frames == target
    assert out.frame_time == pytest.approx(clip.duration / target, rel=1e-15)
    assert out.duration == pytest.approx(clip.duration, rel=1e-14)
    assert out.motion.shape == (target, clip.motion.shape[1])


def test_same_frame_count_returns_the_same_motion() -> None:
    clip = smooth_clip(50, ("YXZ", "XZY"))
    out = resample_clip(clip, 50)
    np.testing.assert_allclose(out.motion, clip.motion, rtol=0, atol=1e-6)
    assert out.frame_time == pytest.approx(clip.frame_time, rel=1e-15)
    assert out.motion is not clip.motion


def test_upsampling_by_two_keeps_every_source_frame() -> None:
    clip = smooth_clip(5)
    out = resample_clip(clip, 10)
    np.testing.assert_array_equal(out.motion[::2], clip.motion)
    assert out.frame_time == pytest.approx(clip.frame_time / 2)


def test_downsampling_by_two_keeps_every_other_frame() -> None:
    clip = smooth_clip(10)
    np.testing.assert_array_equal(resample_clip(clip, 5).motion, clip.motion[::2])


def test_the_source_is_not_changed() -> None:
    clip = smooth_clip(9)
    before = clip.motion.copy()
    resample_clip(clip, 4)
    np.testing.assert_array_equal(clip.motion, before)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_resample_rejects_a_bad_frame_count(bad: object) -> None:
    with pytest.raises(ValueError, match="n_frames must be a whole number"):
        resample_clip(numbered(4), bad)  # type: ignore[arg-type]


# --- resample_clip: interpolation, worked by hand -------------------------------------------------------
# Output frame k samples source frame k·F/N, clamped to F − 1.  2 → 3 frames: 0, 2/3, 4/3 → 1.


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("order", ["ZXY", "XYZ", "YXZ"])
def test_quarter_turn_over_two_frames_resampled_to_three(order: str, axis: int) -> None:
    """0 → 90° about one axis: samples at 0, 2/3 and (clamped) 1 give exactly 0, 60, 90°."""
    angles = np.zeros((2, 3))
    angles[1, axis] = 90.0
    rot = tuple(f"{a}rotation" for a in order)
    clip = chain(np.column_stack([[[0, 0, 0], [3, 0, -6]], angles, np.zeros((2, 3))]), root=POS + rot, child=rot)
    out = resample_clip(clip, 3)
    expected = np.zeros((3, 3))
    expected[:, axis] = [0.0, 60.0, 90.0]
    np.testing.assert_allclose(out.motion[:, 3:6], expected, atol=1e-9)
    np.testing.assert_allclose(out.motion[:, :3], [[0, 0, 0], [2, 0, -4], [3, 0, -6]], atol=1e-12)
    np.testing.assert_array_equal(out.motion[:, 6:], 0)
    assert out.frame_time == pytest.approx(0.2 / 3)


def test_quarter_turn_resampled_to_four_gives_45_degrees() -> None:
    """2 → 4 frames samples 0, 0.5, 1, 1.5 → 1: angles 0, 45, 90, 90."""
    clip = chain([[0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 90, 0, 0, 0, 0, 0]])
    out = resample_clip(clip, 4)
    np.testing.assert_allclose(out.motion[:, 3], [0, 45, 90, 90], atol=1e-9)
    world = world_positions(out)
    # The child's offset (0, 1, 0) turned 45° about Z.
    np.testing.assert_allclose(world[1, 1], [-np.sqrt(0.5), np.sqrt(0.5), 0], atol=1e-12)


def test_three_frames_to_two_takes_the_midpoint_of_the_last_two() -> None:
    """3 → 2 frames samples 0 and 1.5."""
    clip = chain([[0, 0, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 10, 0, 0, 0, 0, 0], [3, 0, 0, 30, 0, 0, 0, 0, 0]])
    out = resample_clip(clip, 2)
    np.testing.assert_allclose(out.motion[:, [0, 3]], [[0, 0], [2, 20]], atol=1e-9)
    assert out.frame_time == pytest.approx(0.15)


def test_two_axis_rotation_follows_the_great_arc() -> None:
    """Rz(90)·Rx(90) at frame 1: the halfway sample is the rotation halfway along the arc, not the Euler mean."""
    clip = chain([[0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 90, 90, 0, 0, 0, 0]])
    out = resample_clip(clip, 4)
    start, end = Rotation.identity(), Rotation.from_euler("ZXY", [90, 90, 0], degrees=True)
    half = Rotation.from_rotvec(end.as_rotvec() / 2)  # 60° of the 120° turn about (1, 1, 1)/√3
    np.testing.assert_allclose(angle_between(rotations(out, 0)[1], half), 0, atol=1e-9)
    np.testing.assert_allclose(angle_between(start, rotations(out, 0)[1]), 60, atol=1e-9)
    assert not np.allclose(out.motion[1, 3:6], [45, 45, 0], atol=1)


# --- resample_clip: the short way, and Euler angles near the source's ------------------------------------


def test_crossing_180_goes_the_short_way() -> None:
    """170° → −170° about Z passes through 180°, not through 0°."""
    clip = chain([[0, 0, 0, 170, 0, 0, 0, 0, 0], [0, 0, 0, -170, 0, 0, 0, 0, 0]])
    out = resample_clip(clip, 4)  # samples 0, 0.5, 1, 1
    assert np.mod(out.motion[1, 3], 360) == pytest.approx(180, abs=1e-9)
    np.testing.assert_allclose(out.motion[[0, 2, 3], 3], [170, -170, -170], atol=1e-9)
    # The child sits at Rz(180)·(0, 1, 0) = (0, −1, 0).
    np.testing.assert_allclose(world_positions(out)[1, 1], [0, -1, 0], atol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_crossing_180_on_any_axis_of_a_three_axis_joint(axis: int) -> None:
    """Each axis of Y X Z crossing ±180 between frames (others nonzero): the result equals scipy's Slerp."""
    angles = np.array([[20.0, -30.0, 40.0], [20.0, -30.0, 40.0]])
    angles[:, axis] = [175.0, -175.0]
    clip = chain(np.column_stack([np.zeros((2, 3)), angles, np.zeros((2, 3))]),
                 root=POS + ("Yrotation", "Xrotation", "Zrotation"))
    out = resample_clip(clip, 4)
    np.testing.assert_allclose(angle_between(rotations(out, 0), reference_slerp(clip, 0, 4)), 0, atol=1e-9)
    # Halfway is 5° from each end (the short way), never ~175° away.
    np.testing.assert_allclose(angle_between(rotations(clip, 0)[0], rotations(out, 0)[1]),
                               angle_between(rotations(clip, 0)[1], rotations(out, 0)[1]), atol=1e-9)
    assert angle_between(rotations(clip, 0)[0], rotations(out, 0)[1]) < 10


def test_almost_a_full_turn_goes_backwards() -> None:
    """0° → 350° is a 10° turn backwards: halfway is −5° (written near the nearer frame's angle)."""
    clip = chain([[0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 350, 0, 0, 0, 0, 0]])
    out = resample_clip(clip, 4)
    assert np.mod(out.motion[1, 3], 360) == pytest.approx(355, abs=1e-9)
    assert out.motion[1, 3] == pytest.approx(355, abs=1e-9)  # nearest source frame (1) holds 350


def test_angles_outside_the_principal_range_stay_there() -> None:
    """Z 200° → 210° (the outer axis, so slerp is exactly Rz(205)·…) resamples to 205°, not −155°, and
    X = 120° keeps its branch rather than the equivalent (Z + 180, 60, Y + 180)."""
    clip = chain([[0, 0, 0, 200, 120, -10, 0, 0, 0], [0, 0, 0, 210, 120, -10, 0, 0, 0]])
    out = resample_clip(clip, 4)
    np.testing.assert_allclose(out.motion[:, 3:6], [[200, 120, -10], [205, 120, -10], [210, 120, -10],
                                                    [210, 120, -10]], atol=1e-9)


def test_inner_axis_beyond_90_keeps_its_branch() -> None:
    """X 120° → 130° between fixed Z and Y is not one axis in world terms, but the Euler triple stays near
    the source's (X ≈ 125°) and the rotation is slerp's."""
    clip = chain([[0, 0, 0, 30, 120, -10, 0, 0, 0], [0, 0, 0, 35, 130, -10, 0, 0, 0]])
    out = resample_clip(clip, 4)
    np.testing.assert_allclose(out.motion[1, 3:6], [32.5, 125, -10], atol=1.0)
    np.testing.assert_allclose(angle_between(rotations(out, 0), reference_slerp(clip, 0, 4)), 0, atol=1e-9)


def test_single_rotation_channel_interpolates_the_short_way() -> None:
    clip = chain([[0, 0, 0, 170, 10], [0, 0, 0, -170, 30]], root=POS + ("Zrotation",), child=("Xrotation",))
    out = resample_clip(clip, 4)
    assert np.mod(out.motion[1, 3], 360) == pytest.approx(180)
    np.testing.assert_allclose(out.motion[:, 4], [10, 20, 30, 30])


def test_two_rotation_channels_interpolate_each_angle() -> None:
    clip = chain([[0, 0, 0, 0, 0, 0], [0, 0, 0, 40, -20, 0]], root=POS + ("Zrotation", "Xrotation"),
                 child=("Yrotation",))
    out = resample_clip(clip, 4)
    np.testing.assert_allclose(out.motion[:, 3:5], [[0, 0], [20, -10], [40, -20], [40, -20]])


def test_a_single_frame_clip_repeats() -> None:
    clip = smooth_clip(1)
    out = resample_clip(clip, 3)
    np.testing.assert_array_equal(out.motion, np.repeat(clip.motion, 3, axis=0))
    assert out.frame_time == pytest.approx(clip.frame_time / 3)


# --- resample_clip: against scipy's Slerp on longer clips ----------------------------------------------


@pytest.mark.parametrize("orders", [("ZXY", "XYZ"), ("YXZ", "ZYX"), ("XZY", "YZX")])
@pytest.mark.parametrize(("source", "target"), [(40, 17), (13, 40)])
def test_rotations_match_scipy_slerp(orders: tuple[str, str], source: int, target: int) -> None:
    clip = smooth_clip(source, orders, seed=source)
    out = resample_clip(clip, target)
    for joint in (0, 1):
        np.testing.assert_allclose(angle_between(rotations(out, joint), reference_slerp(clip, joint, target)),
                                   0, atol=1e-7)
    times = np.minimum(np.arange(target) * source / target, source - 1)
    for c in range(3):
        np.testing.assert_allclose(out.motion[:, c], np.interp(times, np.arange(source), clip.motion[:, c]),
                                   atol=1e-12)


def test_resampled_angles_are_continuous() -> None:
    """Euler angles are written near the source frame's, so a smooth clip stays smooth: no ±360° jumps
    while Z and Y wind through several turns.  (Near gimbal lock, X ≈ ±90°, Euler angles of an
    interpolated rotation can swing however they are chosen; the middle angle stays within ±60° here.)"""
    t = np.arange(60.0)
    angles = np.column_stack([-170 + 15 * t, 60 * np.sin(t / 5), 100 - 12 * t])
    clip = chain(np.column_stack([np.zeros((60, 3)), angles, angles[:, [2, 1, 0]]]))
    out = resample_clip(clip, 150)
    steps = np.abs(np.diff(out.motion[:, 3:], axis=0))
    assert steps.max() < 10, steps.max()
    assert out.motion[-1, 3] > 500  # still wound up, as the source is


def test_a_written_and_reread_clip_resamples_the_same() -> None:
    from studio.pipeline.motion.bvh_writer import format_bvh
    clip = smooth_clip(20, ("YXZ", "ZXY"))
    again = parse_bvh(format_bvh(clip, precision=9))
    np.testing.assert_allclose(resample_clip(again, 7).motion, resample_clip(clip, 7).motion, atol=1e-6)


# --- the real sample clips ----------------------------------------------------------------------------


@needs_shared
def test_fair1_dab_339_to_169_keeps_its_duration() -> None:
    clip = read_bvh(SHARED / "bvh" / "fair1_dab.bvh")
    out = resample_clip(clip, 169)
    assert out.n_frames == 169
    assert out.duration == pytest.approx(339 * 0.0333333)
    assert out.frame_time == pytest.approx(339 * 0.0333333 / 169)
    np.testing.assert_array_equal(out.motion[0], clip.motion[0])
    # Joint positions move smoothly: each resampled frame's FK lies within the source's range at that time.
    world, source = world_positions(out), world_positions(clip)
    at = np.floor(np.arange(169) * 339 / 169).astype(int)
    span = np.abs(source[np.minimum(at + 1, 338)] - source[at]).max()
    assert np.abs(world - source[at]).max() <= span + 1e-9


@needs_shared
@pytest.mark.parametrize(("name", "target"), [("rokoko_jesse_dance.bvh", 504), ("cmu1_jumping_jacks.bvh", 300),
                                              ("fair1_dab.bvh", 169)])
def test_real_clips_match_scipy_slerp(name: str, target: int) -> None:
    clip = read_bvh(SHARED / "bvh" / name)
    out = resample_clip(clip, target)
    for joint in range(len(clip.names)):
        if sum(c in ROTATION_CHANNELS for c in clip.channels[joint]) == 3:
            error = angle_between(rotations(out, joint), reference_slerp(clip, joint, target))
            assert error.max() < 1e-6, (clip.names[joint], error.max())


@needs_shared
def test_real_clip_resampled_to_its_own_length_is_unchanged() -> None:
    clip = read_bvh(SHARED / "bvh" / "rokoko_jesse_dance.bvh")
    np.testing.assert_allclose(resample_clip(clip, clip.n_frames).motion, clip.motion, rtol=0, atol=1e-6)
