"""The motion library's clip cards: a stick-figure thumbnail and the timing of each BVH, cached per file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.core.motion_source import MOTION_SUFFIX, motions_dir
from studio.pipeline.motion.automap import infer_motion_config_with_notes
from studio.pipeline.motion.bvh import read_bvh
from studio.pipeline.motion.config import MotionConfig, read_motion_config
from studio.pipeline.motion.thumbnail import stick_figure

THUMB = 80  # px of a stick-figure thumbnail


@dataclass(frozen=True, eq=False)
class ClipCard:
    """What the library shows for one clip: its thumbnail (THUMB, THUMB, 4) uint8 RGBA and timing."""

    thumbnail: np.ndarray
    n_frames: int
    duration: float

    def tooltip(self, label: str, path: Path | None = None) -> str:
        """The card's label, its duration, frame count and rate, and where the file is (for an imported clip)."""
        fps = self.n_frames / self.duration if self.duration > 0 else 0.0
        where = f"\n{path}" if path else ""
        return f"{label}\n{self.duration:.2f} s · {self.n_frames} frames · {fps:.0f} fps{where}"


_CARDS: dict[tuple[str, int, int], ClipCard] = {}  # (path, mtime_ns, size) → card, shared by all libraries


def clip_card(bvh_path: Path, config: MotionConfig | None = None) -> ClipCard:
    """The (cached) card of a BVH file, framed as ``config`` says (else as automap infers, else a +y front view);
    raises BvhError (a ValueError) when it does not parse. Slow for a long clip: call it off the UI thread."""
    stat = bvh_path.stat()
    key = (str(bvh_path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _CARDS:
        bvh = read_bvh(bvh_path)
        if config is None:
            try:
                config = infer_motion_config_with_notes(bvh, str(bvh_path))[0]
            except ValueError:
                config = None  # not a biped automap knows: a plain +y front view still shows it
        start = config.start_frame_idx if config else 0
        stop = min(config.end_frame_idx or bvh.n_frames, bvh.n_frames) if config else bvh.n_frames
        n_frames = max(stop - start, 1)
        frame_time = (config.frame_time if config and config.frame_time else bvh.frame_time)
        picture = stick_figure(bvh, min(start + n_frames // 2, bvh.n_frames - 1), THUMB,
                               config.up if config else "+y", config.forward_perp_joint_vectors if config else ())
        _CARDS[key] = ClipCard(picture, n_frames, n_frames * frame_time)
    return _CARDS[key]


def bundled_card(name: str) -> ClipCard:
    """The card of bundled motion ``name``, framed by its motion config."""
    config = read_motion_config(motions_dir() / f"{name}{MOTION_SUFFIX}")
    return clip_card(motions_dir() / config.filepath, config)


__all__ = ["THUMB", "ClipCard", "bundled_card", "clip_card"]
