"""Stick-figure thumbnails of a BVH clip: one frame's skeleton seen from the front, as RGBA pixels."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from studio.pipeline.motion.bvh import Bvh
from studio.pipeline.motion.kinematics import world_positions

INK = (46, 44, 72)  # dark blue-black, the sample drawing's marker
SUBPIXEL = 4  # fractional bits for cv2 drawing: positions to 1/16 px


def _axes(up: str) -> tuple[int, float, tuple[int, int]]:
    """Index and sign of the up axis, and the two horizontal axes."""
    if len(up) != 2 or up[0] not in "+-" or up[1] not in "xyz":
        raise ValueError(f"up must be one of +x, -x, +y, -y, +z, -z, got {up!r}")
    axis = "xyz".index(up[1])
    horizontal = tuple(a for a in range(3) if a != axis)
    return axis, (1.0 if up[0] == "+" else -1.0), (horizontal[0], horizontal[1])


def lateral_direction(world: np.ndarray, up: str = "+y", pairs: Sequence[tuple[int, int]] = ()) -> np.ndarray:
    """Unit (3,) world direction that points to the figure's left, across the whole clip.

    world: (F, J, 3) joint positions. pairs: (left, right) joint indices, e.g. shoulders and hips; their
    mean horizontal right→left vector is used when it is steady. Otherwise the horizontal axis with the
    most spread of the root-relative joints (principal component) stands in; its sign is fixed so the
    result is deterministic.
    """
    axis, _, (h0, h1) = _axes(up)
    flat = np.zeros(3)
    if pairs:
        vectors = np.concatenate([world[:, a] - world[:, b] for a, b in pairs])[:, (h0, h1)]
        mean = vectors.mean(axis=0)
        if np.linalg.norm(mean) > 0.3 * np.linalg.norm(vectors, axis=1).mean() + 1e-12:
            flat[[h0, h1]] = mean / np.linalg.norm(mean)
            return flat
    rel = (world - world[:, :1]).reshape(-1, 3)[:, (h0, h1)]
    _, vecs = np.linalg.eigh(np.cov(rel.T) if len(rel) > 1 else np.eye(2))
    major = vecs[:, -1]
    major = major if major[np.argmax(np.abs(major))] > 0 else -major
    flat[[h0, h1]] = major
    return flat


def project_front(world: np.ndarray, up: str = "+y", pairs: Sequence[tuple[int, int]] = ()) -> np.ndarray:
    """(F, J, 3) world positions → (F, J, 2) front-view coordinates: x to the figure's left (the viewer's
    right, as when facing the figure), y up, file units."""
    axis, sign, _ = _axes(up)
    lateral = lateral_direction(world, up, pairs)
    return np.stack([world @ lateral, sign * world[..., axis]], axis=-1)


def stick_figure(bvh: Bvh, frame: int, size: int = 96, up: str = "+y", pairs: Sequence[tuple[str, str]] = (),
                 colour: tuple[int, int, int] = INK, world: np.ndarray | None = None) -> np.ndarray:
    """(size, size, 4) uint8 straight-alpha RGBA picture of the skeleton at ``frame``, seen from the front.

    Bones are anti-aliased lines in ``colour`` on a transparent background, the head (a joint named
    ``*head*`` that is not an End Site) a filled disc; the figure is fitted with a margin of ``size``/10.
    up: the file's up axis ('+y' for most BVH). pairs: (left, right) joint names that say which way the
    figure faces (motion configs' ``forward_perp_joint_vectors``); without them the horizontal axis of
    least spread over the clip is dropped. world: (F, J, 3) world positions, when already computed.
    Deterministic: the same input gives the same pixels.
    """
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    if not 0 <= frame < bvh.n_frames:
        raise IndexError(f"frame {frame} is outside the clip's {bvh.n_frames} frames")
    world = world_positions(bvh) if world is None else world
    known = [(bvh.names.index(a), bvh.names.index(b)) for a, b in pairs if a in bvh.names and b in bvh.names]
    points = project_front(world, up, known)[frame]  # (J, 2)
    lo, hi = points.min(axis=0), points.max(axis=0)
    margin = max(2.0, size / 10)
    extent = float(max(hi[0] - lo[0], hi[1] - lo[1], 1e-9))
    scale = (size - 2 * margin) / extent
    centre = (lo + hi) / 2
    pixels = np.empty_like(points)
    pixels[:, 0] = size / 2 + (points[:, 0] - centre[0]) * scale
    pixels[:, 1] = size / 2 - (points[:, 1] - centre[1]) * scale  # up is up: image y grows downwards
    fixed = np.round(pixels * (1 << SUBPIXEL)).astype(np.int64)

    image = np.zeros((size, size, 4), np.uint8)
    image[..., :3] = colour  # transparent pixels carry the ink colour so anti-aliased edges blend cleanly
    ink = (*colour, 255)
    thickness = max(1, round(size / 40))
    for j, p in enumerate(bvh.parents):
        if p >= 0 and np.any(fixed[j] != fixed[p]):
            cv2.line(image, (int(fixed[p, 0]), int(fixed[p, 1])), (int(fixed[j, 0]), int(fixed[j, 1])), ink,
                     thickness, cv2.LINE_AA, SUBPIXEL)
    for j, name in enumerate(bvh.names):
        if "head" in name.lower() and j not in bvh.end_sites:
            children = [c for c, p in enumerate(bvh.parents) if p == j]
            reach = max((float(np.linalg.norm(pixels[c] - pixels[j])) for c in children), default=0.0)
            radius = min(max(reach * 0.5, 2.0 * thickness), margin)
            centre_px = (pixels[j] + pixels[children[0]]) / 2 if children else pixels[j]
            at = np.round(centre_px * (1 << SUBPIXEL)).astype(np.int64)
            cv2.circle(image, (int(at[0]), int(at[1])), int(round(radius * (1 << SUBPIXEL))), ink, -1, cv2.LINE_AA,
                       SUBPIXEL)
            break
    return image


__all__ = ["lateral_direction", "project_front", "stick_figure"]
