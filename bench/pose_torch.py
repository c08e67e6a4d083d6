"""Time the torch pose runner on a random-init (or a real) SimpleBaseline: in one process, and cold, phase by phase.

    python bench/pose_torch.py [--checkpoint best_AP_epoch_72.pth|model.mar] [--depth 50] [--repeat 10]
        [--device cpu|cuda] [--cold N] [--image PHOTO] [--baseline REV | --no-baseline]

Without --checkpoint a random-init network of --depth is saved to a temp .pth first (so loading is timed
through the same safe path). In one process: load time, the median pose() time with and without flip test,
pre-processing and the network's forward alone.

--cold N (default 5): N fresh processes per tree (this one, and ``git archive REV`` of the baseline, alternated)
doing what a fresh ``studio pose IMAGE --backend torch`` does, one phase at a time; each phase's median wall and
CPU seconds are printed: the studio's imports, ``import torch``, asking for CUDA, CUDA's context (on a GPU only),
torch.load of the checkpoint, building the network with the weights on the device, reading the image, the box,
the first pose() (which carries the backend's one-off set-up: oneDNN's on CPU, cuDNN's on a GPU) and a second
pose(). Then the whole command fresh per tree (wall, peak RSS). CPU seconds are steadier than wall on a busy
machine; torch's default threads can stall each other there (bench/annotate.py --threads).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEFAULT_IMAGE = ROOT.parent / "shared" / "data" / "drawings" / "garlic.png"
DEFAULT_BASELINE = "b6303be"  # the last commit before issue 16's pose cold-start work
WIDTH = 44


def child(checkpoint: str, image_path: str, device: str | None) -> None:
    """One cold run, phase by phase, with the studio on sys.path as the parent set it; prints
    {"phases": {phase: [wall s, cpu s]}, ...} as JSON. Nothing heavy is imported before the first mark."""
    phases: dict[str, list[float]] = {}
    clock = [time.perf_counter(), time.process_time()]

    def mark(name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        phases[name] = [wall - clock[0], cpu - clock[1]]
        clock[:] = [wall, cpu]

    from studio.pipeline.intake.images import read_image
    from studio.pipeline.pose import torch_backend as tb
    mark("studio imports")
    import torch
    mark("import torch")
    on = device or ("cuda" if torch.cuda.is_available() else "cpu")
    mark("torch.cuda.is_available()")

    def sync() -> None:
        if on.startswith("cuda"):
            torch.cuda.synchronize()

    if on.startswith("cuda"):
        torch.zeros(1, device=on)
        sync()
        mark("CUDA context (first tensor on the GPU)")
    state = tb.load_state_dict(checkpoint)
    mark("torch.load (safe, weights only)")
    if "device" in inspect.signature(tb.network_for).parameters:
        net = tb.network_for(state, on)
    else:  # before issue 16: built with random init on the CPU, loaded, then copied to the device
        net = tb.network_for(state).to(on)
    sync()
    mark("network built, weights on the device")
    del state
    image = read_image(image_path)
    mark("read image")
    backend = object.__new__(tb.TorchPoseBackend)  # the network loaded above, not loaded again
    backend.net, backend.device, backend.flip_test = net, on, True
    box = backend.detect(image.rgb)[0].box
    mark("box (classical finder)")
    backend.pose(image.rgb, box)
    sync()
    mark("first pose() (set-up + inference)")
    backend.pose(image.rgb, box)
    sync()
    mark("second pose()")
    print(json.dumps({"device": on, "threads": torch.get_num_threads(), "torch": torch.__version__,
                      "phases": phases}))


def _run_child(tree: Path, checkpoint: Path, image: Path, device: str | None) -> dict[str, Any]:
    args = [sys.executable, str(Path(__file__).resolve()), "--child", str(checkpoint), "--image", str(image)]
    args += ["--device", device] if device else []
    done = subprocess.run(args, cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the cold run in {tree} failed: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def cold(trees: dict[str, Path], checkpoint: Path, image: Path, device: str | None, runs: int) -> None:
    """Print each phase's median over ``runs`` fresh processes per tree, the trees alternated, then the whole
    command's wall time and peak RSS per tree."""
    from cold_start import run_rss

    results: dict[str, list[dict[str, list[float]]]] = {name: [] for name in trees}
    info: dict[str, Any] = {}
    for tree in trees.values():
        _run_child(tree, checkpoint, image, device)  # .pyc files written, files in the page cache
    for _ in range(runs):
        for name, tree in trees.items():
            out = _run_child(tree, checkpoint, image, device)
            info = {k: out[k] for k in ("device", "threads", "torch")}
            results[name].append(out["phases"])
    print(f"\nCold `studio pose --backend torch`, phase by phase: median of {runs} fresh processes, wall s / CPU s; "
          f"torch {info['torch']}, device {info['device']}, {info['threads']} threads")
    names = list(trees)
    print(f"  {'phase':<{WIDTH}}" + "".join(f"{n:>24}" for n in names))
    for phase in results[names[-1]][0]:
        cells = []
        for name in names:
            rows = [r[phase] for r in results[name] if phase in r]
            cells.append(f"{statistics.median(r[0] for r in rows):.3f} / {statistics.median(r[1] for r in rows):.3f}"
                         if rows else "-")
        print(f"  {phase:<{WIDTH}}" + "".join(f"{c:>24}" for c in cells))
    sums = [f"{statistics.median(sum(p[0] for p in r.values()) for r in results[n]):.3f}" for n in names]
    print(f"  {'sum of the phases (wall)':<{WIDTH}}" + "".join(f"{s:>24}" for s in sums))
    if info["device"] == "cpu":
        print("  No GPU here. On a GPU machine expect, besides these, CUDA's context (1-3 s: the driver's and "
              "torch's own, lazy module loading included) and cuDNN's library load and handle set-up inside the "
              "first pose() (about 0.5-1 s): expectations, not measurements.")
    cli = ["pose", str(image), "--backend", "torch", "--checkpoint", str(checkpoint)]
    walls: dict[str, list[float]] = {n: [] for n in names}
    peaks: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(runs):
        for name, tree in trees.items():
            wall, peak = run_rss(tree, cli)
            walls[name].append(wall)
            peaks[name].append(peak)
    for name in names:
        print(f"  fresh `studio pose {image.name} --backend torch` ({name}): {statistics.median(walls[name]):.2f} s "
              f"wall ({min(walls[name]):.2f}-{max(walls[name]):.2f}), peak RSS {statistics.median(peaks[name]):.0f} MB")
    print(f"  load average at the end {os.getloadavg()[0]:.2f}")


def in_process(checkpoint: Path, device: str | None, repeat: int, shown: str) -> None:
    """Load once, then median pose(), pre-processing and forward times in this process."""
    import torch

    from timing import median_ms
    from studio.pipeline.pose.decode import box_center_size, crop_input
    from studio.pipeline.pose.torch_backend import TorchPoseBackend

    t = time.perf_counter()
    backend = TorchPoseBackend(checkpoint, device=device)
    load_s = time.perf_counter() - t
    image = np.random.default_rng(0).integers(0, 255, (600, 450, 3), dtype=np.uint8)
    box = (40.0, 30.0, 410.0, 570.0)
    print(f"torch {torch.__version__}, device {backend.device}, threads {torch.get_num_threads()}, checkpoint {shown}")
    print(f"load (safe .pth load + build + weights): {load_s * 1000:.0f} ms")
    backend.flip_test = True
    print(f"pose() with flip test (batch of 2): {median_ms(lambda: backend.pose(image, box), repeat):.1f} ms")
    backend.flip_test = False
    print(f"pose() without flip test:           {median_ms(lambda: backend.pose(image, box), repeat):.1f} ms")
    x = crop_input(image, *box_center_size(box))
    print(f"pre-processing (warp + normalise):  "
          f"{median_ms(lambda: crop_input(image, *box_center_size(box)), repeat):.2f} ms")
    print(f"network forward alone (batch 1):    {median_ms(lambda: backend.heatmaps(x), repeat):.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--depth", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--device", default=None)
    ap.add_argument("--cold", type=int, default=5, help="fresh processes per tree for the phase table (0: none)")
    ap.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    ap.add_argument("--baseline", default=DEFAULT_BASELINE, help="commit to compare with (default %(default)s)")
    ap.add_argument("--no-baseline", action="store_true", help="time this tree only")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, str(args.image), args.device)
        return
    sys.path[:0] = [str(ROOT), str(BENCH)]
    import torch

    from cold_start import unpack
    from studio.pipeline.pose.torch_backend import build_network

    with tempfile.TemporaryDirectory(prefix="pose_torch_") as tmp:
        ckpt = args.checkpoint
        if ckpt is None:
            ckpt = Path(tmp) / "random.pth"
            torch.manual_seed(0)
            torch.save({"meta": {"epoch": 72, "np": np.arange(3)},
                        "state_dict": build_network(args.depth).state_dict()}, ckpt)
        in_process(ckpt, args.device, args.repeat, str(args.checkpoint or f"random ResNet-{args.depth}"))
        if args.cold:
            trees = {"now": ROOT}
            if not args.no_baseline:
                trees = {f"before ({args.baseline})": unpack(args.baseline, Path(tmp)), "now": ROOT}
            cold(trees, ckpt.resolve(), args.image.resolve(), args.device, args.cold)


if __name__ == "__main__":
    main()
