"""Benchmark: mesh triangulation, ARAP construction and per-frame solve on char2, char5, char6 and the sample.

Usage: python bench/deform_solver.py [--repeat N]
Prints medians in milliseconds (in-process, after one untimed warm-up call so numba kernels are loaded).

Issue 16 replaced scipy's Delaunay, connected_components and splu by our own code (delaunay.py, cholesky.py).
Old against new, interleaved in one process on the busy 2-core machine, medians of 15 (ms):
    char2  mesh 26.5 -> 23.3, ARAP build 90.7 -> 58.7, solve 0.245 -> 0.252
    char5  mesh 23.1 -> 20.3, ARAP build  117 -> 101,  solve 0.277 -> 0.337
    char6  mesh 27.9 -> 23.2, ARAP build  303 -> 84.3, solve 0.384 -> 0.403
    sample mesh 35.8 -> 25.5, ARAP build  117 -> 80.3, solve 0.338 -> 0.357
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from studio.core.sample import sample_character
from studio.pipeline.character import Character, read_character
from studio.pipeline.deform.arap import ArapSolver
from studio.pipeline.deform.mesh import build_mesh

CHARACTERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "characters"


def median_ms(run: Callable[[], object], repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def characters() -> list[tuple[str, Character]]:
    found = [(folder.name, read_character(folder)) for folder in sorted(CHARACTERS.glob("char*"))]
    return found + [("sample", sample_character())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'character':10} {'vertices':>8} {'triangles':>9} {'mesh ms':>8} {'ARAP build ms':>13} {'solve ms':>8}")
    for name, character in characters():
        mesh = build_mesh(character.mask)
        solver = ArapSolver(mesh, character.rest)
        poses = [character.rest + rng.normal(0, 8, character.rest.shape) for _ in range(32)]
        frame = iter(range(10 ** 9))
        mesh_ms = median_ms(lambda: build_mesh(character.mask), args.repeat)
        build_ms = median_ms(lambda: ArapSolver(mesh, character.rest), args.repeat)
        solve_ms = median_ms(lambda: [solver.solve(poses[next(frame) % 32]) for _ in range(20)], args.repeat) / 20
        print(f"{name:10} {len(mesh.vertices):8d} {len(mesh.triangles):9d} {mesh_ms:8.2f} {build_ms:13.2f} "
              f"{solve_ms:8.3f}")


if __name__ == "__main__":
    main()
