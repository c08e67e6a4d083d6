"""Cold `studio pose` and `studio annotate` with the embedded model: fresh processes, this tree against a baseline.

    python bench/pose_cold_start.py [IMAGE ...] [--baseline REV | --no-baseline] [--repeat N] [--instructions]

For each image (default: the 12 MP garlic photo in ../shared/data/drawings, and char5's 2000×1500 image.png),
both commands run N fresh times per tree, the trees alternated so that a noisy machine slows both alike; the
median wall time and peak RSS are printed (the issue's target: 0.5 s). Then, per tree, a fresh process's phases
(the imports `studio pose` makes, reading the image, the box, loading the model, pose()), medians of N, and the
whole pose run's import time by package (-X importtime). The baseline is ``git archive REV`` in a temporary folder
(bench/cold_start.py); one discarded run per command and tree writes its .pyc files first, as an installed
package has them (run with PYTHONDONTWRITEBYTECODE unset, or every run compiles the studio's sources again).
With --instructions, each command also runs once per tree under valgrind's callgrind (about a minute a run) and
its instruction count is printed: a figure that a busy machine does not move, where wall and CPU time do.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from cold_start import fresh_runs, imports_by_package, unpack  # noqa: E402

DEFAULT_BASELINE = "b6303be"  # the last commit before issue 16's pose cold-start work
DATA = ROOT.parent / "shared" / "data"
PHASES = """
import json, time
marks, t = {}, [time.perf_counter()]
def mark(name):
    now = time.perf_counter(); marks[name] = now - t[0]; t[0] = now
from studio.core.annotate import make_backend
from studio.pipeline.intake.images import read_image
mark("imports (as studio pose)")
image = read_image(IMAGE)
mark("read image")
backend = make_backend("embedded")
mark("load the model")
box = backend.detect(image.rgb)[0].box
mark("box")
backend.pose(image.rgb, box)
mark("pose()")
print(json.dumps(marks))
"""


def phases(tree: Path, image: Path) -> dict[str, float]:
    code = PHASES.replace("IMAGE", repr(str(image)))
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)),
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def instructions(tree: Path, cli: list[str]) -> int:
    """Instructions a fresh ``python -m studio.launcher CLI`` executes in ``tree``, counted by callgrind."""
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
                           "studio.launcher", *cli], cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)),
                          capture_output=True, text=True, check=True)
    counts = [line.split()[-1] for line in done.stderr.splitlines() if "Collected :" in line]
    if not counts:
        raise RuntimeError(f"callgrind printed no count: {done.stderr.strip()[-300:]}")
    return int(counts[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="*", type=Path)
    ap.add_argument("--baseline", default=DEFAULT_BASELINE, help="commit to compare with (default %(default)s)")
    ap.add_argument("--no-baseline", action="store_true", help="time this tree only")
    ap.add_argument("--repeat", type=int, default=5, help="fresh processes per command and tree (default 5)")
    ap.add_argument("--instructions", action="store_true", help="also count instructions under valgrind")
    args = ap.parse_args()
    images = [p.resolve() for p in args.images] or [p for p in (DATA / "drawings" / "garlic.png",
                                                              DATA / "characters" / "char5" / "image.png")
                                                    if p.is_file()]
    if not images:
        sys.exit(f"no images: pass IMAGE paths ({DATA} has neither default)")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set: every run compiles the studio's sources (about 30 ms more "
              "than an installed package)", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="pose_cold_") as tmp:
        trees = {"now": ROOT}
        if not args.no_baseline:
            trees = {f"before ({args.baseline})": unpack(args.baseline, Path(tmp)), "now": ROOT}
        out = Path(tmp) / "out"
        jobs: dict[str, list[str]] = {}
        for image in images:
            jobs[f"pose {image.parent.name}/{image.name}"] = ["pose", str(image), "--backend", "embedded"]
            jobs[f"annotate {image.parent.name}/{image.name}"] = ["annotate", str(image), "-o", str(out / "x"),
                                                                  "--backend", "embedded", "--force"]
        walls, rss = fresh_runs(trees, jobs, args.repeat)  # one discarded run each: .pyc files, page cache
        names = list(trees)
        print(f"Fresh processes, median of {args.repeat} (wall s / peak RSS MB); {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.2f}; target 0.5 s")
        print(f"{'command':<34}" + "".join(f"{n:>24}" for n in names))
        for label in jobs:
            cells = [f"{statistics.median(walls[n, label]):.3f} s / {statistics.median(rss[n, label]):4.0f} MB"
                     for n in names]
            spread = [f"{min(walls[n, label]):.2f}-{max(walls[n, label]):.2f}" for n in names]
            print(f"{label:<34}" + "".join(f"{c:>24}" for c in cells) + "   range " + ", ".join(spread))

        for image in images:
            print(f"\nPhases of a fresh process on {image.name}, medians of {args.repeat} (s):")
            runs: dict[str, list[dict[str, float]]] = defaultdict(list)
            for _ in range(args.repeat):
                for name, tree in trees.items():
                    runs[name].append(phases(tree, image))
            print(f"  {'phase':<26}" + "".join(f"{n:>24}" for n in names))
            for phase in runs[names[-1]][0]:
                print(f"  {phase:<26}" + "".join(f"{statistics.median(r[phase] for r in runs[n]):>24.3f}"
                                                   for n in names))

        label = next(iter(jobs))
        print(f"\nImport time over a whole `{label}` by package (-X importtime, which adds overhead; median of 3):")
        totals: dict[str, list[dict[str, float]]] = defaultdict(list)
        for _ in range(3):
            for name, tree in trees.items():
                totals[name].append(imports_by_package(tree, jobs[label]))
        keys = sorted({k for r in totals[names[0]] + totals[names[-1]] for k in r}, key=lambda k: (k == "all", k))
        print(f"  {'package':<10}" + "".join(f"{n:>24}" for n in names))
        for key in keys:
            print(f"  {key:<10}" + "".join(f"{statistics.median(r.get(key, 0.0) for r in totals[n]):>22.3f} s"
                                           for n in names))
        if args.instructions:
            print("\nInstructions executed (valgrind --tool=callgrind, one run each; millions):")
            print(f"  {'command':<32}" + "".join(f"{n:>24}" for n in names))
            for label, cli in jobs.items():
                print(f"  {label:<32}" + "".join(f"{instructions(trees[n], cli) / 1e6:>24,.0f}" for n in names))
        print(f"\nLoad average at the end {os.getloadavg()[0]:.2f}.")


if __name__ == "__main__":
    main()
