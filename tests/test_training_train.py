"""The training script end to end on a tiny set: it writes weights the backend loads, and resumes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("training.figures")

pytestmark = pytest.mark.slow  # end to end: the training script, run twice

ROOT = Path(__file__).resolve().parents[1]


def _train(tmp_path: Path, epochs: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "training" / "train.py"), "--train", "48", "--val", "16",
                           "--epochs", str(epochs), "--batch", "16", "--work", str(tmp_path / "work"),
                           "--out", str(tmp_path / "w.pt")], capture_output=True, text=True, timeout=600)


def test_tiny_training_writes_loadable_weights_and_resumes(tmp_path: Path) -> None:
    from studio.pipeline.pose.embedded import EmbeddedBackend

    first = _train(tmp_path, 1)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "epoch 1/1" in first.stdout and (tmp_path / "w.pt").is_file()
    assert (tmp_path / "work" / "checkpoint.pt").is_file()
    backend = EmbeddedBackend(tmp_path / "w.pt")
    import numpy as np

    keypoints = backend.pose(np.full((200, 150, 3), 255, np.uint8), (10.0, 10.0, 140.0, 190.0)).keypoints
    assert keypoints.shape == (17, 3) and np.isfinite(keypoints).all()
    again = _train(tmp_path, 2)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resumed at epoch 1" in again.stdout and "epoch 2/2" in again.stdout
