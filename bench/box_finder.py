"""The embedded backend's box finder (studio/pipeline/intake/box.py) on generated photos and on the real drawings.

    .venv/bin/python bench/box_finder.py [--n 300] [--size 768] [--seed 99]

Generated photos (training/figures.py, figure i from default_rng([seed, i])) know their figure's true box:
the finder's box is scored by IoU with it, by paper kind (plain, ruled, squared). "found" is IoU >= 0.5;
"none" is "no figure found" (the studio then asks for a box). The real drawings have no true box: their boxes
are printed to look at, with the time each took.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.pipeline.intake.box import BoxError, find_figure_box  # noqa: E402
from studio.pipeline.intake.images import read_image  # noqa: E402
from training.figures import generate  # noqa: E402

REAL = ("characters/char2/texture.png", "characters/char5/image.png", "characters/char6/image.png",
        "drawings/garlic.png")


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--size", type=int, default=768, help="generated photo side, px (the studio works at ≤1000)")
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()

    scores: dict[str, list[float]] = {}
    times = []
    for i in range(args.n):
        figure = generate(np.random.default_rng([args.seed, i]), args.size)
        started = time.perf_counter()
        try:
            score = iou(find_figure_box(figure.image).box, tuple(float(v) for v in figure.box))
        except BoxError:
            score = -1.0  # no figure found
        times.append(time.perf_counter() - started)
        scores.setdefault(figure.paper, []).append(score)
        scores.setdefault("all", []).append(score)
    print(f"generated photos, {args.size}² px, seed {args.seed}:")
    print(f"{'paper':<10}{'photos':>7}{'median IoU':>12}{'found':>8}{'IoU>=0.7':>10}{'none':>7}")
    for kind in ("plain", "ruled", "squared", "all"):
        s = np.array(scores.get(kind, []))
        if len(s):
            print(f"{kind:<10}{len(s):>7}{np.median(np.maximum(s, 0)):>12.3f}{np.mean(s >= .5):>8.3f}"
                  f"{np.mean(s >= .7):>10.3f}{np.mean(s < 0):>7.3f}")
    print(f"find_figure_box: {1000 * statistics.median(times):.1f} ms median per photo")
    print("\nreal drawings (no true box: look at them):")
    for name in REAL:
        path = args.data / name
        if not path.is_file():
            print(f"  {name}: missing")
            continue
        image = read_image(path).rgb
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            box = find_figure_box(image).box
            runs.append(time.perf_counter() - started)
        h, w = image.shape[:2]
        print(f"  {name} ({w}×{h}): box {', '.join(f'{v:.0f}' for v in box)}  "
              f"{1000 * statistics.median(runs):.0f} ms median")


if __name__ == "__main__":
    main()
