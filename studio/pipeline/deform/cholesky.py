"""Envelope (skyline) Cholesky of sparse normal equations M^T M, ordered by reverse Cuthill-McKee, for ARAP.

ARAP's two systems are sums of small squared rows (n ~ 1.1k-1.8k vertices, up to 2n unknowns), factorised once per
rig and back-substituted every frame. Ordering the vertices by reverse Cuthill-McKee keeps each row of L within a
band of about a mesh's cross-section, so L is stored row by row from its first non-zero column to the diagonal, and
factorising, solving and assembling are three small numba kernels; no scipy on the render path (issue 16).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

# A pivot below this fraction of its row's diagonal means the matrix is singular to working precision.
SINGULAR = 1e-13


class NotPositiveDefinite(ValueError):
    """The normal matrix is singular or not positive definite (an unknown no row pins down)."""


@dataclass(frozen=True, eq=False)
class EnvelopeCholesky:
    """L L^T = P (M^T M) P^T, with L stored row by row over its envelope.

    position: (N,) int64, the place of each original unknown in the factor's order.
    first: (N,) int64, the first stored column of each row of L; start: (N + 1,) int64 offsets into values;
    values: row i's L[i, first[i]..i] at values[start[i]:start[i + 1]].
    """

    position: np.ndarray
    first: np.ndarray
    start: np.ndarray
    values: np.ndarray

    @classmethod
    def normal(cls, columns: np.ndarray, coefficients: np.ndarray, size: int,
               vertex_order: np.ndarray, block: int = 1) -> EnvelopeCholesky:
        """Factorise A = M^T M, M given row by row; raises NotPositiveDefinite if A is singular.

        columns: (r, q) int64 unknowns of each row's entries, coefficients: (r, q) float64 (0 pads a short row);
        size: N unknowns, ``block`` per vertex (unknown = block * vertex + component, kept together);
        vertex_order: (N / block,) vertices in the order to eliminate them (see ``reverse_cuthill_mckee``).
        """
        columns = np.ascontiguousarray(columns, np.int64)
        coefficients = np.ascontiguousarray(coefficients, np.float64)
        if columns.shape != coefficients.shape or columns.ndim != 2:
            raise ValueError(f"columns and coefficients must be the same (r, q) shape, got {columns.shape} "
                             f"and {coefficients.shape}")
        if len(vertex_order) * block != size or (columns.size and (columns.min() < 0 or columns.max() >= size)):
            raise ValueError(f"{len(vertex_order)} vertices of {block} unknowns do not cover the {size} unknowns")
        order = (block * np.asarray(vertex_order, np.int64)[:, None] + np.arange(block)).ravel()
        position = np.empty(size, np.int64)
        position[order] = np.arange(size)
        placed = position[columns]
        first = np.arange(size, dtype=np.int64)
        _envelope(placed, coefficients, first)
        start = np.zeros(size + 1, np.int64)
        np.cumsum(np.arange(size) - first + 1, out=start[1:])
        values = np.zeros(int(start[-1]))
        failed = _factorise(placed, coefficients, first, start, values)
        if failed >= 0:
            unknown = int(order[failed])
            where = f"vertex {unknown // block}" + (f" (unknown {unknown % block} of its {block})" if block > 1 else "")
            raise NotPositiveDefinite(f"the normal matrix is singular: {where} is not pinned down by any row")
        return cls(position, first, start, values)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """A x = rhs for (N, r) float64 right-hand sides (r columns solved together); returns (N, r)."""
        rhs = np.asarray(rhs, np.float64)
        if rhs.ndim != 2 or len(rhs) != len(self.position):
            raise ValueError(f"rhs must be ({len(self.position)}, r), got {rhs.shape}")
        width = rhs.shape[1]
        work = np.zeros((width + width % 2, len(rhs)))  # the kernel takes right-hand sides in pairs
        work[:width, self.position] = rhs.T
        _substitute(self.first, self.start, self.values, work)
        return work[:width, self.position].T


def reverse_cuthill_mckee(edges: np.ndarray, n: int) -> np.ndarray:
    """(n,) int64 vertex order with a small envelope for the graph of (e, 2) int edges, each component in turn.

    Breadth-first from a pseudo-peripheral vertex, neighbours by increasing degree, then reversed.
    """
    edges = np.asarray(edges, np.int64).reshape(-1, 2)
    ends = np.concatenate([edges, edges[:, ::-1]])
    ends = ends[ends[:, 0] != ends[:, 1]]
    by_vertex = np.argsort(ends[:, 0], kind="stable")
    neighbours = np.ascontiguousarray(ends[by_vertex, 1])
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(ends[:, 0], minlength=n), out=indptr[1:])
    return _rcm(indptr, neighbours, n)


@njit(cache=True, nogil=True)
def _envelope(placed, coefficients, first):  # pragma: no cover - numba
    """first[i] = the smallest unknown sharing a row with unknown i (its own index at most)."""
    for r in range(placed.shape[0]):
        low = np.int64(1) << 62
        for a in range(placed.shape[1]):
            if coefficients[r, a] != 0.0 and placed[r, a] < low:
                low = placed[r, a]
        for a in range(placed.shape[1]):
            if coefficients[r, a] != 0.0 and low < first[placed[r, a]]:
                first[placed[r, a]] = low


@njit(cache=True, nogil=True)
def _factorise(placed, coefficients, first, start, values):  # pragma: no cover - numba
    """Assemble M^T M's lower triangle into the envelope, then factorise it in place; -1, or the failing row."""
    for r in range(placed.shape[0]):
        for a in range(placed.shape[1]):
            ca = coefficients[r, a]
            if ca == 0.0:
                continue
            i = placed[r, a]
            for b in range(placed.shape[1]):
                j = placed[r, b]
                if j <= i and coefficients[r, b] != 0.0:
                    values[start[i] + j - first[i]] += ca * coefficients[r, b]
    for i in range(len(first)):
        fi, si = first[i], start[i]
        for j in range(fi, i):
            fj, sj = first[j], start[j]
            k0 = max(fi, fj)
            total = values[si + j - fi]
            for k in range(k0, j):
                total -= values[si + k - fi] * values[sj + k - fj]
            values[si + j - fi] = total / values[sj + j - fj]
        diagonal = values[si + i - fi]
        pivot = diagonal
        for k in range(fi, i):
            pivot -= values[si + k - fi] * values[si + k - fi]
        if not pivot > SINGULAR * diagonal:
            return i
        values[si + i - fi] = np.sqrt(pivot)
    return -1


@njit(cache=True, nogil=True)
def _substitute(first, start, values, x):  # pragma: no cover - numba
    """Solve L L^T x = b in place; x: (r, N), one right-hand side per row, b on entry, r even.

    Two right-hand sides share each pass over L (x and y of a frame): it is read half as often.
    """
    size = x.shape[1]
    for c in range(0, x.shape[0], 2):
        a, b = x[c], x[c + 1]
        for i in range(size):  # L y = b, row by row: dot products over the envelope
            fi, si = first[i], start[i]
            total_a, total_b = a[i], b[i]
            for k in range(fi, i):
                lik = values[si + k - fi]
                total_a -= lik * a[k]
                total_b -= lik * b[k]
            diagonal = values[si + i - fi]
            a[i], b[i] = total_a / diagonal, total_b / diagonal
        for i in range(size - 1, -1, -1):  # L^T x = y, column by column of L^T: axpys over the envelope
            fi, si = first[i], start[i]
            diagonal = values[si + i - fi]
            xa, xb = a[i] / diagonal, b[i] / diagonal
            a[i], b[i] = xa, xb
            for k in range(fi, i):
                lik = values[si + k - fi]
                a[k] -= lik * xa
                b[k] -= lik * xb


@njit(cache=True, nogil=True)
def _rcm(indptr, neighbours, n):  # pragma: no cover - numba
    degree = indptr[1:] - indptr[:-1]
    level = np.full(n, -1, np.int64)
    queue = np.empty(n, np.int64)
    order = np.empty(n, np.int64)
    placed = np.zeros(n, np.bool_)
    count = 0
    for seed in range(n):
        if placed[seed]:
            continue
        # The component's lowest-degree vertex, then walk to a pseudo-peripheral one (George & Liu).
        start = seed
        size = _levels(indptr, neighbours, start, level, queue)
        for q in range(size):
            if degree[queue[q]] < degree[start]:
                start = queue[q]
        depth = -1
        for _ in range(8):
            level[queue[:size]] = -1
            size = _levels(indptr, neighbours, start, level, queue)
            last = level[queue[size - 1]]
            if last <= depth:
                break
            depth = last
            best = queue[size - 1]
            for q in range(size):
                if level[queue[q]] == last and degree[queue[q]] < degree[best]:
                    best = queue[q]
            start = best
        level[queue[:size]] = -1
        # Cuthill-McKee: breadth first, each vertex's new neighbours by increasing degree.
        head = count
        order[count] = start
        placed[start] = True
        count += 1
        while head < count:
            v = order[head]
            head += 1
            mark = count
            for p in range(indptr[v], indptr[v + 1]):
                w = neighbours[p]
                if not placed[w]:
                    placed[w] = True
                    order[count] = w
                    count += 1
            for a in range(mark + 1, count):  # insertion sort: a vertex has a handful of neighbours
                w = order[a]
                b = a - 1
                while b >= mark and degree[order[b]] > degree[w]:
                    order[b + 1] = order[b]
                    b -= 1
                order[b + 1] = w
    return order[::-1].copy()


@njit(cache=True, nogil=True)
def _levels(indptr, neighbours, start, level, queue):  # pragma: no cover - numba
    """Breadth-first levels from start (level is -1 wherever unvisited); queue gets the visited; returns their count."""
    level[start] = 0
    queue[0] = start
    size = 1
    head = 0
    while head < size:
        v = queue[head]
        head += 1
        for p in range(indptr[v], indptr[v + 1]):
            w = neighbours[p]
            if level[w] < 0:
                level[w] = level[v] + 1
                queue[size] = w
                size += 1
    return size
