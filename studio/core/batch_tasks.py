"""The two kinds of work a batch hands its worker processes: prepare a drawing (see what is already finished with
this run's settings, and annotate it once when something is left to render) and produce one motion (render it
unless it is finished, then say where it is). Both return a picklable outcome with a one-line error instead of
raising, so that one drawing's failure never stops the batch."""

from __future__ import annotations

import functools
import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from studio.core.batch_input import Drawing, fetch
from studio.core.batch_store import CHARACTER, RECORD, RESULTS, Destination
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
    share: bool = False


@dataclass
class RenderRecord:
    """render-settings.json, beside a drawing's outputs: the settings its character folder was annotated with and
    each output file rendered with. An output is finished only when it is there and its entry equals this run's
    settings; an entry is dropped before its file is replaced, so a run stopped half-way never vouches for it."""

    character: dict[str, Any] | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # file name: settings

    @classmethod
    def decode(cls, value: Any) -> RenderRecord:
        """The record in a JSON value; an unreadable one is empty (everything is made again)."""
        if not isinstance(value, dict):
            return cls()
        character, outputs = value.get("character"), value.get("outputs")
        return cls(character if isinstance(character, dict) else None,
                   {str(k): v for k, v in outputs.items() if isinstance(v, dict)} if isinstance(outputs, dict) else {})

    def encode(self) -> dict[str, Any]:
        return {"character": self.character, "outputs": dict(sorted(self.outputs.items()))}


@dataclass
class Prepared:
    """What is left of one drawing: ``todo`` the motions to render (True) or only to locate (False, the output is
    finished but results.json lacks it); ``recorded`` results.json's entries that stand, ``previous`` the
    results.json found; ``record`` the drawing's RenderRecord as it now stands; ``changed`` why finished outputs are
    rendered again (one phrase per changed setting); ``character`` the local character folder the renders use (None
    when nothing is left to render)."""

    name: str
    todo: dict[str, bool] = field(default_factory=dict)
    recorded: dict[str, str] = field(default_factory=dict)
    previous: dict[str, str] = field(default_factory=dict)
    record: RenderRecord = field(default_factory=RenderRecord)
    made_with: dict[str, dict[str, Any]] = field(default_factory=dict)  # motion name: its output's settings
    changed: list[str] = field(default_factory=list)
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
    made_with: dict[str, Any] = field(default_factory=dict)


@dataclass
class Produced:
    """One motion of one drawing: where it is (results.json's entry), whether this run rendered it (then
    ``filename`` and ``made_with`` are its RenderRecord entry), or why not."""

    name: str
    motion: str
    location: str | None = None
    rendered: bool = False
    error: str | None = None
    filename: str = ""
    made_with: dict[str, Any] = field(default_factory=dict)


def annotation_settings(backend: BackendSpec) -> dict[str, Any]:
    """What shapes a drawing's character folder: the pose backend ("auto" as it resolves here) and its model, not
    its token or deadline."""
    from studio.core.annotate import auto_backend_name

    name = auto_backend_name(backend.endpoint) if backend.name == "auto" else backend.name
    return {"backend": name, "endpoint": backend.endpoint,
            "checkpoint": None if backend.checkpoint is None else _identity(backend.checkpoint)}


def output_settings(motion: Motion, settings: RenderSettings, annotation: dict[str, Any]) -> dict[str, Any]:
    """What shapes one output file: its motion, the render settings and the character folder it was posed from.
    Files (a .bvh, a background image, a checkpoint) count by their contents, not their paths."""
    return {"motion": _identity(motion.spec), "format": settings.format, "size": list(settings.size),
            "frames": settings.frames, "background": _identity(settings.background), "camera": settings.camera,
            "annotation": annotation}


def _identity(text: str) -> str:
    path = Path(text.strip())
    if not path.is_file():
        return text.strip()
    stat = path.stat()
    return _digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    """A file's contents in short, once per process while its size and time stay the same."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return f"file sha256:{digest.hexdigest()[:16]}"


def changes(old: dict[str, Any] | None, new: dict[str, Any], prefix: str = "") -> list[str]:
    """Why an output made with ``old`` settings is not one made with ``new``: "size 200x200 -> 400x400", ..."""
    if old is None:
        return ["no settings on record"]
    out: list[str] = []
    for key in dict.fromkeys([*new, *old]):
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            out.extend(changes(before, after, f"{prefix}{key} "))
        elif before != after:
            out.append(f"{prefix}{key} {_shown(before)} -> {_shown(after)}")
    return out


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "x".join(map(str, value))
    return "none" if value is None else str(value)


def _results(value: Any) -> dict[str, str]:
    """results.json's mapping, or {} when it is unreadable (then it is written again)."""
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return {str(k): v for k, v in value.items()}
    return {}


def _locates(location: str, filename: str, share: bool) -> bool:
    """Whether a results.json entry is this output's, as this run writes it (a presigned link with --share)."""
    linked = location.startswith(("http://", "https://"))
    path = unquote(urlsplit(location).path) if linked else location
    return linked == share and PurePosixPath(path).name == filename


_BACKENDS: dict[BackendSpec, PoseBackend] = {}  # a worker loads its model once, not once per drawing


def _backend(spec: BackendSpec) -> PoseBackend:
    if spec not in _BACKENDS:
        from studio.core.annotate import make_backend

        _BACKENDS[spec] = make_backend(spec.name, spec.endpoint, spec.checkpoint, spec.token, spec.deadline)
    return _BACKENDS[spec]


def output_name(motion: Motion, settings: RenderSettings) -> str:
    return f"{motion.name}{settings.suffix}"


def prepare_drawing(job: PrepareJob) -> Prepared:
    """See which of the drawing's outputs are finished with this run's settings; when any is left to render, take
    the character folder an earlier run kept with the same annotation settings, or annotate the drawing (fetched from
    S3 if need be) and keep its folder."""
    name = job.drawing.name
    try:
        store = job.destination.open(job.scratch)
        finished = store.finished(name)
        previous = _results(store.read_json(name, RESULTS)) if RESULTS in finished else {}
        record = RenderRecord.decode(store.read_json(name, RECORD)) if RECORD in finished else RenderRecord()
        annotation = annotation_settings(job.backend)
        prepared = Prepared(name, previous=previous, record=record)
        redo: set[str] = set()
        for motion in job.motions:
            filename = output_name(motion, job.settings)
            made_with = prepared.made_with[motion.name] = output_settings(motion, job.settings, annotation)
            if filename in finished and record.outputs.get(filename) != made_with:
                redo.add(filename)
                prepared.changed.extend(c for c in changes(record.outputs.get(filename), made_with)
                                        if c not in prepared.changed)
            if filename not in finished or filename in redo:
                prepared.todo[motion.name] = True
            elif motion.name in previous and _locates(previous[motion.name], filename, job.share):
                prepared.recorded[motion.name] = previous[motion.name]
            else:
                prepared.todo[motion.name] = False
        if not any(prepared.todo.values()):
            return prepared
        reuse = record.character == annotation
        prepared.record = RenderRecord(annotation if reuse else None,
                                       {f: s for f, s in record.outputs.items() if f not in redo})
        if prepared.record != record:  # forget what is about to be replaced before replacing it
            store.write_json(name, RECORD, prepared.record.encode())
        kept = store.character(name) if reuse else None
        if kept is not None:
            prepared.character = str(kept)
            return prepared
        from studio.core.annotate import annotate, write_annotation

        download = job.scratch / "in" / name
        image = fetch(job.drawing.source, download, job.destination.access)
        annotation_made = annotate(image, _backend(job.backend))
        folder = write_annotation(annotation_made, store.work_dir(name) / CHARACTER)
        store.keep_character(name, folder)
        shutil.rmtree(download, ignore_errors=True)
        prepared.record.character = annotation
        store.write_json(name, RECORD, prepared.record.encode())
        prepared.character, prepared.annotated, prepared.notes = str(folder), True, list(annotation_made.notes)
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
        return Produced(job.name, job.motion.name, store.location(job.name, filename, job.share), job.render,
                        filename=filename, made_with=job.made_with if job.render else {})
    except Exception as exc:  # noqa: BLE001 - reported per drawing; the batch goes on
        return Produced(job.name, job.motion.name, error=f"{job.motion.name}: {describe_error(exc)}")
