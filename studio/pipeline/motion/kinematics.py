"""Forward kinematics of a BVH clip: each joint's local and world transforms, frame by frame."""

from __future__ import annotations

import numpy as np

from studio.pipeline.motion.bvh import ROTATION_CHANNELS, Bvh


def _axis_rotations(axis: str, degrees: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotation matrices about one axis."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    m = np.zeros(a.shape + (3, 3))
    i = "XYZ".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    m[:, i, i] = 1.0
    m[:, j, j] = c
    m[:, k, k] = c
    m[:, j, k] = -s
    m[:, k, j] = s
    return m


def local_transforms(bvh: Bvh) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint local rotation (F, J, 3, 3) and translation (F, J, 3) from the channels.

    Rotations compose in the channel order as written (``Z X Y`` gives Rz·Rx·Ry); position
    channels add to the OFFSET.
    """
    n_frames, n_joints = bvh.n_frames, len(bvh.names)
    rot = np.broadcast_to(np.eye(3), (n_frames, n_joints, 3, 3)).copy()
    trans = np.broadcast_to(bvh.offsets, (n_frames, n_joints, 3)).copy()
    starts = bvh.channel_offsets()
    for j, chans in enumerate(bvh.channels):
        for c, name in enumerate(chans):
            values = bvh.motion[:, starts[j] + c]
            if name in ROTATION_CHANNELS:
                rot[:, j] = rot[:, j] @ _axis_rotations(name[0], values)
            else:
                trans[:, j, "XYZ".index(name[0])] += values
    return rot, trans


def world_positions(bvh: Bvh) -> np.ndarray:
    """(F, J, 3) float64 world position of every joint (End Sites included), file units."""
    rot, trans = local_transforms(bvh)
    glob_rot = np.empty_like(rot)
    glob_pos = np.empty_like(trans)
    for j, p in enumerate(bvh.parents):
        if p < 0:
            glob_rot[:, j] = rot[:, j]
            glob_pos[:, j] = trans[:, j]
        else:
            glob_rot[:, j] = glob_rot[:, p] @ rot[:, j]
            glob_pos[:, j] = glob_pos[:, p] + np.einsum("fab,fb->fa", glob_rot[:, p], trans[:, j])
    return glob_pos
