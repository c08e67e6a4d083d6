"""Cold start of the `studio` command: each command timed in fresh processes, this tree against an earlier commit.

    python bench/cold_start.py [--baseline REV] [--repeat N] [--data DIR] [--no-baseline]

For each command (--help, motions, render of the sample, render of char2 + dab with AD's configs) the script runs
N fresh processes per tree, alternating the trees so that a noisy machine slows both alike, and prints the median
wall time and peak RSS. It also prints, per tree, the imports the render command makes before its work (a fresh
process importing the modules the CLI loads for `render`), and the whole run's import time by package, from
``python -X importtime`` (that includes numba's own imports when the kernels load from their cache).
The baseline tree is ``git archive REV`` unpacked in a temporary folder (its motions/ placed as studio/motions, as
the wheel installs them); one discarded run per command and tree writes its .pyc files and numba caches first.
The issue's job is AD's char3, which is not in ../shared/data: char2 + dab (339 frames, 500²) is the closest.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASELINE = "e10ed20"  # the last commit before issue 16's cold-start work
PACKAGES = ("scipy", "numba", "llvmlite", "cv2", "numpy", "PIL", "yaml", "studio")
RENDER_IMPORTS = "import studio.launcher, studio.cli.main, studio.core.render, studio.core.render_job"


def commands(data: Path, out: Path) -> dict[str, list[str]]:
    """The timed commands: label → arguments after ``python -m studio.launcher``."""
    ad = data / "ad_config"
    return {
        "studio --help": ["--help"],
        "studio motions": ["motions"],
        "render sample wave": ["render", "sample", "--motion", "wave", "-o", str(out / "sample.gif")],
        "render char2 + dab": ["render", str(data / "characters" / "char2"), "-m", str(ad / "motion" / "dab.yaml"),
                               "--bvh", str(data / "bvh" / "fair1_dab.bvh"),
                               "-r", str(ad / "retarget" / "fair1_ppf.yaml"), "-o", str(out / "char2_dab.gif")],
    }


def unpack(rev: str, into: Path) -> Path:
    """``git archive rev`` of studio/ and motions/ unpacked under ``into``, motions/ moved to studio/motions."""
    archive = into / "tree.tar"
    with archive.open("wb") as f:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev, "studio", "motions"], stdout=f, check=True)
    tree = into / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    shutil.move(str(tree / "motions"), str(tree / "studio" / "motions"))
    return tree


def run_rss(tree: Path | None, args: list[str], python: str = sys.executable) -> tuple[float, float]:
    """(wall s, peak RSS MB) of one fresh ``python -m studio.launcher args`` run in ``tree`` (its studio/ first on
    sys.path), or, with ``tree`` None, of the studio installed for ``python`` (a user's venv); the RSS read from
    wait4 on the child."""
    env = dict(os.environ, PYTHONPATH=str(tree)) if tree is not None else {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    started = time.perf_counter()
    proc = subprocess.Popen([python, "-m", "studio.launcher", *args], cwd=tree or tempfile.gettempdir(), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed in {tree or python} (exit {proc.returncode})")
    return wall, usage.ru_maxrss / 1024


def fresh_runs(trees: dict[str, Path], jobs: dict[str, list[str]], repeat: int
               ) -> tuple[dict[tuple[str, str], list[float]], dict[tuple[str, str], list[float]]]:
    """Wall s and peak RSS MB of each job in each tree, ``repeat`` fresh processes each, the trees alternating so
    that a noisy machine slows both alike; one discarded run per job and tree first (.pyc files, numba's cache).
    Keyed by (tree name, job label)."""
    walls: dict[tuple[str, str], list[float]] = defaultdict(list)
    rss: dict[tuple[str, str], list[float]] = defaultdict(list)
    for label, cli in jobs.items():
        for tree in trees.values():
            run_rss(tree, cli)
        for _ in range(repeat):
            for name, tree in trees.items():
                wall, peak = run_rss(tree, cli)
                walls[name, label].append(wall)
                rss[name, label].append(peak)
    return walls, rss


def import_seconds(tree: Path | None, statement: str, python: str = sys.executable) -> float:
    """Seconds a fresh interpreter in ``tree`` (None: ``python``'s own install) spends on ``statement``
    (imports), timed inside it."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = dict(os.environ, PYTHONPATH=str(tree)) if tree is not None else {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([python, "-c", code], cwd=tree or tempfile.gettempdir(), env=env,
                         capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def imports_by_package(tree: Path, args: list[str]) -> dict[str, float]:
    """Seconds of import per top-level package over a whole run (``-X importtime``, each module's own time)."""
    stderr = subprocess.run([sys.executable, "-X", "importtime", "-m", "studio.launcher", *args], cwd=tree,
                            env=dict(os.environ, PYTHONPATH=str(tree)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, check=True).stderr
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \| \s*(\S+)", line)
        if match is not None:  # each module's own time, summed by its top-level package
            package = match.group(2).split(".")[0]
            totals[package if package in PACKAGES else "other"] += int(match.group(1)) / 1e6
    totals["all"] = sum(totals.values())
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="commit to compare with (default %(default)s)")
    parser.add_argument("--no-baseline", action="store_true", help="time this tree only")
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per command and tree (default 5)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cold_start_") as tmp:
        trees = {"now": ROOT}
        if not args.no_baseline:
            trees = {f"before ({args.baseline})": unpack(args.baseline, Path(tmp)), "now": ROOT}
        out = Path(tmp) / "out"
        out.mkdir()
        jobs = commands(args.data, out)
        if not (args.data / "characters" / "char2").is_dir():
            print(f"note: {args.data} has no characters/char2: its render is left out", file=sys.stderr)
            jobs.pop("render char2 + dab")
        walls, rss = fresh_runs(trees, jobs, args.repeat)

        names = list(trees)
        print(f"Fresh processes, median of {args.repeat} (wall s / peak RSS MB); {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.2f}")
        print(f"{'command':<22}" + "".join(f"{n:>26}" for n in names))
        for label in jobs:
            cells = [f"{statistics.median(walls[n, label]):.3f} s / {statistics.median(rss[n, label]):4.0f} MB"
                     for n in names]
            spread = [f"{min(walls[n, label]):.2f}-{max(walls[n, label]):.2f}" for n in names]
            print(f"{label:<22}" + "".join(f"{c:>26}" for c in cells) + "   range " + ", ".join(spread))

        print(f"\nImports the render command makes before work (fresh process, median of {args.repeat}):")
        seconds: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.repeat):
            for name, tree in trees.items():
                seconds[name].append(import_seconds(tree, RENDER_IMPORTS))
        for name in names:
            print(f"  {name:<22} {statistics.median(seconds[name]):.3f} s")

        print("\nImport time over a whole char2 + dab render by package (-X importtime, which adds overhead; "
              "median of 3 runs):")
        render = jobs.get("render char2 + dab", jobs["render sample wave"])
        runs: dict[str, list[dict[str, float]]] = defaultdict(list)
        for _ in range(3):
            for name, tree in trees.items():
                runs[name].append(imports_by_package(tree, render))
        tables = {name: {key: statistics.median(r.get(key, 0.0) for r in runs[name]) for key in runs[name][0]}
                  for name in names}
        keys = [*PACKAGES, "other", "all"]
        print(f"  {'package':<10}" + "".join(f"{n:>26}" for n in names))
        for key in keys:
            print(f"  {key:<10}" + "".join(f"{tables[n].get(key, 0.0):>24.3f} s" for n in names))
        print(f"\n'now' is the working tree: every commit and uncommitted edit since {args.baseline}. "
              f"Load average at the end {os.getloadavg()[0]:.2f}.")


if __name__ == "__main__":
    main()
