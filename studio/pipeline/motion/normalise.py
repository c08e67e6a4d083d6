"""Motion normalisation: a BVH clip plus its motion config → up +Y, forward +X, scaled, root-relative positions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.pipeline.motion.bvh import Bvh
from studio.pipeline.motion.clip import retime_clip, slice_clip
from studio.pipeline.motion.config import MotionConfig
from studio.pipeline.motion.kinematics import world_positions


class MotionError(ValueError):
    """A clip that does not fit its motion config (a missing joint, an empty slice)."""


@dataclass(frozen=True, eq=False)
class NormalisedMotion:
    """A clip in AD's normalised space.

    names: BVH joint names. frame_time: seconds per frame.
    world: (F, J, 3) float64 positions after scale and up → +Y, ground joint at y = 0 on frame 0,
        root over the origin on frame 0.
    local: (F, J, 3) float64 positions relative to the root, turned so that each frame's forward is +X.
    forward: (F, 3) unit forward direction per frame (horizontal), in ``world`` space.
    """

    names: tuple[str, ...]
    frame_time: float
    world: np.ndarray
    local: np.ndarray
    forward: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.world.shape[0])

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise MotionError(f"the BVH has no joint {name!r}") from None


def _up_to_y(points: np.ndarray, up: str) -> np.ndarray:
    """Rotate so that ``up`` becomes +Y (a proper rotation, never a mirror)."""
    if up == "+y":
        return points
    if up == "+z":  # -90° about X: (x, y, z) -> (x, z, -y)
        return np.stack([points[..., 0], points[..., 2], -points[..., 1]], axis=-1)
    raise MotionError(f"unsupported up axis {up!r}: use '+y' or '+z'")


def forward_directions(world: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """(F, 3) unit horizontal forward per frame, as AD computes it.

    The (left, right) joint vectors are normalised and averaged; forward is up × that average.
    """
    across = np.zeros((world.shape[0], 3))
    for left, right in pairs:
        v = world[:, right] - world[:, left]
        across += v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    across /= len(pairs)
    forward = np.stack([across[:, 2], np.zeros(len(across)), -across[:, 0]], axis=1)
    norm = np.linalg.norm(forward, axis=1, keepdims=True)
    bad = norm[:, 0] < 1e-9
    if bad[0]:
        raise MotionError("cannot tell which way the figure faces on the first frame: its forward joint pairs "
                          "are vertical or coincide")
    forward = forward / np.where(bad[:, None], 1.0, norm)
    for k in np.flatnonzero(bad):  # a momentarily sideways pose keeps the previous frame's heading
        forward[k] = forward[k - 1]
    return forward


def _turn_to_x(points: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Rotate (F, ..., 3) points about +Y, per frame, so that forward (F, 3) becomes +X."""
    cos = forward[:, 0].reshape((-1,) + (1,) * (points.ndim - 2))
    sin = forward[:, 2].reshape(cos.shape)
    out = np.empty_like(points)
    out[..., 0] = cos * points[..., 0] + sin * points[..., 2]
    out[..., 1] = points[..., 1]
    out[..., 2] = -sin * points[..., 0] + cos * points[..., 2]
    return out


def normalise_motion(bvh: Bvh, config: MotionConfig) -> NormalisedMotion:
    """Slice, retime and normalise ``bvh`` as the motion config says (AD's method, DESIGN.md §4)."""
    clip = slice_clip(bvh, config.start_frame_idx, config.end_frame_idx)
    if config.frame_time is not None:
        clip = retime_clip(clip, config.frame_time)
    missing = [n for pair in config.forward_perp_joint_vectors for n in pair if n not in clip.names]
    if config.groundplane_joint not in clip.names:
        missing.append(config.groundplane_joint)
    if missing:
        raise MotionError(f"the motion config names joints the BVH lacks: {', '.join(sorted(set(missing)))}")
    world = _up_to_y(world_positions(clip) * config.scale, config.up)
    pairs = [(clip.names.index(a), clip.names.index(b)) for a, b in config.forward_perp_joint_vectors]
    # The whole clip turns once so that frame 0 faces +X; then root over the origin, ground joint at y = 0.
    first = forward_directions(world[:1], pairs)
    world = _turn_to_x(world, np.repeat(first, len(world), axis=0))
    ground = world[0, clip.names.index(config.groundplane_joint), 1]
    world = world - np.array([world[0, 0, 0], ground, world[0, 0, 2]])
    forward = forward_directions(world, pairs)
    local = _turn_to_x(world - world[:, :1], forward)
    return NormalisedMotion(clip.names, clip.frame_time, world, local, forward)
