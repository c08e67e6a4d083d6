"""The shipped ONNX export of the embedded model: OpenCV runs it without torch (0.85 s of torch import saved on a
fresh `studio pose`), it gives torch's keypoints, and a damaged or stale export is never run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.core.sample import sample_image
from studio.pipeline.pose import embedded


def test_the_shipped_model_runs_without_torch() -> None:
    code = ("import sys\nfrom studio.core.annotate import make_backend\nfrom studio.core.sample import sample_image\n"
            "b = make_backend('auto')\nimage = sample_image()\nresult = b.pose(image, b.detect(image)[0].box)\n"
            "print(b.name, type(b.network).__name__, result.keypoints.shape, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["embedded", "OnnxNetwork", "(17,", "3)", "False"]


def test_the_export_gives_torchs_keypoints() -> None:
    pytest.importorskip("torch")
    image = sample_image()
    backend = embedded.EmbeddedBackend()
    assert isinstance(backend.network, embedded.OnnxNetwork)
    box = backend.detect(image)[0].box
    exported = embedded.predict(backend.network, image, box)
    reference = embedded.predict(embedded.load_network(), image, box)
    np.testing.assert_allclose(exported[:, :2], reference[:, :2], atol=0.01)
    np.testing.assert_allclose(exported[:, 2], reference[:, 2], atol=1e-5)


def _copy_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for path in (embedded.WEIGHTS, embedded.onnx_path()):
        for name in (path, embedded.checksum_file(path)):
            shutil.copy(name, tmp_path / name.name)
    monkeypatch.setattr(embedded, "WEIGHTS", tmp_path / embedded.WEIGHTS.name)
    return embedded.onnx_path()


def test_a_damaged_export_is_not_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    onnx = _copy_shipped(tmp_path, monkeypatch)
    assert isinstance(embedded.EmbeddedBackend().network, embedded.OnnxNetwork)
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2: len(data) // 2 + 4096] = bytes(255 - b for b in data[len(data) // 2: len(data) // 2 + 4096])
    onnx.write_bytes(bytes(data))
    assert not isinstance(embedded.EmbeddedBackend().network, embedded.OnnxNetwork)  # torch runs the checked .pt


def test_an_export_of_other_weights_is_not_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Retrained weights beside an old export: the export's record names the .pt it came from."""
    pytest.importorskip("torch")
    _copy_shipped(tmp_path, monkeypatch)
    record = embedded.checksum_file(embedded.WEIGHTS)
    record.write_text("0" * 64 + "  pose_embedded.pt\n", encoding="ascii")
    assert embedded._verified_onnx() is None


def test_export_writes_the_model_and_its_record(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx", reason="exporting needs the onnx package (training only)")
    torch.manual_seed(1)
    network = embedded.build_network().eval()
    weights = tmp_path / "w.pt"
    embedded.save_weights(network, weights)
    target = embedded.export_onnx(network, weights)
    own, source = (line.split() for line in embedded.checksum_file(target).read_text().splitlines())
    import hashlib

    assert own == [hashlib.sha256(target.read_bytes()).hexdigest(), "w.onnx"]
    assert source == [hashlib.sha256(weights.read_bytes()).hexdigest(), "w.pt"]
    batch = np.random.default_rng(0).standard_normal((2, 3, 128, 96)).astype(np.float32)
    with torch.inference_mode():
        expected = network(torch.from_numpy(batch)).numpy()
    np.testing.assert_allclose(embedded.OnnxNetwork(target.read_bytes())(batch), expected, atol=1e-4)
