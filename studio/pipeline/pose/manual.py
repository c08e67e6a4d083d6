"""The manual backend: the classical box and a default skeleton fitted to it, ready to drag."""

from __future__ import annotations

import numpy as np

from studio.pipeline.intake.box import find_figure_box
from studio.pipeline.pose.backend import Box, Detection, PoseResult, check_box

# COCO keypoints as fractions of the box (x right, y down) for a child's drawing facing the viewer:
# a big head, arms out and a little down, legs apart. The figure's left is the image's right.
TEMPLATE = np.array([
    [0.50, 0.13],                                      # nose
    [0.54, 0.10], [0.46, 0.10], [0.58, 0.12], [0.42, 0.12],  # eyes, ears
    [0.64, 0.30], [0.36, 0.30],                        # shoulders (left, right)
    [0.78, 0.40], [0.22, 0.40],                        # elbows
    [0.90, 0.50], [0.10, 0.50],                        # wrists
    [0.58, 0.58], [0.42, 0.58],                        # hips
    [0.60, 0.77], [0.40, 0.77],                        # knees
    [0.61, 0.95], [0.39, 0.95],                        # ankles
])


def template_keypoints(box: Box) -> np.ndarray:
    """(17, 3) keypoints [x, y, score 0] of the default skeleton stretched over ``box``."""
    left, top, right, bottom = box
    xy = np.array([left, top]) + TEMPLATE * np.array([right - left, bottom - top])
    return np.hstack([xy, np.zeros((17, 1))])


class ManualBackend:
    """No model: the classical box finder and the default skeleton, so the user can drag joints at once."""

    name = "manual"

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        return [find_figure_box(image_rgb)]

    def pose(self, image_rgb: np.ndarray, box: Box) -> PoseResult:
        return PoseResult(template_keypoints(check_box(box)), ("manual skeleton: drag the joints onto the drawing",))
