"""Benchmark a scene export against a single-character render, through the product's own paths.

    python bench/scene.py [--data ../shared/data] [--size S] [--frames N] [--repeat R] [--kinds gif,mp4]

The clip is AD's: char2 + dab.yaml (339 frames at 1/30 s). "render" is ``studio render`` (render_to_file) with
fair1_ppf.yaml; "scene 1" is a one-character scene of the same (its overhead: the scene's compositing, and for a
GIF the palette mapping of composited frames instead of the indexed raster); "scene 2" is AD's
multiple_characters example (char2 twice, fair1_ppf_duo1 and duo2), read as a studio scene. Runs are interleaved
and each figure is the median of ``--repeat`` runs, after one warm-up of each.

Figures (2026-12-04, 2 shared cores at load 4.8-6, 500², all 339 frames, median of 7 (range)):

    GIF   render 0.65 s (0.55-0.81)   scene 1  0.64 s (0.58-0.87) 0.98x   scene 2  0.85 s (0.76-1.10) 1.30x
    MP4   render 1.70 s (1.56-2.09)   scene 1  1.63 s (1.42-2.03) 0.95x   scene 2  2.14 s (1.94-2.41) 1.26x

Each character is rasterised only inside its own box (a full-canvas remap per character first made a one-character
scene 3.5x a render as GIF), and a scene GIF over a colour or transparency is rasterised as palette indices, back
to front, like a render's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.core.render_job import RenderRequest, render_to_file  # noqa: E402
from studio.core.scene import Scene, SceneCharacter, save_scene  # noqa: E402
from studio.core.scene_job import SceneRequest, render_scene_to_file  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--frames", type=int, default=None, help="resample to N frames (default: all 339)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--kinds", default="gif,mp4")
    args = parser.parse_args()
    data = args.data
    char2, motion = data / "characters" / "char2", data / "ad_config" / "motion" / "dab.yaml"
    bvh, retarget = data / "bvh" / "fair1_dab.bvh", data / "ad_config" / "retarget"
    size = (args.size, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        one = save_scene(Scene((SceneCharacter(str(char2), str(motion), str(retarget / "fair1_ppf.yaml"), str(bvh)),),
                               size), folder / "one.scene.yaml")
        two = save_scene(Scene(tuple(SceneCharacter(str(char2), str(motion), str(retarget / f"fair1_ppf_duo{k}.yaml"),
                                                    str(bvh), z=k) for k in (1, 2)), size), folder / "two.scene.yaml")
        jobs = {
            "render": lambda out: render_to_file(RenderRequest(char2, str(motion), out, retarget / "fair1_ppf.yaml",
                                                               bvh, args.frames, size)).frames,
            "scene 1": lambda out: render_scene_to_file(SceneRequest(one, out, args.frames)).frames,
            "scene 2": lambda out: render_scene_to_file(SceneRequest(two, out, args.frames)).frames,
        }
        for kind in args.kinds.split(","):
            times: dict[str, list[float]] = {name: [] for name in jobs}
            frames = {}
            for run in range(args.repeat + 1):
                for name, job in jobs.items():
                    started = time.perf_counter()
                    frames[name] = job(folder / f"{name.replace(' ', '')}.{kind}")
                    if run:  # the first round warms caches (numba kernels, file pages)
                        times[name].append(time.perf_counter() - started)
            base = statistics.median(times["render"])
            print(f"{kind.upper()} at {args.size}², median of {args.repeat} (range):")
            for name, values in times.items():
                median = statistics.median(values)
                print(f"  {name:<8} {frames[name]:>4} frames  {median:6.2f} s  ({min(values):.2f}-{max(values):.2f})"
                      f"  {median / frames[name] * 1000:6.1f} ms/frame  {median / base:4.2f}× render")


if __name__ == "__main__":
    main()
