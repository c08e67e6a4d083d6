"""Batch rendering: many drawings, each annotated once, all its motions rendered across worker processes, with
results.json per drawing (this run's motions), resuming from outputs finished with the same settings (others are
rendered again), and sharding as a Kubernetes Indexed Job.

The batch writes no scheduler of its own beyond one process pool: across machines, Kubernetes runs one pod per
shard (``JOB_COMPLETION_INDEX``), each taking every ``count``-th drawing of the same sorted list, so shards are
disjoint and together complete, and a rerun pod skips what is already finished.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from studio.core.batch_input import Drawing, list_drawings
from studio.core.batch_names import BATCH_FORMATS, COUNT_ENV, INDEX_ENV
from studio.core.batch_store import RECORD, RESULTS, BatchInputError, Destination, OutputStore, forget_clients, is_s3
from studio.core.batch_tasks import (BackendSpec, Motion, MotionJob, PrepareJob, Prepared, Produced, RenderRecord,
                                     RenderSettings, prepare_drawing, produce_motion)
from studio.pipeline.progress import Cancel

T = TypeVar("T")


class BatchCancelled(Exception):
    """The caller's cancel flag was set; finished outputs stay, unfinished ones were never published."""


@dataclass(frozen=True)
class Shard:
    """This process's part of the input: drawings ``index``, ``index + count``, ... of the sorted list."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise BatchInputError(f"the number of shards must be at least 1, not {self.count}")
        if not 0 <= self.index < self.count:
            raise BatchInputError(f"shard index {self.index} is out of range for {self.count} shards "
                                  f"(0 to {self.count - 1})")

    def take(self, items: Sequence[T]) -> list[T]:
        return list(items[self.index::self.count])

    @classmethod
    def from_env(cls, index: int | None = None, count: int | None = None,
                 environ: Mapping[str, str] = os.environ) -> Shard:
        """The shard given, else from JOB_COMPLETION_INDEX and STUDIO_BATCH_SHARDS, else the whole list."""
        index = _env_int(environ, INDEX_ENV) if index is None else index
        count = _env_int(environ, COUNT_ENV) if count is None else count
        if index is not None and count is None:
            raise BatchInputError(f"shard index {index} given without the number of shards: pass --shards N or set "
                                  f"{COUNT_ENV} (an Indexed Job's completions)")
        return cls(index or 0, count or 1)

    def __str__(self) -> str:
        return f"shard {self.index + 1} of {self.count}"


def _env_int(environ: Mapping[str, str], name: str) -> int | None:
    text = environ.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise BatchInputError(f"{name}={text!r} is not a whole number") from None


def batch_motions(specs: Sequence[str]) -> tuple[Motion, ...]:
    """The motions as given (bundled names, .bvh files, AD motion configs), each named for results.json and its
    output file; unknown names and two motions of one name are refused before any work."""
    from studio.core.motion_source import bundled_motions

    known = bundled_motions()
    motions: dict[str, Motion] = {}
    for spec in (s.strip() for s in specs):
        if not spec:
            continue
        path = Path(spec)
        if spec in known and not path.is_file():
            name = spec
        elif path.is_file():
            name = path.name.removesuffix(".yaml").removesuffix(".motion").removesuffix(".bvh")
        else:
            raise BatchInputError(f"unknown motion {spec!r}: give bundled names ({', '.join(known)}), .bvh files "
                                  "or AD motion configs")
        if name in motions:
            raise BatchInputError(f"two motions named {name!r}: {motions[name].spec} and {spec}")
        motions[name] = Motion(name, spec)
    if not motions:
        raise BatchInputError("no motions: pass --motions a,b,c")
    return tuple(motions.values())


@dataclass(frozen=True)
class BatchRequest:
    """A batch: drawings from ``source`` (folder, list file or s3:// prefix) to ``destination``, every motion each,
    on ``jobs`` worker processes; ``share`` puts presigned URLs in results.json."""

    source: str
    destination: Destination
    motions: tuple[Motion, ...]
    jobs: int = 1
    share: bool = False
    shard: Shard = field(default_factory=Shard)
    backend: BackendSpec = field(default_factory=BackendSpec)
    settings: RenderSettings = field(default_factory=RenderSettings)


@dataclass
class DrawingReport:
    """One drawing's outcome: ``status`` done (this run finished it), kept (finished before) or failed;
    ``changed`` the settings that differ from those its finished outputs were made with (they were made again)."""

    name: str
    source: str
    status: str = "kept"
    rendered: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    annotated: bool = False
    changed: list[str] = field(default_factory=list)
    results: str | None = None  # where results.json went, when this run wrote it
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class BatchReport:
    """The batch's outcome, one DrawingReport per drawing of this shard, in input order."""

    shard: Shard
    total: int  # drawings in the whole input, all shards
    drawings: list[DrawingReport]
    seconds: float = 0.0

    @property
    def failed(self) -> list[DrawingReport]:
        return [d for d in self.drawings if d.status == "failed"]

    def as_dict(self) -> dict[str, Any]:
        return {"shard": asdict(self.shard), "total": self.total, "seconds": round(self.seconds, 3),
                "drawings": [asdict(d) for d in self.drawings]}

    def summary(self) -> str:
        count = {s: sum(d.status == s for d in self.drawings) for s in ("done", "kept", "failed")}
        rendered = sum(len(d.rendered) for d in self.drawings)
        kept = sum(len(d.kept) for d in self.drawings)
        where = f"{self.shard}, " if self.shard.count > 1 else ""
        return (f"batch: {where}{len(self.drawings)} of {self.total} drawings: {count['done']} done, "
                f"{count['kept']} already finished, {count['failed']} failed; {rendered} motions rendered, {kept} "
                f"kept, in {self.seconds:.1f} s")


class InlineExecutor(Executor):
    """-j 1: each task runs in this process as it is submitted (no process start, the same code path)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed back through the future, as a pool would
            future.set_exception(exc)
        return future


def _executor(jobs: int) -> Executor:
    # spawn, not fork: the parent may hold boto3, numba or BLAS threads, which a forked child inherits broken
    return InlineExecutor() if jobs == 1 else ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))


@dataclass
class _Drawing:
    report: DrawingReport
    waiting: int = 0
    recorded: dict[str, str] = field(default_factory=dict)  # results.json's entries so far
    previous: dict[str, str] = field(default_factory=dict)  # results.json as found
    record: RenderRecord = field(default_factory=RenderRecord)


def run_batch(request: BatchRequest, on_drawing: Callable[[DrawingReport], None] | None = None,
              cancel: Cancel | None = None) -> BatchReport:
    """Run this shard of the batch. Each drawing is prepared (annotated once, if anything is left to render), then
    its motions are rendered as separate tasks, so ``jobs`` processes share one drawing's motions; results.json is
    written once all its motions are there. ``on_drawing`` hears each drawing as it ends. Raises BatchInputError
    (before any work) for an unusable input or output, BatchCancelled when ``cancel`` says so."""
    if request.jobs < 1:
        raise BatchInputError(f"-j must be at least 1, not {request.jobs}")
    if request.settings.format not in BATCH_FORMATS:
        raise BatchInputError(f"format {request.settings.format!r}: a batch writes one of {', '.join(BATCH_FORMATS)}")
    root = request.destination.root
    if not is_s3(root) and Path(root).exists() and not Path(root).is_dir():
        raise BatchInputError(f"{root}: exists and is not a folder")
    started = time.perf_counter()
    forget_clients()
    every = list_drawings(request.source, request.destination.access)
    mine = request.shard.take(every)
    states = {d.name: _Drawing(DrawingReport(d.name, d.source)) for d in mine}
    with tempfile.TemporaryDirectory(prefix="studio-batch-") as scratch:
        store = request.destination.open(Path(scratch))
        store.check()
        for state in _schedule(request, mine, states, store, Path(scratch), cancel):
            if on_drawing is not None:
                on_drawing(state.report)
    return BatchReport(request.shard, len(every), [states[d.name].report for d in mine],
                       time.perf_counter() - started)


def _schedule(request: BatchRequest, drawings: list[Drawing], states: dict[str, _Drawing], store: OutputStore,
              scratch: Path, cancel: Cancel | None) -> Iterator[_Drawing]:
    """Keep ``jobs`` tasks running, a drawing's motions before the next drawing's preparation; yield each drawing
    as it ends."""
    todo: deque[Drawing] = deque(drawings)
    ready: deque[MotionJob] = deque()
    pool = _executor(request.jobs)
    running: dict[Future[Any], PrepareJob | MotionJob] = {}
    try:
        while todo or ready or running:
            if cancel is not None and cancel():
                raise BatchCancelled("batch cancelled")
            while len(running) < request.jobs and (ready or todo):
                job: PrepareJob | MotionJob
                if ready:
                    job = ready.popleft()
                    running[pool.submit(produce_motion, job)] = job
                else:
                    job = PrepareJob(todo.popleft(), request.motions, request.settings, request.destination,
                                     request.backend, scratch, request.share)
                    running[pool.submit(prepare_drawing, job)] = job
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                job = running.pop(future)
                outcome = _outcome(future, job)
                if isinstance(outcome, Prepared):
                    state = states[outcome.name]
                    ready.extend(_prepared(request, state, outcome, scratch))
                else:
                    state = states[outcome.name]
                    _produced(state, outcome, store)
                if state.waiting == 0:
                    _finish(state, store, request.motions)
                    shutil.rmtree(scratch / state.report.name, ignore_errors=True)
                    yield state
            if any(isinstance(f.exception(), BrokenProcessPool) for f in done if not f.cancelled()):
                pool.shutdown(wait=True)  # a worker died: the rest goes on in a fresh pool
                pool = _executor(request.jobs)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _outcome(future: Future[Any], job: PrepareJob | MotionJob) -> Prepared | Produced:
    """The task's outcome; a worker that died (killed, out of memory, a crash in native code) fails its drawing."""
    try:
        result: Prepared | Produced = future.result()
        return result
    except BrokenProcessPool:
        reason = "a worker process died (out of memory, killed, or a crash in native code)"
    except Exception as exc:  # noqa: BLE001 - the tasks return errors; anything raised here is unexpected
        reason = f"unexpected {type(exc).__name__}: {exc}"
    if isinstance(job, PrepareJob):
        return Prepared(job.drawing.name, error=reason)
    return Produced(job.name, job.motion.name, error=f"{job.motion.name}: {reason}")


def _prepared(request: BatchRequest, state: _Drawing, prepared: Prepared, scratch: Path) -> list[MotionJob]:
    report = state.report
    report.notes.extend(prepared.notes)
    report.annotated = prepared.annotated
    if prepared.error is not None:
        report.errors.append(prepared.error)
        return []
    state.recorded, state.previous, state.record = dict(prepared.recorded), prepared.previous, prepared.record
    report.changed = list(prepared.changed)
    report.kept = [m.name for m in request.motions if m.name not in prepared.todo]
    jobs = [MotionJob(report.name, m, prepared.todo[m.name], prepared.character, request.settings,
                      request.destination, scratch, request.share, prepared.made_with[m.name])
            for m in request.motions if m.name in prepared.todo]
    state.waiting = len(jobs)
    if any(prepared.todo.values()):  # done: this run renders something; only located, it stays kept
        report.status = "done"
    return jobs


def _produced(state: _Drawing, produced: Produced, store: OutputStore) -> None:
    """Take in one motion's outcome; a rendered one enters the drawing's record at once, so a batch stopped after
    it (killed, cancelled) and run again keeps it. Only this process writes the record of its drawings: their
    motions' workers hand their entries back here, and another shard's pods never take the same drawing."""
    state.waiting -= 1
    if produced.error is not None:
        state.report.errors.append(produced.error)
        return
    if produced.rendered:
        state.record.outputs[produced.filename] = produced.made_with
        try:
            store.write_json(state.report.name, RECORD, state.record.encode())
        except Exception as exc:  # noqa: BLE001 - reported per drawing; a rerun renders it again
            from studio.core.loading import describe_error

            state.report.errors.append(f"{RECORD}: {describe_error(exc)}")
            return
    state.recorded[produced.motion] = produced.location or ""
    if produced.rendered:
        state.report.rendered.append(produced.motion)
    else:
        state.report.kept.append(produced.motion)


def _finish(state: _Drawing, store: OutputStore, motions: Sequence[Motion]) -> None:
    """results.json, listing exactly this run's motions, once every motion is there (written only when something
    changed); a drawing with any error gets none, so a rerun takes it up."""
    report = state.report
    if report.errors:
        report.status = "failed"
        return
    results = {m.name: state.recorded[m.name] for m in motions if m.name in state.recorded}
    if report.status == "done" or results != state.previous:
        try:
            report.results = store.write_json(report.name, RESULTS, results)
        except Exception as exc:  # noqa: BLE001 - reported per drawing
            from studio.core.loading import describe_error

            report.errors.append(f"results.json: {describe_error(exc)}")
            report.status = "failed"
