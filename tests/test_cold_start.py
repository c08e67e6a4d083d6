"""What a fresh `studio` process loads: listing the motions or the help needs no cv2, numba or scipy (issue 16)."""

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
