"""The triangle mesh of a character's mask, and which bone owns each triangle."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from studio.pipeline.deform.delaunay import TriangulationError, delaunay

# Vertices the automatic spacing aims for (AD's meshes have 1.1k-1.8k).
TARGET_VERTICES = 1400
MIN_SPACING = 3.0
# The outline runs through the centres of the pixels just outside the mask (a one-pixel dilation),
# simplified with this tolerance, so every mask pixel centre stays inside the mesh.
OUTLINE_TOLERANCE = 0.5
# Interior grid points keep at least this fraction of the spacing away from the outline.
INTERIOR_CLEARANCE = 0.55


class MeshError(ValueError):
    """A mask or skeleton from which no usable mesh or bone ownership can be made."""


@dataclass(frozen=True, eq=False)
class Mesh:
    """A triangulated character.

    vertices: (n, 2) float64, texture pixels (x right, y down, pixel centres at integers);
        they are also the texture coordinates.
    triangles: (m, 3) int32 vertex indices, all with positive signed area
        ``(b - a) x (c - a) > 0`` in these coordinates (clockwise on screen).
    """

    vertices: np.ndarray
    triangles: np.ndarray

    @property
    def edges(self) -> np.ndarray:
        """(e, 2) int32 unique undirected edges, smaller index first."""
        t = self.triangles
        pairs = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
        return np.unique(np.sort(pairs, axis=1), axis=0).astype(np.int32)


def build_mesh(mask: np.ndarray, spacing: float | None = None, target_vertices: int | None = None,
               outline_tolerance: float = OUTLINE_TOLERANCE) -> Mesh:
    """Triangulate the largest figure of ``mask``: its outline plus an interior triangular grid.

    mask: (H, W) uint8, 0 outside and 255 inside (anything above 127 counts as inside).
    spacing: distance in pixels between grid points and between outline points; None picks one
        from the mask's area so the mesh has about ``target_vertices`` (default ``TARGET_VERTICES``) vertices.
    outline_tolerance: how far (px) the simplified outline may stray from the mask's contour; a draft mesh
        takes a looser one, so a ragged outline does not dominate its vertex count.
    The outline passes just outside the mask's pixel centres, so the mesh covers every pixel of
    the figure; holes inside the outline are meshed too (the texture is transparent there).
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise MeshError(f"mask must be a 2-D (H, W) array, got shape {mask.shape}")
    inside = mask > 127
    if not inside.any():
        raise MeshError("mask is empty: nothing to mesh")
    if spacing is not None and not (np.isfinite(spacing) and spacing > 0):
        raise MeshError(f"spacing must be a positive number of pixels, got {spacing}")

    outline = _outline(inside, outline_tolerance)
    polygon_area = 0.5 * abs(float(np.dot(outline[:, 0], np.roll(outline[:, 1], -1))
                                   - np.dot(outline[:, 1], np.roll(outline[:, 0], -1))))
    if spacing is None:
        spacing = _auto_spacing(outline, polygon_area, target_vertices or TARGET_VERTICES)
    boundary = _resample(outline, float(spacing))
    interior = _interior_grid(boundary, inside.shape, float(spacing))
    points = np.concatenate([boundary, interior]) if len(interior) else boundary
    if len(points) < 3 or polygon_area < 1e-9:
        raise MeshError("mask is too small to mesh: its outline has no area")

    try:
        triangles = delaunay(points)
    except TriangulationError as error:
        raise MeshError(f"the mask's outline could not be triangulated: {error}") from error
    centroids = points[triangles].mean(axis=1)
    triangles = triangles[_inside_polygon(centroids, boundary)]
    triangles = _orient(points, triangles)
    triangles = _largest_component(triangles, len(points))
    if len(triangles) == 0:
        raise MeshError("mask is too small to mesh: no triangle lies inside its outline")
    used = np.unique(triangles)
    remap = np.full(len(points), -1, np.int64)
    remap[used] = np.arange(len(used))
    return Mesh(np.ascontiguousarray(points[used], np.float64), remap[triangles].astype(np.int32))


def _outline(inside: np.ndarray, tolerance: float = OUTLINE_TOLERANCE) -> np.ndarray:
    """(p, 2) float64 simplified outer contour of the largest figure, one pixel outside its pixel centres."""
    pad = 2
    padded = np.pad(inside, pad).astype(np.uint8)
    contours, _ = cv2.findContours(padded, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    largest = max(contours, key=cv2.contourArea)
    figure: np.ndarray = np.zeros_like(padded)
    cv2.drawContours(figure, [largest], -1, 1, thickness=cv2.FILLED)
    figure = cv2.dilate(figure, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(figure, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    largest = max(contours, key=cv2.contourArea)
    simple = cv2.approxPolyDP(largest, tolerance, True).reshape(-1, 2).astype(np.float64) - pad
    # Keep the outline within the texture's pixel area so texture coordinates stay >= -0.5.
    height, width = inside.shape
    simple[:, 0] = np.clip(simple[:, 0], -0.5, width - 0.5)
    simple[:, 1] = np.clip(simple[:, 1], -0.5, height - 0.5)
    keep = np.any(simple != np.roll(simple, 1, axis=0), axis=1)
    return simple[keep]


def _auto_spacing(outline: np.ndarray, area: float, target: int = TARGET_VERTICES) -> float:
    perimeter = float(np.linalg.norm(np.diff(outline, axis=0, append=outline[:1]), axis=1).sum())
    # Vertices ~ area / (sqrt(3)/2 s^2) + perimeter / s; solve the quadratic in 1/s for the target.
    a, b, c = area / (np.sqrt(3) / 2), perimeter, -float(target)
    inv = (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)
    return max(MIN_SPACING, 1.0 / inv)


def _resample(outline: np.ndarray, spacing: float) -> np.ndarray:
    """Subdivide polygon edges longer than ``spacing``; (p, 2) → (q, 2), q >= p."""
    nxt = np.roll(outline, -1, axis=0)
    lengths = np.linalg.norm(nxt - outline, axis=1)
    pieces = np.maximum(1, np.ceil(lengths / spacing).astype(int))
    owner = np.repeat(np.arange(len(outline)), pieces)
    step = np.arange(len(owner)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    frac = (step / pieces[owner])[:, None]
    return outline[owner] * (1 - frac) + nxt[owner] * frac


def _interior_grid(boundary: np.ndarray, shape: tuple[int, int], spacing: float) -> np.ndarray:
    """Triangular-lattice points inside the polygon, at least INTERIOR_CLEARANCE * spacing from its edge."""
    height, width = shape
    shift = 4
    filled = np.zeros((height + 2, width + 2), np.uint8)
    pts = np.round((boundary + 1) * (1 << shift)).astype(np.int32)
    cv2.fillPoly(filled, [pts], 1, lineType=cv2.LINE_8, shift=shift)
    distance = cv2.distanceTransform(filled, cv2.DIST_L2, 5)
    lo = boundary.min(axis=0)
    hi = boundary.max(axis=0)
    row_step = spacing * np.sqrt(3) / 2
    ys = np.arange(lo[1] + row_step / 2, hi[1], row_step)
    rows = []
    for r, y in enumerate(ys):
        xs = np.arange(lo[0] + spacing / 2 * (1 + r % 2), hi[0], spacing)
        rows.append(np.column_stack([xs, np.full_like(xs, y)]))
    if not rows:
        return np.empty((0, 2))
    grid = np.concatenate(rows)
    cells = np.round(grid + 1).astype(int)
    clear = distance[cells[:, 1], cells[:, 0]] >= INTERIOR_CLEARANCE * spacing
    grid = grid[clear]
    return grid[_inside_polygon(grid, boundary)]


def _inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(q,) bool, even-odd rule; points: (q, 2), polygon: (p, 2) closed implicitly."""
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    result = np.zeros(len(points), bool)
    chunk = max(1, 4_000_000 // max(1, len(polygon)))
    for start in range(0, len(points), chunk):
        px = points[start:start + chunk, 0:1]
        py = points[start:start + chunk, 1:2]
        straddles = (y0 > py) != (y1 > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            cross_x = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
        result[start:start + chunk] = (np.count_nonzero(straddles & (px < cross_x), axis=1) % 2) == 1
    return result


def _orient(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Drop degenerate triangles and flip the rest to positive signed area."""
    a, b, c = points[triangles[:, 0]], points[triangles[:, 1]], points[triangles[:, 2]]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    triangles = triangles[np.abs(area) > 1e-9].copy()
    flip = area[np.abs(area) > 1e-9] < 0
    triangles[flip] = triangles[flip][:, [0, 2, 1]]
    return triangles


def _largest_component(triangles: np.ndarray, n_points: int) -> np.ndarray:
    """Keep the largest set of triangles connected through shared edges.

    Parts joined only at a vertex could turn freely around it, which leaves ARAP without a
    unique solution, so they are not kept.
    """
    labels = triangle_parts(triangles, n_points)
    if len(labels) == 0 or labels.max() == 0:
        return triangles
    return triangles[labels == np.argmax(np.bincount(labels))]


def triangle_parts(triangles: np.ndarray, n_vertices: int) -> np.ndarray:
    """(m,) int label per triangle: triangles sharing an edge, directly or through others, share a label."""
    m = len(triangles)
    if m == 0:
        return np.zeros(0, np.int64)
    triangles = np.asarray(triangles, np.int64)
    pairs = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    pairs.sort(axis=1)
    keys = pairs[:, 0] * n_vertices + pairs[:, 1]
    owner = np.tile(np.arange(m), 3)
    order = np.argsort(keys, kind="stable")
    keys, owner = keys[order], owner[order]
    shared = np.flatnonzero(keys[1:] == keys[:-1])
    return _components(owner[shared], owner[shared + 1], m)


def _components(a: np.ndarray, b: np.ndarray, m: int) -> np.ndarray:
    """(m,) int64 component label of each of m nodes joined by the pairs (a[i], b[i]).

    Labels count up in the order of each component's lowest node. Union by hooking each pair's larger root
    under its smaller one, then pointer jumping until every node points at its root: a few numpy passes.
    """
    root = np.arange(m)
    while True:
        while True:  # pointer jumping: root[x] <= x always, so this ends with every node on its root
            jumped = root[root]
            if np.array_equal(jumped, root):
                break
            root = jumped
        ra, rb = root[a], root[b]
        apart = ra != rb
        if not apart.any():
            return np.unique(root, return_inverse=True)[1].astype(np.int64)
        np.minimum.at(root, np.maximum(ra[apart], rb[apart]), np.minimum(ra[apart], rb[apart]))


def assign_triangles_to_bones(mesh: Mesh, joint_xy: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """(m,) int64 index of the joint whose bone (parent → joint segment) is nearest each triangle's centroid.

    joint_xy: (J, 2) joint positions in the mesh's texture pixels; parents: (J,) int, -1 for a root.
    Roots and zero-length bones own no triangles.
    """
    joint_xy = np.asarray(joint_xy, np.float64)
    parents = np.asarray(parents, np.int64)
    if joint_xy.ndim != 2 or joint_xy.shape[1] != 2 or parents.shape != (len(joint_xy),):
        raise MeshError(f"joint_xy must be (J, 2) and parents (J,), got {joint_xy.shape} and {parents.shape}")
    if np.any(parents >= len(joint_xy)):
        raise MeshError(f"parents refer to joints beyond the {len(joint_xy)} given")
    child = np.flatnonzero(parents >= 0)
    start = joint_xy[parents[child]]
    direction = joint_xy[child] - start
    length2 = np.einsum("ij,ij->i", direction, direction)
    real = length2 > 1e-12
    child, start, direction, length2 = child[real], start[real], direction[real], length2[real]
    if len(child) == 0:
        raise MeshError("the skeleton has no bone of non-zero length to own triangles")
    centroids = mesh.vertices[mesh.triangles].mean(axis=1)
    rel = centroids[:, None, :] - start[None, :, :]
    t = np.clip(np.einsum("mbk,bk->mb", rel, direction) / length2, 0.0, 1.0)
    gap = rel - t[:, :, None] * direction[None, :, :]
    return child[np.argmin(np.einsum("mbk,mbk->mb", gap, gap), axis=1)]
