"""Crash recovery: this process's autosave of its Document, when it is due, and the autosaves that dead processes
left behind."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from studio.core.document import Document
from studio.core.loading import describe_error
from studio.pipeline.files.atomic import atomic_write_path, fsync_dir
from studio.pipeline.files.processes import pid_alive
from studio.core.project import open_project, save_project

_AUTOSAVE = re.compile(r"autosave-(\d+)(?:-\d+)?\.studio")  # -<ns>: set aside after a pid was reused
_OWN: set[Path] = set()  # autosaves this process wrote: never offered back to it
AUTOSAVE_QUIET_S = 3.0  # an autosave follows a pause in the editing this long…
AUTOSAVE_MAX_WAIT_S = 10.0  # …or comes this long after the first unsaved change, even while the editing goes on


def default_recovery_dir() -> Path:
    """``$STUDIO_RECOVERY_DIR``, else ``recovery`` in the platform's user state folder."""
    override = os.environ.get("STUDIO_RECOVERY_DIR")
    if override:
        return Path(override)
    from platformdirs import user_state_dir

    return Path(user_state_dir("drawing-studio")) / "recovery"


def _remove(autosave: Path) -> None:
    for path in (autosave, autosave.with_suffix(".json")):
        path.unlink(missing_ok=True)


class AutosaveSchedule:
    """When the next autosave is due: ``quiet_s`` after the last change, but never later than ``max_wait_s`` after
    the first change it has not saved yet (a debounce with a maximum wait). Without the cap, an edit every second
    would put the autosave off for as long as the editing lasted, and a crash would lose all of it.

    ``clock`` gives seconds (time.monotonic); tests pass a fake one.
    """

    def __init__(self, quiet_s: float = AUTOSAVE_QUIET_S, max_wait_s: float = AUTOSAVE_MAX_WAIT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 <= quiet_s <= max_wait_s:
            raise ValueError(f"autosave delays: need 0 <= quiet ({quiet_s}) <= max wait ({max_wait_s})")
        self.quiet_s, self.max_wait_s, self.clock = quiet_s, max_wait_s, clock
        self._first: float | None = None  # the first change not saved yet
        self._last = 0.0

    @property
    def pending(self) -> bool:
        """Whether there are changes no autosave has started on."""
        return self._first is not None

    def changed(self) -> float:
        """Note a change now; returns the seconds until the autosave is due."""
        now = self.clock()
        self._first = now if self._first is None else self._first
        self._last = now
        return max(0.0, min(now + self.quiet_s, self._first + self.max_wait_s) - now)

    def due_in(self) -> float | None:
        """Seconds until the autosave is due (0 when it is overdue), or None when there is nothing to save."""
        if self._first is None:
            return None
        due = min(self._last + self.quiet_s, self._first + self.max_wait_s)
        return max(0.0, due - self.clock())

    def started(self) -> None:
        """An autosave took its snapshot: the changes after this one start a new wait."""
        self._first = None


class Autosaver:
    """Writes this process's ``autosave-<pid>.studio`` and its ``autosave-<pid>.json`` sidecar into ``recovery_dir``
    (argument, else $STUDIO_RECOVERY_DIR, else platformdirs); ``discard()`` on a clean exit or after a user save.
    One per process: two would share the file."""

    def __init__(self, recovery_dir: str | os.PathLike[str] | None = None) -> None:
        self.recovery_dir = (Path(recovery_dir) if recovery_dir is not None else default_recovery_dir()).absolute()
        self.pid = os.getpid()
        self.path = self.recovery_dir / f"autosave-{self.pid}.studio"
        self.sidecar = self.path.with_suffix(".json")

    def save(self, doc: Document, project: str | os.PathLike[str] | None = None) -> Path:
        """Autosave ``doc`` atomically, leaving it dirty; ``project``: the user's project file it belongs to, if any.
        Raises OSError or ProjectError like save_project."""
        self.recovery_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._set_aside_earlier()
        _OWN.add(self.path)
        save_project(doc, self.path, mark_saved=False)
        info = {"pid": self.pid, "time": time.time(), "project": None if project is None else str(project),
                "source": doc.source}
        with atomic_write_path(self.sidecar) as temp:
            temp.write_text(json.dumps(info), encoding="utf-8")
        return self.path

    def _set_aside_earlier(self) -> Path | None:
        """An earlier process that had our pid left an autosave under our name: rename it aside (keeping its work
        for recovery) before ours replaces it. Returns its new name, or None when there was none."""
        if self.path in _OWN or not self.path.exists():
            return None
        stamp = time.time_ns()
        for old in (self.path, self.sidecar):
            if old.exists():
                os.replace(old, old.with_name(f"autosave-{self.pid}-{stamp}{old.suffix}"))
        return self.path.with_name(f"autosave-{self.pid}-{stamp}{self.path.suffix}")

    def adopt(self, recovered: Recovery, doc: Document) -> None:
        """Make ``doc``, opened from ``recovered``, this process's autosave, and only then remove ``recovered``:
        until the user saves, a second crash still leaves the work to recover. Raises OSError or ProjectError like
        save(); ``recovered`` is then left in place (offered again at the next start)."""
        old = recovered.path
        if old == self.path:
            old = self._set_aside_earlier() or old  # our pid's earlier process: do not write over it
        self.save(doc, recovered.project)
        fsync_dir(self.recovery_dir)  # ours is durably there before the old one goes
        _remove(old)

    def discard(self) -> None:
        """Remove this process's autosave (idempotent)."""
        _remove(self.path)


@dataclass(frozen=True)
class Recovery:
    """An autosave left by a process that is gone. time: when it was written (epoch s); project: the user's
    project file it belonged to; error: why it cannot be opened (then discard() is all that helps)."""

    path: Path
    pid: int
    time: float
    project: str | None
    source: str
    error: str | None = None

    @property
    def what(self) -> str:
        """What the work was on, for the recovery question."""
        name = self.project or self.source
        return Path(name).name if name else "an untitled drawing"

    def open(self) -> Document:
        """The autosaved Document, marked unsaved (dirty). Raises ProjectError when the autosave is damaged."""
        doc = open_project(self.path)
        doc.saved_revision = doc.revision - 1
        return doc

    def discard(self) -> None:
        _remove(self.path)


def _recovery(path: Path, pid: int) -> Recovery:
    try:
        info = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        info = None  # a missing or damaged sidecar only loses the details; the autosave is what matters
    info = info if isinstance(info, dict) else {}
    stamp, project, source = info.get("time"), info.get("project"), info.get("source")
    try:
        open_project(path)
        error = None
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with it (even RecursionError), offer, never crash
        error = describe_error(exc, path)
    return Recovery(path, pid, stamp if isinstance(stamp, (int, float)) else path.stat().st_mtime,
                    project if isinstance(project, str) else None, source if isinstance(source, str) else "", error)


def find_recoverable(recovery_dir: str | os.PathLike[str] | None = None) -> list[Recovery]:
    """Autosaves whose process is no longer running (a crash or kill -9), newest first.

    A damaged autosave is still listed, with ``error`` set, so the user learns that work was lost and can discard
    it (rather than it being deleted unseen or lingering forever). Temp files of dead processes' interrupted
    autosaves are removed.
    """
    folder = (Path(recovery_dir) if recovery_dir is not None else default_recovery_dir()).absolute()
    if not folder.is_dir():
        return []
    found: list[Recovery] = []
    for path in folder.iterdir():
        temp = re.fullmatch(r"\.autosave-(\d+)\..*\.tmp", path.name)
        if temp and not pid_alive(int(temp.group(1))):
            path.unlink(missing_ok=True)
        match = _AUTOSAVE.fullmatch(path.name)
        pid = int(match.group(1)) if match else 0
        if match and path not in _OWN and (pid == os.getpid() or not pid_alive(pid)):  # our pid: an earlier process's
            try:
                found.append(_recovery(path, pid))
            except OSError:
                continue  # removed meanwhile
    return sorted(found, key=lambda r: r.time, reverse=True)
