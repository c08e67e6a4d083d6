"""Live preview figures in the real window, offscreen: frame rate at 512² and joint-drag → animation latency.

    python bench/preview.py [FILE] [--size 512] [--frames 240] [--drags 40]

FILE: an image, character folder or project (default: the built-in sample). Prints
  - the preview's frame rate: frames rendered (deform + raster + QImage) and painted in the window, per second;
  - the latency from a joint drag (a real mouse move on the canvas) to the updated animation on screen, median
    and 90th percentile over --drags moves, each waited for before the next;
  - the rebuild's stages for one drag (ARAP refactorisation, retarget), from the preview engine's timings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from studio.core.settings import AppSettings  # noqa: E402
from studio.ui.app import create_app, wait_for_preview  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=240, help="frames to render for the frame rate")
    parser.add_argument("--drags", type=int, default=40)
    args = parser.parse_args()
    os.environ["STUDIO_CONFIG_DIR"] = str(Path("/tmp") / f"studio-bench-{os.getpid()}")
    _, window = create_app(args.file, settings=AppSettings(), offscreen=True)
    w = window
    w.show()  # type: ignore[attr-defined]
    c = w.controller  # type: ignore[attr-defined]
    if not wait_for_preview(window):
        sys.exit("bench/preview.py: the preview did not come up")
    c.set_size(args.size)
    QApplication.processEvents()
    wait_for_preview(window)
    time.sleep(0.3)
    wait_for_preview(window)
    preview = w.preview  # type: ignore[attr-defined]
    preview.set_playing(False)
    animation = preview.animation
    print(f"character {animation.character.width}×{animation.character.height} px, mesh "
          f"{len(animation.rig.mesh.vertices)} vertices / {len(animation.rig.mesh.triangles)} triangles, "
          f"motion {c.doc.preview.motion} ({animation.n_frames} frames), preview {animation.width}×{animation.height}")

    times = []
    for i in range(args.frames):
        tick = time.perf_counter()
        preview.show_frame(i % animation.n_frames)
        preview.view.repaint()  # paint now, synchronously, as the screen would
        times.append(time.perf_counter() - tick)
    per = statistics.median(times)
    print(f"preview frame (render + paint) median {per * 1000:.2f} ms → {1 / per:.0f} fps "
          f"(p90 {sorted(times)[int(0.9 * len(times))] * 1000:.2f} ms); target ≥ 60 fps")

    canvas = w.canvas  # type: ignore[attr-defined]
    w.set_tool("joints")  # type: ignore[attr-defined]
    QApplication.processEvents()
    skeleton = c.doc.skeleton
    joint = skeleton.names.index("left_hand") if "left_hand" in skeleton.names else len(skeleton.names) - 1
    start = canvas.to_widget(*skeleton.joints[joint]).toPoint()
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    latencies, stages = [], []
    for i in range(args.drags):
        offset = QPoint(int(25 * __import__("math").sin(i / 4)), -int(2 * i % 30))
        before = c.animation
        tick = time.perf_counter()
        QTest.mouseMove(canvas, start + offset)
        while c.animation is before and time.perf_counter() - tick < 5:
            QApplication.processEvents()
            time.sleep(0.0005)
        latencies.append(time.perf_counter() - tick)
        stages.append({**c.engine.timings, "vertices": len(c.animation.rig.mesh.vertices)})
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start + offset)
    latencies.sort()
    print(f"joint drag → updated animation: median {statistics.median(latencies) * 1000:.1f} ms, "
          f"p90 {latencies[int(0.9 * len(latencies))] * 1000:.1f} ms over {len(latencies)} moves; target ≤ 50 ms")
    print(f"  while dragging, the preview uses a draft mesh of {stages[-1]['vertices']} vertices "
          "(full quality again on release)")
    for key in ("arap_factorise", "mesh", "retarget", "total"):
        values = [s[key] for s in stages if key in s]
        if values:
            print(f"  rebuild stage {key}: median {statistics.median(values) * 1000:.1f} ms")
    c.forget_changes()
    w.close()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
