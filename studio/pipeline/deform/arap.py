"""Two-step as-rigid-as-possible mesh deformation (Igarashi et al. 2005/2009), factorised once per rig.

Step 1 (similarity-invariant): each edge k with neighbourhood N_k (its two ends and the one or
two opposite vertices) gets the similarity T_k = [[c, s], [-s, c]] that best maps the rest
neighbourhood onto the deformed one. (c, s) is linear in the deformed positions, so the energy
sum_k |e'_k - T_k e_k|^2 plus the soft handle constraints is one quadratic form in the vertices.
Step 2 (scale adjustment): T_k from step 1 is normalised to a rotation R_k, and
sum_k |e'_k - R_k e_k|^2 plus the constraints is solved for x and y separately.

Both system matrices depend on the rest mesh and the handles' triangles only. Moreover step 1's
solution is linear in the targets, and so is (c, s) per edge; both are folded into one dense
(2e, 2k) operator at construction. A frame is then: one small dense product, a normalisation,
one scatter-add and one back-substitution with the prefactorised step-2 matrix. Both systems are
normal equations M^T M, factorised by our own envelope Cholesky (cholesky.py), so scipy stays off
the render path (issue 16).
"""

from __future__ import annotations

import numpy as np

from studio.pipeline.deform.cholesky import EnvelopeCholesky, NotPositiveDefinite, reverse_cuthill_mckee
from studio.pipeline.deform.mesh import Mesh, triangle_parts


class ArapError(ValueError):
    """A mesh or handle set that ARAP cannot deform (degenerate, or too few distinct handles)."""


class ArapSolver:
    """Deforms a mesh so that handles follow targets, as rigidly as possible.

    mesh: the rest mesh; handles: (k, 2) float64 rest positions, texture pixels (the rig's joints);
    weight: how strongly each handle is held (rows of the least-squares system are scaled by it).
    A handle outside the mesh is pinned to the nearest point of the mesh instead; ``snapped``
    lists those as (handle index, distance in pixels). The pinned point keeps its rest offset
    from the handle, turned with the direction from the nearest other handle, so a rest pose
    stays exactly at rest.
    """

    def __init__(self, mesh: Mesh, handles: np.ndarray, weight: float = 1000.0) -> None:
        vertices = np.asarray(mesh.vertices, np.float64)
        triangles = np.asarray(mesh.triangles, np.int64)
        handles = np.asarray(handles, np.float64)
        if vertices.ndim != 2 or vertices.shape[1] != 2 or triangles.ndim != 2 or triangles.shape[1] != 3:
            raise ArapError(f"mesh must have (n, 2) vertices and (m, 3) triangles, got {vertices.shape} "
                            f"and {triangles.shape}")
        if len(triangles) == 0:
            raise ArapError("mesh has no triangles")
        if triangles.min() < 0 or triangles.max() >= len(vertices):
            raise ArapError(f"triangles refer to vertices outside 0..{len(vertices) - 1}")
        parts = int(triangle_parts(triangles, len(vertices)).max()) + 1
        if parts > 1:
            raise ArapError(f"mesh is in {parts} pieces that share no edge; ARAP needs one piece "
                            "(build_mesh keeps the largest)")
        if handles.ndim != 2 or handles.shape[1] != 2 or len(handles) == 0:
            raise ArapError(f"handles must be (k, 2) with k >= 1, got {handles.shape}")
        if not (np.isfinite(weight) and weight > 0):
            raise ArapError(f"weight must be a positive number, got {weight}")
        n = len(vertices)
        self.n_vertices = n
        self.weight = float(weight)
        self.rest_handles = handles.copy()

        tri_of, bary, pinned, distance = _locate(vertices, triangles, handles)
        self.snapped: tuple[tuple[int, float], ...] = tuple(
            (int(h), float(distance[h])) for h in np.flatnonzero(distance > 1e-9))
        if np.ptp(pinned, axis=0).max() < 1e-6:
            raise ArapError("ARAP needs at least two handles at distinct places on the mesh")
        self._snapped_index = np.array([h for h, _ in self.snapped], np.int64)
        self._snap_offset = pinned[self._snapped_index] - handles[self._snapped_index]
        self._snap_anchor = _anchors(handles, self._snapped_index)
        self._rest_vertices = vertices.copy()
        self._rest_pinned = pinned

        edges, neighbourhood = _edge_neighbourhoods(triangles, n)
        rest_edges = vertices[edges[:, 1]] - vertices[edges[:, 0]]
        if np.any(np.einsum("ij,ij->i", rest_edges, rest_edges) < 1e-18):
            raise ArapError("mesh has an edge of zero length (duplicate vertices)")
        self._rest_edges = rest_edges
        coef_c, coef_s = _similarity_coefficients(vertices, neighbourhood)

        k = len(handles)
        hv = triangles[tri_of]  # (k, 3) vertices holding each handle
        w2 = self.weight ** 2
        order = reverse_cuthill_mckee(edges, n)
        # Step 1 in interleaved unknowns (x0, y0, x1, y1, ...): the edge residuals, then the weighted handles.
        columns1, coefficients1 = _step1_energy(neighbourhood, rest_edges, coef_c, coef_s)
        hold_columns = np.concatenate([2 * hv, 2 * hv + 1])
        hold_coefficients = self.weight * np.concatenate([bary, bary])
        pad = columns1.shape[1] - 3
        factor1 = _factorise(np.concatenate([columns1, np.pad(hold_columns, ((0, 0), (0, pad)))]),
                             np.concatenate([coefficients1, np.pad(hold_coefficients, ((0, 0), (0, pad)))]),
                             2 * n, order, 2)
        # Step 1's vertices as a dense (2n, 2k) operator on the interleaved targets ...
        target_of_row = np.concatenate([2 * np.arange(k), 2 * np.arange(k) + 1])  # each hold row's x or y target
        hold_t = np.zeros((2 * n, 2 * k))  # w^2 hold^T
        np.add.at(hold_t, (hold_columns, target_of_row[:, None]), w2 * np.concatenate([bary, bary]))
        step1 = factor1.solve(hold_t)
        # ... and each edge's (c, s) as one dense (2e, 2k) operator, rows c_0..c_{e-1}, s_0..s_{e-1}.
        self._similarity = _similarity_operator(neighbourhood, coef_c, coef_s, step1)

        # Step 2: x and y share one matrix; rows are the edges (end minus start) and the weighted handles.
        e = len(edges)
        columns2 = np.concatenate([np.pad(edges, ((0, 0), (0, 1))), hv])
        coefficients2 = np.concatenate([np.tile([-1.0, 1.0, 0.0], (e, 1)), self.weight * bary])
        self._step2 = _factorise(columns2, coefficients2, n, order, 1)
        # A frame's right-hand side, per axis: + each edge's turned vector at its end, - at its start, and
        # w^2 * barycentric * moved target at the handles' vertices; one bincount over these indices.
        self._rhs_at = np.concatenate([edges[:, 1], edges[:, 0], hv.ravel()])
        self._rhs_handle = np.repeat(np.arange(k), 3)
        self._rhs_weight = w2 * bary.ravel()

    def solve(self, targets: np.ndarray) -> np.ndarray:
        """(k, 2) target handle positions → (n, 2) float64 deformed vertices, same pixel frame."""
        targets = np.asarray(targets, np.float64)
        if targets.shape != self.rest_handles.shape:
            raise ArapError(f"targets must be {self.rest_handles.shape} like the handles, got {targets.shape}")
        if len(self._snapped_index):
            targets = self._pin_targets(targets)
        # Everything is solved as a change from the rest pose, so a rest pose comes back exactly
        # and rounding scales with how far the handles moved, not with the pixel coordinates.
        moved = targets - self._rest_pinned
        cs = self._similarity @ moved.ravel()
        e = len(self._rest_edges)
        c, s = cs[:e] + 1.0, cs[e:]
        norm = np.hypot(c, s)
        tiny = norm < 1e-12
        if tiny.any():  # a collapsed neighbourhood has no rotation: keep the rest direction
            c, s, norm = np.where(tiny, 1.0, c), np.where(tiny, 0.0, s), np.where(tiny, 1.0, norm)
        c, s = c / norm, s / norm
        ex, ey = self._rest_edges[:, 0], self._rest_edges[:, 1]
        turned = np.empty((e, 2))
        turned[:, 0] = c * ex + s * ey - ex
        turned[:, 1] = c * ey - s * ex - ey
        held = self._rhs_weight[:, None] * moved[self._rhs_handle]
        rhs = np.empty((self.n_vertices, 2))
        for axis in range(2):
            weights = np.concatenate([turned[:, axis], -turned[:, axis], held[:, axis]])
            rhs[:, axis] = np.bincount(self._rhs_at, weights, self.n_vertices)
        return self._rest_vertices + self._step2.solve(rhs)

    def _pin_targets(self, targets: np.ndarray) -> np.ndarray:
        """Targets of snapped handles moved by their rest offset, turned like handle - anchor."""
        idx, anchor = self._snapped_index, self._snap_anchor
        rest = self.rest_handles[idx] - self.rest_handles[anchor]
        now = targets[idx] - targets[anchor]
        dot = np.einsum("ij,ij->i", rest, now)
        cross = rest[:, 0] * now[:, 1] - rest[:, 1] * now[:, 0]
        norm = np.hypot(dot, cross)
        ok = norm > 1e-12
        cos = np.where(ok, dot / np.where(ok, norm, 1.0), 1.0)
        sin = np.where(ok, cross / np.where(ok, norm, 1.0), 0.0)
        off = self._snap_offset
        pinned = targets.copy()
        pinned[idx, 0] += cos * off[:, 0] - sin * off[:, 1]
        pinned[idx, 1] += sin * off[:, 0] + cos * off[:, 1]
        return pinned


def _locate(vertices: np.ndarray, triangles: np.ndarray, points: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each point: (k,) triangle, (k, 3) barycentrics, (k, 2) point on the mesh, (k,) distance to it."""
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    if np.any(np.abs(area) < 1e-12):
        raise ArapError("mesh has a triangle of zero area")
    k = len(points)
    tri_of = np.zeros(k, np.int64)
    bary = np.zeros((k, 3))
    on_mesh = points.copy()
    distance = np.zeros(k)
    for h, p in enumerate(points):
        w0 = ((b[:, 0] - p[0]) * (c[:, 1] - p[1]) - (b[:, 1] - p[1]) * (c[:, 0] - p[0])) / area
        w1 = ((c[:, 0] - p[0]) * (a[:, 1] - p[1]) - (c[:, 1] - p[1]) * (a[:, 0] - p[0])) / area
        w = np.column_stack([w0, w1, 1.0 - w0 - w1])
        worst = w.min(axis=1)
        t = int(np.argmax(worst))
        if worst[t] < -1e-9:  # outside: nearest point over every triangle side
            starts = np.concatenate([a, b, c])
            sides = np.concatenate([b - a, c - b, a - c])
            f = np.clip(np.einsum("ij,ij->i", p - starts, sides) / np.einsum("ij,ij->i", sides, sides), 0.0, 1.0)
            near = starts + f[:, None] * sides
            d2 = np.einsum("ij,ij->i", near - p, near - p)
            best = int(np.argmin(d2))
            t, which = best % len(triangles), best // len(triangles)
            w = np.zeros((1, 3))
            w[0, which] = 1.0 - f[best]
            w[0, (which + 1) % 3] = f[best]
            on_mesh[h] = near[best]
            distance[h] = np.sqrt(d2[best])
            bary[h] = w[0]
        else:
            bary[h] = w[t]
        tri_of[h] = t
    return tri_of, bary, on_mesh, distance


def _anchors(handles: np.ndarray, index: np.ndarray) -> np.ndarray:
    """For each handle in index, the nearest other handle at a distinct rest position (itself if none)."""
    anchors = np.empty(len(index), np.int64)
    for i, h in enumerate(index):
        d = np.linalg.norm(handles - handles[h], axis=1)
        d[d < 1e-6] = np.inf
        anchors[i] = int(np.argmin(d)) if np.isfinite(d).any() else h
    return anchors


def _edge_neighbourhoods(triangles: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(e, 2) edges (i < j) and (e, 4) neighbourhoods [i, j, left, right], -1 where a side has no triangle."""
    m = len(triangles)
    half = np.concatenate([triangles[:, [0, 1, 2]], triangles[:, [1, 2, 0]], triangles[:, [2, 0, 1]]])
    ends = np.sort(half[:, :2], axis=1)
    keys = ends[:, 0] * n + ends[:, 1]
    order = np.argsort(keys, kind="stable")
    keys, ends, opposite = keys[order], ends[order], half[order, 2]
    first = np.ones(3 * m, bool)
    first[1:] = keys[1:] != keys[:-1]
    edge_of = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    slot = np.arange(3 * m) - starts[edge_of]
    neighbourhood = np.full((len(starts), 4), -1, np.int64)
    neighbourhood[:, :2] = ends[starts]
    keep = slot < 2  # a non-manifold edge keeps its first two triangles
    neighbourhood[edge_of[keep], 2 + slot[keep]] = opposite[keep]
    return neighbourhood[:, :2].copy(), neighbourhood


def _similarity_coefficients(vertices: np.ndarray, neighbourhood: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per edge and neighbourhood slot, (e, 4, 2) weights giving c and s from the deformed (x, y).

    With rest positions p centred on the neighbourhood's mean and S = sum |p|^2, the least-squares
    similarity has c = sum(p_x q_x + p_y q_y) / S and s = sum(p_y q_x - p_x q_y) / S.
    """
    valid = neighbourhood >= 0
    p = vertices[np.where(valid, neighbourhood, 0)]
    count = valid.sum(axis=1, keepdims=True)
    mean = (p * valid[:, :, None]).sum(axis=1) / count
    p = (p - mean[:, None, :]) * valid[:, :, None]
    scale = np.einsum("eqk,eqk->e", p, p)[:, None]
    coef_c = np.stack([p[:, :, 0], p[:, :, 1]], axis=2) / scale[:, :, None]
    coef_s = np.stack([p[:, :, 1], -p[:, :, 0]], axis=2) / scale[:, :, None]
    return coef_c, coef_s


def _similarity_operator(neighbourhood: np.ndarray, coef_c: np.ndarray, coef_s: np.ndarray,
                         step1: np.ndarray) -> np.ndarray:
    """(2e, 2k) dense: targets → per-edge c (first e rows) and s (last e rows), through step 1's (2n, 2k) operator."""
    e = len(neighbourhood)
    by_vertex = step1.reshape(-1, 2, step1.shape[1])  # (n, 2, 2k): a vertex's x and y rows
    out = np.zeros((2 * e, step1.shape[1]))
    for slot in range(neighbourhood.shape[1]):  # coefficients are 0 where a slot is empty (-1)
        rows = by_vertex[np.maximum(neighbourhood[:, slot], 0)]
        out[:e] += np.einsum("ed,edk->ek", coef_c[:, slot], rows)
        out[e:] += np.einsum("ed,edk->ek", coef_s[:, slot], rows)
    return out


def _step1_energy(neighbourhood: np.ndarray, rest_edges: np.ndarray, coef_c: np.ndarray,
                  coef_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the step-1 residuals e'_k - T_k e_k on interleaved coordinates, an x row and a y row per edge.

    Returns (2e, 8) int64 columns and (2e, 8) float64 coefficients (0 where a neighbourhood slot is empty).
    """
    ex, ey = rest_edges[:, 0, None, None], rest_edges[:, 1, None, None]
    # T e = [[ex, ey], [ey, -ex]] (c, s); coefficients per (edge, slot, coordinate).
    row_x = -(ex * coef_c + ey * coef_s)
    row_y = -(ey * coef_c - ex * coef_s)
    row_x[:, 0, 0] -= 1.0
    row_x[:, 1, 0] += 1.0
    row_y[:, 0, 1] -= 1.0
    row_y[:, 1, 1] += 1.0
    valid = np.repeat((neighbourhood >= 0)[:, :, None], 2, axis=2)
    cols = 2 * np.maximum(neighbourhood, 0)[:, :, None] + np.arange(2)
    e = len(neighbourhood)
    columns = np.stack([cols, cols], axis=1).reshape(2 * e, 8)
    coefficients = np.stack([np.where(valid, row_x, 0.0), np.where(valid, row_y, 0.0)], axis=1).reshape(2 * e, 8)
    return columns, coefficients


def _factorise(columns: np.ndarray, coefficients: np.ndarray, size: int, order: np.ndarray,
               block: int) -> EnvelopeCholesky:
    try:
        return EnvelopeCholesky.normal(columns, coefficients, size, order, block)
    except NotPositiveDefinite as error:
        raise ArapError(f"ARAP's system has no unique solution ({error}); is every vertex on a triangle?") from error
