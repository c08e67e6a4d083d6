"""Benchmark ``studio batch``: drawings per minute with -j 1 and -j 2, through the product's own path (run_batch).

    python bench/batch.py [--drawings N] [--motions wave,jump,run] [--size S] [--frames N] [--jobs 1,2] [--repeat R]

The drawings are the built-in sample at its own size (400x440), every other one mirrored, all different files;
each run annotates every drawing once (the embedded model when installed, else the manual skeleton) and renders
every motion as a GIF into a fresh folder, so nothing is resumed. The -j N figure includes starting the N worker
processes (spawn) and each worker's first imports. Runs alternate between the job counts; each figure is the
median of ``--repeat`` runs (range in brackets).

Figures (2026-12-04, 2 cores shared with a training run, load 4-5 during the runs; embedded model; GIF):

    6 drawings x wave,jump,run at 400 px, all frames, median of 3
      -j 1     66.9 drawings/min (66.8-79.9)     5.38 s a batch
      -j 2     57.0 drawings/min (54.7-58.4)     6.32 s a batch
    12 drawings, median of 2
      -j 1     70.7 drawings/min (67.2-74.6)    10.18 s a batch
      -j 2     61.4 drawings/min (59.0-64.0)    11.72 s a batch

On two cores already busy, a second worker only adds its start (spawn and imports, about a second) and contention:
-j 1 is the right setting there. -j pays on a machine with idle cores; it has not been measured on one yet.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.core.batch import BatchRequest, batch_motions, run_batch  # noqa: E402
from studio.core.batch_store import Destination  # noqa: E402
from studio.core.batch_tasks import RenderSettings  # noqa: E402
from studio.core.sample import sample_image  # noqa: E402


def write_drawings(folder: Path, count: int) -> None:
    paper = sample_image()
    for i in range(count):
        page = np.ascontiguousarray(paper[:, ::-1] if i % 2 else paper)
        page = cv2.copyMakeBorder(page, i, 0, i, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255))  # all different
        cv2.imwrite(str(folder / f"drawing{i:03d}.png"), cv2.cvtColor(page, cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drawings", type=int, default=6)
    parser.add_argument("--motions", default="wave,jump,run")
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--frames", type=int, default=None, help="resample each clip to N frames (default: all)")
    parser.add_argument("--jobs", default="1,2")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    jobs = [int(j) for j in args.jobs.split(",")]
    motions = batch_motions(args.motions.split(","))
    settings = RenderSettings(size=(args.size, args.size), frames=args.frames)
    seconds: dict[int, list[float]] = {j: [] for j in jobs}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        source = Path(tmp) / "in"
        source.mkdir()
        write_drawings(source, args.drawings)
        run_batch(BatchRequest(str(source), Destination(str(Path(tmp) / "warm")), motions, settings=settings))
        for r in range(args.repeat):
            for j in jobs:
                out = Path(tmp) / f"out-{j}-{r}"
                started = time.perf_counter()
                report = run_batch(BatchRequest(str(source), Destination(str(out)), motions, jobs=j,
                                                settings=settings))
                seconds[j].append(time.perf_counter() - started)
                if report.failed:
                    raise SystemExit(f"failed: {[d.errors for d in report.failed]}")
    print(f"{args.drawings} drawings x {len(motions)} motions ({args.motions}) at {args.size} px, "
          f"{'all frames' if args.frames is None else f'{args.frames} frames'}, median of {args.repeat}")
    for j in jobs:
        runs = seconds[j]
        per_minute = [args.drawings * 60 / s for s in runs]
        print(f"  -j {j}   {args.drawings * 60 / statistics.median(runs):6.1f} drawings/min "
              f"({min(per_minute):.1f}-{max(per_minute):.1f})   {statistics.median(runs):6.2f} s a batch")


if __name__ == "__main__":
    main()
