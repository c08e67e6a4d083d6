"""What a fresh `studio` process loads: listing the motions or the help needs no cv2, numba or scipy, rendering no scipy
(issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("cv2", "numba", "scipy", "PIL")


def _loaded_after(code: str) -> tuple[set[str], str]:
    """The top-level modules a fresh interpreter holds after running ``code``, and what it printed."""
    probe = (f"import sys\n{code}\n"
             "print('\\n' + __import__('json').dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    printed, _, modules = out.rstrip("\n").rpartition("\n")
    return set(json.loads(modules)), printed


def test_motions_lists_the_clips_without_the_render_stack() -> None:
    loaded, printed = _loaded_after("from studio.launcher import main; main(['motions'])")
    assert "wave" in printed and "frames" in printed
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_help_loads_no_numpy() -> None:
    loaded, printed = _loaded_after(
        "from studio.launcher import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert "render" in printed
    assert "numpy" not in loaded and loaded.isdisjoint(HEAVY)


def test_clip_operations_load_no_scipy() -> None:
    loaded, _ = _loaded_after("import studio.pipeline.motion.clip, studio.pipeline.motion.normalise")
    assert "scipy" not in loaded


RENDER_PATH = ("import studio.launcher, studio.cli.main, studio.core.render, studio.core.render_job\n"
               "from studio.core.motion_source import load_motion\n"
               "from studio.core.render import Animation\n"
               "from studio.core.sample import sample_character\n"
               "character = sample_character()\n"
               "animation = Animation(character, load_motion('wave', character), (48, 48), frames=2)\n"
               "print(animation.render_premultiplied(1).shape)")


def test_the_render_path_loads_no_more_of_scipy_than_numba_does() -> None:
    """Meshing and ARAP are our own code (issue 16). When scipy is installed (the test venv), numba itself imports
    its top package (a version check) and, at a kernel's first call, scipy.linalg (a BLAS check); nothing of ours
    may load any scipy module beyond those."""
    numba_only, _ = _scipy_after("import numba\nnumba.njit(lambda x: x + 1)(1)")
    loaded, printed = _scipy_after(RENDER_PATH)
    assert "(48, 48, 4)" in printed
    assert loaded <= numba_only, sorted(loaded - numba_only)


def test_the_render_path_runs_without_scipy_installed() -> None:
    hide = ("import sys\n"
            "class NoScipy:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'scipy':\n"
            "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
            "sys.meta_path.insert(0, NoScipy())\n")
    loaded, printed = _loaded_after(hide + RENDER_PATH)
    assert "(48, 48, 4)" in printed and "scipy" not in loaded


def _scipy_after(code: str) -> tuple[set[str], str]:
    probe = (f"{code}\nimport sys\n"
             "print('\\n' + __import__('json').dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    printed, _, modules = out.rstrip("\n").rpartition("\n")
    return set(json.loads(modules)), printed


PROGRAM = ("import atexit, sys, threading\n"
           "class Teardown:\n"
           "    def __del__(self): print('teardown', flush=True)\n"
           "kept = Teardown()\n"
           "atexit.register(lambda: print('atexit handler ran'))\n"
           "{extra}\n"
           "sys.argv = ['studio', *{args!r}]\n"
           "from studio.launcher import main\n"
           "sys.exit(main())\n")


def _program(args: list[str], extra: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PROGRAM.format(args=args, extra=extra)], capture_output=True,
                          text=True, timeout=120)


def test_a_command_ends_without_the_interpreter_teardown_but_runs_atexit_and_flushes() -> None:
    done = _program(["motions", "--json"])
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout.split("atexit handler ran")[0])  # all of stdout came out, then the handler
    assert {row["name"] for row in rows} >= {"wave", "walk"}
    assert "atexit handler ran" in done.stdout and "teardown" not in done.stdout


def test_a_failed_command_keeps_its_exit_status_and_message() -> None:
    done = _program(["render", "no-such-folder", "--motion", "wave", "-o", "never.gif"])
    assert done.returncode == 1 and "studio: error:" in done.stderr
    assert "atexit handler ran" in done.stdout and "teardown" not in done.stdout


def test_another_running_thread_gets_the_normal_exit() -> None:
    worker = "threading.Thread(target=__import__('time').sleep, args=(1.0,)).start()"
    done = _program(["motions"], extra=worker)
    assert done.returncode == 0 and "wave" in done.stdout
    assert done.stdout.count("atexit handler ran") == 1 and "teardown" in done.stdout


def test_a_caller_in_the_same_process_gets_the_status_back() -> None:
    from studio.launcher import main

    assert main(["motions"]) == 0
