"""Reading a whole file under a size cap, without allocating the cap: ``read(n)`` reserves n bytes up front."""

from __future__ import annotations

import os
from typing import BinaryIO

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
