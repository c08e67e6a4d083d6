"""The envelope Cholesky against scipy's splu on ARAP's real systems, its ordering, and singular systems."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from studio.pipeline.character import read_character
from studio.pipeline.deform import arap
from studio.pipeline.deform.arap import ArapError, ArapSolver
from studio.pipeline.deform.cholesky import EnvelopeCholesky, NotPositiveDefinite, reverse_cuthill_mckee
from studio.pipeline.deform.mesh import Mesh, build_mesh


def normal_matrix(columns: np.ndarray, coefficients: np.ndarray, size: int) -> sp.csc_matrix:
    """scipy's M^T M for rows given as (r, q) columns and coefficients."""
    rows = np.repeat(np.arange(len(columns)), columns.shape[1])
    m = sp.csr_matrix((coefficients.ravel(), (rows, columns.ravel())), shape=(len(columns), size))
    return (m.T @ m).tocsc()


def arap_systems(mesh: Mesh, handles: np.ndarray, weight: float = 1000.0) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """ARAP's step-1 (interleaved, block 2) and step-2 (block 1) rows, as ArapSolver builds them."""
    vertices, triangles = mesh.vertices, mesh.triangles.astype(np.int64)
    n = len(vertices)
    tri_of, bary, _, _ = arap._locate(vertices, triangles, handles)
    hv = triangles[tri_of]
    edges, neighbourhood = arap._edge_neighbourhoods(triangles, n)
    rest_edges = vertices[edges[:, 1]] - vertices[edges[:, 0]]
    coef_c, coef_s = arap._similarity_coefficients(vertices, neighbourhood)
    columns1, coefficients1 = arap._step1_energy(neighbourhood, rest_edges, coef_c, coef_s)
    hold = np.pad(np.concatenate([2 * hv, 2 * hv + 1]), ((0, 0), (0, 5)))
    held = np.pad(weight * np.concatenate([bary, bary]), ((0, 0), (0, 5)))
    step1 = (np.concatenate([columns1, hold]), np.concatenate([coefficients1, held]), 2)
    step2 = (np.concatenate([np.pad(edges, ((0, 0), (0, 1))), hv]),
             np.concatenate([np.tile([-1.0, 1.0, 0.0], (len(edges), 1)), weight * bary]), 1)
    return [step1, step2]


@pytest.mark.parametrize("name", ["char2", "char5", "char6"])
def test_matches_splu_on_real_arap_systems(shared: Path, name: str) -> None:
    character = read_character(shared / "characters" / name)
    mesh = build_mesh(character.mask)
    n = len(mesh.vertices)
    order = reverse_cuthill_mckee(Mesh(mesh.vertices, mesh.triangles).edges, n)
    rng = np.random.default_rng(7)
    for columns, coefficients, block in arap_systems(mesh, character.rest):
        size = block * n
        ours = EnvelopeCholesky.normal(columns, coefficients, size, order, block)
        reference = splu(normal_matrix(columns, coefficients, size), permc_spec="MMD_AT_PLUS_A",
                         options={"SymmetricMode": True})
        rhs = rng.normal(size=(size, 3))
        expected = reference.solve(rhs)
        got = ours.solve(rhs)
        assert np.abs(got - expected).max() <= 1e-9 * np.abs(expected).max()


def test_a_small_system_is_solved_exactly_and_in_any_order() -> None:
    # Rows of M: x0 - x1, x1 - x2, 2 x0, x2; A = M^T M is SPD.
    columns = np.array([[0, 1], [1, 2], [0, 0], [2, 2]])
    coefficients = np.array([[1.0, -1.0], [1.0, -1.0], [2.0, 0.0], [1.0, 0.0]])
    a = normal_matrix(columns, coefficients, 3).toarray()
    rhs = np.array([[1.0], [2.0], [3.0]])
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        factor = EnvelopeCholesky.normal(columns, coefficients, 3, np.array(order))
        assert np.allclose(factor.solve(rhs), np.linalg.solve(a, rhs), rtol=1e-14, atol=0)
        assert factor.solve(np.zeros((3, 0))).shape == (3, 0)


def test_a_singular_system_is_refused() -> None:
    # Differences only: adding a constant changes nothing, so the matrix is singular.
    columns = np.array([[0, 1], [1, 2], [2, 0]])
    coefficients = np.tile([1.0, -1.0], (3, 1))
    with pytest.raises(NotPositiveDefinite, match="singular"):
        EnvelopeCholesky.normal(columns, coefficients, 3, np.arange(3))
    with pytest.raises(NotPositiveDefinite):  # an unknown no row mentions
        EnvelopeCholesky.normal(np.array([[0, 1]]), np.array([[1.0, 1.0]]), 3, np.arange(3))


def test_arap_on_a_vertex_no_triangle_uses_is_a_clear_error() -> None:
    mesh = Mesh(np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [40.0, 40.0]]), np.array([[0, 1, 2]], np.int32))
    with pytest.raises(ArapError, match="no unique solution.*vertex 3 "):  # the stray vertex, by its own index
        ArapSolver(mesh, np.array([[1.0, 1.0], [6.0, 2.0]]))


def test_reverse_cuthill_mckee_orders_every_vertex_and_narrows_a_grid() -> None:
    columns, rows = 30, 8
    index = np.arange(columns * rows).reshape(rows, columns)
    edges = np.concatenate([np.column_stack([index[:, :-1].ravel(), index[:, 1:].ravel()]),
                            np.column_stack([index[:-1].ravel(), index[1:].ravel()])])
    shuffled = np.random.default_rng(3).permutation(columns * rows)
    edges = shuffled[edges]  # the same grid, numbered at random
    extra = columns * rows + 2  # and two isolated vertices
    order = reverse_cuthill_mckee(edges, extra)
    assert sorted(order.tolist()) == list(range(extra))
    position = np.empty(extra, np.int64)
    position[order] = np.arange(extra)
    assert np.abs(position[edges[:, 0]] - position[edges[:, 1]]).max() <= rows + 1  # the short side, not 240


def test_bad_arguments_are_reported() -> None:
    with pytest.raises(ValueError, match="same"):
        EnvelopeCholesky.normal(np.zeros((2, 2), np.int64), np.zeros((2, 3)), 2, np.arange(2))
    with pytest.raises(ValueError, match="do not cover"):
        EnvelopeCholesky.normal(np.array([[0, 5]]), np.ones((1, 2)), 2, np.arange(2))
    factor = EnvelopeCholesky.normal(np.array([[0, 0], [1, 1]]), np.array([[1.0, 0.0], [1.0, 0.0]]), 2, np.arange(2))
    with pytest.raises(ValueError, match="rhs must be"):
        factor.solve(np.zeros(2))
