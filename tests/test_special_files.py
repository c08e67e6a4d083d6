"""Input paths that are not regular files: a FIFO would block the reader for ever (opening one waits for a writer),
a device like /dev/zero never ends. Every reader refuses them with a sentence, without blocking."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

import pytest

from studio.core.project import ProjectError, open_project
from studio.pipeline.files.capped_read import NotRegularFileError, open_regular
from studio.pipeline.intake.images import ImageError, read_image
from studio.pipeline.motion.bvh import BvhError, read_bvh
from studio.pipeline.motion.config import ConfigError, load_yaml

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero are POSIX")

READERS: list[tuple[str, Callable[[Path], object], type[Exception]]] = [
    ("clip.bvh", read_bvh, BvhError), ("config.yaml", load_yaml, ConfigError),
    ("drawing.png", read_image, ImageError), ("work.studio", open_project, ProjectError)]


@pytest.mark.parametrize(("name", "read", "error"), READERS, ids=[r[0] for r in READERS])
def test_a_fifo_is_refused_without_blocking(tmp_path: Path, name: str, read: Callable[[Path], object],
                                            error: type[Exception]) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    with pytest.raises(error, match="not a regular file"):
        read(fifo)  # before the fix, this waited for a writer for ever


@pytest.mark.parametrize(("name", "read", "error"), READERS, ids=[r[0] for r in READERS])
def test_a_link_to_a_device_is_refused_unread(tmp_path: Path, name: str, read: Callable[[Path], object],
                                              error: type[Exception]) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    link = tmp_path / name
    link.symlink_to("/dev/zero")
    with pytest.raises(error, match="not a regular file"):
        read(link)


def test_open_regular_reads_files_and_refuses_folders(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"abc")
    with open_regular(path) as file:
        assert file.read() == b"abc"
    with pytest.raises(IsADirectoryError):
        open_regular(tmp_path)
    os.mkfifo(tmp_path / "f")
    with pytest.raises(NotRegularFileError):
        open_regular(tmp_path / "f")
