"""scripts/qt-libs.sh: what it asks for in each mode, and what it says when it cannot install.

Run against a faked system: PATH starts with a folder whose `ldconfig` lists every library the script knows but
the one a test leaves out, whose `id` says a normal user, and whose `sudo` refuses, so nothing is ever installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "qt-libs.sh"
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("bash") is None,
                                reason="a Linux shell script")


def _run(tmp_path: Path, mode: str, absent: str | None) -> subprocess.CompletedProcess[str]:
    sonames = sorted(set(re.findall(r"(lib[\w.+-]+\.so\.\d+)=", SCRIPT.read_text())) - {absent})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    listing = "".join(f"\t{s} (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/{s}\n" for s in sonames)
    (bin_dir / "listing").write_text(f"{len(sonames)} libs found in cache `/etc/ld.so.cache'\n{listing}")
    for name, body in (("ldconfig", f'cat "{bin_dir}/listing"'), ("id", "echo 1000"), ("sudo", "exit 1"),
                       ("Xvfb", "exit 0"), ("xauth", "exit 0")):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return subprocess.run(["bash", str(SCRIPT), mode], env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("mode", ["offscreen", "xcb", "test"])
def test_quiet_when_everything_is_there(tmp_path: Path, mode: str) -> None:
    done = _run(tmp_path, mode, None)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_the_window_on_x_needs_the_xcb_plugins_libraries(tmp_path: Path) -> None:
    """libxcb-icccm4 and libxcb-keysyms1 were what stopped the window on a desktop with the offscreen set only."""
    assert _run(tmp_path, "offscreen", "libxcb-keysyms.so.1").returncode == 0
    done = _run(tmp_path, "xcb", "libxcb-keysyms.so.1")
    assert done.returncode == 1
    assert "libxcb-keysyms.so.1" in done.stderr and "sudo apt-get install libxcb-keysyms1" in done.stderr


def test_the_tests_ask_for_the_xcb_set_but_do_not_fail_without_it(tmp_path: Path) -> None:
    done = _run(tmp_path, "test", "libxcb-icccm.so.4")
    assert done.returncode == 0
    assert "will skip" in done.stderr and "libxcb-icccm4" in done.stderr
    assert _run(tmp_path, "test", "libEGL.so.1").returncode == 1  # offscreen itself cannot do without it


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    done = _run(tmp_path, "wayland", None)
    assert done.returncode == 2 and "usage" in done.stderr
