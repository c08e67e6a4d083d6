"""Background jobs for the window: the one module that moves results from worker threads to the UI thread."""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot

from studio.core.loading import describe_error, is_expected
from studio.core.workspace import JobKind

JobKey = JobKind | tuple[JobKind, str]  # a kind, or a kind and what it works on (one import per clip)


class JobCancelled(Exception):
    """Raised inside a job when its cancel flag is set (jobs may also raise their own cancellation)."""


class Job(QObject):
    """One background job. Signals arrive on the UI thread: progress(done, total), finished(result),
    failed(message), cancelled(). ``cancel()`` sets a flag the job's function checks via ``is_cancelled``."""

    progress = Signal(int, int)
    stage = Signal(str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, key: JobKey) -> None:
        super().__init__()
        self.key = key
        self._cancel = threading.Event()
        self.done = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()


class _Runnable(QRunnable):
    def __init__(self, job: Job, fn: Callable[[Job], Any], cancel_types: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.job, self.fn = job, fn
        self.cancel_types: tuple[type[BaseException], ...] = (JobCancelled, *cancel_types)
        self.setAutoDelete(True)

    @Slot()
    def run(self) -> None:
        job = self.job
        try:
            result = self.fn(job)
        except self.cancel_types:
            job.cancelled.emit()
        except Exception as exc:  # shown to the user as one line; a bug's traceback goes to stderr for reports
            # (Exception includes RecursionError and MemoryError: a hostile file never kills the thread silently)
            if job.is_cancelled():
                job.cancelled.emit()
            else:
                if not is_expected(exc):
                    traceback.print_exc()
                job.failed.emit(describe_error(exc))
        else:
            if job.is_cancelled():
                job.cancelled.emit()
            else:
                job.finished.emit(result)
        finally:
            job.done.set()


class Jobs(QObject):
    """Runs jobs on a thread pool. ``start(key, fn)`` calls ``fn(job)`` off the UI thread; a job of the
    same key still running is cancelled first (latest wins). ``running``: the jobs not done yet, by key."""

    def __init__(self, max_threads: int = 3) -> None:
        super().__init__()
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(max_threads)
        self.running: dict[JobKey, Job] = {}

    def start(self, key: JobKey, fn: Callable[[Job], Any],
              cancel_types: tuple[type[BaseException], ...] = ()) -> Job:
        old = self.running.get(key)
        if old is not None:
            old.cancel()
        job = Job(key)
        self.running[key] = job
        for signal in (job.finished, job.failed, job.cancelled):
            signal.connect(lambda *_, j=job: self._forget(j))
        runnable = _Runnable(job, fn, cancel_types)
        # Started from the event loop, not here: the caller connects to the job's signals after start() returns,
        # and a job that fails at once would otherwise emit before anyone listens (the window would wait forever).
        QTimer.singleShot(0, self, lambda: self._launch(runnable))
        return job

    def _launch(self, runnable: _Runnable) -> None:
        if runnable.job.is_cancelled():  # cancelled (or replaced) before it began
            runnable.job.cancelled.emit()
            runnable.job.done.set()
        else:
            self.pool.start(runnable)

    def _forget(self, job: Job) -> None:
        if self.running.get(job.key) is job:
            del self.running[job.key]

    def cancel_all(self) -> None:
        for job in list(self.running.values()):
            job.cancel()

    def wait(self, msecs: int = 30000) -> bool:
        return bool(self.pool.waitForDone(msecs))
