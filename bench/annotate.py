"""Time each stage of the rig pipeline (studio.core.annotate) on CPU on the real drawings and print a table of medians.

    python bench/annotate.py [DRAWING ...] [--data ../shared/data] [--repeat 5] [--depth 50] [--threads N]
        [--torchserve] [--mm-checkpoint AD_POSE.mar]

Without DRAWING, every drawings/*.png and characters/*/image.png under --data is used. Stages, as annotate()
runs them: intake (read_image: decode, EXIF, downscale to ≤1000 px), box (the classical find_figure_box that
ManualBackend.detect calls), mask (segment_figure on the crop of the rounded box), then pose() per backend on
that box: manual; embedded (the shipped weights: as shipped, with flip test and two box scales, and in one
pass); torch (a random-init ResNet-<depth> saved to a temp .pth and loaded through the safe path), with and
without flip test;
with --torchserve a real local TorchServe (tests/torchserve_fixture.py, 5-15 s to start) whose test handlers
have no weights, so it measures PNG encoding + HTTP + JSON only; mm when mmcv/mmdet/mmpose import and
--mm-checkpoint is given. Last, annotate() whole with the manual and with the embedded backend.
Each figure is the median over --repeat runs after one warm-up. On a 2-core machine with another busy process,
torch's default 2 threads can run ~10x slower (the threads wait on each other): compare with --threads 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.core.annotate import annotate  # noqa: E402
from timing import median_ms  # noqa: E402
from studio.pipeline.intake.box import clamp_box, crop, find_figure_box  # noqa: E402
from studio.pipeline.intake.images import read_image  # noqa: E402
from studio.pipeline.pose.manual import ManualBackend  # noqa: E402
from studio.pipeline.pose.backend import Box, PoseBackend  # noqa: E402
from studio.pipeline.pose import embedded as pose_embedded  # noqa: E402
from studio.pipeline.pose.embedded import EmbeddedBackend, available  # noqa: E402
from studio.pipeline.intake.segment import segment_figure  # noqa: E402



def default_drawings(data: Path) -> list[Path]:
    return sorted(data.glob("drawings/*.png")) + sorted(data.glob("characters/*/image.png"))


def torch_backend(depth: int) -> tuple[Any, float]:
    """A TorchPoseBackend on a random-init SimpleBaseline saved to a temp .pth (as bench/pose_torch.py does);
    returns it and its load time in s."""
    import torch

    from studio.pipeline.pose.torch_backend import TorchPoseBackend, build_network

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "random.pth"
        torch.manual_seed(0)
        torch.save({"meta": {"epoch": 72, "np": np.arange(3)}, "state_dict": build_network(depth).state_dict()}, ckpt)
        t = time.perf_counter()
        backend = TorchPoseBackend(ckpt, device="cpu")
        return backend, time.perf_counter() - t


def mm_missing() -> str | None:
    for module in ("mmcv", "mmdet", "mmpose"):
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - any import failure means the optional stack is unusable
            return module
    return None


def bench_drawing(path: Path, backends: dict[str, Callable[[np.ndarray, Box], Any]], repeat: int,
                  embedded: PoseBackend | None = None) -> dict[str, float]:
    """Median ms per stage for one drawing."""
    row: dict[str, float] = {"intake": median_ms(lambda: read_image(path), repeat)}
    rgb = read_image(path).rgb
    h, w = rgb.shape[:2]
    row["box"] = median_ms(lambda: find_figure_box(rgb), repeat)
    box: Box = tuple(float(round(v)) for v in clamp_box(find_figure_box(rgb).box, w, h))  # type: ignore[assignment]
    cut = crop(rgb, box)
    row["mask"] = median_ms(lambda: segment_figure(cut), repeat)
    for name, pose in backends.items():
        row[name] = median_ms(lambda: pose(rgb, box), repeat)
    row["annotate (manual, end to end)"] = median_ms(lambda: annotate(path, ManualBackend()), repeat)
    if embedded is not None:
        row["annotate (embedded, end to end)"] = median_ms(lambda: annotate(path, embedded), repeat)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("drawings", nargs="*", type=Path)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--depth", type=int, default=50)
    ap.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's, as the product runs)")
    ap.add_argument("--torchserve", action="store_true", help="also start a local TorchServe (5-15 s)")
    ap.add_argument("--mm-checkpoint", type=Path, help="AD's pose .mar (or config+.pth folder) for the mm backend")
    args = ap.parse_args()
    drawings = args.drawings or default_drawings(args.data)
    if not drawings:
        sys.exit(f"no drawings found under {args.data}: pass DRAWING paths or --data")

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    notes: list[str] = []
    backends: dict[str, Callable[[np.ndarray, Box], Any]] = {"pose: manual": ManualBackend().pose}
    tb, load_s = torch_backend(args.depth)

    def torch_pose(flip: bool) -> Callable[[np.ndarray, Box], Any]:
        def run(rgb: np.ndarray, box: Box) -> Any:
            tb.flip_test = flip
            return tb.pose(rgb, box)
        return run

    embedded: PoseBackend | None = None
    if available():
        t = time.perf_counter()
        embedded = EmbeddedBackend()
        one_pass = EmbeddedBackend(flip=False, scales=(1.0,))
        notes.append(f"embedded: shipped weights, load {1000 * (time.perf_counter() - t) / 2:.0f} ms (once); "
                     "pose() includes the crop, the network and decoding")
        backends["pose: embedded (flip test, two box scales, 1 thread, as shipped)"] = embedded.pose
        backends["pose: embedded, one pass (one crop, no flip)"] = one_pass.pose

        def two_threads(rgb: np.ndarray, box: Box) -> Any:
            pose_embedded.THREADS = 2
            try:
                return embedded.pose(rgb, box)  # type: ignore[union-attr]
            finally:
                pose_embedded.THREADS = 1

        backends["pose: embedded, as shipped, 2 threads"] = two_threads
    else:
        notes.append("embedded: weights or torch missing, not run")
    backends["pose: torch, flip test"] = torch_pose(True)
    backends["pose: torch, no flip"] = torch_pose(False)
    notes.append(f"torch {torch.__version__}, cpu, {torch.get_num_threads()} threads, random ResNet-{args.depth}: "
                 f"safe load + build {load_s * 1000:.0f} ms (once)")

    server = None
    tmp = tempfile.TemporaryDirectory(prefix="bench-rig-ts-")
    try:
        if args.torchserve:
            sys.path.insert(0, str(ROOT / "tests"))
            from torchserve_fixture import missing_tools, start_torchserve

            from studio.pipeline.pose.torchserve import TorchServeBackend

            why = missing_tools()
            if why:
                notes.append(f"torchserve: skipped, {why}")
            else:
                server = start_torchserve(Path(tmp.name), models=("detector", "pose"))
                ts: PoseBackend = TorchServeBackend(server.inference_url, detector_model="detector", pose_model="pose")
                backends["detect: torchserve (full image)"] = lambda rgb, box: ts.detect(rgb)
                backends["pose: torchserve (crop)"] = ts.pose
                notes.append(f"torchserve: local server ready in {server.startup_s:.1f} s; its test handlers have no "
                             "weights, so these rows are PNG encode + HTTP + JSON overhead only, not inference")
        else:
            notes.append("torchserve: not run (pass --torchserve to start a local server, 5-15 s)")
        missing = mm_missing()
        if missing:
            notes.append("mm: not installed (packaging/mm/install.sh)")
        elif args.mm_checkpoint is None:
            notes.append("mm: installed, but no --mm-checkpoint given")
        else:
            from studio.pipeline.pose.mm import MMBackend

            backends["pose: mm"] = MMBackend(args.mm_checkpoint, device="cpu").pose

        rows = {}
        for path in drawings:
            rows[path] = bench_drawing(path, backends, args.repeat, embedded)
    finally:
        if server is not None:
            server.stop()
        tmp.cleanup()

    print(f"rig pipeline on CPU, median ms of {args.repeat} runs after a warm-up")
    for path in drawings:
        image = read_image(path)
        box = find_figure_box(image.rgb).box
        h, w = image.rgb.shape[:2]
        print(f"  {path.parent.name}/{path.name}: {image.original_size[0]}×{image.original_size[1]} → {w}×{h}, "
              f"box {box[2] - box[0]:.0f}×{box[3] - box[1]:.0f}")
    for note in notes:
        print(f"  {note}")
    weights = pose_embedded.WEIGHTS
    exported = pose_embedded.onnx_path()
    print(f"  embedded weights: {weights.stat().st_size / 1e6:.1f} MB (.pt)"
          + (f", {exported.stat().st_size / 1e6:.1f} MB (.onnx, what runs)" if exported.is_file() else "")
          + "; budget 25 MB; pose() budget 150 ms on one core")
    names = [f"{p.parent.name}/{p.stem}"[-16:] for p in drawings]
    stages = list(next(iter(rows.values())))
    width = max(len(s) for s in stages) + 2
    print()
    print(f"{'stage':<{width}}" + "".join(f"{n:>18}" for n in names))
    for stage in stages:
        print(f"{stage:<{width}}" + "".join(f"{rows[p][stage]:>18.2f}" for p in drawings))


if __name__ == "__main__":
    main()
