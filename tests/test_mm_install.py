"""packaging/mm/install.sh: its real download and build steps against a local sdist (offline), and its plans
(--dry-run) for the torch/torchvision pair, CPU or CUDA ops and the wheel cache's key."""

from __future__ import annotations

import importlib.util
import io
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "packaging" / "mm" / "install.sh"
PY = sys.executable  # the project's venv: torch 2.13.0 (CPU), no torchvision

# A stand-in for mmcv-full 1.7.0's sdist, named as on the index. Like the real setup.py it needs what only the
# target environment has (the real one: pkg_resources and torch; this one numpy), so preparing it in pip's
# isolated build env fails, and it carries the -std=c++14 flag the script patches.
SETUP_PY = """\
import numpy  # only the target environment has it, never pip's isolated build env
from setuptools import setup

CXX_ARGS = ["-std=c++14", "-O2"]
setup(name="mmcv-full", version="1.7.0", py_modules=[])
"""
PKG_INFO = "Metadata-Version: 2.1\nName: mmcv-full\nVersion: 1.7.0\n"


def make_sdist(folder: Path) -> Path:
    """mmcv-full-1.7.0.tar.gz in ``folder``, holding setup.py and PKG-INFO under mmcv-full-1.7.0/."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mmcv-full-1.7.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in (("setup.py", SETUP_PY), ("PKG-INFO", PKG_INFO)):
            data = text.encode()
            info = tarfile.TarInfo(f"mmcv-full-1.7.0/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def offline_pip_env(find_links: Path, tmp: Path) -> dict[str, str]:
    """pip sees only ``find_links``: no index, no cache of the user's, no config file's constraints."""
    return dict(os.environ, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(find_links), PIP_CACHE_DIR=str(tmp / "pip-cache"),
                PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")


def test_the_download_and_build_steps_run_offline_against_a_local_sdist(tmp_path: Path) -> None:
    """The script's own fetch_sdist and build_wheel, with their exact pip command lines, on a local index."""
    index, work, wheels = tmp_path / "index", tmp_path / "work", tmp_path / "wheels"
    make_sdist(index)
    work.mkdir()
    steps = 'source "$1"; PY="$2"; DRY=0; CXX_STD=c++17; fetch_sdist "$3"; build_wheel "$3" "$4"'
    done = subprocess.run(["bash", "-c", steps, "install-steps", str(SCRIPT), PY, str(work), str(wheels)],
                          capture_output=True,
                          text=True, timeout=240, env=offline_pip_env(index, tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert [p.name for p in wheels.glob("mmcv_full-1.7.0-*.whl")], done.stdout
    patched = (work / "mmcv-full-1.7.0" / "setup.py").read_text()
    assert '"-std=c++17"' in patched and "c++14" not in patched

    # The same download line without --no-build-isolation fails: pip prepares the sdist in an isolated env, which
    # offline cannot even get setuptools (online it gets setuptools >= 82, whose missing pkg_resources failed).
    download = next(line[2:] for line in done.stdout.splitlines() if line.startswith("+ ") and " download " in line)
    assert "--no-build-isolation" in download.split()
    isolated = [arg for arg in shlex.split(download) if arg != "--no-build-isolation"]
    again = tmp_path / "again"
    isolated[isolated.index("-d") + 1] = str(again)
    failed = subprocess.run(isolated, capture_output=True, text=True, timeout=240,
                            env=offline_pip_env(index, tmp_path))
    assert failed.returncode != 0 and not list(again.glob("*.tar.gz"))
    assert "build dependencies" in failed.stderr


def dry_run(tmp_path: Path, *args: str, path: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """install.sh --dry-run for this venv, with its wheel cache under tmp_path and the environment given."""
    full = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), **env)
    for name in ("FORCE_CUDA", "TORCH_CUDA_ARCH_LIST"):
        if name not in env:
            full.pop(name, None)
    if path is not None:
        full["PATH"] = path
    return subprocess.run(["bash", str(SCRIPT), "--python", PY, "--dry-run", *args], capture_output=True,
                          text=True, timeout=120, env=full)


def commands(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line[2:] for line in result.stdout.splitlines() if line.startswith("+ ")]


@pytest.fixture()
def no_torchvision() -> None:
    """These plans start from the project's pin: torch 2.13.0 with no torchvision that imports, on x86_64."""
    pytest.importorskip("torch")
    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed in this venv")
    if platform.machine() != "x86_64":
        pytest.skip("the planned pair is x86_64's")


def stand_in_nvcc(tmp_path: Path) -> str:
    """A PATH whose nvcc is a stand-in (the script only looks for it; --dry-run never runs it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    nvcc = bin_dir / "nvcc"
    nvcc.write_text("#!/bin/sh\necho 'stand-in nvcc'\n")
    nvcc.chmod(0o755)
    return f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"


def test_without_torchvision_it_says_why_then_installs_the_working_pair(tmp_path: Path, no_torchvision: None) -> None:
    result = dry_run(tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    said = out.index("torchvision does not import")
    pair = out.index(f"+ {PY} -m pip install torch==2.14.1 torchvision==0.29.1")
    assert said < pair  # said first, then done
    explanation = out[said:pair]
    assert "project's torch pin (2.13.0)" in explanation and "5.6 GB" in explanation and "--keep-torch" in explanation
    # the rest of the plan is for the pair: its headers need C++20, and the cache key names torch 2.14.1
    assert "c++20" in out and "mmcv_full-1.7.0-torch2.14.1-cpu" in out


def test_keep_torch_stops_with_the_fix_and_installs_nothing(tmp_path: Path, no_torchvision: None) -> None:
    result = dry_run(tmp_path, "--keep-torch")
    assert result.returncode == 1 and commands(result) == []
    (line,) = result.stderr.strip().splitlines()
    assert "torchvision does not import" in line and "pip install torch==2.14.1 torchvision==0.29.1" in line


def test_force_cuda_without_nvcc_is_refused(tmp_path: Path, no_torchvision: None) -> None:
    path = f"/usr/bin{os.pathsep}/bin"
    if shutil.which("nvcc", path=path):
        pytest.skip("nvcc lies in /usr/bin here")
    result = dry_run(tmp_path, path=path, FORCE_CUDA="1", TORCH_CUDA_ARCH_LIST="8.0;9.0")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "FORCE_CUDA=1" in line and "nvcc is not on PATH" in line
    assert not [c for c in commands(result) if "mmcv" in c]


def test_the_cache_key_follows_the_request_so_cuda_never_reuses_a_cpu_wheel(tmp_path: Path,
                                                                            no_torchvision: None) -> None:
    cpu_dir = tmp_path / "cache" / "drawing-studio" / "wheels" / "mmcv_full-1.7.0-torch2.14.1-cpu"
    cpu_dir.mkdir(parents=True)
    (cpu_dir / "mmcv_full-1.7.0-cp311-cp311-linux_x86_64.whl").write_bytes(b"a CPU build")

    cpu = dry_run(tmp_path, path=stand_in_nvcc(tmp_path))  # nvcc but no GPU: CPU ops, the cached wheel
    assert cpu.returncode == 0, cpu.stderr
    assert "using the cached wheel" in cpu.stdout and not [c for c in commands(cpu) if " download " in c]

    cuda = dry_run(tmp_path, path=stand_in_nvcc(tmp_path), FORCE_CUDA="1", TORCH_CUDA_ARCH_LIST="8.0;9.0")
    assert cuda.returncode == 0, cuda.stderr
    assert "using the cached wheel" not in cuda.stdout
    assert "FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=8.0;9.0" in cuda.stdout
    (build,) = [c for c in commands(cuda) if " -m pip wheel " in c]
    assert "mmcv_full-1.7.0-torch2.14.1-cu130-FORCE_CUDA1-arch8.0_9.0" in build
    (install,) = [c for c in commands(cuda) if "mmcv_full-*.whl" in c]
    assert "--force-reinstall" in install and "arch8.0_9.0" in install

    other = dry_run(tmp_path, path=stand_in_nvcc(tmp_path), FORCE_CUDA="1", TORCH_CUDA_ARCH_LIST="8.0")
    assert "-arch8.0 " in next(c for c in commands(other) if " -m pip wheel " in c)


def test_force_cuda_without_a_gpu_needs_an_arch_list(tmp_path: Path, no_torchvision: None) -> None:
    result = dry_run(tmp_path, path=stand_in_nvcc(tmp_path), FORCE_CUDA="1")
    if "CUDA ops (FORCE_CUDA=1" in result.stdout:
        pytest.skip("a GPU is visible: its compute capability is the default")
    assert result.returncode == 1 and "set TORCH_CUDA_ARCH_LIST" in result.stderr


def stand_in_torchvision(tmp_path: Path) -> str:
    """A PYTHONPATH with an empty torchvision package: the script only checks that it imports."""
    stub = tmp_path / "stub" / "torchvision"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "__init__.py").write_text("")
    return str(stub.parent)


def test_force_cuda_with_a_cpu_torch_is_refused(tmp_path: Path) -> None:
    """torch 2.13.0+cpu with a torchvision that imports: CUDA ops cannot be built against it."""
    torch = pytest.importorskip("torch")
    if torch.version.cuda:
        pytest.skip("torch here is a CUDA build")
    result = dry_run(tmp_path, path=stand_in_nvcc(tmp_path), FORCE_CUDA="1", TORCH_CUDA_ARCH_LIST="8.0",
                     PYTHONPATH=stand_in_torchvision(tmp_path))
    assert result.returncode == 1 and "torch 2.13.0 is a CPU build" in result.stderr
    assert not [c for c in commands(result) if "mmcv" in c]


def test_a_wrong_force_cuda_value_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    result = dry_run(tmp_path, FORCE_CUDA="yes", PYTHONPATH=stand_in_torchvision(tmp_path))
    assert result.returncode == 1 and "FORCE_CUDA must be 1 (CUDA ops) or 0 (CPU ops), not 'yes'" in result.stderr
