"""Benchmark one render job end to end and print per-stage times and peak RSS.

    python bench/render.py CHAR_DIR BVH [--frames N] [--size S] [--retarget CFG] [--motion-config CFG]
        [--output OUT.gif] [--repeat R]

The job is the product's own path (studio.core.render and render_job): load, mesh, ARAP factorisation, retarget,
per-frame deform, per-frame raster into GIF palette indices, GIF encoding on a second thread, total. With
--repeat, each stage prints its median over the runs (the first run also loads the numba kernels from
their cache, or compiles them on a machine that never ran them: reported separately).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.core.motion_source import load_motion  # noqa: E402
from studio.pipeline.character import read_character  # noqa: E402
from studio.core.render import Animation, Background  # noqa: E402
from studio.core.render_job import export_animation  # noqa: E402
from studio.pipeline.encode.gif import GIF_MAX_FPS  # noqa: E402


def run_once(args: argparse.Namespace, output: Path) -> dict[str, float]:
    started = time.perf_counter()
    character = read_character(args.character)
    spec = args.motion_config or args.bvh
    source = load_motion(spec, character, args.retarget, args.bvh if args.motion_config else None)
    load = time.perf_counter() - started
    animation = Animation(character, source, (args.size, args.size), args.frames, max_fps=GIF_MAX_FPS)
    exported = export_animation(animation, output, Background())
    total = time.perf_counter() - started
    t = {**animation.timings, **exported}
    return {
        "frames": animation.n_frames,
        "load": load,
        "mesh": t["mesh"],
        "arap_factorise": t["arap_factorise"],
        "retarget": t["retarget"],
        "setup": t["mesh"] + t["arap_factorise"] + t["retarget"],
        "deform_ms_per_frame": float(np.median(animation.deform_times)) * 1e3,
        "raster_ms_per_frame": t["raster"] / animation.n_frames * 1e3,
        "deform+raster_ms_per_frame": (float(np.median(animation.deform_times))
                                       + t["raster"] / animation.n_frames) * 1e3,
        "framing": t["framing"],
        "encode_wait": t["encode_wait"],
        "render+encode": t["render+encode"],
        "total": total,
        "bytes": output.stat().st_size,
    }


def warm_kernels() -> float:
    """Load (or compile, first time on a machine) the numba kernels; returns seconds."""
    from studio.pipeline.deform import raster

    started = time.perf_counter()
    tri = np.array([[0, 1, 2]], np.int32)
    pts = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    raster.raster_indexed(pts, pts, tri, np.zeros((5, 5), np.uint8), 0, 5, 5)
    raster.fill_source_maps(pts, pts, tri, 5, 5)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("character")
    parser.add_argument("bvh")
    parser.add_argument("--frames", type=int)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--retarget")
    parser.add_argument("--motion-config", help="AD motion config (its BVH is the BVH argument)")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    kernels = warm_kernels()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        output = args.output or Path(tmp) / "bench.gif"
        for _ in range(args.repeat):
            runs.append(run_once(args, output))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"job: {Path(args.character).name} + {Path(args.bvh).name}, {int(med['frames'])} frames, "
          f"{args.size}x{args.size} GIF; medians of {args.repeat} runs")
    print(f"  kernel load (numba cache)  {kernels * 1e3:8.1f} ms  (once per process)")
    for key, label in (("load", "load"), ("mesh", "mesh"), ("arap_factorise", "ARAP factorisation"),
                       ("retarget", "retarget"), ("setup", "setup (mesh+ARAP+retarget)")):
        print(f"  {label:<27}{med[key] * 1e3:8.1f} ms")
    print(f"  {'framing':<27}{med['framing'] * 1e3:8.1f} ms  (deforms a subset, reused)")
    print(f"  {'deform per frame':<27}{med['deform_ms_per_frame']:8.3f} ms")
    print(f"  {'raster per frame (mean)':<27}{med['raster_ms_per_frame']:8.3f} ms")
    print(f"  {'deform+raster per frame':<27}{med['deform+raster_ms_per_frame']:8.3f} ms")
    print(f"  {'encode (wait after last)':<27}{med['encode_wait'] * 1e3:8.1f} ms  (runs on a second thread)")
    print(f"  {'raster+encode':<27}{med['render+encode'] * 1e3:8.1f} ms")
    print(f"  {'total':<27}{med['total'] * 1e3:8.1f} ms   (min {min(r['total'] for r in runs) * 1e3:.1f})")
    print(f"  {'GIF size':<27}{med['bytes'] / 1024:8.1f} KiB")
    print(f"  {'peak RSS':<27}{peak_mb:8.1f} MB")


if __name__ == "__main__":
    main()
