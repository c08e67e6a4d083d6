"""GIF palettes: quantise a character texture (and optionally a background) once to one shared 256-entry palette.

Method (measured on AD's char2/char5/char6 textures, 5k-12k unique colours each): when the
opaque pixels hold at most ``max_colours`` distinct colours the palette is exact. Otherwise Pillow's
maximum-coverage quantiser with one k-means pass, no dithering, on the opaque pixels only: mean
error 1.4-2.1 and max error 7-9 (RGB distance), 50-130 ms once per export. Median cut has a lower
mean (0.6-2.0) but loses small distinct features (max error 36-96, e.g. a red dot turns brown);
fast octree is cheap but coarse (mean 3-5, only 70-117 colours used). Dithering is off: drawings
are flat colours, and dither noise would cost GIF (LZW) size.

Then, for a quantised texture (not an exact one), colours about a scan's noise apart are merged:
the pair whose merge adds the least squared error first (Ward's rule, weighted by the texels each
covers), while the texture keeps a PSNR of at least ``MIN_TEXTURE_PSNR`` dB and no colour moves by
more than ``MAX_COLOUR_MOVE`` (RGB distance), so a small distinct dot keeps its colour. A scanned
drawing's paper and pencil noise took most of the 255 entries, and LZW pays for every distinct
neighbour: char2 255 -> 32 colours, texture PSNR 45.6 -> 39.1 dB, its 339-frame dab GIF 6.13 ->
4.02 MiB; the sample 255 -> 83 colours, 51.1 -> 42.4 dB. Pillow's RGBA octree, which AD's writer
applies to each frame, gives these textures 36.1 and 41.9 dB (char5 38.8, ours 40.2; char6 40.6,
ours 40.3). bench/gif_encode.py --jobs has the GIF sizes beside a stand-in for AD's GIFs.

Palette layout from ``quantise_texture``: texture colours at 0..k-1, the reserved entry
(transparency, or the solid background colour) at index k, and unused entries k+1..255 copying
entry 0, so a nearest-colour search never picks the reserved or an unused entry over a real colour.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from numba import njit
from PIL import Image

ALPHA_OPAQUE = 128
PALETTE_SIZE = 256
_SAMPLE_LIMIT = 200_000  # pixels per source fed to the quantiser (stride-sampled beyond this)
_UNSET = 0xFFFF
MIN_TEXTURE_PSNR = 39.0  # dB over the opaque texels, after merging close colours
MAX_COLOUR_MOVE = 16.0  # RGB distance a palette colour may move when merged


class PaletteError(ValueError):
    """Arguments that cannot make or use a palette (wrong shape, dtype or colour count)."""


class QuantisedTexture(NamedTuple):
    """A texture as palette indices; unpacks as ``indices, palette, transparent_index``.

    indices: (H, W) uint8; texels with alpha < 128 hold ``transparent_index``.
    palette: (256, 3) uint8 RGB.
    transparent_index: the reserved entry. Without a background colour it is the GIF's transparent
    colour; with one it holds that colour (an opaque entry), so the renderer can fill the canvas
    with it and the GIF needs no transparency.
    """

    indices: np.ndarray
    palette: np.ndarray
    transparent_index: int


def quantise_texture(rgba: np.ndarray, max_colours: int = 255,
                     background_colour: tuple[int, int, int] | None = None,
                     min_psnr: float | None = MIN_TEXTURE_PSNR) -> QuantisedTexture:
    """One shared palette for a texture's opaque pixels, plus one reserved entry.

    rgba: (H, W, 4) uint8 RGBA; alpha ≥ 128 is opaque. max_colours: 1..255 colours for the texture.
    background_colour: RGB for a solid background; the reserved entry then holds it.
    min_psnr: when the texture had to be quantised, merge close colours down to this PSNR (dB) over
    its opaque texels (see the module docstring); None keeps every quantised colour.
    """
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise PaletteError(f"texture must be (H, W, 4) uint8 RGBA, got {rgba.dtype} {rgba.shape}")
    if not 1 <= max_colours <= PALETTE_SIZE - 1:
        raise PaletteError(f"max_colours must be 1..255 (one entry is reserved), got {max_colours}")
    opaque = rgba[:, :, 3] >= ALPHA_OPAQUE
    pixels = np.ascontiguousarray(rgba[:, :, :3][opaque])
    colours = _colours_for(pixels, max_colours)
    k = len(colours)
    reserved = colours[0] if background_colour is None else _rgb(background_colour)
    nearest = np.zeros(0, np.uint8)
    if len(pixels):
        unique, inverse = np.unique(_packed(pixels), return_inverse=True)
        nearest = _nearest(_unpacked(unique), colours)[inverse.reshape(-1)]
        if min_psnr is not None and len(unique) > max_colours:  # quantised, not exact: merge close colours
            colours, merged = merge_close_colours(pixels, nearest, colours, min_psnr)
            nearest = merged[nearest]
            k = len(colours)
            if background_colour is None:
                reserved = colours[0]
    indices = np.full(opaque.shape, k, np.uint8)
    indices[opaque] = nearest
    return QuantisedTexture(indices, _layout(colours, reserved), k)


def merge_close_colours(pixels: np.ndarray, nearest: np.ndarray, colours: np.ndarray,
                        min_psnr: float, max_move: float = MAX_COLOUR_MOVE) -> tuple[np.ndarray, np.ndarray]:
    """Merge palette colours while the pixels keep a PSNR of ``min_psnr`` dB and none moves over ``max_move``.

    pixels: (n, 3) uint8, each mapped to colours[nearest] ((n,) uint8; colours (k, 3) uint8). Returns
    (new colours (m, 3) uint8, m ≤ k; (k,) uint8 map from old index to new). A merged colour is the mean
    of its members weighted by their pixel counts; the cheapest merge (Ward: the least added squared
    error) goes first, and one that would move a member more than ``max_move`` is skipped.
    """
    counts = np.bincount(nearest, minlength=len(colours))[: len(colours)]
    used = np.flatnonzero(counts)  # a colour no pixel maps to is dropped
    error = float(np.sum((colours[nearest].astype(np.float64) - pixels) ** 2))
    budget = len(pixels) * 3 * 255.0 ** 2 / 10 ** (min_psnr / 10) - error  # squared error still allowed
    owner, centres = _ward_merge(colours[used].astype(np.float64), counts[used].astype(np.float64),
                                 max(budget, 0.0), float(max_move))
    kept = np.flatnonzero(owner == np.arange(len(used)))
    renumber = np.zeros(len(used), np.int64)
    renumber[kept] = np.arange(len(kept))
    mapping = np.zeros(len(colours), np.uint8)
    mapping[used] = renumber[owner]
    return np.clip(np.rint(centres[kept]), 0, 255).astype(np.uint8), mapping


def background_palette(texture_rgba: np.ndarray, background_rgb: np.ndarray, max_colours: int = 256) -> np.ndarray:
    """A fixed (256, 3) uint8 palette for frames composited over an image background.

    texture_rgba: (H, W, 4) uint8, its opaque pixels; background_rgb: (h, w, 3) uint8, the background
    as it appears on the canvas. Both sources weigh equally however large each is. Map the
    composited frames with ``quantise_to_palette`` and write the GIF with no transparent index.
    """
    if texture_rgba.ndim != 3 or texture_rgba.shape[2] != 4 or texture_rgba.dtype != np.uint8:
        raise PaletteError(f"texture must be (H, W, 4) uint8 RGBA, got {texture_rgba.dtype} {texture_rgba.shape}")
    if background_rgb.ndim != 3 or background_rgb.shape[2] != 3 or background_rgb.dtype != np.uint8:
        raise PaletteError(f"background must be (h, w, 3) uint8 RGB, got {background_rgb.dtype} {background_rgb.shape}")
    if not 1 <= max_colours <= PALETTE_SIZE:
        raise PaletteError(f"max_colours must be 1..256, got {max_colours}")
    figure = texture_rgba[:, :, :3][texture_rgba[:, :, 3] >= ALPHA_OPAQUE]
    back = background_rgb.reshape(-1, 3)
    n = min(_SAMPLE_LIMIT, max(len(figure), len(back)))
    parts = [_resample(p, n) for p in (figure, back) if len(p)]
    colours = _colours_for(np.concatenate(parts) if parts else np.zeros((0, 3), np.uint8), max_colours)
    return _layout(colours, colours[0])


def quantise_to_palette(rgb: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Each pixel's nearest palette entry (squared RGB distance, lowest index on ties): (h, w) uint8.

    rgb: (h, w, 3) uint8; palette: (n, 3) uint8, n ≤ 256. Exact, not binned: a pixel that equals
    a palette colour always maps to it. Answers are cached per colour in a 2^24-entry table (32 MiB,
    kept for the last palette used), so once a background's colours are known a 500×500 frame
    takes about 1 ms (measured over a photo background; the first frame, ~0.2 s, fills the cache).
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise PaletteError(f"frame must be (h, w, 3) uint8 RGB, got {rgb.dtype} {rgb.shape}")
    palette = _checked_palette(palette)
    table = _colour_table(palette.tobytes())
    out = np.empty(rgb.shape[:2], np.uint8)
    _map_cached(np.ascontiguousarray(rgb), palette.astype(np.int32), table, out)
    return out


def used_entries(palette: np.ndarray, last: int, opaque: bool) -> np.ndarray:
    """``palette[: last + 1]``, the entries a GIF's frames use (a smaller colour table, shorter LZW codes); for an
    opaque GIF whose table that would fill exactly (2, 4, … 128 entries), one unused entry more, so that the writer
    can still send unchanged pixels as an index no changed pixel uses."""
    n = last + 1
    if opaque and n < PALETTE_SIZE and n & (n - 1) == 0:
        n += 1
    return palette[:n]


def quantise_over_colour(premultiplied: np.ndarray, colour: tuple[int, int, int], palette: np.ndarray) -> np.ndarray:
    """``premultiplied`` (h, w, 4) uint8 RGBA laid over an opaque ``colour``, each pixel's nearest palette entry:
    (h, w) uint8, as ``quantise_to_palette`` of the composited frame but in one pass (colour + background's share,
    ``p + (c × (255 - a) + 127) // 255``, rounded once), with the same per-colour cache."""
    if premultiplied.ndim != 3 or premultiplied.shape[2] != 4 or premultiplied.dtype != np.uint8:
        raise PaletteError(f"frame must be (h, w, 4) uint8 RGBA, got {premultiplied.dtype} {premultiplied.shape}")
    palette = _checked_palette(palette)
    table = _colour_table(palette.tobytes())
    out = np.empty(premultiplied.shape[:2], np.uint8)
    rest = 255 - np.arange(256, dtype=np.int32)[:, None]
    share = np.ascontiguousarray((_rgb(colour).astype(np.int32) * rest + 127) // 255, np.int32)  # (256, 3)
    _map_over_colour(np.ascontiguousarray(premultiplied), share, palette.astype(np.int32), table, out)
    return out


def _checked_palette(palette: np.ndarray) -> np.ndarray:
    palette = np.asarray(palette)
    if palette.ndim != 2 or palette.shape[1] != 3 or not 1 <= len(palette) <= PALETTE_SIZE:
        raise PaletteError(f"palette must be (n, 3) with 1 ≤ n ≤ 256, got {palette.shape}")
    if palette.dtype != np.uint8:
        if palette.min() < 0 or palette.max() > 255:
            raise PaletteError("palette values must lie in 0..255")
        palette = palette.astype(np.uint8)
    return np.ascontiguousarray(palette)


@functools.lru_cache(maxsize=1)
def _colour_table(palette_bytes: bytes) -> np.ndarray:
    """(2^24,) uint16 nearest entry per 24-bit colour, 0xFFFF until first looked up (32 MiB)."""
    return np.full(1 << 24, _UNSET, np.uint16)


def _rgb(colour: tuple[int, int, int]) -> np.ndarray:
    value = np.asarray(colour)
    if value.shape != (3,) or value.min() < 0 or value.max() > 255:
        raise PaletteError(f"a colour must be three values in 0..255, got {colour!r}")
    return value.astype(np.uint8)


def _layout(colours: np.ndarray, reserved: np.ndarray) -> np.ndarray:
    """(256, 3) uint8: colours (k, 3), then the reserved entry at k, then copies of colours[0]."""
    palette = np.empty((PALETTE_SIZE, 3), np.uint8)
    palette[:] = colours[0] if len(colours) else reserved
    palette[: len(colours)] = colours
    if len(colours) < PALETTE_SIZE:
        palette[len(colours)] = reserved
    return palette


def _resample(pixels: np.ndarray, n: int) -> np.ndarray:
    """(n, 3): ``pixels`` (m, 3) stride-sampled down or tiled up to n rows."""
    m = len(pixels)
    return pixels[(np.arange(n) * m) // n]


def _colours_for(pixels: np.ndarray, max_colours: int) -> np.ndarray:
    """(k, 3) uint8 palette colours, 1 ≤ k ≤ max_colours: exact when few enough, else quantised."""
    if len(pixels) == 0:
        return np.zeros((1, 3), np.uint8)
    unique, counts = np.unique(_packed(pixels), return_counts=True)
    if len(unique) <= max_colours:
        return _unpacked(unique[np.argsort(-counts, kind="stable")])  # most frequent first
    if len(pixels) > _SAMPLE_LIMIT:
        pixels = _resample(pixels, _SAMPLE_LIMIT)
    column = Image.fromarray(np.ascontiguousarray(pixels).reshape(-1, 1, 3), "RGB")
    quantised = column.quantize(max_colours, Image.Quantize.MAXCOVERAGE, kmeans=1, dither=Image.Dither.NONE)
    used = np.unique(np.asarray(quantised))
    flat = np.asarray((quantised.getpalette() or [])[: 3 * max_colours], np.uint8).reshape(-1, 3)
    return np.ascontiguousarray(flat[used[used < len(flat)]])


def _packed(pixels: np.ndarray) -> np.ndarray:
    """(n,) int32 0xRRGGBB of (n, 3) uint8 pixels."""
    return (pixels[:, 0].astype(np.int32) << 16) | (pixels[:, 1].astype(np.int32) << 8) | pixels[:, 2]


def _unpacked(packed: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 of (n,) 0xRRGGBB."""
    return np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], axis=1).astype(np.uint8)


def _nearest(pixels: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """(n,) uint8 nearest of ``colours`` (k, 3) for each of ``pixels`` (n, 3)."""
    out = np.empty(len(pixels), np.uint8)
    _map_list(np.ascontiguousarray(pixels), colours.astype(np.int32), out)
    return out


@njit(nogil=True, cache=True)
def _ward_merge(colours: np.ndarray, counts: np.ndarray, budget: float,
                max_move: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy weighted merging of (k, 3) float64 colours with (k,) counts; returns (owner (k,) int64: the
    index each colour now belongs to, which owns itself; centres (k, 3) float64, valid at owners).

    cost[i, j] (symmetric, inf when barred or gone) is the squared error merging clusters i and j adds;
    each row keeps its minimum, so a step scans k rows, not k² pairs."""
    k = colours.shape[0]
    centres, weight = colours.copy(), counts.copy()
    owner = np.arange(k)
    cost = np.full((k, k), np.inf)
    for i in range(k):
        for j in range(i + 1, k):
            cost[i, j] = cost[j, i] = _merge_cost(centres, weight, i, j)
    best = np.empty(k)
    partner = np.empty(k, np.int64)
    for i in range(k):
        _row_minimum(cost, i, best, partner)
    limit = max_move * max_move
    while True:
        a = int(np.argmin(best))
        b = int(partner[a])
        if not best[a] <= budget:  # also stops on inf: nothing left to merge
            return owner, centres
        total = weight[a] + weight[b]
        centre = (weight[a] * centres[a] + weight[b] * centres[b]) / max(total, 1e-12)
        moves = False
        for m in range(k):
            if (owner[m] == a or owner[m] == b) and np.sum((centre - colours[m]) ** 2) > limit:
                moves = True
        if moves:  # bar this pair only
            cost[a, b] = cost[b, a] = np.inf
            _row_minimum(cost, a, best, partner)
            _row_minimum(cost, b, best, partner)
            continue
        budget -= best[a]
        centres[a], weight[a] = centre, total
        for m in range(k):
            if owner[m] == b:
                owner[m] = a
        cost[b, :] = np.inf
        cost[:, b] = np.inf
        best[b] = np.inf
        for j in range(k):
            if j != a and owner[j] == j:
                cost[a, j] = cost[j, a] = _merge_cost(centres, weight, a, j)
        _row_minimum(cost, a, best, partner)
        for j in range(k):
            if j == a or owner[j] != j:
                continue
            if partner[j] == a or partner[j] == b:
                _row_minimum(cost, j, best, partner)
            elif cost[j, a] < best[j]:
                best[j], partner[j] = cost[j, a], a


@njit(inline="always")
def _row_minimum(cost: np.ndarray, i: int, best: np.ndarray, partner: np.ndarray) -> None:
    j = int(np.argmin(cost[i]))
    best[i], partner[i] = cost[i, j], j


@njit(inline="always")
def _merge_cost(centres: np.ndarray, weight: np.ndarray, i: int, j: int) -> float:
    total = weight[i] + weight[j]
    if total <= 0:
        return 0.0
    return weight[i] * weight[j] / total * float(np.sum((centres[i] - centres[j]) ** 2))


@njit(nogil=True, cache=True)
def _nearest_entry(r: int, g: int, b: int, palette: np.ndarray) -> int:
    best = 0
    best_d = 1 << 30
    for i in range(palette.shape[0]):
        dr = r - palette[i, 0]
        dg = g - palette[i, 1]
        db = b - palette[i, 2]
        d = dr * dr + dg * dg + db * db
        if d < best_d:
            best_d = d
            best = i
            if d == 0:
                break
    return best


@njit(nogil=True, cache=True)
def _cached_entry(r: int, g: int, b: int, palette: np.ndarray, table: np.ndarray) -> int:
    """The nearest palette entry of (r, g, b), from ``table`` (2^24 uint16, 0xFFFF = not yet known) or found and kept."""
    key = (r << 16) | (g << 8) | b
    entry = table[key]
    if entry == 0xFFFF:
        entry = _nearest_entry(r, g, b, palette)
        table[key] = entry
    return entry


@njit(nogil=True, cache=True)
def _map_cached(rgb: np.ndarray, palette: np.ndarray, table: np.ndarray, out: np.ndarray) -> None:
    """out[y, x] = nearest entry of rgb[y, x]; table: (2^24,) uint16 cache, 0xFFFF = not yet known."""
    h, w = out.shape
    for y in range(h):
        for x in range(w):
            r = int(rgb[y, x, 0])
            g = int(rgb[y, x, 1])
            b = int(rgb[y, x, 2])
            out[y, x] = _cached_entry(r, g, b, palette, table)


@njit(nogil=True, cache=True)
def _map_over_colour(premultiplied: np.ndarray, share: np.ndarray, palette: np.ndarray, table: np.ndarray,
                     out: np.ndarray) -> None:
    """out[y, x] = nearest entry of premultiplied[y, x] plus share[alpha] (the background colour's part, (256, 3)
    int32); table as in _map_cached. Uncovered pixels (alpha 0: most of a frame) are the colour's own entry."""
    h, w = out.shape
    empty = _nearest_entry(int(share[0, 0]), int(share[0, 1]), int(share[0, 2]), palette)
    for y in range(h):
        for x in range(w):
            a = premultiplied[y, x, 3]
            if a == 0:
                out[y, x] = empty
                continue
            r = min(255, int(premultiplied[y, x, 0]) + share[a, 0])
            g = min(255, int(premultiplied[y, x, 1]) + share[a, 1])
            b = min(255, int(premultiplied[y, x, 2]) + share[a, 2])
            out[y, x] = _cached_entry(r, g, b, palette, table)


@njit(nogil=True, cache=True)
def _map_list(pixels: np.ndarray, palette: np.ndarray, out: np.ndarray) -> None:
    """out[i] = nearest entry of pixels[i]; pixels: (n, 3) uint8."""
    for i in range(pixels.shape[0]):
        out[i] = _nearest_entry(int(pixels[i, 0]), int(pixels[i, 1]), int(pixels[i, 2]), palette)
