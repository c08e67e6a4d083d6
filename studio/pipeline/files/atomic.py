"""Atomic exports: write to a temp sibling, rename over the target on success, leave nothing on failure or cancel.

A reader never sees a half-written file: the temp file or folder lives next to the target (same file system,
so the final ``os.replace`` is a rename), its name starts with a dot and ends in ``.tmp``, and it is fsynced
before the rename. The result gets the permissions a plain ``open`` would give (the umask's, or those of the
file it replaces), not the owner-only ones of a temp file. On any exception (``ExportCancelled`` included) the
temp is removed and an existing target is left untouched.

Folders cannot be renamed over a non-empty folder, so ``atomic_write_dir`` swaps: the old folder
is renamed aside, the new one renamed into place, then the old one deleted; if the second rename
fails the old folder is put back. Between the two renames (microseconds) the target is absent.

A read-only target (no write permission for us, say ``chmod 444``) is refused with ReadOnlyTargetError, as a
text editor refuses it, unless the caller forces it inside ``overwrite_read_only()``.

Temp names carry the writer's pid behind a tag of ours (``.out.gif.studio-<pid>-<random>.tmp``). A process killed
mid-write (SIGKILL, a power cut) cannot remove its temp, so the first write of each process into a folder sweeps
the temps and set-aside folders of exactly this naming whose writer is gone: its pid is not running, or is running
but started after the temp was last written (the pid was reused). Nothing else is touched: a user's own
``.notes.2023.backup01.tmp`` or ``.thesis.original.old`` is not ours, whatever its age.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from studio.pipeline.files.processes import pid_alive, process_started


class ExportCancelled(Exception):
    """The user cancelled an export; nothing was written and any existing target is unchanged."""


class AtomicWriteError(OSError):
    """The finished temp file or folder could not be moved into place."""


class ReadOnlyTargetError(PermissionError):
    """The target exists and is read-only; it was left unchanged (``overwrite_read_only()`` forces it)."""


_FORCE_READ_ONLY: ContextVar[bool] = ContextVar("overwrite_read_only", default=False)


@contextlib.contextmanager
def overwrite_read_only() -> Iterator[None]:
    """Within this block (this thread or task), atomic writes replace read-only targets (``--force``)."""
    token = _FORCE_READ_ONLY.set(True)
    try:
        yield
    finally:
        _FORCE_READ_ONLY.reset(token)


def is_read_only(path: Path) -> bool:
    """Whether ``path`` exists and we may not write it: no write bit for its owner when it is ours, no write bit
    at all, or no write access (root may write anything, but a ``chmod 444`` file still reads as read-only)."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    if hasattr(os, "geteuid") and info.st_uid == os.geteuid() and not info.st_mode & stat.S_IWUSR:
        return True
    return not info.st_mode & 0o222 or not os.access(path, os.W_OK)


def check_replaceable(target: str | os.PathLike[str]) -> None:
    """Raise ReadOnlyTargetError when ``target`` is read-only and the caller did not force it."""
    path = Path(target)
    if not _FORCE_READ_ONLY.get() and is_read_only(path):
        kind = "folder" if path.is_dir() else "file"
        raise ReadOnlyTargetError(f"{path}: the {kind} is read-only, so it was left unchanged")


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only portable way to read it is to set it; done once, at import
    os.umask(mask)
    return mask


UMASK = _read_umask()


def _publish_mode(temp: Path, target: Path, base: int) -> None:
    """Give ``temp`` the mode ``target`` has, or else the one a new file or folder would get (temp files
    and folders are created owner-only: a web server could not serve the GIF)."""
    try:
        mode = target.stat().st_mode & 0o7777 if target.exists() else base & ~UMASK
        os.chmod(temp, mode)
    except OSError:
        pass  # a file system without modes: nothing to match


TEMP_TAG = "studio"


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{TEMP_TAG}-{os.getpid()}-"


_TEMP_NAME = re.compile(rf"\.(?P<name>.+)\.{TEMP_TAG}-(?P<pid>\d+)-[a-z0-9_]{{8}}\.(?:tmp|old)")
_SWEPT: set[Path] = set()  # folders this process has swept already


def _stale(entry: os.DirEntry[str]) -> bool:
    match = _TEMP_NAME.fullmatch(entry.name)
    if match is None:
        return False
    try:
        written = entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return False
    pid = int(match.group("pid"))
    if pid == os.getpid():
        return False  # ours: a writer of this process may be using it
    if not pid_alive(pid):
        return True
    started = process_started(pid)
    return started is not None and started > written + 1.0  # the pid was reused after the temp was written


def sweep_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temps and set-aside folders of this module's naming in ``folder`` whose writer is gone
    (see the module docstring); once per folder per process. Returns what was removed. Never raises."""
    folder = Path(folder)
    key = folder.absolute()
    if key in _SWEPT:
        return []
    _SWEPT.add(key)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(".") or not _stale(entry):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue  # not ours to remove after all (permissions), or gone meanwhile
    return removed


def fsync_dir(folder: Path) -> None:
    """Make the renames and removals in ``folder`` durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_path(path: Path) -> None:
    """fsync one file's contents to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _named_for(target: Path) -> Iterator[None]:
    """An OSError while creating a temp names the target the user asked for, not the temp's inner name
    (``out.gif: permission denied``, never ``.out.gif.studio-123-x8k2.tmp: permission denied``)."""
    try:
        yield
    except OSError as exc:
        if exc.errno is None or not exc.strerror:
            raise
        raise type(exc)(exc.errno, exc.strerror, str(target)) from None


_UNFINISHED: set[Path] = set()  # this process's temps not yet renamed into place or removed


def _new_temp(target: Path, suffix: str, folder: bool) -> Path:
    """Create an empty temp file (or folder) beside ``target``, named for it and for this process. It is listed in
    _UNFINISHED before it exists, so that remove_unfinished() finds it even when a signal lands mid-creation."""
    for _ in range(100):
        path = target.parent / f"{_temp_prefix(target)}{secrets.token_hex(4)}{suffix}"
        _UNFINISHED.add(path)
        try:
            with _named_for(target):
                if folder:
                    os.mkdir(path, 0o700)
                else:
                    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600))
            return path
        except FileExistsError:
            _UNFINISHED.discard(path)
        except BaseException:
            if not os.path.lexists(path):  # a signal after the creation leaves it listed, for remove_unfinished
                _UNFINISHED.discard(path)
            raise
    raise FileExistsError(f"{target}: could not find a free temporary name beside it")


def _remove_temp(path: Path) -> None:
    """Remove a temp file or folder of ours (idempotent) and forget it."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    _UNFINISHED.discard(path)


def remove_unfinished() -> list[Path]:
    """Remove every temp this process created and has not finished with: for a command stopped by a signal
    (SIGTERM, Ctrl-C), which may land between a temp's creation and the code that would remove it. A folder set
    aside (``.old``) is kept: for an instant it holds the output being replaced."""
    left = sorted(p for p in _UNFINISHED if p.suffix == ".tmp")
    for path in left:
        _remove_temp(path)
    return left


class PendingFile:
    """A temp file next to ``target``, created empty; ``commit()`` renames it over the target, ``discard()`` removes it.

    For writers whose lifetime is not one ``with`` block (e.g. a streaming GIF writer).
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)
        if self.target.is_dir():
            raise IsADirectoryError(f"{self.target}: is a folder, cannot write a file there")
        check_replaceable(self.target)
        sweep_stale_temps(self.target.parent)
        self.temp = _new_temp(self.target, ".tmp", folder=False)
        self.done = False

    def commit(self) -> Path:
        """fsync the temp file, rename it over the target, and return the target."""
        if self.done:
            raise AtomicWriteError(f"{self.target}: this pending file was already committed or discarded")
        try:
            fsync_path(self.temp)
            _publish_mode(self.temp, self.target, 0o666)
            os.replace(self.temp, self.target)
        except OSError as err:
            self.discard()
            raise AtomicWriteError(f"{self.target}: could not move the finished file into place: {err}") from err
        _UNFINISHED.discard(self.temp)
        self.done = True
        fsync_dir(self.target.parent)
        return self.target

    def discard(self) -> None:
        """Remove the temp file (idempotent); the target is never touched."""
        self.done = True
        _remove_temp(self.temp)


@contextlib.contextmanager
def atomic_write_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path in ``target``'s folder; on success it is fsynced and renamed over ``target``.

    The temp file exists (empty) when yielded, so writers may open it or replace it. On any exception
    the temp is removed and ``target`` is left as it was.
    """
    pending = PendingFile(target)
    try:
        yield pending.temp
    except BaseException:
        pending.discard()
        raise
    pending.commit()


@contextlib.contextmanager
def atomic_write_dir(target: str | os.PathLike[str], fsync: bool = True) -> Iterator[Path]:
    """Yield an empty temp folder next to ``target``; on success it replaces ``target`` (file or folder).

    fsync: fsync every file in the folder before the rename. On any exception the temp folder is
    removed and ``target`` is left as it was.
    """
    target = Path(target)
    check_replaceable(target)
    sweep_stale_temps(target.parent)
    temp = _new_temp(target, ".tmp", folder=True)
    try:
        yield temp
        if fsync:
            for path in temp.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    fsync_path(path)
        _publish_mode(temp, target, 0o777)
        _replace_dir(temp, target)
    except BaseException:
        _remove_temp(temp)
        raise
    _UNFINISHED.discard(temp)
    fsync_dir(target.parent)


def _replace_dir(temp: Path, target: Path) -> None:
    """Rename ``temp`` to ``target``, moving an existing ``target`` aside first and deleting it after."""
    if not os.path.lexists(target):
        os.replace(temp, target)
        return
    aside = _new_temp(target, ".old", folder=True)
    old = aside / "old"
    try:
        os.replace(target, old)
    except OSError as err:
        _remove_temp(aside)
        raise AtomicWriteError(f"{target}: could not move the existing output aside: {err}") from err
    try:
        os.replace(temp, target)
    except OSError as err:
        os.replace(old, target)
        _remove_temp(aside)
        raise AtomicWriteError(f"{target}: could not move the finished folder into place: {err}") from err
    _remove_temp(aside)
