"""ArapSolver on tiny meshes: exact rest pose, rigid motions, bending, snapped handles."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from studio.pipeline.deform.arap import ArapError, ArapSolver
from studio.pipeline.deform.mesh import Mesh, build_mesh


def rotation(angle: float) -> np.ndarray:
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def grid_mesh(columns: int, rows: int, step: float = 10.0) -> Mesh:
    """A (columns x rows)-cell bar of squares split into two triangles each."""
    xs, ys = np.meshgrid(np.arange(columns + 1) * step, np.arange(rows + 1) * step)
    vertices = np.column_stack([xs.ravel(), ys.ravel()]).astype(float)
    w = columns + 1
    triangles = []
    for r in range(rows):
        for c in range(columns):
            a, b, d, e = r * w + c, r * w + c + 1, (r + 1) * w + c, (r + 1) * w + c + 1
            triangles += [[a, b, e], [a, e, d]]
    return Mesh(vertices, np.array(triangles, np.int32))


def areas(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


ONE_TRIANGLE = Mesh(np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]), np.array([[0, 1, 2]], np.int32))
TWO_TRIANGLES = grid_mesh(1, 1)


@pytest.mark.parametrize("mesh, handles", [
    (ONE_TRIANGLE, np.array([[1.0, 1.0], [6.0, 2.0]])),
    (TWO_TRIANGLES, np.array([[2.0, 2.0], [8.0, 7.0], [5.0, 1.0]])),
    (grid_mesh(10, 2), np.array([[5.0, 10.0], [50.0, 10.0], [95.0, 10.0]])),
], ids=["one triangle", "two triangles", "bar"])
def test_rest_pose_and_rigid_motions_are_exact(mesh: Mesh, handles: np.ndarray) -> None:
    solver = ArapSolver(mesh, handles)
    assert np.abs(solver.solve(handles) - mesh.vertices).max() < 1e-6
    shift = np.array([37.5, -12.25])
    assert np.abs(solver.solve(handles + shift) - (mesh.vertices + shift)).max() < 1e-3
    turn, centre = rotation(1.1), np.array([-20.0, 30.0])
    moved = solver.solve((handles - centre) @ turn.T + centre)
    assert np.abs(moved - ((mesh.vertices - centre) @ turn.T + centre)).max() < 1e-3


def test_solve_returns_n_by_2() -> None:
    solver = ArapSolver(ONE_TRIANGLE, np.array([[1.0, 1.0], [6.0, 2.0]]))
    out = solver.solve(np.array([[1.0, 1.0], [7.0, 4.0]]))
    assert out.shape == (3, 2) and out.dtype == np.float64
    assert solver.snapped == ()


def test_bending_a_bar_moves_the_near_end_and_keeps_areas() -> None:
    mesh = grid_mesh(12, 2)
    handles = np.array([[0.0, 10.0], [60.0, 10.0], [120.0, 10.0]])  # on vertices
    solver = ArapSolver(mesh, handles)
    # Turn the right half of the bar 45 degrees about the middle handle.
    targets = handles.copy()
    targets[2] = (handles[2] - handles[1]) @ rotation(np.pi / 4).T + handles[1]
    moved = solver.solve(targets)
    shift = np.linalg.norm(moved - mesh.vertices, axis=1)
    x = mesh.vertices[:, 0]
    assert shift[x >= 110].mean() > 5 * shift[x <= 20].mean()
    assert np.linalg.norm(moved[np.argmin(np.linalg.norm(mesh.vertices - handles[2], axis=1))] - targets[2]) < 0.1
    ratio = areas(moved, mesh.triangles) / areas(mesh.vertices, mesh.triangles)
    assert np.all(ratio > 0), "no triangle folds over"
    assert 0.9 < np.median(ratio) < 1.1 and 0.6 < ratio.min() and ratio.max() < 1.6


def test_handle_outside_the_mesh_is_snapped_and_reported() -> None:
    mesh = grid_mesh(6, 2)  # spans x 0..60, y 0..20
    handles = np.array([[5.0, 10.0], [30.0, 10.0], [65.0, 10.0]])
    solver = ArapSolver(mesh, handles)
    assert len(solver.snapped) == 1
    index, distance = solver.snapped[0]
    assert index == 2 and distance == pytest.approx(5.0)
    # The snapped handle still counts: the rest pose stays put, rigid motions stay rigid, and it pulls.
    assert np.abs(solver.solve(handles) - mesh.vertices).max() < 1e-6
    turn = rotation(-0.6)
    moved = solver.solve(handles @ turn.T + [3.0, 4.0])
    assert np.abs(moved - (mesh.vertices @ turn.T + [3.0, 4.0])).max() < 1e-3
    pulled = solver.solve(handles + [[0, 0], [0, 0], [0, 15]])
    assert pulled[mesh.vertices[:, 0] == 60, 1].mean() - 10 > 10


def test_real_character_rest_pose_and_rotation(shared: Path) -> None:
    folder = shared / "characters" / "char2"
    mask = cv2.imread(str(folder / "mask.png"), cv2.IMREAD_GRAYSCALE)
    assert mask is not None
    import yaml

    rest = np.array([j["loc"] for j in yaml.safe_load((folder / "char_cfg.yaml").read_text())["skeleton"]], float)
    mesh = build_mesh(mask)
    solver = ArapSolver(mesh, rest)
    assert np.abs(solver.solve(rest) - mesh.vertices).max() < 1e-6
    turn, centre = rotation(0.5), np.array([166.0, 248.0])
    moved = solver.solve((rest - centre) @ turn.T + centre + 20)
    assert np.abs(moved - ((mesh.vertices - centre) @ turn.T + centre + 20)).max() < 1e-3


def test_one_handle_is_not_enough() -> None:
    with pytest.raises(ArapError, match="two handles"):
        ArapSolver(TWO_TRIANGLES, np.array([[5.0, 5.0]]))
    with pytest.raises(ArapError, match="two handles"):
        ArapSolver(TWO_TRIANGLES, np.array([[5.0, 5.0], [5.0, 5.0]]))


def test_pieces_joined_at_a_vertex_are_refused() -> None:
    bow_tie = Mesh(np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 5.0], [0.0, 10.0], [10.0, 10.0]]),
                   np.array([[0, 1, 2], [2, 4, 3]], np.int32))
    with pytest.raises(ArapError, match="2 pieces"):
        ArapSolver(bow_tie, np.array([[5.0, 1.0], [5.0, 9.0]]))


def test_bad_inputs_are_reported() -> None:
    solver = ArapSolver(TWO_TRIANGLES, np.array([[2.0, 2.0], [8.0, 7.0]]))
    with pytest.raises(ArapError, match="targets must be"):
        solver.solve(np.zeros((3, 2)))
    with pytest.raises(ArapError, match="handles must be"):
        ArapSolver(TWO_TRIANGLES, np.zeros((2, 3)))
    with pytest.raises(ArapError, match="zero area"):
        ArapSolver(Mesh(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]), np.array([[0, 1, 2]], np.int32)),
                   np.array([[0.0, 0.0], [1.0, 0.0]]))
