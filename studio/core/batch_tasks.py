"""The two kinds of work a batch hands its worker processes: prepare a drawing (see what is already finished, and
annotate it once when something is left to render) and produce one motion (render it unless it is finished, then
say where it is). Both return a picklable outcome with a one-line error instead of raising, so that one drawing's
failure never stops the batch."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.batch_names import BATCH_FORMATS
from studio.core.batch_store import CHARACTER, RESULTS, Destination, Drawing, fetch
from studio.core.loading import describe_error
from studio.core.render_job import EXPORT_FORMATS
from studio.pipeline.pose.backend import PoseBackend



@dataclass(frozen=True)
class BackendSpec:
    """The pose backend a worker builds for annotation (see studio.core.annotate.make_backend)."""

    name: str = "auto"
    endpoint: str | None = None
    checkpoint: str | None = None
    token: str | None = None
    deadline: float | None = None


@dataclass(frozen=True)
class RenderSettings:
    """How every motion of the batch is rendered: ``format`` one of BATCH_FORMATS, ``background`` as
    ``studio render --background`` takes it."""

    size: tuple[int, int] = (500, 500)
    frames: int | None = None
    background: str = "transparent"
    format: str = "gif"
    camera: str = "ad"

    @property
    def suffix(self) -> str:
        return EXPORT_FORMATS[self.format].suffix


@dataclass(frozen=True)
class Motion:
    """A motion of the batch: ``name`` keys results.json and names the output file; ``spec`` is what
    ``studio render --motion`` takes (a bundled name, a .bvh or an AD motion config)."""

    name: str
    spec: str


@dataclass(frozen=True)
class PrepareJob:
    drawing: Drawing
    motions: tuple[Motion, ...]
    settings: RenderSettings
    destination: Destination
    backend: BackendSpec
    scratch: Path


@dataclass
class Prepared:
    """What is left of one drawing: ``todo`` the motions to render (True) or only to locate (False, the output is
    there but results.json lacks it); ``recorded`` results.json's entries that stand; ``character`` the local
    character folder the renders use (None when nothing is left to render)."""

    name: str
    todo: dict[str, bool] = field(default_factory=dict)
    recorded: dict[str, str] = field(default_factory=dict)
    character: str | None = None
    annotated: bool = False
    notes: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class MotionJob:
    name: str
    motion: Motion
    render: bool
    character: str | None
    settings: RenderSettings
    destination: Destination
    scratch: Path
    share: bool


@dataclass
class Produced:
    """One motion of one drawing: where it is (results.json's entry), whether this run rendered it, or why not."""

    name: str
    motion: str
    location: str | None = None
    rendered: bool = False
    error: str | None = None


_BACKENDS: dict[BackendSpec, PoseBackend] = {}  # a worker loads its model once, not once per drawing


def _backend(spec: BackendSpec) -> PoseBackend:
    if spec not in _BACKENDS:
        from studio.core.annotate import make_backend

        _BACKENDS[spec] = make_backend(spec.name, spec.endpoint, spec.checkpoint, spec.token, spec.deadline)
    return _BACKENDS[spec]


def output_name(motion: Motion, settings: RenderSettings) -> str:
    return f"{motion.name}{settings.suffix}"


def prepare_drawing(job: PrepareJob) -> Prepared:
    """See which of the drawing's outputs are finished; when any is left to render, take the character folder an
    earlier run kept, or annotate the drawing (fetched from S3 if need be) and keep its folder."""
    name = job.drawing.name
    try:
        store = job.destination.open(job.scratch)
        finished = store.finished(name)
        recorded = store.read_results(name) if RESULTS in finished else {}
        todo = {m.name: output_name(m, job.settings) not in finished for m in job.motions
                if not (output_name(m, job.settings) in finished and m.name in recorded)}
        prepared = Prepared(name, todo, {k: v for k, v in recorded.items() if k not in todo})
        if not any(todo.values()):
            return prepared
        kept = store.character(name)
        if kept is not None:
            prepared.character = str(kept)
            return prepared
        from studio.core.annotate import annotate, write_annotation

        download = job.scratch / "in" / name
        image = fetch(job.drawing.source, download, job.destination.access)
        annotation = annotate(image, _backend(job.backend))
        folder = write_annotation(annotation, store.work_dir(name) / CHARACTER)
        store.keep_character(name, folder)
        shutil.rmtree(download, ignore_errors=True)
        prepared.character, prepared.annotated, prepared.notes = str(folder), True, list(annotation.notes)
        return prepared
    except Exception as exc:  # noqa: BLE001 - reported per drawing; the batch goes on
        return Prepared(name, error=describe_error(exc))


def produce_motion(job: MotionJob) -> Produced:
    """Render one motion of one drawing unless its output is finished (written atomically, then kept by the store),
    and return its results.json entry."""
    filename = output_name(job.motion, job.settings)
    try:
        store = job.destination.open(job.scratch)
        if job.render:
            from studio.core.render import parse_background
            from studio.core.render_job import RenderRequest, render_to_file

            if job.character is None:
                raise RuntimeError("no character to render")  # prepare_drawing always gives one: a bug otherwise
            target = store.work_dir(job.name) / filename
            target.parent.mkdir(parents=True, exist_ok=True)
            settings = job.settings
            render_to_file(RenderRequest(character=job.character, motion=job.motion.spec, output=target,
                                         frames=settings.frames, size=settings.size, camera=settings.camera,
                                         background=parse_background(settings.background)))
            store.publish(job.name, target)
        return Produced(job.name, job.motion.name, store.location(job.name, filename, job.share), job.render)
    except Exception as exc:  # noqa: BLE001 - reported per drawing; the batch goes on
        return Produced(job.name, job.motion.name, error=f"{job.motion.name}: {describe_error(exc)}")
