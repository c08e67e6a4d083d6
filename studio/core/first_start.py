"""The first start of an install on a machine: the numba kernels compiled once, up front, and remembered.

``scripts/setup.sh`` compiles them right after installing. An install that never ran it (``pip install`` of the
wheel) compiles them on its first start instead: a rendering command first, with one line on stderr saying why
it takes a few seconds; the window on a background thread, so no paint waits for a compiler. Either way a marker
in the user's cache folder records it, keyed by what makes numba's cache valid or not (this install's folder and
version, numba's folder and when it was installed, ``$NUMBA_CACHE_DIR``, the interpreter), so a new version or a new
cache folder compiles again, once.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from pathlib import Path
from typing import Callable

import studio
from studio.pipeline.files.atomic import atomic_write_path

APP_NAME = "drawing-studio"


def cache_dir() -> Path:
    """``$STUDIO_CACHE_DIR`` or the platform's user cache folder."""
    override = os.environ.get("STUDIO_CACHE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME))


def marker_path() -> Path:
    """The file that says this install's kernels are compiled and cached."""
    import importlib.util

    spec = importlib.util.find_spec("numba")  # where numba is and when it was installed: no import, no metadata scan
    numba_dir = Path(spec.origin).parent if spec is not None and spec.origin else Path("numba-missing")
    installed = numba_dir.stat().st_mtime_ns if numba_dir.exists() else 0
    key = "\n".join([str(Path(studio.__file__).resolve().parent), studio.__version__, str(numba_dir), str(installed),
                     os.environ.get("NUMBA_CACHE_DIR", ""), sys.version])
    return cache_dir() / f"kernels-{hashlib.sha256(key.encode()).hexdigest()[:16]}.ready"


def kernels_ready() -> bool:
    """Whether this install compiled its kernels here already (or cannot: a frozen bundle has nothing to gain).
    A check that fails (an unreadable cache folder) counts as ready: the kernels then compile on first use."""
    if getattr(sys, "frozen", False):
        return True
    try:
        return marker_path().is_file()
    except OSError:
        return True


def prepare_kernels() -> float:
    """Compile (or load) every kernel, then write the marker; the seconds it took. A marker that cannot be written
    (a read-only cache folder) only means the next start compiles again."""
    from studio.core.warmup import compile_kernels

    seconds = compile_kernels()
    try:
        marker = marker_path()
        marker.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write_path(marker) as tmp:
            tmp.write_text(f"numba kernels compiled in {seconds:.1f} s\n")
    except OSError:
        pass
    return seconds


def before_rendering(note: Callable[[str], None]) -> None:
    """For a command about to render: on the install's first start, compile the kernels now, saying why.
    A failure is only noted: the command then compiles what it needs itself, as it would have anyway."""
    if kernels_ready():
        return
    note("studio: first start of this install: compiling the drawing kernels once (a few seconds; "
         "scripts/setup.sh does this at set-up)")
    try:
        prepare_kernels()
    except Exception as exc:  # noqa: BLE001 - the command itself must still run
        note(f"studio: note: the kernels could not be prepared ahead ({exc}); the first export compiles them")


def in_background() -> threading.Thread | None:
    """For the window: on the install's first start, compile the kernels on another thread (numba lets one
    thread compile at a time, so a preview needing a kernel waits for it there, off the window's thread). Not a
    daemon: closing the window mid-compile lets it finish, rather than stopping the interpreter inside LLVM."""
    if kernels_ready():
        return None

    def work() -> None:
        try:
            prepare_kernels()
        except Exception:  # noqa: BLE001 - the preview compiles what it needs itself
            pass

    thread = threading.Thread(target=work, name="studio-first-start")
    thread.start()
    return thread


if __name__ == "__main__":
    print(f"studio: kernels compiled and cached in {prepare_kernels():.1f} s")
