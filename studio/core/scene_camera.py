"""Where a scene character's texture pixels land on the scene canvas: AD's perspective camera, or a 2D placement.

Both are a plane-to-plane homography (3×3) from texture px to canvas px, fixed for the whole clip: the rig moves
inside its plane (root motion included in the posed joints), and the plane itself never moves.

AD's view, as its source defines it (facts, read from AnimatedDrawings' ``view/utils.py``, ``model/camera.py``,
``model/transform.py``, ``model/animated_drawing.py`` and ``config.py``):

- a character is a flat mesh in the plane z = char_starting_location.z; a char_cfg pixel (u, v) sits at world
  (S.x + (u - root.u) / D, S.y - (v - root.v) / D) at rest, D = max(texture width, height) (one world unit = D px);
- the camera stands at CAMERA_POS and is turned by ``look_at(CAMERA_FWD)``: CAMERA_FWD is a direction, not a target;
  right = (0, 1, 0) × fwd, up = fwd × right, and the view looks along -fwd ("it renders out of its rear");
- the projection is a symmetric perspective with a 35° vertical field of view (near 0.1): a point at camera
  coordinates (x, y, z) lands at (W / 2 + f·x / -z, H / 2 - f·y / -z) px, f = (H / 2) / tan(17.5°), H the window
  height (the output frames are read bottom-up and flipped, so rows run top-down as here);
- depth testing is off while textures are drawn: later characters in the list paint over earlier ones.

Checked against ``../shared/data/ad_reference`` (``render.joints_screen_px``, AD's own projection of its joints):
within 0.01 px on every recorded frame (tests/test_scene.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from studio.pipeline.character import Character
from studio.pipeline.deform.camera import AD_UNIT_PER_HEIGHT, Camera

AD_FIELD_OF_VIEW = 35.0  # degrees, vertical
AD_NEAR = 0.1  # world units: nearer than this, AD's perspective clips the mesh away
AD_CAMERA_POS = (0.0, 0.7, 2.0)  # mvc_base_cfg.yaml's defaults
AD_CAMERA_FWD = (0.0, 0.5, 2.0)


class SceneCameraError(ValueError):
    """A camera or placement that cannot show a character (a degenerate direction, a plane behind the camera)."""


@dataclass(frozen=True)
class AdCamera:
    """AD's view camera: ``position`` (CAMERA_POS) and ``forward`` (CAMERA_FWD, the direction it faces away from)."""

    position: tuple[float, float, float] = AD_CAMERA_POS
    forward: tuple[float, float, float] = AD_CAMERA_FWD

    def axes(self) -> np.ndarray:
        """(3, 3) rows right, up, fwd (unit vectors) as AD's ``look_at`` builds them."""
        fwd = np.asarray(self.forward, float)
        right = np.cross([0.0, 1.0, 0.0], fwd)
        if not np.all(np.isfinite(fwd)) or np.linalg.norm(right) < 1e-9 * max(1.0, float(np.linalg.norm(fwd))):
            raise SceneCameraError(f"camera forward {list(self.forward)} points straight up or down (or is zero): "
                                   "AD's camera cannot be turned that way")
        up = np.cross(fwd, right)
        return np.stack([right / np.linalg.norm(right), up / np.linalg.norm(up), fwd / np.linalg.norm(fwd)])

    def world_to_canvas(self, width: int, height: int) -> np.ndarray:
        """(3, 4) matrix taking homogeneous world points (x, y, z, 1) to homogeneous canvas px (x·w, y·w, w); w is
        the point's distance in front of the camera."""
        axes = self.axes()
        view = np.hstack([axes, -(axes @ np.asarray(self.position, float))[:, None]])  # world → camera coordinates
        focal = (height / 2.0) / math.tan(math.radians(AD_FIELD_OF_VIEW / 2.0))
        intrinsics = np.array([[focal, 0.0, -width / 2.0], [0.0, -focal, -height / 2.0], [0.0, 0.0, -1.0]])
        return intrinsics @ view


@dataclass(frozen=True, eq=False)
class PlaneCamera(Camera):
    """A Camera whose texture → canvas mapping is a homography: canvas = (h · [x, y, 1]) projected.

    homography: (3, 3) float64, its third row giving a point's depth before the camera in world units (constant 1
    for a 2D placement). ``scale`` and ``offset`` hold its linear approximation at the root (for code that reads a
    Camera's scale); ``apply`` is exact. Points nearer than AD's near plane come out NaN: the rasteriser skips them.
    """

    homography: np.ndarray = field(default_factory=lambda: np.eye(3))

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) texture px → (..., 2) canvas px."""
        p = np.asarray(points, float)
        h = self.homography
        x = p[..., 0] * h[0, 0] + p[..., 1] * h[0, 1] + h[0, 2]
        y = p[..., 0] * h[1, 0] + p[..., 1] * h[1, 1] + h[1, 2]
        w = p[..., 0] * h[2, 0] + p[..., 1] * h[2, 1] + h[2, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.stack([x / w, y / w], axis=-1)
        out[np.asarray(w < AD_NEAR)] = np.nan  # w: depth in world units before the camera (1 for a 2D placement)
        return out


def _plane_frame(character: Character, scale: float, mirror: bool) -> np.ndarray:
    """(3, 3): texture px (u, v, 1) → plane offsets from the rest root in world units (a, b, 1), y up; ``scale``
    and ``mirror`` (about the root's vertical) applied."""
    root = int(np.flatnonzero(np.array(character.parents) < 0)[0])
    ru, rv = (float(c) for c in character.rest[root])
    unit = scale / max(character.width, character.height)
    side = -unit if mirror else unit
    return np.array([[side, 0.0, -side * ru], [0.0, -unit, unit * rv], [0.0, 0.0, 1.0]])


def _camera(homography: np.ndarray, character: Character, width: int, height: int) -> PlaneCamera:
    """A PlaneCamera for ``homography``, with the scale and offset of its linear approximation at the rest root."""
    root = int(np.flatnonzero(np.array(character.parents) < 0)[0])
    at = character.rest[root]
    base = PlaneCamera(1.0, np.zeros(2), width, height, homography)
    here = base.apply(at)
    step = base.apply(at + np.array([1.0, 0.0])) - here
    scale = float(np.hypot(*step))
    return PlaneCamera(scale, here - scale * at, width, height, homography)


def placed_camera(character: Character, width: int, height: int, position: tuple[float, float], scale: float = 1.0,
                  mirror: bool = False) -> PlaneCamera:
    """The 2D placement: the root's rest position at ``position`` (fractions of the canvas width and height, from
    the top left), drawn as large as AD's default camera draws it on this canvas height (one world unit =
    AD_UNIT_PER_HEIGHT · height px) times ``scale``, mirrored left-right about the root when ``mirror``."""
    unit = AD_UNIT_PER_HEIGHT * height
    place = np.array([[unit, 0.0, position[0] * width], [0.0, -unit, position[1] * height], [0.0, 0.0, 1.0]])
    return _camera(place @ _plane_frame(character, scale, mirror), character, width, height)


def ad_placed_camera(character: Character, width: int, height: int, camera: AdCamera,
                     starting_location: tuple[float, float, float], scale: float = 1.0,
                     mirror: bool = False) -> PlaneCamera:
    """AD's placement: the rest root at world ``starting_location`` (the retarget config's char_starting_location),
    seen through ``camera``; ``scale`` and ``mirror`` act in the character's plane about the root. Raises
    SceneCameraError when the root stands at or behind the camera's near plane."""
    sx, sy, sz = (float(v) for v in starting_location)
    embed = np.array([[1.0, 0.0, sx], [0.0, 1.0, sy], [0.0, 0.0, sz], [0.0, 0.0, 1.0]])  # (a, b, 1) → world
    homography = camera.world_to_canvas(width, height) @ embed @ _plane_frame(character, scale, mirror)
    depth = homography[2] @ np.array([*character.rest[int(np.flatnonzero(np.array(character.parents) < 0)[0])], 1.0])
    if not depth > AD_NEAR:
        raise SceneCameraError(f"the character at {list(starting_location)} is {depth:.3g} world units in front of "
                               f"the camera at {list(camera.position)} (facing away from {list(camera.forward)}): "
                               "behind it or too near to be seen")
    return _camera(homography, character, width, height)
