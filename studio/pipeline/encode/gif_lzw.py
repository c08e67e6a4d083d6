"""Numba kernels of the GIF writer: a frame's changed rectangle, its unchanged pixels, LZW compression (nogil)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def frame_rects(frame: np.ndarray, canvas: np.ndarray, following: np.ndarray, transparent: int,
                 out: np.ndarray) -> None:
    """Two bounding boxes (top, left, bottom, right; empty when bottom ≤ top) into out (8,) int64.

    0:4 — pixels where frame differs from canvas; 4:8 — opaque pixels of frame that are
    transparent in ``following`` (the next frame): those must be cleared. frame, canvas,
    following: (h, w) uint8; transparent: index or -1. Each row is one branch-free pass that
    ORs its hits into per-column flags, so the loops vectorise.
    """
    h, w = frame.shape
    t = np.uint8(max(transparent, 0))
    columns = np.zeros((2, w), np.bool_)
    out[0], out[2], out[4], out[6] = h, 0, h, 0
    for y in range(h):
        fr, cv, nx = frame[y], canvas[y], following[y]
        changed, clear = columns[0], columns[1]
        found = False
        for x in range(w):
            hit = fr[x] != cv[x]
            changed[x] |= hit
            found |= hit
        if found:
            out[0], out[2] = min(out[0], y), y + 1
        if transparent >= 0:
            found = False
            for x in range(w):
                hit = (fr[x] != t) & (nx[x] == t)
                clear[x] |= hit
                found |= hit
            if found:
                out[4], out[6] = min(out[4], y), y + 1
    for part in range(2):
        hits = np.flatnonzero(columns[part])
        out[4 * part + 1], out[4 * part + 3] = (hits[0], hits[-1] + 1) if len(hits) else (w, 0)


@njit(nogil=True, cache=True)
def mask_unchanged(frame: np.ndarray, canvas: np.ndarray, top: int, left: int, bottom: int, right: int,
                   transparent: int, colours: int, hint: int, out: np.ndarray) -> int:
    """Copy frame[top:bottom, left:right] into ``out`` with its pixels equal to ``canvas`` see-through.

    frame, canvas, out: (h, w) uint8; only the rectangle of ``out`` is written. transparent: the
    GIF's transparent index, or -1 for an opaque GIF: then an index below ``colours`` (the colour
    table's size) that no changed pixel of the rectangle holds, which the frame declares as its own
    transparent index: ``hint`` (the last frame's) when it is free, else the lowest free one. Returns
    that index, or -1 (``out`` then holds nothing useful) when masking does not pay: it would leave no
    fewer runs of one index (a cheap stand-in for LZW size: unchanged pixels scattered through a
    moving figure break its colour runs), or, opaque, no index is free.
    """
    plain_runs, masked_runs = 0, 0
    for y in range(top, bottom):  # runs of the rectangle read as one stream, rows joined end to start
        fr, cv = frame[y, left:right], canvas[y, left:right]
        if y == top:
            plain_runs, masked_runs = 1, 1
        else:
            a, b = frame[y - 1, right - 1], canvas[y - 1, right - 1]
            plain_runs += fr[0] != a
            masked_runs += (fr[0] == cv[0]) != (a == b) or (fr[0] != cv[0] and fr[0] != a)
        for x in range(1, right - left):  # branch-free, so it vectorises: see-through is a symbol of its own
            changed, changed_before, differs = fr[x] != cv[x], fr[x - 1] != cv[x - 1], fr[x] != fr[x - 1]
            plain_runs += differs
            masked_runs += (changed != changed_before) | (changed & differs)
    if masked_runs >= plain_runs:
        return -1
    index = transparent if transparent >= 0 else hint
    if _masked_copy(frame, canvas, top, left, bottom, right, index, out) and transparent < 0:
        used = np.zeros(256, np.bool_)  # the hint is a changed pixel's colour: find a free index
        for y in range(top, bottom):
            for x in range(left, right):
                if frame[y, x] != canvas[y, x]:
                    used[frame[y, x]] = True
        index = -1
        for i in range(colours):
            if not used[i]:
                index = i
                break
        if index < 0:
            return -1
        _masked_copy(frame, canvas, top, left, bottom, right, index, out)
    return index


@njit(nogil=True, cache=True)
def _masked_copy(frame: np.ndarray, canvas: np.ndarray, top: int, left: int, bottom: int, right: int, index: int,
                 out: np.ndarray) -> bool:
    """out[rectangle] = frame with pixels equal to canvas as ``index``; True if a changed pixel holds ``index``."""
    see_through = np.uint8(index)
    clash = False
    for y in range(top, bottom):
        fr, cv, dst = frame[y], canvas[y], out[y]
        for x in range(left, right):  # branch-free: it vectorises
            changed = fr[x] != cv[x]
            dst[x] = fr[x] if changed else see_through
            clash |= changed & (fr[x] == see_through)
    return clash


@njit(inline="always")
def _put(out: np.ndarray, acc: int, bits: int, pos: int, block: int, filled: int, code: int,
         size: int) -> tuple[int, int, int, int, int]:
    """Append a ``size``-bit code LSB first, in ≤255-byte sub-blocks; returns the updated
    (bit accumulator, bits held, write position, current block's length-byte position, its bytes)."""
    acc |= code << bits
    bits += size
    while bits >= 8:
        if filled == 255:
            out[block] = 255
            block, pos, filled = pos, pos + 1, 0
        out[pos] = acc & 0xFF
        pos += 1
        filled += 1
        acc >>= 8
        bits -= 8
    return acc, bits, pos, block, filled


@njit(nogil=True, cache=True)
def lzw_encode(frame: np.ndarray, top: int, left: int, bottom: int, right: int, min_size: int,
                work: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], out: np.ndarray) -> int:
    """LZW-compress frame[top:bottom, left:right] as GIF image data (sub-blocks + terminator) into out.

    work = (table, keys, run_codes, run_lengths, stream) from ``lzw_workspace``, left as found.
    table[c · 4096 + prefix] is the code for string prefix + c (0: none). Runs of one colour take
    a fast path: the dictionary holds that colour's runs c, cc, ccc... as an unbroken ladder
    (run_codes[c, k] is the code for k c's, run_lengths[c] its top rung), so a run costs one scan
    plus one step per code instead of one dictionary lookup per pixel. Returns bytes written.
    """
    table, keys, run_codes, run_lengths, stream = work
    width = right - left
    n = (bottom - top) * width
    for y in range(top, bottom):  # the rectangle as one run of pixels (a plain loop: it vectorises)
        row, dst = frame[y, left:right], stream[(y - top) * width:(y - top + 1) * width]
        for x in range(width):
            dst[x] = row[x]
    clear = 1 << min_size
    size, free, n_keys = min_size + 1, clear + 2, 0
    acc, bits, pos, block, filled = 0, 0, 1, 0, 0  # out[0]: the first block's length byte
    acc, bits, pos, block, filled = _put(out, acc, bits, pos, block, filled, clear, size)
    prefix = int(stream[0])
    i = 0  # stream[i] is the last pixel of the current string
    while True:
        c = prefix
        if prefix < clear and i + 1 < n and stream[i + 1] == c:  # a run starts: climb the ladder
            j = i + 1
            while j < n and stream[j] == c:
                j += 1
            left_in_run = j - i
            while left_in_run > run_lengths[c]:
                k = run_lengths[c]
                code = int(run_codes[c, k])
                acc, bits, pos, block, filled = _put(out, acc, bits, pos, block, filled, code, size)
                added, free, size, n_keys = _grow(table, keys, run_lengths, (c << 12) | code, free, size, n_keys,
                                                  min_size)
                if added:
                    run_codes[c, k + 1] = free - 1
                    run_lengths[c] = k + 1
                else:
                    acc, bits, pos, block, filled = _put(out, acc, bits, pos, block, filled, clear, 12)
                left_in_run -= k
            prefix = int(run_codes[c, left_in_run])
            i = j - 1
        i += 1
        if i >= n:
            break
        c = int(stream[i])
        key = (c << 12) | prefix
        code = table[key]
        if code != 0:
            prefix = int(code)
            continue
        acc, bits, pos, block, filled = _put(out, acc, bits, pos, block, filled, prefix, size)
        added, free, size, n_keys = _grow(table, keys, run_lengths, key, free, size, n_keys, min_size)
        if not added:
            acc, bits, pos, block, filled = _put(out, acc, bits, pos, block, filled, clear, 12)
        prefix = c
    acc, bits, pos, block, filled = _put(out, acc, bits, pos, block, filled, prefix, size)
    if free < 4096 and free + 1 > (1 << size) and size < 12:
        size += 1  # the decoder widens after adding its entry for the last code
    acc, bits, pos, block, filled = _put(out, acc, bits, pos, block, filled, clear + 1, size)  # end of information
    if bits > 0:
        acc, bits, pos, block, filled = _put(out, acc, bits, pos, block, filled, 0, 8 - bits)
    for m in range(n_keys):
        table[keys[m]] = 0
    run_lengths[:] = 1
    if filled > 0:
        out[block] = filled
        out[pos] = 0  # block terminator
        return pos + 1
    out[block] = 0
    return block + 1


@njit(inline="always")
def _grow(table: np.ndarray, keys: np.ndarray, run_lengths: np.ndarray, key: int, free: int, size: int, n_keys: int,
          min_size: int) -> tuple[bool, int, int, int]:
    """Give string ``key`` the next free code, or, when all 4096 are taken, empty the dictionary
    (the caller then writes a clear code, 12 bits). Returns (added, free, size, n_keys)."""
    if free < 4096:
        table[key] = free
        keys[n_keys] = key
        free += 1
        if free > (1 << size) and size < 12:
            size += 1
        return True, free, size, n_keys + 1
    for m in range(n_keys):
        table[keys[m]] = 0
    run_lengths[:] = 1
    return False, (1 << min_size) + 2, min_size + 1, 0


def lzw_workspace(n_pixels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scratch for ``lzw_encode``: (table, keys, run_codes, run_lengths, stream)."""
    run_codes = np.zeros((256, 4097), np.uint16)
    run_codes[:, 1] = np.arange(256)
    return (np.zeros(256 * 4096, np.uint16), np.zeros(4096, np.int32), run_codes, np.ones(256, np.int64),
            np.empty(n_pixels, np.uint8))
