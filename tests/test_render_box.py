"""A frame is rasterised inside the figure's box only: the same pixels as a whole-canvas remap."""

from __future__ import annotations

import numpy as np

from studio.core.motion_source import load_motion
from studio.core.render import Animation, canvas_box
from studio.core.sample import sample_character
from studio.pipeline.deform.raster import fill_source_maps, sample_rgba


def test_the_box_raster_equals_the_whole_canvas() -> None:
    character = sample_character()
    animation = Animation(character, load_motion("dance", character), (300, 200), frames=8)
    animation.render_premultiplied(0)  # builds the premultiplied texture
    for k in range(animation.n_frames):
        map_x, map_y = fill_source_maps(animation.canvas_vertices(k), animation.rig.mesh.vertices,
                                        animation.triangles(k), 300, 200)
        whole = sample_rgba(animation._premultiplied, map_x, map_y).astype(int)
        boxed = animation.render_premultiplied(k).astype(int)
        assert boxed.shape == whole.shape and whole[:, :, 3].any()
        assert np.abs(boxed - whole).max() <= 1 and (boxed != whole).mean() < 1e-3  # float rounding at most


def test_the_box_holds_the_mesh_and_is_none_off_canvas() -> None:
    vertices = np.array([[10.2, 20.7], [50.0, 25.0], [30.0, 80.4]])
    top, bottom, left, right = canvas_box(vertices, 100, 60)  # type: ignore[misc]
    assert (left, top) == (9, 19) and right == 52 and bottom == 60  # clipped to the canvas
    assert canvas_box(vertices + 500, 100, 60) is None
    assert canvas_box(np.full((3, 2), np.nan), 100, 60) is None
