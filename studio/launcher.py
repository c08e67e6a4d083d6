"""The `studio` command: the window (no command, a FILE, or --screenshot), or a command-line tool (render, …);
and, before the window opens on X11, the check that Qt's xcb platform plugin can load its system libraries."""

from __future__ import annotations

import atexit
import importlib.util
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Mapping, Sequence

from studio.cli.main import COMMANDS

# Debian names a shared library's package after its soname (Policy §8.1: libfoo.so.4 → libfoo4, libfoo-1.so.3 →
# libfoo-1-3, lower case), so only the libraries packaged otherwise need a line here.
DEBIAN_PACKAGE_EXCEPTIONS = {
    "libglib-2.0.so.0": "libglib2.0-0", "libgthread-2.0.so.0": "libglib2.0-0", "libgobject-2.0.so.0": "libglib2.0-0",
    "libgcc_s.so.1": "libgcc-s1", "libz.so.1": "zlib1g", "libstdc++.so.6": "libstdc++6",
}
LDD_TIMEOUT_S = 5.0  # ldd on the plugin takes about 20 ms; a stuck one must not hold the window up


def debian_package(soname: str) -> str | None:
    """The Debian package that ships ``soname`` (e.g. libxcb-icccm.so.4 → libxcb-icccm4), or None for a name
    that is not a versioned shared library."""
    if soname in DEBIAN_PACKAGE_EXCEPTIONS:
        return DEBIAN_PACKAGE_EXCEPTIONS[soname]
    match = re.fullmatch(r"(lib[A-Za-z0-9_+.-]+?)\.so\.(\d+)(?:\.\d+)*", soname)
    if match is None:
        return None
    name, major = match.group(1).lower(), match.group(2)
    return f"{name}-{major}" if name[-1].isdigit() else f"{name}{major}"


def missing_libraries_message(missing: Sequence[str]) -> str:
    """One sentence naming the libraries Qt's xcb plugin cannot find and the Debian packages that ship them."""
    packages = list(dict.fromkeys(p for p in map(debian_package, missing) if p is not None))
    names = ", ".join(missing)
    advice = f" (on Debian or Ubuntu: sudo apt-get install {' '.join(packages)})" if packages else ""
    return (f"studio: error: the window cannot open on this X display: Qt's xcb platform plugin needs {names}, "
            f"not installed here{advice}.")


def uses_xcb(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt will load its xcb platform plugin: on Linux, when QT_QPA_PLATFORM asks for xcb first, or when it
    is unset and there is an X display (a Wayland session, where Qt tries Wayland first, excepted)."""
    if not platform.startswith("linux"):
        return False
    requested = env.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        return requested.split(";")[0].split(":")[0].strip() == "xcb"
    if env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY"):
        return False
    return bool(env.get("DISPLAY"))


def xcb_plugin(env: Mapping[str, str]) -> Path | None:
    """The xcb platform plugin Qt would load, searched where Qt searches (QT_QPA_PLATFORM_PLUGIN_PATH, then each
    QT_PLUGIN_PATH folder, then PySide6's own plugins), found without importing PySide6; None if there is none."""
    folders = [Path(env["QT_QPA_PLATFORM_PLUGIN_PATH"])] if env.get("QT_QPA_PLATFORM_PLUGIN_PATH") else []
    folders += [Path(p) / "platforms" for p in env.get("QT_PLUGIN_PATH", "").split(os.pathsep) if p]
    spec = importlib.util.find_spec("PySide6")
    for root in (spec.submodule_search_locations or []) if spec is not None else []:
        folders.append(Path(root) / "Qt" / "plugins" / "platforms")
    return next((f / "libqxcb.so" for f in folders if (f / "libqxcb.so").is_file()), None)


def missing_libraries(library: Path) -> list[str]:
    """Sonames that ``library`` needs, directly or through the libraries it loads, and the dynamic linker cannot
    find (``ldd``: 'libxcb-icccm.so.4 => not found'); empty when all are there or when ldd cannot tell."""
    try:
        listing = subprocess.run(["ldd", str(library)], capture_output=True, text=True, timeout=LDD_TIMEOUT_S,
                                 check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = (line.split("=>")[0].strip() for line in listing.splitlines() if "=> not found" in line)
    return list(dict.fromkeys(found))


def xcb_problem(env: Mapping[str, str] | None = None) -> str | None:
    """The message to print instead of Qt's abort when the window would open through xcb and the plugin's
    libraries are not all installed; None when there is nothing to say."""
    env = os.environ if env is None else env
    if not uses_xcb(env):
        return None
    plugin = xcb_plugin(env)
    missing = missing_libraries(plugin) if plugin is not None else []
    return missing_libraries_message(missing) if missing else None


def _screenshot(args: Sequence[str]) -> bool:
    """Whether the window's arguments ask for --screenshot (or an abbreviation argparse accepts): it is offscreen."""
    return any(a.startswith("--") and len(a) > 3 and "--screenshot".startswith(a.partition("=")[0]) for a in args)


def exit_now(code: int) -> int:
    """End the process with ``code`` as returning from the program would, without the interpreter's teardown.

    After a command, Python would collect garbage and clear ~900 modules one by one (numba's and LLVM's objects
    among them): 0.1-0.5 s of a fresh `studio render` (bench/cold_start.py), for nothing the user sees. This runs
    what a normal exit runs that can matter (the atexit handlers, then flushing stdout and stderr) and ends the
    process. When that is not safe (another non-daemon thread still runs, or a flush fails, e.g. on a closed pipe)
    it returns ``code`` for the normal exit, which reports such a failure as it always did.
    """
    if any(t is not threading.main_thread() and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return code
    atexit._run_exitfuncs()  # what Py_Finalize would run next; it clears them, so they never run twice
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return code
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """The program: ``argv`` None reads sys.argv and, for a command of the CLI, ends the process when it is done
    (exit_now); with ``argv`` given (a caller in the same process), it only returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and (args[0] in COMMANDS or args[0] in ("-h", "--help", "-v", "--verbose", "--version")):
        from studio.cli.main import main as cli_main

        code = cli_main(args)
        return exit_now(code) if argv is None else code
    if args[:1] == ["--help-cli"]:
        from studio.cli.main import main as cli_main

        return cli_main(["--help"])
    problem = None if _screenshot(args) else xcb_problem()
    if problem is not None:  # Qt would abort with a misleading 'xcb-cursor0 is needed' (issue 13)
        print(problem, file=sys.stderr)
        return 1
    from studio.ui.app import run  # PySide6 loads only for the window

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
