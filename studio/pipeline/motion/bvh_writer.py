"""BVH text written back out: a clip (resampled, authored or edited) as a file other tools read."""

from __future__ import annotations

from pathlib import Path

from studio.pipeline.files.atomic import atomic_write_path
from studio.pipeline.motion.bvh import Bvh


def format_bvh(bvh: Bvh, precision: int = 6) -> str:
    """BVH text for ``bvh``: tabs, End Sites restored, numbers with ``precision`` decimals."""
    out = ["HIERARCHY"]
    written: list[int] = []  # joints in the order their CHANNELS lines are written
    children: dict[int, list[int]] = {j: [] for j in range(len(bvh.names))}
    for j, p in enumerate(bvh.parents):
        if p >= 0:
            children[p].append(j)

    def emit(j: int, depth: int) -> None:
        pad = "\t" * depth
        offset = " ".join(f"{v:.{precision}f}" for v in bvh.offsets[j])
        if j in bvh.end_sites:
            out.extend([f"{pad}End Site", f"{pad}{{", f"{pad}\tOFFSET {offset}", f"{pad}}}"])
            return
        out.append(f"{pad}{'ROOT' if bvh.parents[j] < 0 else 'JOINT'} {bvh.names[j]}")
        out.append(f"{pad}{{")
        out.append(f"{pad}\tOFFSET {offset}")
        written.append(j)
        if bvh.channels[j]:
            out.append(f"{pad}\tCHANNELS {len(bvh.channels[j])} {' '.join(bvh.channels[j])}")
        for c in children[j]:
            emit(c, depth + 1)
        out.append(f"{pad}}}")

    emit(0, 0)
    out += ["MOTION", f"Frames: {bvh.n_frames}", f"Frame Time: {bvh.frame_time:.7g}"]
    # Motion columns follow the written hierarchy, which differs from bvh's order if that is not depth-first.
    starts = bvh.channel_offsets()
    columns = [starts[j] + c for j in written for c in range(len(bvh.channels[j]))]
    out += [" ".join(f"{v:.{precision}f}" for v in row) for row in bvh.motion[:, columns]]
    return "\n".join(out) + "\n"


def write_bvh(bvh: Bvh, path: str | Path, precision: int = 6) -> Path:
    """Write ``bvh`` atomically (temp file + rename)."""
    path = Path(path)
    with atomic_write_path(path) as tmp:
        tmp.write_text(format_bvh(bvh, precision), encoding="utf-8")
    return path

