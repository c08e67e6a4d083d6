"""scripts/setup.sh compiles the numba kernels (studio.core.warmup): afterwards, a new process's real exports load
every kernel from the cache and compile none, so a new machine's first export is as fast as its second."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REAL_USE = """
import json, sys, tempfile
from pathlib import Path
import numpy as np
from numba.core.registry import CPUDispatcher
from studio.core.motion_source import load_motion
from studio.core.render import Animation, Background
from studio.core.render_job import export_animation
from studio.core.sample import sample_character
from studio.pipeline.intake.strokes import Stroke, render_strokes
import studio.pipeline.compositing_kernels, studio.pipeline.deform.raster, studio.pipeline.encode.gif
import studio.pipeline.encode.gif_lzw, studio.pipeline.encode.palette

character = sample_character()
animation = Animation(character, load_motion("dance", character), (120, 90), frames=5)  # not the warm-up's size
out = Path(tempfile.mkdtemp())
for name, bg in (("a.gif", Background()), ("b.gif", Background(colour=(0, 0, 0))), ("c.mp4", Background()),
                 ("d", Background(colour=(9, 9, 9))), ("e.gif", Background(image=np.zeros((5, 7, 3), np.uint8)))):
    export_animation(animation, out / name, bg)
animation.render_premultiplied(2)
render_strokes([Stroke(((1.0, 1.0), (30.0, 20.0)), (1, 2, 3), 5.0, 0.3)], 40, 30, paper=np.zeros((30, 40, 3), np.uint8))
modules = [m for name, m in sys.modules.items() if name.startswith("studio.")]
kernels = {f"{m.__name__}.{k}": v for m in modules for k, v in vars(m).items() if isinstance(v, CPUDispatcher)}
used = {k: d for k, d in kernels.items() if d.signatures}
print(json.dumps({"kernels": sorted(kernels), "used": sorted(used),
                  "misses": {k: sum(d.stats.cache_misses.values()) for k, d in used.items()},
                  "hits": sum(sum(d.stats.cache_hits.values()) for d in used.values())}))
"""


def _run(code: list[str], cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    return subprocess.run([sys.executable, *code], env=env, capture_output=True, text=True, timeout=600)


def test_after_the_warmup_real_exports_compile_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"  # a new machine's empty cache
    warm = _run(["-m", "studio.core.warmup"], cache)
    assert warm.returncode == 0, warm.stderr
    used = _run(["-c", REAL_USE], cache)
    assert used.returncode == 0, used.stderr
    report = json.loads(used.stdout.strip().splitlines()[-1])
    assert report["used"] and report["hits"] >= len(report["used"])
    assert {k: v for k, v in report["misses"].items() if v} == {}, "compiled on first real use, not by the warm-up"


def test_without_the_warmup_the_first_use_compiles(tmp_path: Path) -> None:
    """The check above can fail: with an empty cache the same script compiles its kernels."""
    used = _run(["-c", REAL_USE], tmp_path / "empty-cache")
    assert used.returncode == 0, used.stderr
    report = json.loads(used.stdout.strip().splitlines()[-1])
    assert sum(report["misses"].values()) >= len(report["used"]) > 0
