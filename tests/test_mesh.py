"""build_mesh, triangle_parts and assign_triangles_to_bones on tiny synthetic masks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from studio.pipeline.deform.mesh import Mesh, MeshError, assign_triangles_to_bones, build_mesh, triangle_parts


def disc(size: int = 64, radius: int = 24) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.circle(mask, (size // 2, size // 2), radius, 255, -1)
    return mask


def covered(mesh: Mesh, points: np.ndarray) -> np.ndarray:
    """(q,) bool: which points lie in some triangle (edges included)."""
    a, b, c = (mesh.vertices[mesh.triangles[:, i]][None] for i in range(3))
    p = points[:, None, :]
    area = (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])
    w0 = ((b[..., 0] - p[..., 0]) * (c[..., 1] - p[..., 1]) - (b[..., 1] - p[..., 1]) * (c[..., 0] - p[..., 0])) / area
    w1 = ((c[..., 0] - p[..., 0]) * (a[..., 1] - p[..., 1]) - (c[..., 1] - p[..., 1]) * (a[..., 0] - p[..., 0])) / area
    return np.any((w0 >= -1e-9) & (w1 >= -1e-9) & (1 - w0 - w1 >= -1e-9), axis=1)


def signed_areas(mesh: Mesh) -> np.ndarray:
    a, b, c = (mesh.vertices[mesh.triangles[:, i]] for i in range(3))
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def test_empty_mask_is_an_error() -> None:
    with pytest.raises(MeshError, match="mask is empty: nothing to mesh"):
        build_mesh(np.zeros((10, 10), np.uint8))


def test_mask_must_be_2d() -> None:
    with pytest.raises(MeshError, match="2-D"):
        build_mesh(np.zeros((4, 4, 3), np.uint8))


def test_disc_mesh_is_well_formed() -> None:
    mesh = build_mesh(disc(), spacing=4.0)
    assert mesh.vertices.dtype == np.float64 and mesh.vertices.shape[1] == 2
    assert mesh.triangles.dtype == np.int32 and mesh.triangles.shape[1] == 3
    assert np.all(signed_areas(mesh) > 0), "consistent winding, no degenerate triangles"
    assert np.array_equal(np.unique(mesh.triangles), np.arange(len(mesh.vertices))), "no unreferenced vertex"


@pytest.mark.parametrize("mask", [disc(), disc(40, 30)], ids=["disc", "disc touching the border"])
def test_mesh_covers_every_mask_pixel(mask: np.ndarray) -> None:
    mesh = build_mesh(mask, spacing=5.0)
    ys, xs = np.nonzero(mask)
    assert covered(mesh, np.column_stack([xs, ys]).astype(float)).all()
    assert mesh.vertices.min() >= -0.5 and mesh.vertices[:, 0].max() <= mask.shape[1] - 0.5


def test_mesh_stays_close_to_the_mask() -> None:
    mask = disc()
    mesh = build_mesh(mask, spacing=4.0)
    ys, xs = np.nonzero(cv2.dilate(mask, np.ones((5, 5), np.uint8)) == 0)
    assert not covered(mesh, np.column_stack([xs, ys]).astype(float)).any()


def test_only_the_largest_figure_is_meshed() -> None:
    mask = np.zeros((60, 60), np.uint8)
    mask[5:45, 5:45] = 255
    mask[50:56, 50:56] = 255
    mesh = build_mesh(mask, spacing=5.0)
    assert mesh.vertices.max() < 47


def test_holes_inside_the_outline_are_meshed() -> None:
    mask = disc()
    cv2.circle(mask, (32, 32), 6, 0, -1)
    mesh = build_mesh(mask, spacing=4.0)
    assert covered(mesh, np.array([[32.0, 32.0]])).all()


def test_automatic_spacing_gives_an_ad_sized_mesh() -> None:
    mask = np.zeros((480, 360), np.uint8)
    cv2.ellipse(mask, (180, 100), (60, 70), 0, 0, 360, 255, -1)  # head
    cv2.rectangle(mask, (130, 160), (230, 330), 255, -1)  # body
    cv2.rectangle(mask, (20, 180), (340, 200), 255, -1)  # arms
    cv2.rectangle(mask, (140, 330), (160, 470), 255, -1)  # legs
    cv2.rectangle(mask, (200, 330), (220, 470), 255, -1)
    mesh = build_mesh(mask)
    assert 900 <= len(mesh.vertices) <= 2200
    assert 1100 <= len(mesh.triangles) <= 3500


def test_smaller_spacing_gives_more_vertices() -> None:
    assert len(build_mesh(disc(), 3.0).vertices) > len(build_mesh(disc(), 6.0).vertices)


@pytest.mark.parametrize("spacing", [0.0, -1.0, float("nan")])
def test_bad_spacing_is_an_error(spacing: float) -> None:
    with pytest.raises(MeshError, match="spacing"):
        build_mesh(disc(), spacing)


def test_mesh_edges_are_unique_and_sorted() -> None:
    mesh = build_mesh(disc(), 6.0)
    edges = mesh.edges
    assert np.all(edges[:, 0] < edges[:, 1])
    assert len(np.unique(edges, axis=0)) == len(edges)
    # Euler for a disc: V - E + F = 1.
    assert len(mesh.vertices) - len(edges) + len(mesh.triangles) == 1


def test_triangles_go_to_the_nearest_bone() -> None:
    # A horizontal strip; root in the middle, a zero-length "hip" on it, arms to each side.
    vertices = np.array([[x, y] for x in range(0, 101, 10) for y in (0.0, 10.0)], float)
    triangles = []
    for i in range(10):
        a, b, c, d = 2 * i, 2 * i + 1, 2 * i + 2, 2 * i + 3
        triangles += [[a, c, b], [b, c, d]]
    mesh = Mesh(vertices, np.array(triangles, np.int32))
    joints = np.array([[50, 5], [50, 5], [10, 5], [90, 5]], float)
    parents = np.array([-1, 0, 0, 0])
    owner = assign_triangles_to_bones(mesh, joints, parents)
    centroid_x = vertices[mesh.triangles].mean(axis=1)[:, 0]
    assert owner.shape == (len(triangles),)
    assert np.all(owner[centroid_x < 50] == 2)
    assert np.all(owner[centroid_x > 50] == 3)
    assert not np.isin(owner, [0, 1]).any(), "the root and zero-length bones own nothing"


def test_a_skeleton_without_bones_is_an_error() -> None:
    mesh = build_mesh(disc(), 6.0)
    with pytest.raises(MeshError, match="no bone"):
        assign_triangles_to_bones(mesh, np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([-1, 0]))


def test_triangle_parts_label_like_scipy_connected_components() -> None:
    mesh = build_mesh(disc(96, 40))
    rng = np.random.default_rng(11)
    # Split the disc into pieces by dropping triangles, then number what is left at random.
    kept = mesh.triangles[rng.random(len(mesh.triangles)) > 0.35]
    kept = kept[rng.permutation(len(kept))]
    labels = triangle_parts(kept, len(mesh.vertices))
    pairs = np.concatenate([kept[:, [0, 1]], kept[:, [1, 2]], kept[:, [2, 0]]])
    pairs.sort(axis=1)
    keys = pairs[:, 0].astype(np.int64) * len(mesh.vertices) + pairs[:, 1]
    owner = np.tile(np.arange(len(kept)), 3)
    order = np.argsort(keys, kind="stable")
    shared = np.flatnonzero(keys[order][1:] == keys[order][:-1])
    graph = coo_matrix((np.ones(len(shared)), (owner[order][shared], owner[order][shared + 1])),
                       shape=(len(kept),) * 2)
    count, expected = connected_components(graph, directed=False)
    assert count > 5 and np.array_equal(labels, expected)


def test_triangle_parts_join_a_long_strip_numbered_backwards() -> None:
    # A strip of 400 triangles, each sharing an edge with the next, listed from the far end: one part.
    strip = np.array([[i, i + 1, i + 2] for i in range(400)])[::-1]
    assert np.array_equal(triangle_parts(strip, 402), np.zeros(400))
    assert triangle_parts(np.zeros((0, 3), np.int64), 0).shape == (0,)
