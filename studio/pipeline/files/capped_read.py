"""Reading input files safely: only regular files (a FIFO or a device would block or never end), and whole under
a size cap without allocating the cap (``read(n)`` reserves n bytes up front)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO


class NotRegularFileError(OSError):
    """A path that is a pipe, a socket or a device where a file was expected."""


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for reading in binary, after making sure it is a regular file: a FIFO is opened without
    blocking and refused (opening one to read waits for a writer, for ever), as are devices (/dev/zero never ends)
    and folders (IsADirectoryError). Raises OSError (FileNotFoundError, PermissionError…) like ``open``."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", os.fspath(path))
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(f"{Path(path)}: not a regular file (a pipe or a device?), so it was not read")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise

CHUNK = 1 << 20


def read_at_most(file: BinaryIO, limit: int) -> bytes:
    """The bytes of ``file`` from where it stands, but at most ``limit + 1`` of them: a result longer than
    ``limit`` tells the caller the file is over its cap. Reads the file's size in one go when it is a regular
    file (and on past it, should the file have grown), else in chunks."""
    try:
        size = os.fstat(file.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        size = 0
    data = file.read(min(size, limit) + 1) if size else b""
    if size and len(data) <= min(size, limit):
        return data  # fewer bytes than asked for: the end of the file
    while len(data) <= limit:
        more = file.read(min(CHUNK, limit + 1 - len(data)))
        if not more:
            break
        data += more
    return data
