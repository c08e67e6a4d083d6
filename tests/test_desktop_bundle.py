"""The desktop bundle (packaging/desktop): built with PyInstaller into a temporary folder, then run as a user would,
from a folder outside the checkout with a clean environment (no PYTHONPATH, a fresh HOME), so that nothing of the
repository or its venv can stand in for what the bundle lacks.

One build (about a minute on 2 busy cores) serves every test here; they skip, saying why, where PyInstaller is not
installed (it comes with the test extra)."""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

pytestmark = pytest.mark.slow  # builds the bundle, then runs the bundled program

ROOT = Path(__file__).resolve().parents[1]
DESKTOP = ROOT / "packaging" / "desktop"
BUILD_TIMEOUT_S = 900  # about 70 s here; a stuck build must fail the test, not hang CI
RUN_TIMEOUT_S = 180  # each run takes 1-10 s here (numba compiles the first time)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built bundle folder (``OUT/drawing-studio``), made by packaging/desktop/build.sh with this Python."""
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed (pip install pyinstaller, or the test "
                                              "extra): the desktop bundle cannot be built")
    out = tmp_path_factory.mktemp("bundle")
    done = subprocess.run(["bash", str(DESKTOP / "build.sh"), str(out)], capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable}, timeout=BUILD_TIMEOUT_S, check=False)
    assert done.returncode == 0, f"build.sh failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    folder = out / "drawing-studio"
    assert done.stdout.strip().splitlines()[-1] == str(folder)  # the script ends by naming the bundle
    return folder


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working folder outside the checkout, with a HOME of its own (numba's cache, settings, recovery files)."""
    (tmp_path / "home").mkdir()
    assert ROOT not in tmp_path.parents
    return tmp_path


def run_bundled(bundle: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The bundled `studio ARGS` in ``cwd``, with only PATH, HOME, a UTF-8 locale and Qt's offscreen platform."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd / "home"), "LANG": "C.UTF-8", "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([str(bundle / "studio"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, check=False)


def test_bundle_has_the_package_data_and_leaves_torch_out(bundle: Path) -> None:
    internal = bundle / "_internal"
    assert (bundle / "studio").is_file() and os.access(bundle / "studio", os.X_OK)
    assert (internal / "studio" / "resources" / "pose_embedded.onnx").is_file()
    assert (internal / "studio" / "motions" / "wave.bvh").is_file()
    assert (internal / "studio" / "motions" / "biped.retarget.yaml").is_file()
    assert list((internal / "imageio_ffmpeg" / "binaries").glob("ffmpeg-*")), "imageio-ffmpeg's ffmpeg is missing"
    platforms = {p.name for p in (internal / "PySide6" / "Qt" / "plugins" / "platforms").iterdir()}
    assert {"libqoffscreen.so", "libqxcb.so"} <= platforms
    assert not (internal / "torch").exists()


def test_bundled_screenshot_shows_the_window(bundle: Path, elsewhere: Path) -> None:
    done = run_bundled(bundle, elsewhere, "--screenshot", "window.png")
    assert done.returncode == 0, done.stderr
    with Image.open(elsewhere / "window.png") as shot:
        assert shot.format == "PNG"
        pixels = np.asarray(shot.convert("RGB"))
    height, width, _ = pixels.shape
    assert width >= 800 and height >= 600
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 200, "the grab is nearly blank: the window did not draw"
    # The preview (the right-hand third) shows the animated sample: its crayon colours, not only greys.
    preview = pixels[: height // 2, 2 * width // 3:].astype(int)
    saturated = (preview.max(axis=2) - preview.min(axis=2)) > 80
    assert saturated.sum() > 500, "no coloured figure in the preview"


def test_bundled_render_writes_the_sample_gif(bundle: Path, elsewhere: Path) -> None:
    done = run_bundled(bundle, elsewhere, "render", "sample", "--motion", "wave", "--frames", "6", "--size", "96",
                       "--output", "wave.gif")
    assert done.returncode == 0, done.stderr
    with Image.open(elsewhere / "wave.gif") as gif:
        assert gif.format == "GIF" and gif.size == (96, 96)
        frames = [np.asarray(f.convert("RGBA")) for f in ImageSequence.Iterator(gif)]
    assert len(frames) == 6
    assert all(f[..., 3].any() for f in frames), "an empty frame: the figure was not drawn"
    assert any(not np.array_equal(frames[0], f) for f in frames[1:]), "the figure does not move"


def test_bundled_torch_backend_says_it_needs_pytorch(bundle: Path, elsewhere: Path) -> None:
    Image.new("RGB", (64, 64), "white").save(elsewhere / "drawing.png")
    (elsewhere / "weights.pth").write_bytes(b"not a checkpoint")
    done = run_bundled(bundle, elsewhere, "annotate", "drawing.png", "--backend", "torch", "--checkpoint",
                       "weights.pth", "--output", "character")
    assert done.returncode == 1
    assert done.stderr.strip() == "studio: error: the torch pose backend needs PyTorch: pip install torch"


def test_bundled_mm_backend_gives_its_clear_error(bundle: Path, elsewhere: Path) -> None:
    Image.new("RGB", (64, 64), "white").save(elsewhere / "drawing.png")
    (elsewhere / "weights.pth").write_bytes(b"not a checkpoint")
    done = run_bundled(bundle, elsewhere, "annotate", "drawing.png", "--backend", "mm", "--checkpoint", "weights.pth",
                       "--output", "character")
    assert done.returncode == 1
    assert "unexpected" not in done.stderr and "needs" in done.stderr, done.stderr


def test_desktop_entry_names_the_bundled_program_and_icon(bundle: Path) -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    entry.read(bundle / "drawing-studio.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Name"] == "Drawing Studio"
    program, *codes = shlex.split(section["Exec"])
    assert (bundle / program).is_file() and codes == ["%f"]  # one file at most: `studio [FILE]`
    assert section["Icon"] == "drawing-studio"
    with Image.open(bundle / "drawing-studio.png") as icon:
        assert icon.size == (256, 256) and icon.mode == "RGBA"
        alpha = np.asarray(icon)[..., 3]
    assert alpha[0, 0] == 0 and alpha[128, 128] == 255  # transparent corners, an opaque sheet of paper
    assert (bundle / "drawing-studio.svg").read_bytes() == (DESKTOP / "drawing-studio.svg").read_bytes()
