"""Clip operations on a Bvh: slice frames, resample keeping the duration (slerp), scale, retime."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from studio.pipeline.motion.bvh import MAX_FRAME_TIME, MIN_FRAME_TIME, ROTATION_CHANNELS, USABLE, Bvh, unusable_value

# Quaternions closer than this (half-angle under ~4.5e-5 rad) are blended by normalised lerp: slerp's
# sin(θ) weights lose precision there, and the two agree to ~1e-14.
_NLERP_DOT = 1.0 - 1e-9
# A middle Euler angle this close (radians) to ±90° is gimbal lock: the third angle is set to 0 and the first
# carries the whole turn about the locked axis (the convention and threshold of scipy's Rotation.as_euler).
_GIMBAL_LOCK = 1e-7


def slice_clip(bvh: Bvh, start: int | None = 0, end: int | None = None) -> Bvh:
    """Frames ``start:end`` of ``bvh`` with Python slice semantics (negative indices count from the end).

    Raises ValueError when the slice holds no frames: a Bvh always has at least one.
    """
    motion = bvh.motion[start:end]
    if motion.shape[0] == 0:
        raise ValueError(f"frames [{start}:{end}] of a {bvh.n_frames}-frame clip are empty")
    return bvh.with_motion(motion.copy())


def retime_clip(bvh: Bvh, frame_time: float) -> Bvh:
    """The same frames played at ``frame_time`` seconds per frame (a motion config's override), within the bounds a
    BVH file's Frame Time has."""
    if not MIN_FRAME_TIME <= frame_time <= MAX_FRAME_TIME:
        raise ValueError(f"frame_time must be a positive number of seconds from {MIN_FRAME_TIME:g} to "
                         f"{MAX_FRAME_TIME:g}, got {frame_time!r}")
    return bvh.with_motion(bvh.motion.copy(), float(frame_time))


def scale_clip(bvh: Bvh, factor: float) -> Bvh:
    """``bvh`` with OFFSETs and position channels multiplied by ``factor`` (world positions scale by it).

    Raises ValueError when a scaled value leaves the bounds parse_bvh holds files to.
    """
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"scale factor must be a positive number, got {factor!r}")
    motion = bvh.motion.copy()
    motion[:, _position_columns(bvh)] *= factor
    scaled = dataclasses.replace(bvh, offsets=bvh.offsets * float(factor), motion=motion)
    if bad := unusable_value(scaled):
        raise ValueError(f"scale factor {factor:g} makes {bad}, which is not a usable number: {USABLE}")
    return scaled


def resample_positions(n_source: int, n_frames: int) -> np.ndarray:
    """(n_frames,) float64: the source frame output frame k samples when ``n_source`` frames are resampled to
    ``n_frames`` keeping the duration: k · new_frame_time / frame_time = k · F / N, clamped to the last."""
    return np.minimum(np.arange(n_frames) * n_source / n_frames, n_source - 1)


def resample_clip(bvh: Bvh, n_frames: int) -> Bvh:
    """``bvh`` resampled to ``n_frames`` frames covering the same duration.

    The new frame_time is ``bvh.duration / n_frames``; output frame k samples source time
    ``k · new_frame_time`` (clamped to the last frame). Each joint's rotation is interpolated with
    quaternion slerp (the short way) and written back as Euler angles in the joint's own channel
    order, choosing the equivalent angles nearest the source frame's; position channels are
    interpolated linearly. Samples that land exactly on a source frame copy it unchanged.
    motion (F, C) → (n_frames, C). Near gimbal lock (middle angle ≈ ±90°) the Euler angles of an
    interpolated frame may swing although the rotation itself is smooth.
    """
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise ValueError(f"n_frames must be a whole number ≥ 1, got {n_frames!r}")
    n_frames = int(n_frames)
    src = bvh.motion
    n_src = src.shape[0]
    frame_time = bvh.duration / n_frames
    position = resample_positions(n_src, n_frames)
    i0 = np.floor(position).astype(int)
    i1 = np.minimum(i0 + 1, n_src - 1)
    w = position - i0  # (N,) in [0, 1)
    nearest = np.where(w < 0.5, i0, i1)

    out = src[i0] + w[:, None] * (src[i1] - src[i0])  # positions (and a placeholder for rotations)
    for order, columns in _rotation_groups(bvh):
        if len(order) == 3:
            q = _euler_to_quat(src[:, columns], order)  # (F, Jg, 4): each source frame converted once
            out[:, columns] = _slerp_euler(q[i0], q[i1], w, src[nearest][:, columns], order)
        else:
            # One or two rotation axes: slerp would leave that axis set, so lerp each angle the short way.
            a, b = src[i0][:, columns], src[i1][:, columns]
            out[:, columns] = a + w[:, None, None] * _short_delta(a, b)
    exact = w == 0.0
    out[exact] = src[i0[exact]]
    return bvh.with_motion(out, frame_time)


def _position_columns(bvh: Bvh) -> np.ndarray:
    """(P,) motion columns holding position channels."""
    starts = bvh.channel_offsets()
    return np.array([starts[j] + c for j, chans in enumerate(bvh.channels)
                     for c, name in enumerate(chans) if name not in ROTATION_CHANNELS], dtype=int)


def _rotation_groups(bvh: Bvh) -> list[tuple[str, np.ndarray]]:
    """Rotation channels grouped by order: (axes in channel order, e.g. ``'ZXY'``; (Jg, len(axes)) int columns).

    Joints with the same order share a group so that one vectorised pass handles them all.
    """
    starts = bvh.channel_offsets()
    groups: dict[tuple[str, ...], list[list[int]]] = {}
    for j, chans in enumerate(bvh.channels):
        rot = [(starts[j] + c, name) for c, name in enumerate(chans) if name in ROTATION_CHANNELS]
        if rot:
            groups.setdefault(tuple(name for _, name in rot), []).append([col for col, _ in rot])
    return [("".join(name[0] for name in names), np.array(cols, dtype=int)) for names, cols in groups.items()]


def _short_delta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """b − a in degrees, wrapped to [−180, 180) so that interpolation goes the short way."""
    return np.mod(b - a + 180.0, 360.0) - 180.0


def _euler_to_quat(angles: np.ndarray, order: str) -> np.ndarray:
    """(..., 3) degrees in intrinsic ``order`` (``'ZXY'`` → Rz·Rx·Ry) → (..., 4) unit quaternions (x, y, z, w).

    The quaternion is q1·q2·q3 of the per-axis quaternions, each multiplied on in closed form.
    """
    half = np.radians(np.moveaxis(angles, -1, 0)) * 0.5  # (3, ...)
    cos, sin = np.cos(half), np.sin(half)
    xyz = np.zeros((3,) + angles.shape[:-1])
    w = cos[0].copy()
    xyz["XYZ".index(order[0])] = sin[0]
    for k in (1, 2):
        a = "XYZ".index(order[k])
        b, c = (a + 1) % 3, (a + 2) % 3
        # q · (sin·e_a, cos): w' = cos·w − sin·v_a,  v' = cos·v + sin·(w·e_a + v × e_a)
        xa, xb, xc = xyz[a], xyz[b], xyz[c]
        xyz[a], xyz[b], xyz[c], w = (cos[k] * xa + sin[k] * w, cos[k] * xb + sin[k] * xc,
                                     cos[k] * xc - sin[k] * xb, cos[k] * w - sin[k] * xa)
    return np.stack([xyz[0], xyz[1], xyz[2], w], axis=-1)


def _slerp_euler(qa: np.ndarray, qb: np.ndarray, w: np.ndarray, reference: np.ndarray, order: str) -> np.ndarray:
    """Slerp between rotations, returned as Euler angles in ``order`` nearest ``reference``.

    qa, qb: (N, J, 4) unit quaternions (x, y, z, w); w: (N,); reference: (N, J, 3) degrees.
    Returns (N, J, 3) degrees.
    """
    q = _slerp(qa, qb, w[:, None])
    return _nearest_equivalent(_quat_to_euler(q, order), reference)


def _quat_to_euler(q: np.ndarray, order: str) -> np.ndarray:
    """(..., 4) quaternions (x, y, z, w; normalised here) → (..., 3) degrees in intrinsic ``order`` of three
    distinct axes (``'ZXY'``: q = Rz·Rx·Ry), each in [−180, 180], the middle one in [−90, 90].

    Bernardes and Viollet's direct method (PLoS ONE 17(11), 2022): an intrinsic sequence is the extrinsic one
    reversed, read off a permutation of the quaternion's components with two atan2s, no rotation matrix.
    """
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    i, j, k = ("XYZ".index(axis) for axis in reversed(order))
    if len({i, j, k}) != 3:
        raise ValueError(f"Euler order must name three distinct axes, got {order!r}")
    sign = (i - j) * (j - k) * (k - i) // 2  # +1 for a cyclic order of the axes, −1 otherwise
    w = q[..., 3]
    a, b = w - q[..., j], q[..., i] + sign * q[..., k]
    c, d = w + q[..., j], sign * q[..., k] - q[..., i]
    middle = 2.0 * np.arctan2(np.hypot(c, d), np.hypot(a, b))  # in [0, π]; the Tait-Bryan angle is this − π/2
    half_sum, half_diff = np.arctan2(b, a), np.arctan2(d, c)
    near_zero, near_pi = np.abs(middle) <= _GIMBAL_LOCK, np.abs(middle - np.pi) <= _GIMBAL_LOCK
    locked = near_zero | near_pi
    first = np.where(locked, np.where(near_zero, 2.0 * half_sum, 2.0 * half_diff), half_sum + half_diff)
    last = np.where(locked, 0.0, half_sum - half_diff)
    angles = np.stack([sign * first, middle - np.pi / 2, last], axis=-1)  # each within ±2π
    angles = np.where(angles < -np.pi, angles + 2 * np.pi, np.where(angles > np.pi, angles - 2 * np.pi, angles))
    return np.degrees(angles)


def _slerp(qa: np.ndarray, qb: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation of unit quaternions, the short way round.

    qa, qb: (..., 4) unit quaternions (any component order); w: weights broadcastable to (...),
    0 gives qa and 1 gives qb. Returns (..., 4) unit quaternions.
    """
    w = np.asarray(w, float)[..., None]
    dot = np.sum(qa * qb, axis=-1, keepdims=True)
    qb = np.where(dot < 0.0, -qb, qb)  # q and −q are the same rotation: take the nearer one
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin = np.sin(theta)
    close = dot > _NLERP_DOT
    safe = np.where(close, 1.0, sin)
    ka = np.where(close, 1.0 - w, np.sin((1.0 - w) * theta) / safe)
    kb = np.where(close, w, np.sin(w * theta) / safe)
    q = ka * qa + kb * qb
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _nearest_equivalent(euler: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Of the Euler triples equal to ``euler`` as rotations, the one nearest ``reference``.

    For three distinct axes, (a, b, c) and (a+180, 180−b, c+180) give the same rotation, and each
    angle may move by whole turns. euler, reference: (..., 3) degrees.
    """
    alt = euler + np.array([180.0, 0.0, 180.0])
    alt[..., 1] = 180.0 - euler[..., 1]
    candidates = []
    for c in (euler, alt):
        c = c + 360.0 * np.round((reference - c) / 360.0)
        candidates.append(c)
    d0 = np.sum((candidates[0] - reference) ** 2, axis=-1, keepdims=True)
    d1 = np.sum((candidates[1] - reference) ** 2, axis=-1, keepdims=True)
    return np.where(d1 < d0, candidates[1], candidates[0])
