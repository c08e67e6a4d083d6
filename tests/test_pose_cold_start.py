"""What a fresh `studio pose` or `studio annotate` with the embedded model loads: no torch, no numba, no scipy
(issue 16, goal 5: torch took 0.85 s of a fresh run, numba 0.2 s, and numba brought scipy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from studio.core.sample import sample_image
from studio.pipeline.pose.embedded import available

UNNEEDED = ("torch", "numba", "scipy", "llvmlite")

pytestmark = pytest.mark.skipif(not available(), reason="the embedded model is not installed")


def _run_fresh(args: list[str]) -> tuple[set[str], str]:
    """The top-level modules a fresh interpreter holds after ``studio ARGS``, and what the command printed."""
    probe = ("import json, sys\nfrom studio.cli.main import main\n"
             f"status = main({args!r})\n"
             "print('\\n' + json.dumps([status, sorted({m.split('.')[0] for m in sys.modules})]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120).stdout
    printed, _, last = out.rstrip("\n").rpartition("\n")
    status, modules = json.loads(last)
    assert status == 0, printed
    return set(modules), printed


@pytest.fixture
def drawing(tmp_path: Path) -> Path:
    path = tmp_path / "drawing.png"
    cv2.imwrite(str(path), cv2.cvtColor(sample_image(), cv2.COLOR_RGB2BGR))
    return path


def test_pose_with_the_embedded_model_loads_no_torch_numba_or_scipy(drawing: Path) -> None:
    loaded, printed = _run_fresh(["pose", str(drawing), "--backend", "embedded"])
    keypoints = json.loads(printed.strip().splitlines()[-1])
    assert len(keypoints) == 17 and all(len(k) == 3 for k in keypoints)
    assert loaded.isdisjoint(UNNEEDED), sorted(loaded & set(UNNEEDED))


def test_annotate_with_the_embedded_model_loads_no_torch_numba_or_scipy(drawing: Path, tmp_path: Path) -> None:
    loaded, printed = _run_fresh(["annotate", str(drawing), "-o", str(tmp_path / "figure"), "--backend", "embedded"])
    assert "wrote" in printed and (tmp_path / "figure" / "char_cfg.yaml").is_file()
    assert loaded.isdisjoint(UNNEEDED), sorted(loaded & set(UNNEEDED))
