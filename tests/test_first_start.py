"""An install's first start compiles the numba kernels up front, once (studio.core.first_start): a rendering
command says so on stderr and writes a marker that later starts find; the window does it off its own thread."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core import first_start


def _studio(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "studio.launcher", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_the_marker_is_keyed_by_the_numba_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "a"))
    first = first_start.marker_path()
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "b"))
    assert first_start.marker_path() != first
    assert first.parent == tmp_path and not first_start.kernels_ready()


def test_the_window_prepares_the_kernels_on_another_thread(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path))
    thread = first_start.in_background()
    assert thread is not None and not thread.daemon  # closing the window lets it finish
    thread.join(300)
    assert first_start.kernels_ready()
    assert first_start.in_background() is None  # the next start has nothing to do


def test_an_unwritable_cache_folder_only_costs_the_marker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(blocker / "cache"))  # no one, root included, can make this folder
    assert first_start.prepare_kernels() >= 0
    assert not first_start.kernels_ready()


@pytest.mark.slow
def test_a_new_installs_first_render_compiles_once_and_says_why(tmp_path: Path) -> None:
    env = {**os.environ, "STUDIO_CACHE_DIR": str(tmp_path / "cache"), "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    first = _studio(["demo", "-o", str(tmp_path / "one"), "--size", "64"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "first start of this install: compiling the drawing kernels once" in first.stderr
    assert list((tmp_path / "cache").glob("kernels-*.ready"))
    assert any((tmp_path / "numba").rglob("*.nbi"))  # numba's cache index: the kernels were compiled there
    second = _studio(["demo", "-o", str(tmp_path / "two"), "--size", "64"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "first start" not in second.stderr
    listing = _studio(["motions"], {**env, "STUDIO_CACHE_DIR": str(tmp_path / "other")}, tmp_path)
    assert listing.returncode == 0 and "first start" not in listing.stderr  # only rendering commands compile
