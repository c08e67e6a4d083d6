"""Sprite sheets: every frame of an animation in one RGBA PNG, with JSON in the TexturePacker/Aseprite "hash" format.

The JSON is the one Phaser's atlas loader, Godot and Unity importers and Aseprite itself read::

    {"frames": {"idle_0000": {"frame": {"x", "y", "w", "h"},       the rectangle in the sheet
                              "rotated": false,
                              "trimmed": bool,                    transparent margins cut off?
                              "spriteSourceSize": {"x", "y", "w", "h"},   where that rectangle sits in the frame
                              "sourceSize": {"w", "h"},           the frame's whole size
                              "duration": ms}, ...},
     "meta": {"app", "version", "image": the PNG's file name, "format": "RGBA8888", "size": {"w", "h"}, "scale": "1",
              "frameTags": [{"name", "from", "to", "direction": "forward"}]}}   from/to: frame indices, inclusive

Frames appear in the hash in playing order (tags index into that order) and are named ``{tag}_{i:04d}``, ``i``
counting within the first tag that holds the frame (``frame_{k:04d}`` outside every tag), so that Phaser's
``generateFrameNames(key, {prefix: "idle_", zeroPad: 4, ...})`` finds them.

Two layouts:

- grid: every frame whole, in a grid of equal cells, no padding (``trimmed`` false): what fixed-grid loaders (Godot's
  hframes/vframes, Phaser's spritesheet) need. Each frame is copied into the sheet as it arrives, so memory is the
  sheet itself.
- packed: each frame trimmed to its non-transparent pixels (a wholly transparent frame keeps one pixel), identical
  trimmed images stored once (frames of a still pose share one rectangle), then shelf-packed tallest first with
  ``PACK_PADDING`` transparent pixels between rectangles so that bilinear sampling does not bleed one into the next.
  The sheet width is the candidate that gives the shortest longer side, then the smallest area (by area alone, a
  few frames came out as one tall column).

``SHEET_MAX_SIDE`` caps both: many GPUs and engines load no larger texture. The grid's size is known before any frame
is drawn, and the packed sheet is never larger than the grid with its cells grown by the padding (one of the widths
tried is that grid's: each shelf then holds a row of cells), so a sheet too large is refused before the work.

The sheet is assembled in OpenCV's BGRA order, frame by frame, and encoded by OpenCV: converting the whole 5500×5000
grid of the sample's dance at 500² (109 frames) took 0.4 s on its own. Encoding that grid took 1.0 s at zlib level
1-3 (4.2 MB) and 1.2 s at level 6 (3.7 MB), on a busy 2-core machine.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from studio.pipeline.files.atomic import atomic_write_path
from studio.pipeline.progress import Cancel, Progress, until_cancelled

SHEET_MAX_SIDE = 16384  # px: the largest texture common GPUs (and Godot, Unity) accept
PACK_PADDING = 2  # transparent px between packed rectangles (TexturePacker's default shape padding)
SHEET_PNG_COMPRESSION = 6  # zlib level: a shipped asset; 13 % smaller than level 1-3 for 20 % more time (see below)


class SheetError(ValueError):
    """A sprite sheet that cannot be written as asked (no frames, sizes that differ, too large, bad tags)."""


@dataclass(frozen=True)
class FrameTag:
    """A named run of frames, ``first``..``last`` inclusive (Aseprite's frameTags; one per motion)."""

    name: str
    first: int
    last: int


@dataclass(frozen=True)
class Rect:
    """A rectangle in pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class SheetFrame:
    """One frame's place: ``rect`` in the sheet holds the frame's pixels inside ``trim`` (its rectangle within the
    frame: the whole frame when untrimmed)."""

    name: str
    rect: Rect
    trim: Rect
    duration_ms: int


@dataclass(frozen=True)
class SpriteSheet:
    """A written sheet: the PNG, its JSON, the sheet's size (w, h), the frame's size (w, h) and each frame's place."""

    image: Path
    data: Path
    size: tuple[int, int]
    frame_size: tuple[int, int]
    frames: tuple[SheetFrame, ...]


def sheet_data_path(image: str | Path) -> Path:
    """The JSON written beside a sheet: the PNG's name with .json."""
    return Path(image).with_suffix(".json")


def frame_durations_ms(n_frames: int, frame_time_s: float) -> list[int]:
    """Whole-millisecond durations of ``n_frames`` frames of ``frame_time_s`` s whose running sum tracks the exact
    time: frame k ends at round(k · frame_time) ms, so the total is the clip's length to the nearest ms and no frame
    drifts by more than half a millisecond (1/30 s gives 33, 34, 33, 33, 34, 33...)."""
    if not (math.isfinite(frame_time_s) and frame_time_s > 0) or n_frames < 0:
        raise SheetError(f"frame durations need n ≥ 0 frames of a positive time, got {n_frames} of {frame_time_s!r}")
    ends = [round(k * frame_time_s * 1000.0) for k in range(n_frames + 1)]
    return [b - a for a, b in zip(ends, ends[1:])]


def grid_shape(n_frames: int, width: int, height: int) -> tuple[int, int]:
    """(columns, rows) of the grid layout: the sheet as near square as whole cells allow."""
    columns = max(1, min(n_frames, math.ceil(math.sqrt(n_frames * height / width))))
    return columns, math.ceil(n_frames / columns)


def check_sheet_size(n_frames: int, width: int, height: int, packed: bool = False) -> None:
    """Refuse, before any frame is drawn, a sheet whose grid would exceed SHEET_MAX_SIDE; for a packed sheet, the
    grid of cells grown by PACK_PADDING, which the packed sheet never exceeds."""
    pad = PACK_PADDING if packed else 0
    columns, rows = grid_shape(n_frames, width + pad, height + pad)
    if columns * (width + pad) > SHEET_MAX_SIDE or rows * (height + pad) > SHEET_MAX_SIDE:
        raise SheetError(f"a sheet of {n_frames} frames of {width}×{height} would be more than the {SHEET_MAX_SIDE} "
                         "px a side that GPUs load: use fewer frames or a smaller size")


def write_sprite_sheet(path: str | Path, frames: Iterable[np.ndarray], durations_ms: Sequence[int],
                       tags: Sequence[FrameTag] = (), packed: bool = False, progress: Progress | None = None,
                       cancel: Cancel | None = None, app: str = "Drawing Studio", version: str = "") -> SpriteSheet:
    """Write ``frames`` as a sheet PNG at ``path`` and its JSON beside it (``sheet_data_path``), both atomically.

    frames: (h, w, 4) RGBA uint8, all one size, as many as ``durations_ms`` (ms each, ≥ 1). tags: named runs of
    frames (one per motion). packed: trim and pack (see the module docstring), else a grid of whole frames.
    ``cancel`` is asked before each frame is pulled; ``progress(done, total)`` counts frames placed.
    """
    path = Path(path)
    n = len(durations_ms)
    if n == 0:
        raise SheetError(f"{path}: no frames to write")
    if any(int(d) != d or d < 1 for d in durations_ms):
        raise SheetError(f"{path}: frame durations must be whole milliseconds ≥ 1")
    names = frame_names(n, tags)
    place = _Packer() if packed else None
    sheet: np.ndarray | None = None
    frame_size = (0, 0)
    columns = 0
    trims: list[Rect] = []
    count = 0
    for k, frame in enumerate(until_cancelled(frames, cancel, f"{path}: sprite sheet")):
        if k >= n:
            raise SheetError(f"{path}: more frames than the {n} durations given")
        if frame.ndim != 3 or frame.shape[2] != 4 or frame.dtype != np.uint8:
            raise SheetError(f"frame {k} must be (h, w, 4) uint8 RGBA, got {frame.dtype} {frame.shape}")
        if k == 0:
            frame_size = (frame.shape[1], frame.shape[0])
            check_sheet_size(n, *frame_size, packed)
            columns, rows = grid_shape(n, *frame_size)
            if place is None:
                sheet = np.zeros((rows * frame.shape[0], columns * frame.shape[1], 4), np.uint8)
        elif (frame.shape[1], frame.shape[0]) != frame_size:
            raise SheetError(f"frame {k} is {frame.shape[1]}×{frame.shape[0]}, the first was "
                             f"{frame_size[0]}×{frame_size[1]}")
        if place is not None:
            trims.append(place.add(frame))
        else:
            assert sheet is not None
            w, h = frame_size
            y, x = divmod(k, columns)
            sheet[y * h:(y + 1) * h, x * w:(x + 1) * w] = cv2.cvtColor(frame, cv2.COLOR_RGBA2BGRA)
        count = k + 1
        if progress is not None:
            progress(count, n)
    if count != n:
        raise SheetError(f"{path}: {count} frames for {n} durations")
    if place is not None:
        sheet, rects = place.pack(SHEET_MAX_SIDE)
    else:
        w, h = frame_size
        rects = [Rect(k % columns * w, k // columns * h, w, h) for k in range(n)]
        trims = [Rect(0, 0, w, h)] * n
    assert sheet is not None
    placed = tuple(SheetFrame(names[k], rects[k], trims[k], int(durations_ms[k])) for k in range(n))
    data_path = sheet_data_path(path)
    document = sheet_json(placed, frame_size, (sheet.shape[1], sheet.shape[0]), path.name, tags, app, version)
    ok, encoded = cv2.imencode(".png", sheet, [cv2.IMWRITE_PNG_COMPRESSION, SHEET_PNG_COMPRESSION])
    if not ok:
        raise SheetError(f"{path}: PNG encoding failed")
    with atomic_write_path(data_path) as data_temp, atomic_write_path(path) as image_temp:
        image_temp.write_bytes(encoded.tobytes())
        data_temp.write_text(_json_text(document), encoding="utf-8")
    return SpriteSheet(path, data_path, (sheet.shape[1], sheet.shape[0]), frame_size, placed)


def frame_names(n_frames: int, tags: Sequence[FrameTag]) -> list[str]:
    """Each frame's name: ``{tag}_{i:04d}`` after the first tag holding it, else ``frame_{k:04d}``; checks the tags."""
    seen: set[str] = set()
    for tag in tags:
        if not tag.name or tag.name in seen:
            raise SheetError(f"tag names must be unique and not empty, got {tag.name!r} twice or empty")
        if not 0 <= tag.first <= tag.last < n_frames:
            raise SheetError(f"tag {tag.name!r} covers frames {tag.first}..{tag.last}, outside 0..{n_frames - 1}")
        seen.add(tag.name)
    names = []
    for k in range(n_frames):
        holder = next((t for t in tags if t.first <= k <= t.last), None)
        names.append(f"frame_{k:04d}" if holder is None else f"{holder.name}_{k - holder.first:04d}")
    if len(set(names)) != n_frames:  # a tag named like "frame", say
        raise SheetError("tag names give two frames the same name: rename a tag")
    return names


def sheet_json(frames: Sequence[SheetFrame], frame_size: tuple[int, int], sheet_size: tuple[int, int], image: str,
               tags: Sequence[FrameTag], app: str, version: str) -> dict[str, object]:
    """The JSON document of a sheet (TexturePacker/Aseprite hash format, see the module docstring)."""
    w, h = frame_size
    return {
        "frames": {f.name: {"frame": _xywh(f.rect), "rotated": False, "trimmed": f.trim != Rect(0, 0, w, h),
                            "spriteSourceSize": _xywh(f.trim), "sourceSize": {"w": w, "h": h},
                            "duration": f.duration_ms} for f in frames},
        "meta": {"app": app, "version": version, "image": image, "format": "RGBA8888",
                 "size": {"w": sheet_size[0], "h": sheet_size[1]}, "scale": "1",
                 "frameTags": [{"name": t.name, "from": t.first, "to": t.last, "direction": "forward"}
                               for t in tags]},
    }


def _json_text(document: dict[str, object]) -> str:
    """The sheet's JSON, one frame a line (a 300-frame sheet stays readable and small)."""
    frames = document["frames"]
    assert isinstance(frames, dict)
    lines = ",\n".join(f"  {json.dumps(name)}: {json.dumps(entry)}" for name, entry in frames.items())
    return f'{{"frames": {{\n{lines}\n }},\n "meta": {json.dumps(document["meta"])}\n}}\n'


def _xywh(rect: Rect) -> dict[str, int]:
    return {"x": rect.x, "y": rect.y, "w": rect.w, "h": rect.h}


def trim_rect(frame: np.ndarray) -> Rect:
    """The smallest rectangle holding every pixel of ``frame`` (h, w, 4) with alpha > 0; (0, 0, 1, 1) when there is
    none (engines refuse empty rectangles)."""
    alpha = frame[:, :, 3]
    rows = np.flatnonzero(alpha.any(axis=1))
    if rows.size == 0:
        return Rect(0, 0, 1, 1)
    cols = np.flatnonzero(alpha[rows[0]:rows[-1] + 1].any(axis=0))
    return Rect(int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))


class _Packer:
    """Trimmed frames, identical ones kept once, shelf-packed into one sheet at the end."""

    def __init__(self) -> None:
        self.images: list[np.ndarray] = []  # distinct trimmed images
        self.index_of: dict[tuple[int, int, bytes], int] = {}
        self.frame_image: list[int] = []  # each frame's image

    def add(self, frame: np.ndarray) -> Rect:
        """Keep ``frame``'s trimmed image (a copy: the caller may reuse its array); returns the trim rectangle."""
        trim = trim_rect(frame)
        crop = frame[trim.y:trim.y + trim.h, trim.x:trim.x + trim.w]
        key = (trim.w, trim.h, hashlib.blake2b(np.ascontiguousarray(crop).data, digest_size=16).digest())
        if key not in self.index_of:
            self.index_of[key] = len(self.images)
            self.images.append(crop.copy())
        self.frame_image.append(self.index_of[key])
        return trim

    def pack(self, max_side: int) -> tuple[np.ndarray, list[Rect]]:
        """The sheet (H, W, 4) uint8 BGRA (OpenCV's order, ready to encode) and each frame's rectangle in it."""
        sizes = [(im.shape[1], im.shape[0]) for im in self.images]
        best: tuple[tuple[int, int], int, list[Rect]] | None = None
        for width in _candidate_widths(sizes):
            rects, height = _shelf_pack(sizes, width)
            used = max(r.x + r.w for r in rects)
            if max(used, height) > max_side:
                continue
            key = (max(used, height), used * height)  # the longer side is what GPUs limit; then the area
            if best is None or key < best[0]:
                best = (key, used, rects)
        if best is None:
            raise SheetError(f"the packed sheet would be more than {max_side} px a side")
        _, width, rects = best
        height = max(r.y + r.h for r in rects)
        sheet = np.zeros((height, width, 4), np.uint8)
        for image, r in zip(self.images, rects):
            sheet[r.y:r.y + r.h, r.x:r.x + r.w] = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
        return sheet, [rects[i] for i in self.frame_image]


def _candidate_widths(sizes: Sequence[tuple[int, int]]) -> list[int]:
    """Sheet widths to try: from the widest image up, around the square root of the padded area, and the width of
    the grid of cells as large as the largest image (which bounds the packed sheet: see the module docstring)."""
    widest, tallest = max(w for w, _ in sizes), max(h for _, h in sizes)
    area = sum((w + PACK_PADDING) * (h + PACK_PADDING) for w, h in sizes)
    side = math.sqrt(area)
    columns, _ = grid_shape(len(sizes), widest + PACK_PADDING, tallest + PACK_PADDING)
    return sorted({max(widest, int(side * f)) for f in (0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0)}
                  | {widest, columns * (widest + PACK_PADDING)})


def _shelf_pack(sizes: Sequence[tuple[int, int]], width: int) -> tuple[list[Rect], int]:
    """Place (w, h) images tallest first on shelves ``width`` px wide, PACK_PADDING apart; returns each image's
    rectangle (in the order given) and the height used."""
    order = sorted(range(len(sizes)), key=lambda i: (-sizes[i][1], -sizes[i][0], i))
    rects: list[Rect | None] = [None] * len(sizes)
    x = y = shelf = 0
    for i in order:
        w, h = sizes[i]
        if x > 0 and x + w > width:
            x, y, shelf = 0, y + shelf + PACK_PADDING, 0
        rects[i] = Rect(x, y, w, h)
        x += w + PACK_PADDING
        shelf = max(shelf, h)
    placed = [r for r in rects if r is not None]
    return placed, y + shelf
