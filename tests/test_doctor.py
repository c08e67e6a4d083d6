"""studio doctor: each problem comes with its fix; exit 0 all well, 1 problems, 2 could not check."""

from __future__ import annotations

import contextlib
import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.core.doctor import OK, PROBLEM, UNKNOWN, Check, check_torchserve, exit_code, format_report


def test_exit_codes_and_report() -> None:
    assert exit_code([Check("a", OK, "fine")]) == 0
    assert exit_code([Check("a", OK, "fine"), Check("b", UNKNOWN, "?")]) == 2
    assert exit_code([Check("a", PROBLEM, "broken", "do X"), Check("b", UNKNOWN, "?")]) == 1
    report = format_report([Check("mmcv ops", PROBLEM, "built without CUDA", "rebuild with FORCE_CUDA=1")])
    assert "[FAIL] mmcv ops: built without CUDA" in report and "fix: rebuild with FORCE_CUDA=1" in report


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def token_server() -> Iterator[str]:
    """A loopback stub that answers like TorchServe with token auth on: 400 without the header."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            code = 200 if self.headers.get("Authorization") == "Bearer right" else 400
            body = b'{"status": "Healthy"}' if code == 200 else b'{"code": 400, "message": "Token Authorization failed"}'
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_token_auth_is_explained(token_server: str) -> None:
    checks = check_torchserve(token_server)
    assert checks[0].status == PROBLEM and "token auth" in checks[0].fix


def test_unreachable_server_is_a_problem_with_a_fix() -> None:
    checks = check_torchserve(f"http://127.0.0.1:{free_port()}")
    assert checks[0].status == PROBLEM and "start TorchServe" in checks[0].fix


@pytest.mark.slow  # end to end: `studio doctor` in a subprocess, twice
def test_cli_doctor_exit_code() -> None:
    result = subprocess.run([sys.executable, "-m", "studio.cli.main", "doctor", "--endpoint",
                             f"http://127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "cannot reach" in result.stdout and "problems found" in result.stdout
    result = subprocess.run([sys.executable, "-m", "studio.cli.main", "doctor"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode in (0, 1) and "[ok  ] python" in result.stdout


def test_install_script_explains_a_missing_torch(tmp_path: Path) -> None:
    """Without torch in the target Python, the mm installer stops at once with the fix."""
    script = Path(__file__).resolve().parents[1] / "packaging" / "mm" / "install.sh"
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexec false\n")
    fake.chmod(0o755)
    result = subprocess.run(["bash", str(script), "--python", str(fake), "--dry-run"], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 1 and "pip install torch==2.13.0" in result.stderr


def test_the_built_in_pose_model_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    from studio.core import doctor
    from studio.pipeline.pose import embedded as pose_embedded

    (check,) = doctor.check_embedded()
    assert check.status == OK and "loads safely" in check.detail and " ms " in check.detail
    flipped = tmp_path / "flipped" / "pose_embedded.pt"  # 4 KB inverted: torch loads it, scores run to hundreds
    flipped.parent.mkdir()
    data = bytearray(pose_embedded.WEIGHTS.read_bytes())
    data[10**6:10**6 + 4096] = bytes(b ^ 0xFF for b in data[10**6:10**6 + 4096])
    flipped.write_bytes(bytes(data))
    pose_embedded.checksum_file(flipped).write_bytes(pose_embedded.checksum_file(pose_embedded.WEIGHTS).read_bytes())
    monkeypatch.setattr(pose_embedded, "WEIGHTS", flipped)
    (check,) = doctor.check_embedded()
    assert check.status == PROBLEM and "damaged" in check.detail and "restore pose_embedded.pt" in check.fix
    broken = tmp_path / "pose_embedded.pt"
    broken.write_bytes(b"truncated download")
    monkeypatch.setattr(pose_embedded, "WEIGHTS", broken)
    (check,) = doctor.check_embedded()
    assert check.status == PROBLEM and "cannot load" in check.detail and "restore pose_embedded.pt" in check.fix


@contextlib.contextmanager
def _wild_server(keypoint: tuple[float, float, float], score: float = 0.9) -> Iterator[str]:
    """A stand-in TorchServe: Healthy, a detector that finds one box with ``score``, and a pose model whose first
    keypoint is ``keypoint`` ([x, y, score] in the crop's px), the rest a plausible skeleton."""
    import json

    from torchserve_fixture import reply, stub_server

    def respond(h: http.server.BaseHTTPRequestHandler) -> None:
        if h.path == "/ping":
            reply(h, 200, json.dumps({"status": "Healthy"}))
        elif "detector" in h.path:
            reply(h, 200, json.dumps([{"bbox": [20, 20, 220, 320], "score": score}]))
        else:
            points = [[20.0 + 10 * (i % 5), 20.0 + 15 * i, 0.8] for i in range(17)]
            points[0] = list(keypoint)
            reply(h, 200, json.dumps([{"keypoints": points}]))

    with stub_server(respond) as url:
        yield url


@pytest.mark.parametrize(("keypoint", "what"), [((1e9, 1e9, 0.9), "far outside the box"),
                                                ((50.0, 30.0, 50.0), "keypoint score of 50")])
def test_doctor_fails_replies_that_annotate_refuses(keypoint: tuple[float, float, float], what: str) -> None:
    """doctor said "all well" on keypoints at 1e9 and scores of 50, which annotate then refused."""
    from studio.core.annotate import annotate_image
    from studio.pipeline.intake.images import LoadedImage
    from studio.pipeline.pose.backend import BackendError
    from studio.pipeline.pose.torchserve import TorchServeBackend
    from studio.core.sample import sample_image

    image = sample_image()
    with _wild_server(keypoint) as url:
        checks = {c.name: c for c in check_torchserve(url)}
        with pytest.raises(BackendError, match=what):  # the same sentence as annotate's
            annotate_image(LoadedImage(image, 1.0, (image.shape[1], image.shape[0])), TorchServeBackend(url))
    assert checks["prediction: detector"].status == OK
    pose = checks["prediction: pose"]
    assert pose.status == PROBLEM and what in pose.detail and "AD's pose model" in pose.fix
    assert exit_code(list(checks.values())) == 1


def test_doctor_fails_a_detector_score_that_annotate_refuses() -> None:
    """doctor said "all well" on a detector score of 50."""
    from studio.core.annotate import annotate_image
    from studio.pipeline.intake.images import LoadedImage
    from studio.pipeline.pose.backend import BackendError
    from studio.pipeline.pose.torchserve import TorchServeBackend
    from studio.core.sample import sample_image

    image = sample_image()
    what = "detector returned a score of 50, outside 0..1"
    with _wild_server((50.0, 30.0, 0.8), score=50.0) as url:
        checks = {c.name: c for c in check_torchserve(url)}
        with pytest.raises(BackendError, match=what):  # the same sentence as annotate's
            annotate_image(LoadedImage(image, 1.0, (image.shape[1], image.shape[0])), TorchServeBackend(url))
    detector = checks["prediction: detector"]
    assert detector.status == PROBLEM and what in detector.detail and "AD's detector" in detector.fix
    assert "prediction: pose" not in checks
    assert exit_code(list(checks.values())) == 1
