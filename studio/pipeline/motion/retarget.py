"""Retargeting faithful to AnimatedDrawings' twisted perspective: BVH clip → per-frame 2D rig poses and draw order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.pipeline.character import Character
from studio.pipeline.motion.config import RetargetConfig
from studio.pipeline.motion.normalise import MotionError, NormalisedMotion


class RetargetError(ValueError):
    """A retarget config that does not fit the character or the BVH; the message lists what is missing."""


@dataclass(frozen=True, eq=False)
class Pose2D:
    """A retargeted clip, ready to deform.

    joints: (F, J, 2) float64 joint positions in texture pixels (x right, y down), root motion included.
    bone_angle: (F, J) float64 degrees CCW from up of each parent→joint bone as posed (NaN for root, hip).
    target_angle: (F, J) float64 degrees the retargeter asked for (NaN where unmapped).
    root_offset: (F, 2) float64 root translation in texture pixels relative to frame 0.
    group_depth: (F, G) float64 mean depth of each body-part group's drivers.
    draw_order: (F, G) int group indices, first drawn = furthest back.
    group_reversed: (F, G) bool, True where a group's joints are drawn in reverse list order.
    planes: group name → 'frontal' or 'sagittal' as chosen (PCA resolved).
    notes: what the retargeter decided that a user may want to know (runtime checks that fired).
    """

    joints: np.ndarray
    bone_angle: np.ndarray
    target_angle: np.ndarray
    root_offset: np.ndarray
    group_depth: np.ndarray
    draw_order: np.ndarray
    group_reversed: np.ndarray
    planes: dict[str, str]
    mapping: dict[str, tuple[str, str]]
    char_to_bvh_scale: float
    frame_time: float
    notes: tuple[str, ...] = ()

    @property
    def n_frames(self) -> int:
        return int(self.joints.shape[0])


def bone_angles(points: np.ndarray, parents: tuple[int, ...]) -> np.ndarray:
    """(..., J) degrees in [0, 360) CCW from up of each parent→joint bone; NaN for roots and zero-length bones.

    points: (..., J, 2) pixels, y down.
    """
    out = np.full(points.shape[:-1], np.nan)
    for j, p in enumerate(parents):
        if p < 0:
            continue
        d = points[..., p, :] - points[..., j, :]
        angle = np.degrees(np.arctan2(d[..., 0], d[..., 1])) % 360.0
        out[..., j] = np.where(np.hypot(d[..., 0], d[..., 1]) > 1e-9, angle, np.nan)
    return out


def _project(points: np.ndarray, plane: str) -> np.ndarray:
    """(..., 3) → (..., 2) screen coordinates (x right, y up) on a frontal or sagittal plane."""
    if plane == "frontal":
        return np.stack([-points[..., 2], points[..., 1]], axis=-1)
    return np.stack([points[..., 0], points[..., 1]], axis=-1)


def _depth(points: np.ndarray, plane: str) -> np.ndarray:
    """Coordinate along the plane's normal, larger = closer to the viewer."""
    return points[..., 0] if plane == "frontal" else points[..., 2]


def choose_planes(motion: NormalisedMotion, config: RetargetConfig) -> dict[str, str]:
    """Resolve each projection group's method; 'pca' picks the plane whose normal (x or z) is closer
    to the third principal component of the group's joints over all frames."""
    planes: dict[str, str] = {}
    for group in config.projection_groups:
        if group.method != "pca":
            planes[group.name] = group.method
            continue
        present = [motion.names.index(n) for n in group.bvh_joint_names if n in motion.names]
        if len(present) < 3:
            planes[group.name] = "frontal"
            continue
        pts = motion.local[:, present].reshape(-1, 3)
        pts = pts - pts.mean(axis=0)
        _, _, vt = np.linalg.svd(pts, full_matrices=False)
        third = vt[2]
        planes[group.name] = "frontal" if abs(third[0]) >= abs(third[2]) else "sagittal"
    return planes


def _check_names(character: Character, motion: NormalisedMotion, config: RetargetConfig) -> None:
    missing_bvh = sorted({n for bones in config.joint_mapping.values() for n in bones if n not in motion.names}
                         | {n for g in config.bodypart_groups for n in g.bvh_depth_drivers if n not in motion.names}
                         | {n for c in config.root_offset.bvh_chains for n in c if n not in motion.names})
    if missing_bvh:
        raise RetargetError(f"the retarget config names BVH joints this clip lacks: {', '.join(missing_bvh)}")
    missing_char = sorted({j for j in config.joint_mapping if j not in character.names}
                          | {j for c in config.root_offset.char_chains for j in c if j not in character.names})
    if missing_char:
        raise RetargetError("the retarget config names character joints this character lacks: "
                            f"{', '.join(missing_char)} (character has: {', '.join(character.names)})")
    unplaced = sorted(d for bones in config.joint_mapping.values() for d in bones[1:]
                      if config.group_of(d) is None)
    if unplaced:
        raise RetargetError(f"BVH joints {', '.join(unplaced)} are mapped but in no projection group")


def runtime_checks(character: Character, config: RetargetConfig) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Apply ``char_runtime_checks``: drop the neck mapping of a tadpole figure (nose below the shoulders)."""
    mapping = dict(config.joint_mapping)
    notes: list[str] = []
    for _, joint, start, end in config.runtime_checks:
        if joint not in character.names or start not in character.names or end not in character.names:
            notes.append(f"runtime check on {joint!r} skipped: the character lacks one of {joint}, {start}, {end}")
            continue
        a, b, p = (character.rest[character.index(n)] for n in (start, end, joint))
        across = np.array([b[0] - a[0], a[1] - b[1]])  # y up
        rel = np.array([p[0] - a[0], a[1] - p[1]])
        # Rotate so that start→end is +x; the point's y < 0 means it is below the line.
        cross = across[0] * rel[1] - across[1] * rel[0]
        if cross < 0 and joint in mapping:
            del mapping[joint]
            notes.append(f"{joint} is below the {start}→{end} line (a tadpole figure): its mapping is dropped")
    return mapping, notes


def char_to_bvh_scale(character: Character, motion_bone_lengths: dict[str, float], config: RetargetConfig) -> float:
    """(sum of character chain lengths, in units of max(w, h)) / (sum of BVH chain lengths)."""
    dim = max(character.width, character.height)
    char_len = sum(float(np.linalg.norm(character.rest[character.index(c[i])] - character.rest[character.index(c[i + 1])]))
                   for c in config.root_offset.char_chains for i in range(len(c) - 1)) / dim
    bvh_len = sum(motion_bone_lengths[f"{c[i]}|{c[i + 1]}"] for c in config.root_offset.bvh_chains
                  for i in range(len(c) - 1))
    if bvh_len <= 1e-12:
        raise RetargetError("the BVH's root-offset (leg) chains have zero length: "
                            f"{', '.join('→'.join(c) for c in config.root_offset.bvh_chains)}")
    if char_len <= 1e-12:
        raise RetargetError("the character's root-offset (leg) chains have zero length: "
                            f"{', '.join('→'.join(c) for c in config.root_offset.char_chains)}")
    return char_len / bvh_len


def retarget(character: Character, motion: NormalisedMotion, config: RetargetConfig) -> Pose2D:
    """Pose ``character`` on every frame of ``motion`` the way AD renders it (ad_reference README rules 1–8)."""
    _check_names(character, motion, config)
    mapping, notes = runtime_checks(character, config)
    planes = choose_planes(motion, config)
    n_frames, names, parents = motion.n_frames, character.names, character.parents
    rest_angle = bone_angles(character.rest, parents)

    target = np.full((n_frames, len(names)), np.nan)
    for joint, (prox, dist) in mapping.items():
        group = config.group_of(dist)
        plane = planes[group.name] if group is not None else "frontal"
        v = _project(motion.local[:, motion.index(dist)] - motion.local[:, motion.index(prox)], plane)
        target[:, names.index(joint)] = np.degrees(np.arctan2(-v[:, 0], v[:, 1])) % 360.0

    # AD applies each mapped joint's change as a local rotation on its parent, compensating the parent's own
    # change only when the parent is mapped (rule 5): unmapped shoulders make the arms inherit the neck.
    delta = np.where(np.isnan(target), 0.0, target - np.nan_to_num(rest_angle))
    mapped = ~np.isnan(target[0]) if n_frames else np.zeros(len(names), bool)
    local = np.zeros((n_frames, len(names)))
    for j in range(len(names)):  # skeleton order: a later child of the same parent wins, as in AD
        p = parents[j]
        if p >= 0 and mapped[j]:
            local[:, p] = delta[:, j] - (delta[:, p] if mapped[p] else 0.0)
    world_rot = np.zeros_like(local)
    for j, p in enumerate(parents):
        world_rot[:, j] = local[:, j] + (world_rot[:, p] if p >= 0 else 0.0)

    root_offset, scale = _root_motion(character, motion, config, planes)
    if scale == 0.0:
        notes.append("no leg chains to scale root motion by: the character stays in place")
    joints = np.empty((n_frames, len(names), 2))
    root = int(np.flatnonzero(np.array(parents) < 0)[0])
    joints[:, root] = character.rest[root] + root_offset
    for j, p in enumerate(parents):
        if p < 0:
            continue
        theta = np.radians(world_rot[:, p])
        c, s = np.cos(theta), np.sin(theta)
        dx, dy = character.rest[j] - character.rest[p]
        # Counter-clockwise on screen with y pointing down.
        joints[:, j, 0] = joints[:, p, 0] + c * dx + s * dy
        joints[:, j, 1] = joints[:, p, 1] - s * dx + c * dy

    depth, order, reversed_ = _draw_order(motion, config, planes)
    return Pose2D(joints, bone_angles(joints, parents), target, root_offset, depth, order, reversed_, planes,
                  mapping, scale, motion.frame_time, tuple(notes))


def _root_motion(character: Character, motion: NormalisedMotion, config: RetargetConfig,
                 planes: dict[str, str]) -> tuple[np.ndarray, float]:
    """(F, 2) root offset in texture pixels from frame 0, and the char/BVH scale used."""
    if not config.root_offset.char_chains or not config.root_offset.bvh_chains:
        return np.zeros((motion.n_frames, 2)), 0.0
    lengths = {}
    for chain in config.root_offset.bvh_chains:
        for a, b in zip(chain[:-1], chain[1:]):
            d = motion.world[0, motion.index(a)] - motion.world[0, motion.index(b)]
            lengths[f"{a}|{b}"] = float(np.linalg.norm(d))
    scale = char_to_bvh_scale(character, lengths, config)
    root = motion.world[:, 0]
    step = np.diff(root, axis=0, prepend=root[:1])
    fwd = motion.forward
    if planes.get(config.root_offset.projection_group, "frontal") == "sagittal":
        horizontal = step[:, 0] * fwd[:, 0] + step[:, 2] * fwd[:, 2]
    else:  # AD's "lateral" direction is (−f_z, 0, −f_x): reproduced as is, it is what AD renders
        horizontal = -step[:, 0] * fwd[:, 2] - step[:, 2] * fwd[:, 0]
    offset = np.stack([np.cumsum(horizontal), np.cumsum(step[:, 1])], axis=1) * scale
    dim = max(character.width, character.height)
    return offset * np.array([dim, -dim]), scale


def _draw_order(motion: NormalisedMotion, config: RetargetConfig,
                planes: dict[str, str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_groups = len(config.bodypart_groups)
    depth = np.zeros((motion.n_frames, n_groups))
    for g, group in enumerate(config.bodypart_groups):
        values = []
        for driver in group.bvh_depth_drivers:
            pg = config.group_of(driver)
            plane = planes[pg.name] if pg is not None else "frontal"
            values.append(_depth(motion.local[:, motion.index(driver)], plane))
        depth[:, g] = np.mean(values, axis=0) if values else 0.0
    order = np.argsort(depth, axis=1, kind="stable")
    return depth, order, depth <= 0.0


__all__ = ["Pose2D", "RetargetError", "MotionError", "bone_angles", "choose_planes", "retarget", "runtime_checks",
           "char_to_bvh_scale"]
