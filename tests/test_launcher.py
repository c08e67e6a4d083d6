"""The launcher's check of Qt's xcb platform plugin: the window on an X display without the plugin's libraries is
one sentence naming them and their Debian packages, exit 1, instead of Qt's abort ('xcb-cursor0 is needed')."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from studio import launcher
from studio.launcher import debian_package, missing_libraries_message, uses_xcb, xcb_plugin

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("soname, package", [
    ("libxcb-icccm.so.4", "libxcb-icccm4"), ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxcb-cursor.so.0", "libxcb-cursor0"), ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libX11-xcb.so.1", "libx11-xcb1"), ("libGL.so.1", "libgl1"), ("libdbus-1.so.3", "libdbus-1-3"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"), ("libglib-2.0.so.0", "libglib2.0-0"),
    ("libpng16.so.16", "libpng16-16"), ("libfoo.so.2.4.1", "libfoo2"), ("ld-linux-x86-64.so.2", None),
    ("libfoo.so", None),
])
def test_sonames_map_to_debian_packages(soname: str, package: str | None) -> None:
    assert debian_package(soname) == package


def test_the_message_names_each_missing_library_and_each_package_once() -> None:
    message = missing_libraries_message(["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libglib-2.0.so.0",
                                         "libgthread-2.0.so.0"])
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1, libglib-2.0.so.0, libgthread-2.0.so.0" in message
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libglib2.0-0)" in message
    assert "\n" not in message and "xcb-cursor0" not in message


@pytest.mark.parametrize("env, expected", [
    ({"DISPLAY": ":0"}, True), ({}, False), ({"DISPLAY": ""}, False),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, False), ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, True),
    ({"QT_QPA_PLATFORM": "xcb:nograb"}, True), ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland;xcb"}, False),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, False),
    ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, True),
])
def test_the_check_runs_only_where_qt_loads_xcb(env: dict[str, str], expected: bool) -> None:
    assert uses_xcb(env, "linux") is expected
    assert uses_xcb(env, "darwin") is False


@pytest.fixture
def fake_window(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """studio.ui.app replaced by a stub whose run() records its arguments (no PySide6, no window)."""
    opened: list[list[str]] = []
    app = types.ModuleType("studio.ui.app")

    def run(args: list[str]) -> int:
        opened.append(list(args))
        return 0

    app.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "studio.ui.app", app)
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    return opened


def test_missing_libraries_stop_the_window_with_the_message(fake_window: list[list[str]],
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The loader is simulated: every plugin lacks libxcb-keysyms.so.1."""
    monkeypatch.setattr(launcher, "xcb_plugin", lambda env: Path("libqxcb.so"))
    monkeypatch.setattr(launcher, "missing_libraries", lambda plugin: ["libxcb-keysyms.so.1"])
    assert launcher.main([]) == 1
    assert fake_window == []
    err = capsys.readouterr().err
    assert "libxcb-keysyms.so.1" in err and "apt-get install libxcb-keysyms1" in err
    # --screenshot is offscreen, and command-line tools never load Qt: neither is checked
    assert launcher.main(["--screenshot", "out.png"]) == 0 and launcher.main(["--scr=out.png"]) == 0
    assert fake_window == [["--screenshot", "out.png"], ["--scr=out.png"]]
    with pytest.raises(SystemExit) as version:  # argparse's --version exits 0 after printing it
        launcher.main(["--version"])
    assert version.value.code == 0 and "studio" in capsys.readouterr().out


def test_nothing_missing_opens_the_window(fake_window: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launcher, "missing_libraries", lambda plugin: [])
    assert launcher.main(["drawing.png"]) == 0 and fake_window == [["drawing.png"]]


def test_a_real_plugin_with_a_library_missing_exits_1_instead_of_qts_abort(tmp_path: Path) -> None:
    """PySide6's own xcb plugin, copied with one needed soname renamed to one no system has (same length, so the
    ELF stays valid): Qt, loading it, would abort (exit 134) with its misleading hint; the launcher, run as a user
    runs it, names the library instead. Its Qt libraries are found through the copy's RUNPATH ($ORIGIN/../../lib),
    pointed at PySide6's by a link."""
    plugin = xcb_plugin({})
    if not sys.platform.startswith("linux") or plugin is None or shutil.which("ldd") is None:
        pytest.skip("needs Linux, ldd and PySide6's xcb platform plugin")
    data = plugin.read_bytes()
    if data.count(b"libxcb-shape.so.0\0") != 1:
        pytest.skip("this PySide6's xcb plugin does not need libxcb-shape.so.0")
    platforms = tmp_path / "plugins" / "platforms"
    platforms.mkdir(parents=True)
    (platforms / "libqxcb.so").write_bytes(data.replace(b"libxcb-shape.so.0\0", b"libxcb-shapf.so.0\0"))
    (tmp_path / "lib").symlink_to(plugin.parents[2] / "lib")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "XDG_SESSION_TYPE", "QT_PLUGIN_PATH")}
    env.update(DISPLAY=":99", QT_QPA_PLATFORM_PLUGIN_PATH=str(platforms), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "studio.launcher"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "libxcb-shapf.so.0" in done.stderr and "libxcb-shapf0" in done.stderr
    assert "Traceback" not in done.stderr and "xcb-cursor0" not in done.stderr
