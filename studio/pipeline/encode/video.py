"""Video and image-sequence export: H.264 MP4 and VP9 WebM with alpha through imageio-ffmpeg's ffmpeg, and folders
of PNG frames.

Both are atomic (see ``atomic``): a cancelled or failing export leaves nothing behind and an
existing target as it was. ffmpeg is driven directly (``imageio_ffmpeg.get_ffmpeg_exe``) rather
than through ``imageio_ffmpeg.write_frames``: that generator can only stop ffmpeg by letting it
finish the file (or by a KeyboardInterrupt thrown into it) and lets ffmpeg's messages go to the
terminal, while here a cancel kills ffmpeg at once and its error text ends up in ``VideoError``.

Speed (issue 16; bench/mp4_encode.py, 504 rendered 500×500 frames, 2 busy cores, medians): x264's ``veryfast``
preset encodes them 1.8× faster than ``medium`` (about 650 against 360 frames/s, 2.3 against 4.4 ms of ffmpeg CPU
a frame) for a file 1 % larger at 0.7 dB less PSNR (37.9 dB at CRF 18); ``superfast`` and ``ultrafast`` are
faster still but make files 2-3× larger; ``-threads`` 1 or 2 changed nothing measurable. Frames reach ffmpeg's
stdin as rgb24 composited into a few reused buffers, written by a thread of their own so that the pipe's copies
and waits (0.5-1.1 s of a 4-7 s render + export of 504 frames, timed on the calling thread) overlap the caller's
rendering. With both cores already busy (load 3.3-3.4; not yet measured on a quiet machine) that was small: two
sets of 7 interleaved pairs, medians 3.94 against 4.08 s and 3.70 against 3.69 s, the thread faster in 11 of the 14
pairs, by 3-5 % on average. The conversion to BT.709 yuv420p stays in ffmpeg, on its threads;
compositing stays here (0.2-0.4 ms a frame, with the project's one rounding rule): RGBA piped to ffmpeg's overlay
filter was no faster (1.28 against 1.17 s median) and cost ffmpeg 0.2 ms more CPU a frame.

WebM (issue 18): straight RGBA reaches ffmpeg as it is and libvpx-vp9 encodes yuva420p, whose alpha plane WebM keeps
beside the colour (``alpha_mode`` 1); a decoder that ignores it (ffmpeg's own vp9, unlike ``-c:v libvpx-vp9``) shows
the figure on black. The sample's dance at 500² (109 frames), on a busy 2-core machine: at CRF 24 and ``-cpu-used
4``, 22 ms a frame and 0.95 MB; composited over white after decoding, 39.4 dB PSNR from the source (the MP4 at CRF 18:
38.1 dB); 1 % of the figure's opaque pixels decode below alpha 250. CRF 30 made 0.73 MB, but 2.2 % (12 % at 80²)
below 250; CRF 18 1.13 MB. ``-cpu-used`` 5, 6 and 8 were no faster here and gave the same size. MP4 and WebM go
through one pipe loop (``_encode``).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import IO

import cv2
import numpy as np

from studio.pipeline.compositing import over
from studio.pipeline.files.atomic import atomic_write_dir, atomic_write_path
from studio.pipeline.progress import Cancel, Progress, until_cancelled
PNG_NAME = "frame_{:04d}.png"
PNG_COMPRESSION = 2  # zlib level: 1-3 cost about the same here, 2 was fastest
X264_PRESET = "veryfast"  # see the module docstring; "medium" before issue 16
X264_TUNE = "animation"  # flat colour and sharp edges: more reference frames, stronger deblocking
PIPE_QUEUE = 2  # frames composited ahead of the thread that writes them to ffmpeg's stdin
VP9_CRF = 24  # libvpx-vp9 constant quality (0-63, lower is better); see the module docstring
VP9_SPEED = 4  # libvpx-vp9 -cpu-used at -deadline good (0 slowest, best; 5 fastest)


class VideoError(RuntimeError):
    """A video or frame folder that could not be written; the message carries ffmpeg's own words."""


def write_mp4(path: str | Path, frames: Iterable[np.ndarray], fps: float,
              background: tuple[int, int, int] = (255, 255, 255), progress: Progress | None = None,
              cancel: Cancel | None = None, crf: int = 18, total: int | None = None) -> Path:
    """Encode ``frames`` as H.264 (libx264, yuv420p, BT.709-tagged) MP4 at ``fps``, atomically.

    frames: (h, w, 4) RGBA or (h, w, 3) RGB uint8, all one size; alpha is composited over
    ``background`` (RGB). Odd sizes get one row/column of background to make them even (yuv420p
    needs that). crf: x264 quality, 18 ≈ visually lossless, 23 = ffmpeg's default.
    ``cancel`` is asked before each frame is pulled; it raises ``ExportCancelled``.
    ``progress(done, total)``: done counts frames handed to the thread that writes ffmpeg's stdin (at most
    PIPE_QUEUE ahead of it); total is ``total``, else len(frames) when it has one, else 0.
    """
    bg = np.asarray(background, np.int32).reshape(3)

    def command(target: Path, width: int, height: int, rate: Fraction) -> list[str]:
        return ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", str(rate), "-i", "-",
                "-an", "-c:v", "libx264", "-preset", X264_PRESET, "-tune", X264_TUNE, "-crf", str(int(crf)),
                "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,"
                       "setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709",
                "-movflags", "+faststart", "-f", "mp4", str(target)]

    return _encode(Path(path), frames, fps, lambda frame, k, out: _even_rgb(frame, bg, k, out), command, "MP4",
                   progress, cancel, total)


def write_webm(path: str | Path, frames: Iterable[np.ndarray], fps: float, progress: Progress | None = None,
               cancel: Cancel | None = None, crf: int = VP9_CRF, total: int | None = None) -> Path:
    """Encode ``frames`` as VP9 WebM with alpha (libvpx-vp9, yuva420p, BT.709-tagged) at ``fps``, atomically.

    frames: (h, w, 4) straight-alpha RGBA (or (h, w, 3) RGB, opaque) uint8, all one size; odd sizes are kept.
    crf: VP9 quality at a constant rate factor (0-63, lower is better). Raises VideoError when this ffmpeg has no
    libvpx-vp9 (``check_webm_encoder``). ``cancel``, ``progress`` and ``total`` as for ``write_mp4``.
    """
    check_webm_encoder()

    def command(target: Path, width: int, height: int, rate: Fraction) -> list[str]:
        return ["-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{width}x{height}", "-framerate", str(rate), "-i", "-",
                "-an", "-c:v", "libvpx-vp9", "-crf", str(int(crf)), "-b:v", "0", "-deadline", "good",
                "-cpu-used", str(VP9_SPEED), "-row-mt", "1",
                "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuva420p,"
                       "setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709",
                "-pix_fmt", "yuva420p", "-f", "webm", str(target)]

    return _encode(Path(path), frames, fps, _rgba_copy, command, "WebM", progress, cancel, total)


def check_webm_encoder() -> None:
    """Raise VideoError unless the ffmpeg of imageio-ffmpeg can encode VP9 (libvpx-vp9), which WebM with alpha
    needs; asked once per process."""
    if not _has_encoder("libvpx-vp9"):
        import imageio_ffmpeg

        raise VideoError(f"this ffmpeg ({imageio_ffmpeg.get_ffmpeg_exe()}) has no libvpx-vp9 encoder, which WebM "
                         "with transparency needs: install an imageio-ffmpeg whose ffmpeg is built with libvpx")


@functools.cache
def _has_encoder(name: str) -> bool:
    import imageio_ffmpeg

    try:
        listed = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-encoders"],
                                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as err:
        raise VideoError(f"could not run ffmpeg to list its encoders: {err}") from err
    return any(line.split()[1:2] == [name] for line in listed.stdout.splitlines())


FrameConverter = Callable[[np.ndarray, int, "np.ndarray | None"], np.ndarray]
"""converter(frame, k, buffer): the bytes to send for frame k, written into ``buffer`` when it fits, never the
caller's own array."""
CommandTail = Callable[[Path, int, int, Fraction], list[str]]
"""tail(target, width, height, rate): ffmpeg's arguments after the common ones: input, codec, output."""


def _encode(path: Path, frames: Iterable[np.ndarray], fps: float, convert: FrameConverter, command: CommandTail,
            what: str, progress: Progress | None, cancel: Cancel | None, total: int | None) -> Path:
    """Pipe ``frames``, each converted into one of a few reused buffers, to an ffmpeg started on the first frame's
    size, from a thread of its own; atomically to ``path``. A cancel or error kills ffmpeg and leaves nothing."""
    if not (math.isfinite(fps) and fps > 0):
        raise VideoError(f"fps must be a positive number, got {fps!r}")
    rate = Fraction(fps).limit_denominator(1001)
    total = _total(frames, total)
    with atomic_write_path(path) as temp, tempfile.TemporaryFile() as log, ThreadPoolExecutor(1, "ffmpeg-pipe") as pipe:
        ffmpeg: subprocess.Popen[bytes] | None = None
        size = (0, 0)
        done = 0
        buffers: list[np.ndarray | None] = [None] * (PIPE_QUEUE + 1)  # a frame's buffer is reused once it is sent
        pending: deque[Future[None]] = deque()
        try:
            for frame in until_cancelled(frames, cancel, f"{path}: {what} export"):
                while len(pending) >= PIPE_QUEUE:
                    pending.popleft().result()
                data = buffers[done % len(buffers)] = convert(frame, done, buffers[done % len(buffers)])
                if ffmpeg is None:
                    size = frame.shape[:2]
                    ffmpeg = _start_ffmpeg(command(temp, data.shape[1], data.shape[0], rate), log)
                elif frame.shape[:2] != size:
                    raise VideoError(f"frame {done} is {frame.shape[1]}×{frame.shape[0]}, "
                                     f"the first was {size[1]}×{size[0]}")
                pending.append(pipe.submit(_send, ffmpeg, data, log, path))
                done += 1
                if progress is not None:
                    progress(done, total)
            if ffmpeg is None:
                raise VideoError(f"{path}: no frames to write")
            while pending:
                pending.popleft().result()
            assert ffmpeg.stdin is not None
            ffmpeg.stdin.close()
            if ffmpeg.wait() != 0:
                raise VideoError(f"{path}: ffmpeg failed (exit {ffmpeg.returncode}): {_tail(log)}")
        except BaseException:
            if ffmpeg is not None and ffmpeg.poll() is None:
                ffmpeg.kill()  # a write blocked in the pipe thread fails at once
                ffmpeg.wait()
            for job in pending:
                job.exception()  # wait for it; the error raised here is the one to report
            raise
        finally:
            if ffmpeg is not None and ffmpeg.stdin is not None and not ffmpeg.stdin.closed:
                with contextlib.suppress(OSError):
                    ffmpeg.stdin.close()
    return path


def write_png_frames(directory: str | Path, frames: Iterable[np.ndarray], progress: Progress | None = None,
                     cancel: Cancel | None = None, total: int | None = None) -> list[Path]:
    """Write frame_0000.png, frame_0001.png... into ``directory``, atomically as a folder.

    frames: (h, w, 4) RGBA or (h, w, 3) RGB uint8. The files go into a temp folder beside
    ``directory`` that replaces it (and whatever it held) only once every frame is written.
    PNG encoding (12 ms a 500×500 frame here) runs in worker threads, overlapping the caller's
    rendering; ``progress`` counts frames written. Returns the final paths, in order.
    """
    directory = Path(directory)
    total = _total(frames, total)
    names: list[str] = []
    pending: deque[Future[None]] = deque()
    workers = max(1, min(4, os.cpu_count() or 1))
    with atomic_write_dir(directory) as temp, ThreadPoolExecutor(workers, "png-frames") as pool:
        try:
            for k, frame in enumerate(until_cancelled(frames, cancel, f"{directory}: export")):
                if frame.ndim != 3 or frame.shape[2] not in (3, 4) or frame.dtype != np.uint8:
                    raise VideoError(f"frame {k} must be (h, w, 4) or (h, w, 3) uint8, got {frame.dtype} "
                                     f"{frame.shape}")
                names.append(PNG_NAME.format(k))
                pending.append(pool.submit(_write_png, temp / names[-1], frame.copy(), k))
                while len(pending) > 2 * workers or (pending and pending[0].done()):
                    pending.popleft().result()
                    if progress is not None:
                        progress(len(names) - len(pending), total)
            while pending:
                pending.popleft().result()
                if progress is not None:
                    progress(len(names) - len(pending), total)
        except BaseException:
            for job in pending:
                job.cancel()
            raise
        if not names:
            raise VideoError(f"{directory}: no frames to write")
    return [directory / name for name in names]


def _write_png(path: Path, frame: np.ndarray, k: int) -> None:
    code = cv2.COLOR_RGBA2BGRA if frame.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, data = cv2.imencode(".png", cv2.cvtColor(frame, code), [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
    if not ok:
        raise VideoError(f"frame {k}: PNG encoding failed")
    path.write_bytes(data.tobytes())


def _total(frames: Iterable[np.ndarray], total: int | None) -> int:
    if total is not None:
        return int(total)
    try:
        return len(frames)  # type: ignore[arg-type]
    except TypeError:
        return 0


def _even_rgb(frame: np.ndarray, background: np.ndarray, k: int, out: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) uint8, H and W even: ``frame`` over ``background`` (3,) int32, padded with it.

    Written into ``out`` when it has the right shape (a buffer reused from frame to frame), else into a new array;
    never the caller's frame itself, which the caller may change once the next frame is pulled."""
    if frame.ndim != 3 or frame.shape[2] not in (3, 4) or frame.dtype != np.uint8:
        raise VideoError(f"frame {k} must be (h, w, 4) or (h, w, 3) uint8, got {frame.dtype} {frame.shape}")
    h, w = frame.shape[:2]
    shape = (h + h % 2, w + w % 2, 3)
    if out is None or out.shape != shape:
        out = np.empty(shape, np.uint8)
    out[h:] = background
    out[:, w:] = background
    if frame.shape[2] == 3:
        out[:h, :w] = frame
    else:
        over(frame, background, out)
    return out


def _rgba_copy(frame: np.ndarray, k: int, out: np.ndarray | None = None) -> np.ndarray:
    """(h, w, 4) uint8: ``frame`` (RGBA, or RGB made opaque) copied into ``out`` when it has the right shape, else
    into a new array (never the caller's frame, which the caller may change once the next frame is pulled)."""
    if frame.ndim != 3 or frame.shape[2] not in (3, 4) or frame.dtype != np.uint8:
        raise VideoError(f"frame {k} must be (h, w, 4) or (h, w, 3) uint8, got {frame.dtype} {frame.shape}")
    shape = (*frame.shape[:2], 4)
    if out is None or out.shape != shape:
        out = np.empty(shape, np.uint8)
    out[:, :, :frame.shape[2]] = frame
    if frame.shape[2] == 3:
        out[:, :, 3] = 255
    return out


def _start_ffmpeg(tail: list[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    import imageio_ffmpeg  # lazily: only video export needs it

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *tail]
    # Ctrl-C reaches Python only, which then kills ffmpeg.
    session = {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)} if sys.platform == "win32" \
        else {"start_new_session": True}
    try:
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log,
                                **session)  # type: ignore[call-overload]
    except OSError as err:
        raise VideoError(f"could not start ffmpeg ({command[0]}): {err}") from err


def _send(ffmpeg: subprocess.Popen[bytes], rgb: np.ndarray, log: IO[bytes], path: Path) -> None:
    assert ffmpeg.stdin is not None
    try:
        ffmpeg.stdin.write(rgb.data)
    except (BrokenPipeError, OSError) as err:
        ffmpeg.wait()
        raise VideoError(f"{path}: ffmpeg stopped (exit {ffmpeg.returncode}): {_tail(log)}") from err


def _tail(log: IO[bytes], limit: int = 2000) -> str:
    """The last ``limit`` characters ffmpeg wrote to stderr."""
    log.flush()
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - limit))
    return log.read().decode("utf-8", "replace").strip() or "(no message)"
