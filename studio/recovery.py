"""Crash recovery: this process's autosave of its Document, and the autosaves that dead processes left behind."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from studio.document import Document
from studio.pipeline.atomic import atomic_write_path
from studio.project import open_project, save_project

_AUTOSAVE = re.compile(r"autosave-(\d+)(?:-\d+)?\.studio")  # -<ns>: set aside after a pid was reused
_OWN: set[Path] = set()  # autosaves this process wrote: never offered back to it


def default_recovery_dir() -> Path:
    """``$STUDIO_RECOVERY_DIR``, else ``recovery`` in the platform's user state folder."""
    override = os.environ.get("STUDIO_RECOVERY_DIR")
    if override:
        return Path(override)
    from platformdirs import user_state_dir

    return Path(user_state_dir("drawing-studio")) / "recovery"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on Windows os.kill would terminate it, so it is asked differently)."""
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ctypes.get_last_error() == 5  # access denied: it exists
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return not ok or code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except PermissionError:  # it exists, owned by another user
        return True
    except (OSError, OverflowError):  # ProcessLookupError: gone
        return False
    return True


def _remove(autosave: Path) -> None:
    for path in (autosave, autosave.with_suffix(".json")):
        path.unlink(missing_ok=True)


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
        if self.path not in _OWN and self.path.exists():  # an earlier process had our pid: keep its work
            stamp = time.time_ns()
            for old in (self.path, self.sidecar):
                if old.exists():
                    os.replace(old, old.with_name(f"autosave-{self.pid}-{stamp}{old.suffix}"))
        _OWN.add(self.path)
        save_project(doc, self.path, mark_saved=False)
        info = {"pid": self.pid, "time": time.time(), "project": None if project is None else str(project),
                "source": doc.source}
        with atomic_write_path(self.sidecar) as temp:
            temp.write_text(json.dumps(info), encoding="utf-8")
        return self.path

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
    except (OSError, ValueError):
        info = None  # a missing or damaged sidecar only loses the details; the autosave is what matters
    info = info if isinstance(info, dict) else {}
    stamp, project, source = info.get("time"), info.get("project"), info.get("source")
    try:
        open_project(path)
        error = None
    except ValueError as exc:
        error = str(exc)
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
        if temp and not _alive(int(temp.group(1))):
            path.unlink(missing_ok=True)
        match = _AUTOSAVE.fullmatch(path.name)
        pid = int(match.group(1)) if match else 0
        if match and path not in _OWN and (pid == os.getpid() or not _alive(pid)):  # our pid: an earlier process's
            try:
                found.append(_recovery(path, pid))
            except OSError:
                continue  # removed meanwhile
    return sorted(found, key=lambda r: r.time, reverse=True)
