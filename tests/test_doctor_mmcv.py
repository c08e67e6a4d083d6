"""studio doctor's mmcv ops probe: it runs in a child process, so a build that segfaults or hangs is a finding with
its fix, and CPU ops are a failure only where a GPU is present.

A real mmcv-full cannot be made to segfault or hang here, so stand-in ``mmcv`` packages on the child's PYTHONPATH
(with a dist-info, so the doctor sees "mmcv-full 1.7.0" installed) play those faults."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from studio.core.doctor import OK, PROBLEM, OpsProbe, check_mmcv, ops_checks, probe_mmcv_ops

EXT = {
    "segfault": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
    "hang": "import time\ntime.sleep(3600)\n",
    "cpu": "def get_compiling_cuda_version():\n    return 'not available'\n",
    "broken": "raise ImportError('libtorch_cuda.so: cannot open shared object file')\n",
}


def stand_in_mmcv(root: Path, ext: str) -> Path:
    """A folder holding an ``mmcv`` package whose ``_ext`` does what EXT[ext] says, and mmcv_full 1.7.0's
    metadata."""
    package = root / "mmcv"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "_ext.py").write_text(EXT[ext])
    info = root / "mmcv_full-1.7.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mmcv-full\nVersion: 1.7.0\n")
    return root


@pytest.fixture()
def with_mmcv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Installs a stand-in mmcv for this process's metadata and for the probe's child process."""
    pytest.importorskip("torch")

    def install(ext: str) -> Path:
        root = stand_in_mmcv(tmp_path / ext, ext)
        monkeypatch.syspath_prepend(str(root))
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
        return root

    return install


def test_a_segfault_in_mmcv_ext_is_a_finding_with_its_fix(with_mmcv: Callable[[str], Path]) -> None:
    with_mmcv("segfault")
    probe = probe_mmcv_ops(timeout=60)
    assert probe.died == "SIGSEGV" and probe.reached == "import mmcv._ext"
    (check,) = [c for c in check_mmcv(lambda: probe) if c.name == "mmcv-full ops"]
    assert check.status == PROBLEM and "SIGSEGV" in check.detail and "import mmcv._ext" in check.detail
    assert "torch 1.13 or 2.0 with CUDA 11.7/11.8" in check.fix


def test_a_hang_in_mmcv_ext_is_a_finding_not_a_hung_doctor(with_mmcv: Callable[[str], Path]) -> None:
    with_mmcv("hang")
    probe = probe_mmcv_ops(timeout=8)  # torch imports first, in a few s on a busy machine; then the hang
    assert "hung" in probe.died and probe.reached == "import mmcv._ext"
    (check,) = ops_checks("mmcv-full", "1.7.0", probe)
    assert check.status == PROBLEM and "hung" in check.detail and "CUDA 11.7/11.8" in check.fix


def test_cpu_ops_without_a_gpu_are_fine(with_mmcv: Callable[[str], Path]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    with_mmcv("cpu")
    probe = probe_mmcv_ops(timeout=60)
    assert probe.died == "" and probe.facts["compiled"] == "not available" and probe.facts["gpu"] is False
    (check,) = [c for c in check_mmcv(lambda: probe) if c.name == "mmcv-full ops"]
    assert check.status == OK and "CPU ops" in check.detail and "no GPU" in check.detail


def test_an_import_error_says_what_failed(with_mmcv: Callable[[str], Path]) -> None:
    with_mmcv("broken")
    (check,) = ops_checks("mmcv-full", "1.7.0", probe_mmcv_ops(timeout=60))
    assert check.status == PROBLEM and "libtorch_cuda.so" in check.detail and "install.sh" in check.fix


def test_cpu_ops_where_a_gpu_is_present_fail() -> None:
    probe = OpsProbe({"torch": "2.0.1", "cuda": "11.8", "gpu": True, "compiled": "not available"}, "")
    (check,) = ops_checks("mmcv-full", "1.7.0", probe)
    assert check.status == PROBLEM and "built without CUDA" in check.detail and "FORCE_CUDA=1" in check.fix


def test_cuda_ops_must_run_nms_right_on_the_gpu() -> None:
    facts = {"torch": "2.0.1", "cuda": "11.8", "gpu": True, "compiled": "11.8"}
    (good,) = ops_checks("mmcv-full", "1.7.0", OpsProbe({**facts, "nms": [0, 2]}, ""))
    (wrong,) = ops_checks("mmcv-full", "1.7.0", OpsProbe({**facts, "nms": [0, 1, 2]}, ""))
    (failed,) = ops_checks("mmcv-full", "1.7.0", OpsProbe({**facts, "error": "RuntimeError: no kernel image"},
                                                          "nms on the GPU"))
    assert good.status == OK and "nms ran right" in good.detail
    assert wrong.status == PROBLEM and failed.status == PROBLEM and "no kernel image" in failed.detail


@pytest.mark.slow  # end to end: `studio doctor` in a subprocess
def test_the_doctor_survives_a_segfaulting_mmcv(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    root = stand_in_mmcv(tmp_path, "segfault")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, "-m", "studio.cli.main", "doctor"], capture_output=True, text=True,
                            timeout=180, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "[FAIL] mmcv-full ops: mmcv-full 1.7.0 with torch" in result.stdout and "SIGSEGV" in result.stdout
    assert "problems found" in result.stdout


def test_the_probe_never_runs_python_files_from_the_current_folder(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in a folder holding a json.py (or an mmcv checkout), the probe imports the installed modules only."""
    (tmp_path / "json.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    probe_mmcv_ops(timeout=60)
    assert not (tmp_path / "ran").exists()
