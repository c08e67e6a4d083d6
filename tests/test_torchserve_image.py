"""The TorchServe images' scripts: config.properties, the readiness probe and the build-time self-check, run against
a real TorchServe started with the images' own config (the classical fallback detector and the tests' pose model),
and against a small local HTTP server for the failures a real one cannot be made to show."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from torchserve_fixture import HANDLERS, archive_models, missing_tools, reply, stub_server

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging" / "torchserve"
sys.path.insert(0, str(PACKAGING))

import probe  # noqa: E402
import selfcheck  # noqa: E402

FALLBACK = Path(os.path.relpath(PACKAGING / "handlers" / "detector_fallback_handler.py", HANDLERS))
MODELS = {"drawn_humanoid_detector": (str(FALLBACK), None), "drawn_humanoid_pose_estimator": ("pose_handler.py", None),
          "pose_fault": ("pose_handler.py", "fault"), "pose_none": ("pose_handler.py", "none"),
          "pose_wild": ("pose_handler.py", "wild")}


def _store(root: Path, models: dict[str, tuple[str, str | None]]) -> Path:
    store = root / "store"
    store.mkdir(parents=True)
    archive_models(store, root / "extra", models)
    return store


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, list[str]]]:
    """A real TorchServe started by selfcheck.serving with the images' config.properties."""
    reason = missing_tools()
    if reason:
        pytest.skip(reason)
    store = _store(tmp_path_factory.mktemp("served"), MODELS)
    with selfcheck.serving(PACKAGING / "config.properties", store, timeout=120) as server:
        yield server


@pytest.mark.slow
def test_the_images_config_serves_one_worker_per_model_without_torchserves_token(
        served: tuple[str, str, list[str]]) -> None:
    inference, management, names = served
    assert sorted(names) == sorted(MODELS)
    for name in names:
        with urllib.request.urlopen(f"{management}/models/{name}", timeout=5) as answer:
            assert len(json.loads(answer.read())[0]["workers"]) == 1
    with urllib.request.urlopen(f"{inference}/ping", timeout=5) as answer:  # no token: it is checked at the edge
        assert json.loads(answer.read()) == {"status": "Healthy"}


@pytest.mark.slow
def test_probe_is_ready_only_when_a_real_prediction_works(served: tuple[str, str, list[str]],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    inference = served[0]
    assert probe.main(["--url", inference]) == 0
    assert capsys.readouterr().out.startswith(f"ready: {inference} detector box IoU ")
    for model, words in (("pose_fault", "simulated fault"), ("pose_none", "No figure found"),
                         ("pose_wild", "pose model")):
        assert probe.main(["--url", inference, "--pose-model", model]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("not ready: ") and words in err and "\n" not in err, err
    assert probe.main(["--url", inference, "--detector-model", "missing_model"]) == 1
    assert "missing_model" in capsys.readouterr().err


def test_probe_catches_healthy_but_broken_and_token_trouble(capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def healthy_but_broken(handler: object) -> None:
        if handler.path == "/ping":  # type: ignore[attr-defined]
            reply(handler, 200, '{"status": "Healthy"}')  # type: ignore[arg-type]
        else:
            reply(handler, 500, '{"code": 500, "message": "MMCV CUDA Compiler: not available"}')  # type: ignore

    with stub_server(healthy_but_broken) as url:
        assert probe.main(["--url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("not ready: ") and "500" in err

    seen: list[str] = []

    def wants_token(handler: object) -> None:
        seen.append(handler.headers.get("Authorization", ""))  # type: ignore[attr-defined]
        if handler.headers.get("Authorization") != "Bearer s3cret":  # type: ignore[attr-defined]
            reply(handler, 401, '{"message": "token required"}')  # type: ignore[arg-type]
        else:
            reply(handler, 200, '{"status": "Healthy"}')  # type: ignore[arg-type]

    monkeypatch.delenv(probe.TOKEN_ENV, raising=False)
    with stub_server(wants_token) as url:
        assert probe.main(["--url", url]) == 1
        assert "token" in capsys.readouterr().err.lower()
        monkeypatch.setenv(probe.TOKEN_ENV, "s3cret")
        assert probe.main(["--url", url]) == 1  # past /ping, the stub is no detector
    assert seen[-2:] == ["Bearer s3cret", "Bearer s3cret"]
    assert probe.main(["--url", "http://127.0.0.1:9"]) == 1  # nothing listening
    assert capsys.readouterr().err.startswith("not ready: ")


@pytest.mark.slow
def test_selfcheck_serve_stage_passes_and_fails_the_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if missing_tools():
        pytest.skip(missing_tools() or "")
    good = _store(tmp_path / "good", {k: MODELS[k] for k in ("drawn_humanoid_detector",
                                                             "drawn_humanoid_pose_estimator")})
    assert selfcheck.main(["--stages", "serve", "--model-store", str(good)]) == 0
    assert capsys.readouterr().out.startswith("selfcheck serve: ready: ")
    broken = _store(tmp_path / "broken", {"drawn_humanoid_detector": MODELS["drawn_humanoid_detector"],
                                          "drawn_humanoid_pose_estimator": ("pose_handler.py", "fault")})
    assert selfcheck.main(["--stages", "serve", "--model-store", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "FAILED: a real prediction failed" in err and "simulated fault" in err
    (tmp_path / "empty").mkdir()
    assert selfcheck.main(["--stages", "serve", "--model-store", str(tmp_path / "empty")]) == 1
    assert "no model archives" in capsys.readouterr().err


def _fake_mmcv(root: Path, body: str) -> Path:
    """An ``mmcv`` package whose ops do what ``body`` says: the faults a real build shows (a segfault, no CUDA)
    cannot be made to order here, where no mmcv-full is installed."""
    ops = root / "mmcv" / "ops"
    ops.mkdir(parents=True)
    (root / "mmcv" / "__init__.py").write_text("")
    (ops / "__init__.py").write_text(textwrap.dedent(body))
    return root


@pytest.mark.parametrize("body, need_cuda, words", [
    ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", False, "crashed the process (SIGSEGV)"),
    ("def get_compiling_cuda_version(): return 'not available'\nnms = roi_align = None\n", True,
     "built without CUDA ops"),
    ("raise ImportError('libcudart.so.11.0: cannot open shared object file')\n", False, "libcudart.so.11.0"),
])
def test_selfcheck_mmcv_stage_fails_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str,
                                                    need_cuda: bool, words: str) -> None:
    monkeypatch.setenv("PYTHONPATH", str(_fake_mmcv(tmp_path, body)))
    with pytest.raises(selfcheck.CheckFailed) as failed:
        selfcheck.check_mmcv(need_cuda, require_gpu=False)
    assert words in str(failed.value)


def test_selfcheck_mmcv_stage_passes_a_cuda_build_and_can_require_a_gpu(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(_fake_mmcv(tmp_path, "def get_compiling_cuda_version(): return '11.8'\n"
                                                               "nms = roi_align = None\n")))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU here, even on a machine that has one
    assert "compiled with CUDA 11.8; no GPU visible" in selfcheck.check_mmcv(True, require_gpu=False)
    with pytest.raises(selfcheck.CheckFailed, match="no GPU is visible"):
        selfcheck.check_mmcv(True, require_gpu=True)


def test_selfcheck_mmcv_stage_without_mmcv(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    if __import__("importlib").util.find_spec("mmcv") is not None:
        pytest.skip("mmcv is installed here")
    with pytest.raises(selfcheck.CheckFailed, match="mmcv-full is not installed"):
        selfcheck.check_mmcv(False, require_gpu=False)


def test_selfcheck_reads_the_compiled_architectures() -> None:
    listing = ("ELF file    1: _ext.1.sm_80.cubin\nELF file    2: _ext.2.sm_86.cubin\n"
               "ELF file    3: _ext.3.sm_90.cubin\nELF file    4: _ext.4.sm_90a.cubin\n")
    assert selfcheck.compiled_archs(listing) == {"8.0", "8.6", "9.0"}
    assert selfcheck.wanted_archs("8.0;8.6+PTX 9.0") == ["8.0", "8.6", "9.0"]
    assert selfcheck.compiled_archs("ELF file 1: x.sm_75.cubin") == {"7.5"}
