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


def _clip_frames(pose: Pose2D, clip_frames: np.ndarray | None) -> np.ndarray:
    """(F,) float64: the clip frame each output frame samples, checked against ``pose``."""
    if clip_frames is None:
        return np.arange(pose.n_frames, dtype=float)
    frames = np.asarray(clip_frames, dtype=float)
    if frames.shape != (pose.n_frames,) or not np.all(np.isfinite(frames)) or np.any(frames < 0):
        raise ValueError(f"clip_frames must be {pose.n_frames} finite clip frames ≥ 0, got shape {frames.shape}")
    return frames


def rig_dump(pose: Pose2D, character: Character, case: str, extra_meta: dict[str, Any] | None = None,
             clip_frames: np.ndarray | None = None, clip_frame_time: float | None = None) -> dict[str, Any]:
    """A JSON-ready ``{"meta", "frames"}`` mapping of ``pose`` (angles in degrees CCW from up, px y down).

    ``clip_frames``: (F,) float64, the (fractional) clip frame output frame k samples, when the clip was resampled
    (for the GIF's frame-rate cap) before retargeting; ``clip_frame_time``: the clip's seconds per frame (the pose's
    when not given). Without ``clip_frames`` output frame k is clip frame k, as in AD's own dumps. ``frames.time`` is
    the clip time each output frame shows, ``frames.clip_frame`` that clip frame and ``frames.bvh_frame_idx`` the
    nearest whole one (AD's ``round(time / frame_time)``), so that a resampled dump lines up with the source clip;
    ``meta.frame_time`` stays the output frames' spacing.
    """
    if clip_frames is not None and clip_frame_time is None:
        raise ValueError("resampled clip_frames need the clip's clip_frame_time")
    n = pose.n_frames
    frames_in_clip = _clip_frames(pose, clip_frames)
    step = pose.frame_time if clip_frame_time is None else float(clip_frame_time)
    meta: dict[str, Any] = {
        "format": "ad_ref_v1",
        "case": case,
        "producer": "drawing-studio",
        "n_frames": n,
        "frame_time": pose.frame_time,
        "clip_frame_time": step,
        "resampled": clip_frames is not None,
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
        # Half a frame rounds up, as resample_clip picks its nearest source frame.
        "bvh_frame_idx": np.floor(frames_in_clip + 0.5).astype(int).tolist(),
        "clip_frame": _rounded(frames_in_clip, 6),
        "time": _rounded(frames_in_clip * step, 6),
        "px": _rounded(pose.joints, 3),
        "root_offset_px": _rounded(pose.root_offset, 3),
        "bone_angle": _rounded(pose.bone_angle, 3),
        "target_angle": _rounded(pose.target_angle, 3),
        "group_depth": _rounded(pose.group_depth, 5),
        "draw_order": pose.draw_order.tolist(),
        "group_reversed": pose.group_reversed.astype(int).tolist(),
    }
    return {"meta": meta, "frames": frames}
