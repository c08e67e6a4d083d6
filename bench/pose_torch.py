"""Time the torch pose runner's pose() on a random-init (or a real) SimpleBaseline and print the figures.

    python bench/pose_torch.py [--checkpoint best_AP_epoch_72.pth|model.mar] [--depth 50] [--repeat 10]
        [--device cpu|cuda]

Without --checkpoint a random-init network of --depth is saved to a temp .pth first (so loading is timed
through the same safe path). Prints load time, then the median pose() time with and without flip test,
and the network's forward alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from timing import median_ms  # noqa: E402
from studio.pipeline.pose.decode import box_center_size, crop_input  # noqa: E402
from studio.pipeline.pose.torch_backend import TorchPoseBackend, build_network  # noqa: E402



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--depth", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint
        if ckpt is None:
            ckpt = Path(tmp) / "random.pth"
            torch.manual_seed(0)
            torch.save({"meta": {"epoch": 72, "np": np.arange(3)}, "state_dict": build_network(args.depth).state_dict()},
                       ckpt)
        t = time.perf_counter()
        backend = TorchPoseBackend(ckpt, device=args.device)
        load_s = time.perf_counter() - t
    image = np.random.default_rng(0).integers(0, 255, (600, 450, 3), dtype=np.uint8)
    box = (40.0, 30.0, 410.0, 570.0)
    print(f"torch {torch.__version__}, device {backend.device}, threads {torch.get_num_threads()}, "
          f"checkpoint {'random ResNet-' + str(args.depth) if args.checkpoint is None else args.checkpoint}")
    print(f"load (safe .pth load + build + weights): {load_s * 1000:.0f} ms")
    backend.flip_test = True
    print(f"pose() with flip test (batch of 2): {median_ms(lambda: backend.pose(image, box), args.repeat):.1f} ms")
    backend.flip_test = False
    print(f"pose() without flip test:           {median_ms(lambda: backend.pose(image, box), args.repeat):.1f} ms")
    x = crop_input(image, *box_center_size(box))
    print(f"pre-processing (warp + normalise):  {median_ms(lambda: crop_input(image, *box_center_size(box)), args.repeat):.2f} ms")
    print(f"network forward alone (batch 1):    {median_ms(lambda: backend.heatmaps(x), args.repeat):.1f} ms")


if __name__ == "__main__":
    main()
