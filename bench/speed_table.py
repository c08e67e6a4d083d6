"""Issue 16's table in one run: the issue's job done fresh from the shell and in one process, its parts, and AD's
stock figures beside ours.

    .venv/bin/python bench/speed_table.py [--repeat 5] [--data ../shared/data] [--mp4-frames 504]

The job is AD's char3 + dab.bvh with AD's configs (339 frames, 500², GIF). AD's char3 is not in ../shared, so
char2 + dab (also 339 frames at 500²) stands in, and there is no AD install here: AD's figures are the ones
measured on this machine type for char3 (26.6 s on a quiet day, 732 MB; its GIF 5.56 MB), quoted, not measured.
For the GIF, a stand-in for AD's own writer is measured: our frames of the same job written as AD writes them
(bench/gif_encode.py's write_ad_standin: Pillow, a palette per frame, disposal 2).
Every row is a median of --repeat fresh processes or runs; the machine is noisy, so read ratios and rerun.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cold_start import RENDER_IMPORTS, commands, import_seconds, run_rss  # noqa: E402

AD_RENDER_S, AD_RENDER_MB, AD_GIF_MB = 26.6, 732, 5.56  # AD stock, char3 + dab, this machine type (issue 16)

KERNELS = """
import time
from studio.core.motion_source import load_motion
from studio.core.render import Animation, Background
from studio.core.render_job import export_animation
from studio.core.sample import sample_character
import tempfile, pathlib
animation = Animation(sample_character(), load_motion('wave', sample_character()), (48, 48), frames=3)
out = pathlib.Path(tempfile.mkdtemp())
t0 = time.perf_counter(); export_animation(animation, out / 'a.gif', Background())
t1 = time.perf_counter(); export_animation(animation, out / 'b.gif', Background())
t2 = time.perf_counter(); print((t1 - t0) - (t2 - t1))
"""


def median_of(n: int, run: object) -> float:
    return statistics.median(run() for _ in range(n))  # type: ignore[operator]


def fresh(args: list[str], n: int, python: str | None) -> tuple[float, float]:
    """Median wall s and peak RSS MB of ``studio ARGS`` in fresh processes (one discarded run first): this
    checkout's studio, or the one installed for ``python``."""
    tree = ROOT if python is None else None
    run_rss(tree, args, python or sys.executable)
    runs = [run_rss(tree, args, python or sys.executable) for _ in range(n)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def in_process(data: Path, n: int, folder: Path) -> dict[str, float]:
    """bench/render.py's stages for the job, medians of n runs in this process (after one warm run)."""
    from render import run_once

    ad = data / "ad_config"
    job = argparse.Namespace(character=str(data / "characters" / "char2"), bvh=str(data / "bvh" / "fair1_dab.bvh"),
                             motion_config=str(ad / "motion" / "dab.yaml"),
                             retarget=str(ad / "retarget" / "fair1_ppf.yaml"), frames=None, size=500)
    run_once(job, folder / "warm.gif")
    runs = [run_once(job, folder / f"run{i}.gif") for i in range(n)]
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def gif_sizes(data: Path, ours: Path, folder: Path) -> tuple[float, float]:
    """(our GIF's KiB, the AD stand-in's KiB) for the job: the stand-in writes our own frames of it AD's way."""
    from gif_encode import ad_frame, write_ad_standin

    from studio.core.motion_source import load_motion
    from studio.core.render import Animation
    from studio.pipeline.character import read_character
    from studio.pipeline.encode.gif import GIF_MAX_FPS

    ad = data / "ad_config"
    character = read_character(data / "characters" / "char2")
    source = load_motion(str(ad / "motion" / "dab.yaml"), character, str(ad / "retarget" / "fair1_ppf.yaml"),
                         str(data / "bvh" / "fair1_dab.bvh"))
    animation = Animation(character, source, (500, 500), None, max_fps=GIF_MAX_FPS)
    frames = [ad_frame(animation.render_rgba(k)) for k in range(animation.n_frames)]
    standin = write_ad_standin(folder / "ad.gif", frames, round(animation.frame_time * 1000))
    return ours.stat().st_size / 1024, standin / 1024


def mp4_rate(frames: int, folder: Path, n: int) -> float:
    """Frames/s of a whole MP4 export (render + encode) of the sample's dance, ``frames`` frames at 500²."""
    from studio.core.motion_source import load_motion
    from studio.core.render import Animation, Background
    from studio.core.render_job import export_animation
    from studio.core.sample import sample_character

    character = sample_character()
    animation = Animation(character, load_motion("dance", character), (500, 500), frames)
    export_animation(animation, folder / "warm.mp4", Background(colour=(255, 255, 255)))

    def once() -> float:
        started = time.perf_counter()
        export_animation(animation, folder / "clip.mp4", Background(colour=(255, 255, 255)))
        return animation.n_frames / (time.perf_counter() - started)
    return median_of(n, once)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--mp4-frames", type=int, default=504)
    parser.add_argument("--python", help="the fresh-process rows run the studio installed for this interpreter (a "
                        "user's venv, e.g. the wheel installed in a new venv: no test tools, so no scipy, which "
                        "numba imports when present) instead of this checkout")
    args = parser.parse_args()
    n, python = args.repeat, args.python
    with tempfile.TemporaryDirectory(prefix="speed_table_") as tmp:
        folder = Path(tmp)
        jobs = commands(args.data, folder)
        rows: list[tuple[str, str, str, str]] = []
        wall, rss = fresh(jobs["render char2 + dab"], n, python)
        rows.append(("fresh `studio render` (char2 + dab)", f"{wall:.2f} s, {rss:.0f} MB",
                     f"{AD_RENDER_S} s, {AD_RENDER_MB} MB (char3, quoted)", f"≤ 1.0 s: {AD_RENDER_S / wall:.0f}× AD"))
        imports = median_of(n, lambda: import_seconds(None if python else ROOT, RENDER_IMPORTS, python or sys.executable))
        rows.append(("imports before any work", f"{imports:.3f} s", "", "≤ 0.3 s"))
        kernels = median_of(n, lambda: float(subprocess.run([python or sys.executable, "-c", KERNELS],
                                                            cwd=ROOT if python is None else folder, check=True,
                                                            capture_output=True, text=True).stdout.split()[-1]))
        rows.append(("loading the numba kernels from cache", f"{kernels:.3f} s", "", ""))
        for label, cli in (("fresh `studio --help`", jobs["studio --help"]), ("fresh `studio motions`",
                                                                             jobs["studio motions"])):
            rows.append((label, f"{fresh(cli, n, python)[0]:.3f} s", "", "≤ 0.3 s"))
        garlic = args.data / "drawings" / "garlic.png"
        if garlic.is_file():
            wall, rss = fresh(["pose", str(garlic), "--backend", "embedded"], n, python)
            rows.append(("fresh `studio pose` (embedded, garlic.png)", f"{wall:.2f} s, {rss:.0f} MB", "", "≤ 0.5 s"))
        # In-process rows last: a child forked from a big parent reports the parent's pages as its peak RSS.
        stages = in_process(args.data, n, folder)
        rows.insert(1, ("same, in one process (bench/render.py)",
                        f"{stages['total']:.2f} s: setup {stages['setup']:.2f}, framing {stages['framing']:.2f}, "
                        f"render+encode {stages['render+encode']:.2f}", "", ""))
        ours_kib, ad_kib = gif_sizes(args.data, folder / "char2_dab.gif", folder)
        rows.append(("GIF size (char2 + dab, transparent)", f"{ours_kib / 1024:.2f} MB",
                     f"{ad_kib / 1024:.2f} MB (AD's writer on our frames); {AD_GIF_MB} MB for char3 (quoted)",
                     f"≤ AD's: {ours_kib / ad_kib:.2f}×"))
        rate = mp4_rate(args.mp4_frames, folder, max(1, n // 2))
        rows.append((f"MP4 export, {args.mp4_frames} frames at 500² (sample dance)", f"{rate:.0f} frames/s", "",
                     "≥ 150 frames/s"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("", "this project", "AD stock", "target")
    where = f"the studio installed for {python}" if python else "this checkout's studio in its dev venv"
    print(f"Issue 16's job on this machine, medians of {n}; fresh processes run {where}:\n")
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(cell.ljust(w) for cell, w in zip(r, widths)))
    print("\nMore detail: bench/cold_start.py (fresh commands, imports by package), bench/render.py (stages), "
          "bench/first_run.py (a new machine's first run, the window's first preview), bench/gif_encode.py --jobs, "
          "bench/mp4_encode.py, bench/pose_torch.py (--backend torch, phase by phase).")


if __name__ == "__main__":
    main()
