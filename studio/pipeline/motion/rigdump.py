"""Per-frame rig dumps in the ad_reference ``ad_ref_v1`` format, for frame-by-frame comparison with AD."""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.pipeline.character import Character
from studio.pipeline.motion.retarget import Pose2D


def _rounded(values: np.ndarray, decimals: int) -> list[Any]:
    """Nested lists with NaN as None (JSON null)."""
    rounded = np.round(values.astype(float), decimals)
    return np.where(np.isnan(rounded), None, rounded).tolist()  # type: ignore[call-overload]


def rig_dump(pose: Pose2D, character: Character, case: str, extra_meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON-ready ``{"meta", "frames"}`` mapping of ``pose`` (angles in degrees CCW from up, px y down)."""
    n = pose.n_frames
    meta: dict[str, Any] = {
        "format": "ad_ref_v1",
        "case": case,
        "producer": "drawing-studio",
        "n_frames": n,
        "frame_time": pose.frame_time,
        "joints": list(character.names),
        "parents": [character.parent_name(j) for j in range(len(character.names))],
        "rest_px": character.rest.tolist(),
        "img_width": character.width,
        "img_height": character.height,
        "char_to_bvh_scale": pose.char_to_bvh_scale,
        "projection_planes": dict(pose.planes),
        "joint_mapping_used": {k: list(v) for k, v in pose.mapping.items()},
        "notes": list(pose.notes),
    }
    meta.update(extra_meta or {})
    frames = {
        "bvh_frame_idx": list(range(n)),
        "time": [round(k * pose.frame_time, 6) for k in range(n)],
        "px": _rounded(pose.joints, 3),
        "root_offset_px": _rounded(pose.root_offset, 3),
        "bone_angle": _rounded(pose.bone_angle, 3),
        "target_angle": _rounded(pose.target_angle, 3),
        "group_depth": _rounded(pose.group_depth, 5),
        "draw_order": pose.draw_order.tolist(),
        "group_reversed": pose.group_reversed.astype(int).tolist(),
    }
    return {"meta": meta, "frames": frames}
