"""First run on a new machine against the second: `studio demo` in fresh processes with an empty numba cache, as
a pip-installed wheel's first start (which compiles every kernel up front, studio.core.first_start) and after the
warm-up that scripts/setup.sh runs; and the window's longest freeze before its first preview frame, with an empty
cache and with a warm one.

    .venv/bin/python bench/first_run.py [--size 400] [--repeat 3] [--no-window]
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

ROOT = Path(__file__).resolve().parents[1]
STUDIO = Path(sys.executable).with_name("studio")

# Run in a fresh process: open the window offscreen on the sample and time, on the window's own thread, the longest
# gap between 5 ms timer ticks until the first preview frame is shown, and a second of playback after it.
WINDOW = """
import os, sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from studio.core.settings import AppSettings
from studio.ui.app import create_app, wait_for_preview
started = time.perf_counter()
app, window = create_app(None, settings=AppSettings(), offscreen=True)
window.show()
gaps, last = [], [time.perf_counter()]
def tick():
    now = time.perf_counter(); gaps.append(now - last[0]); last[0] = now
timer = QTimer(); timer.timeout.connect(tick); timer.start(5)
ok = wait_for_preview(window, 300)
shown = time.perf_counter() - started
end = time.perf_counter() + 1.0
while time.perf_counter() < end:
    QApplication.processEvents(); time.sleep(0.002)
window.controller.forget_changes()
print(ok, shown, max(gaps))
os._exit(0)
"""


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def _window(env: dict[str, str]) -> tuple[float, float]:
    """(seconds to the first preview frame, longest freeze of the window's thread) in a fresh process."""
    out = subprocess.run([sys.executable, "-c", WINDOW], env={**env, "QT_QPA_PLATFORM": "offscreen"}, cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout.split()
    if out[0] != "True":
        raise RuntimeError("the window's preview did not come up")
    return float(out[1]), float(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-window", action="store_true", help="skip the window's first-preview freeze")
    args = parser.parse_args()
    rows: dict[str, list[float]] = {"first start (compiles all)": [], "second": [], "setup.sh warm-up": [],
                                    "first after warm-up": []}
    window: dict[str, list[tuple[float, float]]] = {"empty cache": [], "warm cache": []}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
            env = {**os.environ, "NUMBA_CACHE_DIR": cache, "STUDIO_CACHE_DIR": cache}
            demo = [str(STUDIO), "demo", "-o", out, "--size", str(args.size)]
            rows["first start (compiles all)"].append(_timed(demo, env))
            rows["second"].append(_timed(demo, env))
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
            env = {**os.environ, "NUMBA_CACHE_DIR": cache, "STUDIO_CACHE_DIR": cache}
            rows["setup.sh warm-up"].append(_timed([sys.executable, "-m", "studio.core.first_start"], env))
            rows["first after warm-up"].append(_timed([str(STUDIO), "demo", "-o", out, "--size", str(args.size)], env))
        if not args.no_window:
            with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as config:
                env = {**os.environ, "NUMBA_CACHE_DIR": cache, "STUDIO_CACHE_DIR": cache,
                       "STUDIO_CONFIG_DIR": config}
                window["empty cache"].append(_window(env))
                window["warm cache"].append(_window(env))
    medians = {k: statistics.median(v) for k, v in rows.items()}
    print(f"studio demo at {args.size}², fresh processes, medians of {args.repeat}:")
    for name, value in medians.items():
        print(f"  {name:<28} {value:6.2f} s")
    print(f"  first after warm-up / second: {medians['first after warm-up'] / medians['second']:.2f}x "
          f"(target ≤ 1.5x); a wheel's first start / second: "
          f"{medians['first start (compiles all)'] / medians['second']:.2f}x")
    if not args.no_window:
        print(f"window on the sample, fresh processes, medians of {args.repeat}:")
        for name, values in window.items():
            print(f"  {name:<12} first frame after {statistics.median(v[0] for v in values):5.2f} s, longest freeze "
                  f"of the window's thread {1000 * statistics.median(v[1] for v in values):5.0f} ms")


if __name__ == "__main__":
    main()
