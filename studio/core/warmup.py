"""Compiling the studio's numba kernels before their first real use, so a new install's first export is not slow.

numba compiles each kernel on first call and caches the machine code (``cache=True``, in ``__pycache__`` beside the
module, or ``$NUMBA_CACHE_DIR``). On a new machine the first ``studio demo`` took 5.0 s against 1.6 s once cached.
``compile_kernels`` runs every exporting path once on a tiny sample, with the argument types the real paths use, so
the cache holds them all; ``scripts/setup.sh`` runs it right after installing.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from studio.core.motion_source import load_motion
from studio.core.render import Animation, Background
from studio.core.render_job import export_animation
from studio.core.sample import sample_character
from studio.pipeline.intake.strokes import Stroke, render_strokes

SIZE = (48, 48)  # px: the smallest canvas the sample's figure still covers


def compile_kernels() -> float:
    """Run each kernel once: GIF exports on a transparent, a colour and an image background, MP4 and PNG frames,
    the preview's premultiplied frames, and pen, translucent and eraser strokes. Returns the seconds it took
    (a few on a new machine, under a second when everything was cached already)."""
    started = time.perf_counter()
    character = sample_character()
    animation = Animation(character, load_motion("wave", character), SIZE, frames=3)
    backdrop = np.full((8, 8, 3), 200, np.uint8)
    with tempfile.TemporaryDirectory(prefix="studio-warmup-") as folder:
        out = Path(folder)
        for name, background in (("clear.gif", Background()), ("white.gif", Background(colour=(255, 255, 255))),
                                 ("image.gif", Background(image=backdrop)), ("clip.mp4", Background()),
                                 ("frames", Background(colour=(255, 255, 255)))):
            export_animation(animation, out / name, background)
    animation.render_premultiplied(0)
    pen = Stroke(((2.0, 2.0), (12.0, 9.0)), (20, 40, 200), 3.0)
    render_strokes([pen, Stroke(pen.points, (200, 0, 0), 4.0, 0.5), Stroke(pen.points, (0, 0, 0), 2.0, erase=True)],
                   16, 16, paper=np.full((16, 16, 3), 250, np.uint8))
    return time.perf_counter() - started


if __name__ == "__main__":
    print(f"studio: kernels compiled and cached in {compile_kernels():.1f} s")
