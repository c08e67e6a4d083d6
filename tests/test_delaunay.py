"""Our Delaunay triangulation (OpenCV's Subdiv2D) against scipy's, on generic and real mesh points."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial import ConvexHull, Delaunay

from studio.core.sample import sample_character
from studio.pipeline.character import read_character
from studio.pipeline.deform import mesh as mesh_module
from studio.pipeline.deform.delaunay import TriangulationError, delaunay
from studio.pipeline.deform.mesh import build_mesh


def triangle_set(triangles: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(sorted(t)) for t in np.asarray(triangles).tolist()}


def total_area(points: np.ndarray, triangles: np.ndarray) -> float:
    a, b, c = (points[triangles[:, i]] for i in range(3))
    twice = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    return float(0.5 * np.abs(twice).sum())


def empty_circumcircles(points: np.ndarray, triangles: np.ndarray) -> bool:
    """No point lies strictly inside any triangle's circumcircle (up to rounding)."""
    a, b, c = (points[triangles[:, i]] for i in range(3))
    d = 2 * (a[:, 0] * (b[:, 1] - c[:, 1]) + b[:, 0] * (c[:, 1] - a[:, 1]) + c[:, 0] * (a[:, 1] - b[:, 1]))
    sa, sb, sc = ((p ** 2).sum(axis=1) for p in (a, b, c))
    ux = (sa * (b[:, 1] - c[:, 1]) + sb * (c[:, 1] - a[:, 1]) + sc * (a[:, 1] - b[:, 1])) / d
    uy = (sa * (c[:, 0] - b[:, 0]) + sb * (a[:, 0] - c[:, 0]) + sc * (b[:, 0] - a[:, 0])) / d
    radius2 = (a[:, 0] - ux) ** 2 + (a[:, 1] - uy) ** 2
    for start in range(0, len(triangles), 256):
        part = slice(start, start + 256)
        distance2 = (points[None, :, 0] - ux[part, None]) ** 2 + (points[None, :, 1] - uy[part, None]) ** 2
        if np.any(distance2 < radius2[part, None] * (1 - 1e-9)):
            return False
    return True


def mesh_points(mask: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """The points build_mesh triangulates for this mask."""
    seen: list[np.ndarray] = []

    def spy(points: np.ndarray) -> np.ndarray:
        seen.append(points.copy())
        return delaunay(points)

    with monkeypatch.context() as patch:
        patch.setattr(mesh_module, "delaunay", spy)
        build_mesh(mask)
    return seen[0]


def test_generic_points_give_scipy_triangles() -> None:
    points = np.random.default_rng(5).uniform(-300, 900, (2000, 2))
    assert triangle_set(delaunay(points)) == triangle_set(Delaunay(points).simplices)


@pytest.mark.parametrize("name", ["char2", "char5", "char6", "sample"])
def test_real_mesh_points_are_covered_and_delaunay(shared: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    character = sample_character() if name == "sample" else read_character(shared / "characters" / name)
    points = mesh_points(character.mask, monkeypatch)
    triangles = delaunay(points)
    assert total_area(points, triangles) == pytest.approx(ConvexHull(points).volume, rel=1e-12)
    assert empty_circumcircles(points, triangles)


@pytest.mark.parametrize("name", ["char2", "char5", "char6", "sample"])
def test_build_mesh_matches_one_built_on_scipy(shared: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    character = sample_character() if name == "sample" else read_character(shared / "characters" / name)
    ours = build_mesh(character.mask)
    with monkeypatch.context() as patch:
        patch.setattr(mesh_module, "delaunay", lambda points: Delaunay(points).simplices.astype(np.int64))
        theirs = build_mesh(character.mask)
    assert np.array_equal(ours.vertices, theirs.vertices)
    assert triangle_set(ours.triangles) == triangle_set(theirs.triangles)


def test_a_lattice_with_cocircular_points_is_covered() -> None:
    points = np.stack(np.meshgrid(np.arange(25.0), np.arange(12.0)), axis=-1).reshape(-1, 2) * 7 + 0.5
    triangles = delaunay(points)
    assert len(triangles) == 2 * 24 * 11 and total_area(points, triangles) == pytest.approx(24 * 11 * 49)
    assert empty_circumcircles(points, triangles)


def test_duplicates_use_the_lowest_index() -> None:
    points = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [10.0, 0.0], [-0.0, 0.0]])
    triangles = delaunay(points)
    assert len(triangles) == 2 and set(np.unique(triangles)) == {0, 1, 2, 3}


def test_degenerate_and_bad_inputs() -> None:
    assert delaunay(np.array([[0.0, 0.0], [1.0, 1.0]])).shape == (0, 3)
    assert delaunay(np.column_stack([np.arange(10.0), 2 * np.arange(10.0)])).shape == (0, 3)  # collinear
    with pytest.raises(TriangulationError, match="finite"):
        delaunay(np.array([[0.0, 0.0], [1.0, np.nan], [2.0, 0.0]]))
    with pytest.raises(TriangulationError, match=r"\(p, 2\)"):
        delaunay(np.zeros((4, 3)))
    with pytest.raises(TriangulationError, match="too far"):
        delaunay(np.array([[0.0, 0.0], [1e7, 0.0], [0.0, 1e7]]))


def straight_edged_masks() -> list[np.ndarray]:
    """Outlines with long straight sides at odd angles, where resampled points are collinear up to rounding."""
    masks = []
    for angle, (w, h) in ((17.0, (150, 40)), (-33.0, (90, 12)), (45.0, (60, 60))):
        mask = np.zeros((220, 220), np.uint8)
        box = cv2.boxPoints(((110.0, 110.0), (float(w), float(h)), angle))
        masks.append(cv2.fillPoly(mask, [np.round(box).astype(np.int32)], 255))
    l_shape = np.zeros((120, 120), np.uint8)
    l_shape[10:110, 10:40] = 255
    l_shape[80:110, 10:110] = 255
    masks.append(l_shape)
    return masks


@pytest.mark.parametrize("mask", straight_edged_masks(), ids=["bar 17", "thin bar -33", "square 45", "L"])
def test_straight_sided_outlines_mesh_like_scipy(mask: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    ours = build_mesh(mask, spacing=6.0)
    with monkeypatch.context() as patch:
        patch.setattr(mesh_module, "delaunay", lambda points: Delaunay(points).simplices.astype(np.int64))
        theirs = build_mesh(mask, spacing=6.0)
    assert total_area(ours.vertices, ours.triangles) == pytest.approx(
        total_area(theirs.vertices, theirs.triangles), abs=1e-3)
    assert empty_circumcircles(ours.vertices, ours.triangles)
