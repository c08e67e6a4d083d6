"""Software rasteriser on tiny inputs: coverage, painter's order, identity, clipping, sizes."""

from __future__ import annotations

import numpy as np
import pytest

from studio.pipeline.deform.mesh import build_mesh
from studio.pipeline.deform.raster import (UNCOVERED, RasterError, fill_source_maps, raster_indexed, sample_indexed,
                                    sample_rgba)

TRIANGLE = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
ONE = np.array([[0, 1, 2]])


def disc_mask(size: int = 48, radius: float = 18.0) -> np.ndarray:
    ys, xs = np.mgrid[:size, :size]
    return np.where((xs - size / 2) ** 2 + (ys - size / 2) ** 2 <= radius ** 2, 255, 0).astype(np.uint8)


def test_one_triangle_covers_the_pixel_centres_inside_it() -> None:
    map_x, map_y = fill_source_maps(TRIANGLE, TRIANGLE + 10, ONE, 6, 6)
    ys, xs = np.mgrid[:6, :6]
    inside = xs + ys <= 4
    assert map_x.shape == (6, 6) and map_x.dtype == np.float32
    assert np.array_equal(map_x[inside], xs[inside] + 10.0) and np.array_equal(map_y[inside], ys[inside] + 10.0)
    assert np.all(map_x[~inside] == UNCOVERED) and np.all(map_y[~inside] == UNCOVERED)


def test_winding_does_not_matter() -> None:
    a = fill_source_maps(TRIANGLE, TRIANGLE, ONE, 6, 6)
    b = fill_source_maps(TRIANGLE, TRIANGLE, ONE[:, ::-1], 6, 6)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_later_triangles_paint_over_earlier_ones() -> None:
    deformed = np.concatenate([TRIANGLE, TRIANGLE + 1])
    uv = np.concatenate([TRIANGLE, TRIANGLE + 100])
    both = np.array([[0, 1, 2], [3, 4, 5]])
    map_x, _ = fill_source_maps(deformed, uv, both, 8, 8)
    assert map_x[2, 2] == 101.0  # in both: the second wins
    assert map_x[0, 0] == 0.0  # only in the first
    map_x, _ = fill_source_maps(deformed, uv, both[::-1], 8, 8)
    assert map_x[2, 2] == 2.0

    texture = np.zeros((200, 200), np.uint8)
    texture[:50, :50] = 1
    texture[100:, 100:] = 2
    frame = raster_indexed(deformed, uv, both, texture, 9, 8, 8)
    assert frame[2, 2] == 2 and frame[0, 0] == 1 and frame[7, 7] == 9


@pytest.mark.parametrize("deformed", [
    TRIANGLE - 1000, TRIANGLE + 1e7, TRIANGLE * np.array([1e12, 1.0]),
    np.full((3, 2), np.nan), np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]),
], ids=["left of canvas", "far right", "huge", "nan", "degenerate"])
def test_off_canvas_and_degenerate_triangles_are_skipped(deformed: np.ndarray) -> None:
    map_x, _ = fill_source_maps(deformed, TRIANGLE, ONE, 5, 5)
    frame = raster_indexed(deformed, TRIANGLE, ONE, np.ones((5, 5), np.uint8), 7, 5, 5)
    if np.isfinite(deformed).all() and deformed.max() < 1e6:
        assert np.all(map_x == UNCOVERED) and np.all(frame == 7)


def test_partly_off_canvas_triangle_is_clipped() -> None:
    big = np.array([[-50.0, -50.0], [200.0, -50.0], [-50.0, 200.0]])
    map_x, map_y = fill_source_maps(big, big, ONE, 91, 37)
    assert map_x.shape == (37, 91)
    ys, xs = np.mgrid[:37, :91]
    assert np.allclose(map_x, xs) and np.allclose(map_y, ys)


def test_identity_reproduces_the_texture() -> None:
    mask = disc_mask()
    mesh = build_mesh(mask, spacing=4.0)
    rng = np.random.default_rng(1)
    texture_idx = np.where(mask > 0, rng.integers(1, 255, mask.shape), 0).astype(np.uint8)
    h, w = mask.shape
    frame = raster_indexed(mesh.vertices, mesh.vertices, mesh.triangles, texture_idx, 0, w, h)
    assert np.array_equal(frame, texture_idx)

    map_x, map_y = fill_source_maps(mesh.vertices, mesh.vertices, mesh.triangles, w, h)
    assert np.array_equal(sample_indexed(texture_idx, map_x, map_y, 0), texture_idx)
    rgba = np.dstack([texture_idx, 255 - texture_idx, texture_idx // 2, mask])
    out = sample_rgba(rgba, map_x, map_y)
    assert np.array_equal(out[mask > 0], rgba[mask > 0])
    assert np.all(out[map_x == UNCOVERED] == 0), "uncovered pixels are fully transparent"


def test_arbitrary_sizes_and_reused_buffers() -> None:
    mask = disc_mask()
    mesh = build_mesh(mask, spacing=5.0)
    canvas = mesh.vertices * 1.7 + [3.0, -10.0]
    texture_idx = np.where(mask > 0, 5, 0).astype(np.uint8)
    out_x = np.empty((37, 91), np.float32)
    out_y = np.empty((37, 91), np.float32)
    map_x, map_y = fill_source_maps(canvas, mesh.vertices, mesh.triangles, 91, 37, out_x, out_y)
    assert map_x is out_x and map_y is out_y
    frame = np.empty((37, 91), np.uint8)
    assert raster_indexed(canvas, mesh.vertices, mesh.triangles, texture_idx, 0, 91, 37, frame) is frame
    via_maps = sample_indexed(texture_idx, map_x, map_y, 0)
    assert np.mean(via_maps == frame) > 0.99  # float32 maps may round a rare pixel the other way
    assert sample_rgba(np.zeros((48, 48, 4), np.uint8), map_x, map_y).shape == (37, 91, 4)


def test_wrong_buffers_and_shapes_are_reported() -> None:
    with pytest.raises(RasterError, match="out_x"):
        fill_source_maps(TRIANGLE, TRIANGLE, ONE, 5, 5, out_x=np.empty((5, 5), np.float64))
    with pytest.raises(RasterError, match="triangles refer"):
        fill_source_maps(TRIANGLE, TRIANGLE, np.array([[0, 1, 3]]), 5, 5)
    with pytest.raises(RasterError, match="texture must be"):
        sample_rgba(np.zeros((4, 4, 3), np.uint8), *fill_source_maps(TRIANGLE, TRIANGLE, ONE, 5, 5))
