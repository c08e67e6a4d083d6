"""Exports from the studio: one motion to any export format (render_job.EXPORT_FORMATS), all motions with
results.json, a whole scene, and estimates."""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from studio.core.document import ExportSettings
from studio.core.scene import Scene
from studio.core.motion_source import load_motion
from studio.pipeline.files.atomic import ExportCancelled, atomic_write_path
from studio.pipeline.character import Character
from studio.pipeline.encode.gif import gif_safe_frame_count
from studio.pipeline.deform.rig import Rig
from studio.pipeline.progress import Cancel, Progress
from studio.core.render import Animation, parse_background
from studio.core.render_job import EXPORT_FORMATS, export_animation, output_files

SUFFIX = {kind: f.suffix for kind, f in EXPORT_FORMATS.items()}


def export_animation_for(character: Character, motion: str, settings: ExportSettings, frames: int | None,
                         rig: Rig | None = None) -> Animation:
    """The Animation an export writes: the export's size and frame count (GIFs capped at 50 fps, APNGs at 90)."""
    source = load_motion(motion, character)
    return Animation(character, source, (settings.size, settings.size), settings.frames or frames, rig=rig,
                     max_fps=EXPORT_FORMATS[settings.kind].max_fps)


def motion_name(motion: str) -> str:
    """A motion's name for files and sprite sheet tags: 'dab' for 'dab', 'dab.motion.yaml' or '/x/dab.bvh'."""
    return Path(motion).stem.removesuffix(".motion")


def export_motion(character: Character, motion: str, settings: ExportSettings, output: Path,
                  frames: int | None = None, rig: Rig | None = None, progress: Progress | None = None,
                  cancel: Cancel | None = None) -> Path:
    """Write ``motion`` on ``character`` to ``output`` as ``settings.kind`` (atomic: a cancelled export leaves
    nothing). Returns ``output``; ``output_files`` names every file written (a sprite sheet's JSON too)."""
    animation = export_animation_for(character, motion, settings, frames, rig)
    export_animation(animation, Path(output), parse_background(settings.background), progress, cancel,
                     settings.kind, motion_name(motion))
    return Path(output)


def export_scene_file(scene: Scene, settings: ExportSettings, output: Path, own: Character | None = None,
                      progress: Progress | None = None, cancel: Cancel | None = None) -> Path:
    """Write the whole ``scene`` (on its own background) to ``output`` as ``settings.kind``, atomically, at
    ``settings.size`` px on its longer side and ``settings.frames`` frames (None: the scene's own); ``own`` is the
    drawing its 'project' characters stand for. A sprite sheet tags its frames with the file's name."""
    from studio.core.scene_commands import scene_size
    from studio.core.scene_job import export_scene
    from studio.core.scene_render import SceneAnimation

    output = Path(output)
    animation = SceneAnimation(scene, scene_size(scene, settings.size), settings.frames,
                               EXPORT_FORMATS[settings.kind].max_fps, own)
    export_scene(animation, output, progress, cancel, settings.kind, output.stem)
    return output


def export_all(character: Character, motions: list[str], settings: ExportSettings, folder: Path,
               frames: int | None = None, progress: Progress | None = None, cancel: Cancel | None = None,
               ) -> dict[str, str]:
    """Every motion into ``folder`` as NAME.gif (or NAME.mp4, NAME/ PNG frames, NAME.webm, NAME.apng, NAME.png and
    NAME.json for a sprite sheet), plus results.json mapping ``{motion: file name}``. The rig is built once.
    Progress counts frames over all motions."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rig = Rig.build(character)
    animations = {m: export_animation_for(character, m, settings, None, rig) for m in motions}
    total, done = sum(a.n_frames for a in animations.values()), 0
    background = parse_background(settings.background)
    results: dict[str, str] = {}
    for motion, animation in animations.items():
        name = motion_name(motion) + SUFFIX[settings.kind]
        base = done

        def step(k: int, n: int, base: int = base) -> None:
            if progress is not None:
                progress(base + k, total)

        export_animation(animation, folder / name, background, step, cancel, settings.kind, motion_name(motion))
        done += animation.n_frames
        results[motion_name(motion)] = name
    with atomic_write_path(folder / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2) + "\n")
    return results


@dataclass(frozen=True)
class Estimate:
    """What an export will cost: seconds of work, the output's size in bytes (GIFs only, else None), and the
    frames it will have."""

    seconds: float
    size_bytes: int | None
    frames: int


@dataclass
class _Run:
    """Clock readings of one short export: when it started, when each frame was handed to the writer, when the
    output was done."""

    started: float
    frames_done: list[float]
    finished: float = 0.0

    def seconds(self, n: int) -> float:
        """The run's cost grown to ``n`` frames: all of it once (the per-file costs: quantising the texture, opening
        the writer or starting ffmpeg; the frames the writer still holds at the end, and closing it), plus, for each
        further frame, the run's per-frame pace between its first and last frame handed over (a mean: PNG
        frames are reported in bursts as worker threads finish them)."""
        k = len(self.frames_done)
        per_frame = (self.frames_done[-1] - self.frames_done[0]) / (k - 1) if k > 1 else self.finished - self.started
        return self.finished - self.started + per_frame * (n - k)


def estimate_export(animation: Animation, kind: str = "gif", background: str = "transparent", run: int = 12,
                    cancel: Cancel | None = None) -> Estimate:
    """Estimate exporting ``animation`` as ``kind`` (a key of EXPORT_FORMATS; GIFs capped at 50 fps and APNGs at 90,
    as the export caps them) by really writing two short runs of ``run`` consecutive frames (from the start and the
    middle) with the product's writer.

    Time: what ``export_motion`` will spend, measured: building the rig (done here too), retargeting and framing
    (as timed when ``animation`` was built), then the runs' per-file and steady per-frame costs. Each run follows
    a one-frame export, so the kernels are warm (compiled, or loaded from numba's cache) and the first frames'
    cost is not scaled up: runs of 4 frames that each quantised the texture once put a 0.6 s GIF export of garlic
    at 512² (109 frames) at 7.8 s. MP4s and PNG frames take 2-3× a GIF's time: each kind is timed with its writer.
    Size (GIF): the first frame is written whole, later ones as the rectangle that changed, as in the real file."""
    cap = EXPORT_FORMATS[kind].max_fps
    n = gif_safe_frame_count(animation.n_frames, animation.frame_time, cap) if cap else animation.n_frames
    tick = time.perf_counter()
    Rig.build(animation.character)  # export_motion builds its own rig: part of the wait
    setup = time.perf_counter() - tick + sum(animation.timings.get(stage, 0.0) for stage in ("retarget", "framing"))
    bg = parse_background(background)
    total = animation.n_frames
    starts = sorted({0, max(0, total // 2 - run // 2)})
    sizes, firsts, runs = [], [], []
    with tempfile.TemporaryDirectory(prefix="studio-estimate-") as tmp:
        for i, start in enumerate(starts):
            frames = list(range(start, min(total, start + run)))
            single = Path(tmp) / f"first{i}{SUFFIX[kind]}"
            export_animation(_SubAnimation(animation, frames[:1]), single, bg, cancel=cancel,  # type: ignore[arg-type]
                             kind=kind)
            clock = _Run(time.perf_counter(), [])
            target = Path(tmp) / f"run{i}{SUFFIX[kind]}"
            export_animation(_SubAnimation(animation, frames), target, bg,  # type: ignore[arg-type]
                             lambda k, m: clock.frames_done.append(time.perf_counter()), cancel, kind)
            clock.finished = time.perf_counter()
            runs.append(clock)
            if kind == "gif":
                firsts.append(os.path.getsize(single))
                if len(frames) > 1:
                    sizes.append((os.path.getsize(target) - firsts[-1]) / (len(frames) - 1))
    size = int(firsts[0] + max(sizes, default=0.0) * (n - 1)) if kind == "gif" else None
    seconds = setup + sum(r.seconds(n) for r in runs) / len(runs)
    return Estimate(seconds=float(seconds), size_bytes=size, frames=n)


def estimate_gif(animation: Animation, background: str = "transparent", run: int = 12,
                 cancel: Cancel | None = None) -> Estimate:
    """``estimate_export`` for a GIF."""
    return estimate_export(animation, "gif", background, run, cancel)


class _SubAnimation:
    """A few frames of an Animation, duck-typed for export_animation (shares its rig, pose and camera)."""

    def __init__(self, animation: Animation, frames: list[int]) -> None:
        self._a, self._frames = animation, frames
        self.character, self.width, self.height = animation.character, animation.width, animation.height
        self.frame_time = animation.frame_time
        self.n_frames = len(frames)
        self.deform_times = animation.deform_times[:0]

    def render_indexed(self, k: int, texture_idx, background, out=None):  # type: ignore[no-untyped-def]
        return self._a.render_indexed(self._frames[k], texture_idx, background, out)

    def render_rgba(self, k: int, background=None):  # type: ignore[no-untyped-def]
        return self._a.render_rgba(self._frames[k], background)

    def render_premultiplied(self, k: int):  # type: ignore[no-untyped-def]
        return self._a.render_premultiplied(self._frames[k])


__all__ = ["export_motion", "export_all", "export_scene_file", "export_animation_for", "estimate_export",
           "estimate_gif", "Estimate",
           "ExportCancelled", "EXPORT_FORMATS", "output_files", "motion_name"]
