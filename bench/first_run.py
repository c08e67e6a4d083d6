"""First run on a new machine against the second: `studio demo` in fresh processes with an empty numba cache,
without and with the warm-up that scripts/setup.sh runs (studio.core.warmup).

    .venv/bin/python bench/first_run.py [--size 400] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STUDIO = Path(sys.executable).with_name("studio")


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {"first, no warm-up": [], "second": [], "warm-up": [], "first after warm-up": []}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
            env = {**os.environ, "NUMBA_CACHE_DIR": cache}
            demo = [str(STUDIO), "demo", "-o", out, "--size", str(args.size)]
            rows["first, no warm-up"].append(_timed(demo, env))
            rows["second"].append(_timed(demo, env))
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
            env = {**os.environ, "NUMBA_CACHE_DIR": cache}
            rows["warm-up"].append(_timed([sys.executable, "-m", "studio.core.warmup"], env))
            rows["first after warm-up"].append(_timed([str(STUDIO), "demo", "-o", out, "--size", str(args.size)], env))
    medians = {k: statistics.median(v) for k, v in rows.items()}
    print(f"studio demo at {args.size}², fresh processes, medians of {args.repeat}:")
    for name, value in medians.items():
        print(f"  {name:<22} {value:6.2f} s")
    print(f"  first/second without warm-up: {medians['first, no warm-up'] / medians['second']:.2f}x; "
          f"with it: {medians['first after warm-up'] / medians['second']:.2f}x (target ≤ 1.5x)")


if __name__ == "__main__":
    main()
