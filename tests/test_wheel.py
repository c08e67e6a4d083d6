"""Install as users install: the built wheel, in a fresh venv, run from outside the checkout.

An editable install hid that the wheel shipped without its motion library (``studio motions`` said "no bundled
motions found in .../site-packages/motions"). The venv here has no checkout on sys.path: its dependencies come
from the test venv's site-packages through a .pth file (so nothing is downloaded), but not the test venv's
editable hook, which only the test venv's own site folder runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel built from a copy of the checkout installed in it; returns its bin folder."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    source.mkdir()
    for name in ("studio", "motions"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.nb[ic]"))
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(base / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((base / "dist").glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "studio/motions/wave.bvh" in names and "studio/resources/pose_embedded.pt" in names
    assert "studio/resources/pose_embedded.onnx" in names and "studio/resources/pose_embedded.onnx.sha256" in names

    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)}))
    (purelib / "test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    python = env_dir / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return env_dir / "bin"


def _run(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "STUDIO_MOTIONS")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["STUDIO_CACHE_DIR"] = str(bin_dir.parent / "user-cache")  # this install's first-start marker, not the user's
    return subprocess.run([str(bin_dir / "studio"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_installed_studio_runs_from_its_own_files(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run([str(installed / "python"), "-c", "import studio; print(studio.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(installed.parent) and not Path(where).is_relative_to(ROOT)


def test_the_installed_studio_lists_its_motions(installed: Path, tmp_path: Path) -> None:
    result = _run(installed, tmp_path, "motions", "--json")
    assert result.returncode == 0, result.stderr
    import json

    rows = json.loads(result.stdout)
    assert len(rows) == 8 and all(Path(r["file"]).is_relative_to(installed.parent) for r in rows)


def test_the_installed_studio_runs_its_demo_and_window(installed: Path, tmp_path: Path) -> None:
    demo = _run(installed, tmp_path, "demo", "-o", str(tmp_path / "out"), "--size", "64")
    assert demo.returncode == 0, demo.stderr
    assert len(list((tmp_path / "out").glob("sample_*.gif"))) == 8
    assert "first start of this install" in demo.stderr  # no setup.sh here: the kernels compile up front, once
    shot = _run(installed, tmp_path, "--screenshot", str(tmp_path / "window.png"))
    assert shot.returncode == 0, shot.stderr
    from PIL import Image

    with Image.open(tmp_path / "window.png") as image:
        assert image.width > 400 and len(image.convert("RGB").getcolors(1 << 20) or ()) > 50
