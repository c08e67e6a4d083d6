"""APNG export: a streaming animated-PNG writer, straight RGBA frames with exact per-frame delays.

Each frame after the first is sent as the smallest rectangle holding every pixel that differs from the frame before
(alpha included), with dispose_op NONE and blend_op SOURCE: the rectangle replaces what the canvas shows, so a pixel
that turns transparent is written as transparent and nothing smears, and the canvas is never cleared. A frame equal
to the one before is sent as one unchanged pixel, so the file always holds exactly as many frames as were given.
Delays are fractions of a second (``delay_num / delay_den``, 16 bits each): 1/30 s is stored as 1/30, not as 33 ms.

Frames are written as they arrive, one frame held: memory does not grow with the clip. Pillow can write APNGs
(``save_all``), but it needs every frame at once and keeps its own copy of each until the end (its RSS grew 110 MB
for the sample's 109 frames at 500², and would grow by gigabytes for the long or large clips the CLI accepts), for
about the same time (0.47 against 0.51 s here). So only the compression is borrowed: each rectangle is encoded as a
PNG by OpenCV (filtering and zlib), whose IDAT stream is rewrapped as the frame's IDAT or fdAT chunks; Pillow reads
the result back in the tests.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from studio.pipeline.files.atomic import atomic_write_path
from studio.pipeline.progress import Cancel, Progress, until_cancelled

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
APNG_COMPRESSION = 3  # zlib level of each frame's rectangle
# Browsers play GIF frames of 10 ms or less at 100 ms (Chromium and Firefox); as a precaution an APNG's frames are
# kept above that too: clips faster than this are resampled, as a GIF's are at 50 fps.
APNG_MAX_FPS = 1000.0 / 11
_DISPOSE_NONE = 0
_BLEND_SOURCE = 0


class ApngError(ValueError):
    """An APNG that cannot be written as asked (no frames, sizes that differ, a delay out of range)."""


def apng_delay(duration_ms: float) -> tuple[int, int]:
    """(numerator, denominator) of a delay in seconds, each at most 65535: exact for any whole number of ms and for
    frame rates such as 30 or 24 fps, else the nearest such fraction."""
    if not (math.isfinite(duration_ms) and 0 <= duration_ms <= 65535 * 1000):
        raise ApngError(f"an APNG frame delay must be 0..65535 s, got {duration_ms!r} ms")
    delay = Fraction(duration_ms / 1000.0).limit_denominator(65535)
    return delay.numerator, delay.denominator


def write_apng(path: str | Path, frames: Iterable[np.ndarray], durations_ms: Sequence[float], loop: int = 0,
               progress: Progress | None = None, cancel: Cancel | None = None) -> Path:
    """Write ``frames`` (h, w, 4) RGBA uint8, all one size, as an APNG at ``path``, atomically.

    durations_ms: each frame's time (ms, fractions allowed), as many as the frames. loop: plays, 0 = forever.
    ``cancel`` is asked before each frame is pulled (raises ``ExportCancelled``); ``progress(done, total)``.
    """
    path = Path(path)
    n = len(durations_ms)
    if n == 0:
        raise ApngError(f"{path}: no frames to write")
    delays = [apng_delay(float(d)) for d in durations_ms]
    with atomic_write_path(path) as temp, open(temp, "wb") as out:
        writer = _ApngStream(out, n, loop)
        count = 0
        for k, frame in enumerate(until_cancelled(frames, cancel, f"{path}: APNG export")):
            if k >= n:
                raise ApngError(f"{path}: more frames than the {n} durations given")
            writer.add(frame, delays[k], k)
            count = k + 1
            if progress is not None:
                progress(count, n)
        if count != n:
            raise ApngError(f"{path}: {count} frames for {n} durations")
        writer.close()
    return path


class _ApngStream:
    """Chunks of one APNG written to ``out`` as frames are added."""

    def __init__(self, out: BinaryIO, n_frames: int, loop: int) -> None:
        self.out, self.n_frames, self.loop = out, n_frames, loop
        self.previous: np.ndarray | None = None
        self.sequence = 0

    def add(self, frame: np.ndarray, delay: tuple[int, int], k: int) -> None:
        if frame.ndim != 3 or frame.shape[2] != 4 or frame.dtype != np.uint8:
            raise ApngError(f"frame {k} must be (h, w, 4) uint8 RGBA, got {frame.dtype} {frame.shape}")
        h, w = frame.shape[:2]
        if self.previous is None:
            self.out.write(PNG_SIGNATURE)
            self._chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            self._chunk(b"acTL", struct.pack(">II", self.n_frames, self.loop))
            x, y, rw, rh = 0, 0, w, h
        elif self.previous.shape != frame.shape:
            raise ApngError(f"frame {k} is {w}×{h}, the first was {self.previous.shape[1]}×{self.previous.shape[0]}")
        else:
            x, y, rw, rh = _changed_rect(self.previous, frame)
        self._chunk(b"fcTL", struct.pack(">IIIIIHHBB", self._next(), rw, rh, x, y, delay[0], delay[1],
                                         _DISPOSE_NONE, _BLEND_SOURCE))
        data = _zlib_stream(frame[y:y + rh, x:x + rw], k)
        if self.previous is None:
            self._chunk(b"IDAT", data)
        else:
            self._chunk(b"fdAT", struct.pack(">I", self._next()) + data)
        self.previous = frame.copy()  # the caller may reuse its array

    def close(self) -> None:
        self._chunk(b"IEND", b"")

    def _next(self) -> int:
        self.sequence += 1
        return self.sequence - 1

    def _chunk(self, kind: bytes, data: bytes) -> None:
        self.out.write(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data)))


def _changed_rect(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int]:
    """(x, y, w, h): the smallest rectangle holding every pixel that differs; one pixel when none does."""
    changed = (before != after).any(axis=2)
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return 0, 0, 1, 1
    cols = np.flatnonzero(changed[rows[0]:rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def _zlib_stream(rgba: np.ndarray, k: int) -> bytes:
    """The filtered, deflated scanlines of ``rgba`` (h, w, 4): the IDAT payload of that image as a PNG."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgba), cv2.COLOR_RGBA2BGRA),
                               [cv2.IMWRITE_PNG_COMPRESSION, APNG_COMPRESSION])
    if not ok:
        raise ApngError(f"frame {k}: PNG encoding failed")
    png = encoded.tobytes()
    h, w = rgba.shape[:2]
    if png[12:16] != b"IHDR" or png[16:29] != struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0):
        raise ApngError(f"frame {k}: OpenCV wrote a PNG other than 8-bit RGBA, not interlaced")  # a frame can't mix
    parts, at = [], len(PNG_SIGNATURE)
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        if kind == b"IDAT":
            parts.append(png[at + 8:at + 8 + length])
        at += 12 + length
    return b"".join(parts)
