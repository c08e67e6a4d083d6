"""Software rasterisation of a textured, deformed mesh: remap maps, palette-index frames and RGBA frames."""

from __future__ import annotations

import cv2
import numpy as np
from numba import njit

# Source coordinate written where no triangle covers a pixel.
UNCOVERED = -1.0
# Texture coordinates are >= -0.5 (the texture's pixel area), so anything below this is uncovered.
_COVERED_ABOVE = -0.75
# Barycentric slack so a pixel centre on an edge shared by two triangles is never missed.
_EDGE_SLACK = 1e-9


class RasterError(ValueError):
    """Inputs of the wrong shape or type for rasterisation."""


@njit(cache=True, nogil=True)
def _scan(deformed, uv, triangles, texture_idx, map_x, map_y, out, indexed):  # pragma: no cover - numba
    """Fill triangles in order, later over earlier; pixel (i, j) has its centre at (x=i, y=j).

    indexed: write nearest texture_idx values into out; otherwise write source coordinates into map_x/map_y.
    """
    height, width = (out.shape[0], out.shape[1]) if indexed else (map_x.shape[0], map_x.shape[1])
    tex_h, tex_w = texture_idx.shape[0], texture_idx.shape[1]
    for t in range(triangles.shape[0]):
        a, b, c = triangles[t, 0], triangles[t, 1], triangles[t, 2]
        x0, y0 = deformed[a, 0], deformed[a, 1]
        x1, y1 = deformed[b, 0], deformed[b, 1]
        x2, y2 = deformed[c, 0], deformed[c, 1]
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if not np.isfinite(area) or abs(area) < 1e-12:
            continue
        lo_x = max(0.0, np.ceil(min(x0, x1, x2) - 1e-6))
        hi_x = min(width - 1.0, np.floor(max(x0, x1, x2) + 1e-6))
        lo_y = max(0.0, np.ceil(min(y0, y1, y2) - 1e-6))
        hi_y = min(height - 1.0, np.floor(max(y0, y1, y2) + 1e-6))
        if lo_x > hi_x or lo_y > hi_y:
            continue
        inv = 1.0 / area
        # Barycentric weights are affine in (px, py): w = base + dx * px + dy * py.
        w0_dx, w0_dy = (y1 - y2) * inv, (x2 - x1) * inv
        w1_dx, w1_dy = (y2 - y0) * inv, (x0 - x2) * inv
        w0_base = (x1 * y2 - x2 * y1) * inv
        w1_base = (x2 * y0 - x0 * y2) * inv
        u0, v0 = uv[a, 0], uv[a, 1]
        u1, v1 = uv[b, 0], uv[b, 1]
        u2, v2 = uv[c, 0], uv[c, 1]
        for py in range(int(lo_y), int(hi_y) + 1):
            row0 = w0_base + w0_dy * py
            row1 = w1_base + w1_dy * py
            for px in range(int(lo_x), int(hi_x) + 1):
                w0 = row0 + w0_dx * px
                w1 = row1 + w1_dx * px
                w2 = 1.0 - w0 - w1
                if w0 < -_EDGE_SLACK or w1 < -_EDGE_SLACK or w2 < -_EDGE_SLACK:
                    continue
                sx = w0 * u0 + w1 * u1 + w2 * u2
                sy = w0 * v0 + w1 * v1 + w2 * v2
                if indexed:
                    ix = min(max(int(np.floor(sx + 0.5)), 0), tex_w - 1)
                    iy = min(max(int(np.floor(sy + 0.5)), 0), tex_h - 1)
                    out[py, px] = texture_idx[iy, ix]
                else:
                    map_x[py, px] = sx
                    map_y[py, px] = sy


@njit(cache=True, nogil=True)
def _sample_nearest(texture_idx, map_x, map_y, background, out):  # pragma: no cover - numba
    tex_h, tex_w = texture_idx.shape[0], texture_idx.shape[1]
    for py in range(map_x.shape[0]):
        for px in range(map_x.shape[1]):
            sx, sy = map_x[py, px], map_y[py, px]
            if sx > _COVERED_ABOVE:
                ix = min(max(int(np.floor(sx + 0.5)), 0), tex_w - 1)
                iy = min(max(int(np.floor(sy + 0.5)), 0), tex_h - 1)
                out[py, px] = texture_idx[iy, ix]
            else:
                out[py, px] = background


def _mesh_inputs(deformed: np.ndarray, uv: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, ...]:
    deformed = np.ascontiguousarray(deformed, np.float64)
    uv = np.ascontiguousarray(uv, np.float64)
    triangles = np.ascontiguousarray(triangles, np.int64)
    if deformed.ndim != 2 or deformed.shape[1] != 2 or uv.shape != deformed.shape:
        raise RasterError(f"deformed and uv must both be (n, 2), got {deformed.shape} and {uv.shape}")
    if triangles.ndim != 2 or triangles.shape[1] != 3:
        raise RasterError(f"triangles must be (m, 3), got {triangles.shape}")
    if len(triangles) and (triangles.min() < 0 or triangles.max() >= len(deformed)):
        raise RasterError(f"triangles refer to vertices outside 0..{len(deformed) - 1}")
    return deformed, uv, triangles


def _out_array(out: np.ndarray | None, shape: tuple[int, ...], dtype: type, name: str) -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype)
    if out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise RasterError(f"{name} must be a C-contiguous {np.dtype(dtype).name} array of shape {shape}, "
                          f"got {out.dtype} {out.shape}")
    return out


def fill_source_maps(deformed: np.ndarray, uv: np.ndarray, triangles: np.ndarray, width: int, height: int,
                     out_x: np.ndarray | None = None, out_y: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Where in the texture each canvas pixel comes from.

    deformed: (n, 2) float canvas pixels; uv: (n, 2) texture pixels (>= -0.5, e.g. Mesh.vertices);
    triangles: (m, 3) int vertex indices in draw order (first drawn is furthest back).
    Returns map_x, map_y: (height, width) float32 texture coordinates, UNCOVERED (-1) where no
    triangle covers the pixel centre. out_x/out_y, if given, are filled and returned.
    """
    deformed, uv, triangles = _mesh_inputs(deformed, uv, triangles)
    map_x = _out_array(out_x, (height, width), np.float32, "out_x")
    map_y = _out_array(out_y, (height, width), np.float32, "out_y")
    map_x.fill(UNCOVERED)
    map_y.fill(UNCOVERED)
    _scan(deformed, uv, triangles, np.zeros((1, 1), np.uint8), map_x, map_y, np.zeros((1, 1), np.uint8), False)
    return map_x, map_y


def raster_indexed(deformed: np.ndarray, uv: np.ndarray, triangles: np.ndarray, texture_idx: np.ndarray,
                   background: int, width: int, height: int, out: np.ndarray | None = None) -> np.ndarray:
    """One pass from mesh to palette indices, nearest-neighbour: (height, width) uint8.

    texture_idx: (H, W) uint8 palette indices of the texture, already holding the transparent
    index outside the mask; background: index written where no triangle covers a pixel.
    Other arguments as in fill_source_maps.
    """
    deformed, uv, triangles = _mesh_inputs(deformed, uv, triangles)
    texture_idx = _indexed_texture(texture_idx)
    frame = _out_array(out, (height, width), np.uint8, "out")
    frame.fill(background)
    dummy = np.zeros((1, 1), np.float32)
    _scan(deformed, uv, triangles, texture_idx, dummy, dummy, frame, True)
    return frame


def _indexed_texture(texture_idx: np.ndarray) -> np.ndarray:
    if texture_idx.ndim != 2 or texture_idx.dtype != np.uint8 or texture_idx.size == 0:
        raise RasterError(f"texture_idx must be a non-empty (H, W) uint8 array, got {texture_idx.dtype} "
                          f"{texture_idx.shape}")
    return np.ascontiguousarray(texture_idx)


def _maps(map_x: np.ndarray, map_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if map_x.shape != map_y.shape or map_x.ndim != 2 or map_x.dtype != np.float32 or map_y.dtype != np.float32:
        raise RasterError(f"map_x and map_y must be (h, w) float32 of one shape, got {map_x.dtype} {map_x.shape} "
                          f"and {map_y.dtype} {map_y.shape}")
    return map_x, map_y


def sample_indexed(texture_idx: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, background: int,
                   out: np.ndarray | None = None) -> np.ndarray:
    """Nearest-neighbour palette indices through remap maps: (h, w) uint8, ``background`` where uncovered.

    texture_idx: (H, W) uint8; map_x, map_y: (h, w) float32 from fill_source_maps.
    """
    texture_idx = _indexed_texture(texture_idx)
    map_x, map_y = _maps(map_x, map_y)
    frame = _out_array(out, map_x.shape, np.uint8, "out")
    _sample_nearest(texture_idx, map_x, map_y, np.uint8(background), frame)
    return frame


def sample_rgba(texture: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Bilinear 4-channel colour through remap maps: (h, w, 4) uint8, all zero (transparent) where uncovered.

    texture: (H, W, 4) uint8, RGBA or BGRA (channels are copied in the order given), alpha 0 outside
    the mask. Edge pixels blend with the transparent neighbours, so their alpha is partial.
    """
    if texture.ndim != 3 or texture.shape[2] != 4 or texture.dtype != np.uint8:
        raise RasterError(f"texture must be (H, W, 4) uint8, got {texture.dtype} {texture.shape}")
    map_x, map_y = _maps(map_x, map_y)
    frame = _out_array(out, (*map_x.shape, 4), np.uint8, "out")
    cv2.remap(texture, map_x, map_y, cv2.INTER_LINEAR, dst=frame,
              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    return frame
