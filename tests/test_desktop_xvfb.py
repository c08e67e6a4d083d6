"""The real window on a real X server: `studio` started as on a Linux desktop (Xvfb, DISPLAY set, QT_QPA_PLATFORM
unset, so Qt loads its xcb platform plugin), checked by a screenshot of the X screen, then closed.

scripts/qt-libs.sh (run first by scripts/test.sh) installs Xvfb and the xcb plugin's libraries; the test skips,
saying why, only where they are not there."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from studio.launcher import xcb_problem

pytestmark = pytest.mark.slow  # end to end: `studio` on a real X server

ROOT = Path(__file__).resolve().parents[1]
WINDOW_UP_S = 20.0  # the window starts in 1-3 s here; a loaded machine gets room, a hang fails the test


def _skip_reason() -> str | None:
    if not sys.platform.startswith("linux"):
        return "an X server test: Linux only"
    if shutil.which("Xvfb") is None:
        return "Xvfb is not installed (scripts/qt-libs.sh installs it: apt-get install xvfb xauth)"
    problem = xcb_problem({"DISPLAY": ":0"})
    if problem is not None:
        return problem
    from PIL import features

    if not features.check("xcb"):
        return "this Pillow cannot grab an X screen (built without XCB)"
    return None


@pytest.fixture
def x_display(tmp_path: Path) -> Iterator[str]:
    """A fresh Xvfb on a display number it picks itself (-displayfd: free, and written once it accepts clients)."""
    reason = _skip_reason()
    if reason is not None:
        pytest.skip(reason)
    read, write = os.pipe()
    with open(tmp_path / "xvfb.log", "w") as log:
        server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x900x24", "-br", "-nolisten",
                                   "tcp"], pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=log)
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()  # EOF (empty) if the server died
        if not number:
            pytest.fail(f"Xvfb did not start: {(tmp_path / 'xvfb.log').read_text()[-500:]}")
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _window_area(shot: np.ndarray) -> tuple[np.ndarray, int]:
    """The part of an (h, w, 3) screenshot that is not the bare black root (Xvfb -br), and how many colours it holds."""
    drawn = np.argwhere(shot.any(axis=2))
    if len(drawn) == 0:
        return shot[:0, :0], 0
    (top, left), (bottom, right) = drawn.min(axis=0), drawn.max(axis=0) + 1
    area = shot[top:bottom, left:right].reshape(-1, 3)
    return shot[top:bottom, left:right], len(np.unique(area[:, 0].astype(np.int32) << 16 | area[:, 1].astype(np.int32)
                                                      << 8 | area[:, 2]))


def test_the_window_opens_on_an_x_display(x_display: str, tmp_path: Path) -> None:
    from PIL import Image, ImageGrab

    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    env.update(DISPLAY=x_display, PYTHONPATH=str(ROOT))
    with open(tmp_path / "window.log", "w") as log:
        window = subprocess.Popen([sys.executable, "-m", "studio.launcher"], env=env, cwd=tmp_path, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        deadline, colours = time.monotonic() + WINDOW_UP_S, 0
        while time.monotonic() < deadline and window.poll() is None:
            shot = np.asarray(ImageGrab.grab(xdisplay=x_display).convert("RGB"))
            area, colours = _window_area(shot)
            if colours >= 64 and area.shape[0] >= 300 and area.shape[1] >= 400:  # widgets, text and the drawing
                break
            time.sleep(0.2)
        Image.fromarray(shot).save(tmp_path / "screen.png")  # kept for a look when it fails
        assert window.poll() is None, f"the window exited ({window.returncode}): " \
                                      f"{(tmp_path / 'window.log').read_text()[-2000:]}"
        assert colours >= 64, f"the X screen stayed blank ({colours} colours in {area.shape[:2]}): see {tmp_path}"
        assert area.shape[0] >= 300 and area.shape[1] >= 400, area.shape
    finally:
        window.send_signal(signal.SIGTERM)
        try:
            window.wait(10)
        except subprocess.TimeoutExpired:
            window.kill()
            window.wait()
