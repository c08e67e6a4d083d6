"""The mm backend: path-safe .mar extraction everywhere; real inference only where the mm stack is installed."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pytest

from studio.pipeline.pose import BackendError
from studio.pipeline.pose_mm import MMBackend, safe_extract

HAVE_MM = all(importlib.util.find_spec(m) is not None for m in ("mmcv", "mmdet", "mmpose"))


@pytest.mark.parametrize("evil", ["../evil.py", "/abs/evil.py", "a/../../evil.py", "..\\evil.py", "C:evil.py"])
def test_archive_entries_outside_the_folder_are_refused(tmp_path: Path, evil: str) -> None:
    archive = tmp_path / "model.mar"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("config.py", "x = 1\n")
        zf.writestr(evil, "boom\n")
    target = tmp_path / "out" / "inner"
    with pytest.raises(BackendError, match="outside its folder"):
        safe_extract(archive, target)
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "out" / "evil.py").exists()
    assert not (target / "config.py").exists()  # nothing at all is extracted from a bad archive


def test_a_good_archive_extracts(tmp_path: Path) -> None:
    archive = tmp_path / "model.mar"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("config.py", "x = 1\n")
        zf.writestr("MAR-INF/MANIFEST.json", "{}")
    folder = safe_extract(archive, tmp_path / "m")
    assert (folder / "config.py").read_text() == "x = 1\n" and (folder / "MAR-INF" / "MANIFEST.json").is_file()


@pytest.mark.skipif(HAVE_MM, reason="the mm stack is installed here")
def test_without_the_mm_stack_the_error_says_how_to_get_it(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="torch is needed to reach the mm import check")
    with pytest.raises(BackendError, match="packaging/mm/install.sh"):
        MMBackend(tmp_path / "nothing.mar")
