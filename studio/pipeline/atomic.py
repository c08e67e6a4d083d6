"""Atomic exports: write to a temp sibling, rename over the target on success, leave nothing on failure or cancel.

A reader never sees a half-written file: the temp file or folder lives next to the target (same file system,
so the final ``os.replace`` is a rename), its name starts with a dot and ends in ``.tmp``, and it is fsynced
before the rename. The result gets the permissions a plain ``open`` would give (the umask's, or those of the
file it replaces), not the owner-only ones of a temp file. On any exception (``ExportCancelled`` included) the
temp is removed and an existing target is left untouched.

Folders cannot be renamed over a non-empty folder, so ``atomic_write_dir`` swaps: the old folder
is renamed aside, the new one renamed into place, then the old one deleted; if the second rename
fails the old folder is put back. Between the two renames (microseconds) the target is absent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


class ExportCancelled(Exception):
    """The user cancelled an export; nothing was written and any existing target is unchanged."""


class AtomicWriteError(OSError):
    """The finished temp file or folder could not be moved into place."""


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


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); a no-op where directories cannot be opened."""
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


class PendingFile:
    """A temp file next to ``target``, created empty; ``commit()`` renames it over the target, ``discard()`` removes it.

    For writers whose lifetime is not one ``with`` block (e.g. a streaming GIF writer).
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)
        if self.target.is_dir():
            raise IsADirectoryError(f"{self.target}: is a folder, cannot write a file there")
        fd, name = tempfile.mkstemp(prefix=_temp_prefix(self.target), suffix=".tmp", dir=self.target.parent)
        os.close(fd)
        self.temp = Path(name)
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
        self.done = True
        _fsync_dir(self.target.parent)
        return self.target

    def discard(self) -> None:
        """Remove the temp file (idempotent); the target is never touched."""
        self.done = True
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()


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
    temp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent))
    try:
        yield temp
        if fsync:
            for path in temp.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    fsync_path(path)
        _publish_mode(temp, target, 0o777)
        _replace_dir(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    _fsync_dir(target.parent)


def _replace_dir(temp: Path, target: Path) -> None:
    """Rename ``temp`` to ``target``, moving an existing ``target`` aside first and deleting it after."""
    if not os.path.lexists(target):
        os.replace(temp, target)
        return
    aside = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".old", dir=target.parent))
    old = aside / "old"
    try:
        os.replace(target, old)
    except OSError as err:
        aside.rmdir()
        raise AtomicWriteError(f"{target}: could not move the existing output aside: {err}") from err
    try:
        os.replace(temp, target)
    except OSError as err:
        os.replace(old, target)
        shutil.rmtree(aside, ignore_errors=True)
        raise AtomicWriteError(f"{target}: could not move the finished folder into place: {err}") from err
    shutil.rmtree(aside, ignore_errors=True)
