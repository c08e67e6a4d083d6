"""Benchmark: mesh building, ARAP factorisation and solve, and software rasterisation on a real character.

Usage: python bench/deform_raster.py [character folder] [--check PREFIX]
Prints medians in milliseconds. With --check, also writes PREFIX_identity.png and
PREFIX_elbow60.png (the right hand turned 60 degrees about the elbow) for a visual check.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import yaml

from studio.pipeline.deform.arap import ArapSolver
from studio.pipeline.deform.mesh import build_mesh
from studio.pipeline.deform.raster import fill_source_maps, raster_indexed, sample_indexed, sample_rgba

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "characters" / "char2"
SIZE = 500


def median_ms(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def load(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray]:
    """mask (H, W) uint8; texture (H, W, 4) BGRA with alpha = mask; joint names, parents (J,), rest (J, 2)."""
    mask = cv2.imread(str(folder / "mask.png"), cv2.IMREAD_GRAYSCALE)
    texture = cv2.imread(str(folder / "texture.png"), cv2.IMREAD_UNCHANGED)
    if texture.shape[2] == 3:
        texture = cv2.cvtColor(texture, cv2.COLOR_BGR2BGRA)
    texture[:, :, 3] = np.where(mask > 127, 255, 0)
    skeleton = yaml.safe_load((folder / "char_cfg.yaml").read_text())["skeleton"]
    names = [joint["name"] for joint in skeleton]
    parents = np.array([names.index(j["parent"]) if j["parent"] else -1 for j in skeleton])
    rest = np.array([joint["loc"] for joint in skeleton], np.float64)
    return mask, texture, names, parents, rest


def to_canvas(vertices: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Texture px → a SIZE² canvas, the character scaled to 90% of it and centred."""
    scale = 0.9 * SIZE / max(shape[:2])
    return (vertices - np.array([shape[1], shape[0]]) / 2) * scale + SIZE / 2


def turn_forearm(rest: np.ndarray, names: list[str], parents: np.ndarray, degrees: float) -> np.ndarray:
    """Turn the right hand (or the first hand, or the first leaf joint) about its parent joint."""
    leaves = [j for j in range(len(names)) if j not in parents and parents[j] >= 0]
    hand = next((j for j in leaves if names[j] == "right_hand"),
                next((j for j in leaves if "hand" in names[j]), leaves[0]))
    elbow = int(parents[hand])
    angle = np.radians(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    posed = rest.copy()
    posed[hand] = (rest[hand] - rest[elbow]) @ rotation.T + rest[elbow]
    return posed


def save_check(prefix: str, texture: np.ndarray, mesh_uv: np.ndarray, triangles: np.ndarray,
               deformed: np.ndarray, name: str) -> None:
    map_x, map_y = fill_source_maps(to_canvas(deformed, texture.shape), mesh_uv, triangles, SIZE, SIZE)
    bgra = sample_rgba(texture, map_x, map_y)
    alpha = bgra[:, :, 3:4] / 255.0
    board = np.where((np.indices((SIZE, SIZE)) // 16).sum(axis=0) % 2 == 0, 230, 200)[:, :, None]
    image = (bgra[:, :, :3] * alpha + board * (1 - alpha)).astype(np.uint8)
    cv2.imwrite(f"{prefix}_{name}.png", image)
    print(f"wrote {prefix}_{name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--check", metavar="PREFIX", help="write PREFIX_identity.png and PREFIX_elbow60.png")
    args = parser.parse_args()
    mask, texture, names, parents, rest = load(args.folder)
    print(f"{args.folder.name}: {mask.shape[1]}x{mask.shape[0]} px, {len(names)} joints")

    mesh = build_mesh(mask)
    print(f"mesh: {len(mesh.vertices)} vertices, {len(mesh.triangles)} triangles")
    print(f"build_mesh            {median_ms(lambda: build_mesh(mask), 7):8.2f} ms")
    solver = ArapSolver(mesh, rest)
    print(f"ArapSolver init       {median_ms(lambda: ArapSolver(mesh, rest), 7):8.2f} ms")
    print(f"snapped handles: {[(names[i], round(d, 2)) for i, d in solver.snapped]}")

    rng = np.random.default_rng(0)
    poses = [rest + rng.normal(0.0, 3.0, rest.shape) for _ in range(300)]
    it = iter(poses)
    print(f"ArapSolver.solve      {median_ms(lambda: solver.solve(next(it)), 300):8.3f} ms (median of 300)")

    canvas = to_canvas(solver.solve(turn_forearm(rest, names, parents, 30.0)), mask.shape)
    uv, triangles = mesh.vertices, mesh.triangles
    map_x = np.empty((SIZE, SIZE), np.float32)
    map_y = np.empty((SIZE, SIZE), np.float32)
    rgba = np.empty((SIZE, SIZE, 4), np.uint8)
    frame = np.empty((SIZE, SIZE), np.uint8)
    texture_idx = np.where(mask > 127, (texture[:, :, 1] // 2) + 1, 0).astype(np.uint8)
    fill_source_maps(canvas, uv, triangles, SIZE, SIZE, map_x, map_y)  # compile / load the numba cache
    raster_indexed(canvas, uv, triangles, texture_idx, 0, SIZE, SIZE, frame)
    sample_indexed(texture_idx, map_x, map_y, 0, frame)
    fill = median_ms(lambda: fill_source_maps(canvas, uv, triangles, SIZE, SIZE, map_x, map_y), 200)
    remap = median_ms(lambda: sample_rgba(texture, map_x, map_y, rgba), 200)
    nearest = median_ms(lambda: sample_indexed(texture_idx, map_x, map_y, 0, frame), 200)
    direct = median_ms(lambda: raster_indexed(canvas, uv, triangles, texture_idx, 0, SIZE, SIZE, frame), 200)
    print(f"fill_source_maps      {fill:8.3f} ms ({SIZE}x{SIZE})")
    print(f"sample_rgba           {remap:8.3f} ms  -> RGBA frame {fill + remap:.3f} ms")
    print(f"sample_indexed        {nearest:8.3f} ms  -> indexed via maps {fill + nearest:.3f} ms")
    print(f"raster_indexed        {direct:8.3f} ms (single pass)")

    if args.check:
        save_check(args.check, texture, uv, triangles, solver.solve(rest), "identity")
        bent = solver.solve(turn_forearm(rest, names, parents, 60.0))
        save_check(args.check, texture, uv, triangles, bent, "elbow60")


if __name__ == "__main__":
    main()
