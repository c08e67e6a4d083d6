"""Architecture contract: ui | cli over core over pipeline, by package; Qt lives only in studio/ui.

import-linter enforces both (pyproject.toml); these tests check the same rules by their own means, and that the
contracts catch what they are there to catch: a violation planted in a temporary copy must fail them."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUDIO = ROOT / "studio"
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph")
ABOVE_PIPELINE = ("studio.core", "studio.cli", "studio.ui", "studio.launcher")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "ui" not in p.relative_to(STUDIO).parts)


def test_no_qt_outside_ui() -> None:
    offenders = {str(p.relative_to(STUDIO)): sorted(n for n in _imports(p) if n.split(".")[0] in QT)
                 for p in _modules(STUDIO)}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_pipeline_imports_point_down_only() -> None:
    offenders = {str(p.relative_to(STUDIO)): sorted(n for n in _imports(p) if n.startswith(ABOVE_PIPELINE))
                 for p in (STUDIO / "pipeline").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_top_level_module_is_in_a_layer() -> None:
    """Each child of studio/ is a layer's package or the launcher: nothing sits beside the layers unchecked."""
    children = {p.stem for p in STUDIO.iterdir() if (p.suffix == ".py" or (p / "__init__.py").is_file())}
    assert children - {"__init__"} == {"launcher", "ui", "cli", "core", "pipeline"}


def test_importing_the_core_loads_no_qt() -> None:
    """Import every non-ui module in a fresh interpreter; PySide6 must not end up in sys.modules."""
    modules = [".".join(p.relative_to(STUDIO.parent).with_suffix("").parts) for p in _modules(STUDIO)
               if p.stem != "__main__"]
    modules = [m[: -len(".__init__")] if m.endswith(".__init__") else m for m in modules]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"print(sorted(k for k in sys.modules if k.split('.')[0] in {QT!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _lint_copy(tmp_path: Path, plant: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """lint-imports on a copy of studio/ and pyproject.toml, with ``plant`` ({relative path: text to append})."""
    copy = tmp_path / "copy"
    shutil.copytree(STUDIO, copy / "studio", ignore=shutil.ignore_patterns("__pycache__", "resources"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    for relative, text in plant.items():
        target = copy / relative
        target.write_text((target.read_text(encoding="utf-8") if target.exists() else "") + text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=copy, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed beside this Python")
def test_the_contracts_catch_planted_violations(tmp_path: Path) -> None:
    clean = _lint_copy(tmp_path / "clean", {})
    assert clean.returncode == 0, clean.stdout
    upward = _lint_copy(tmp_path / "upward", {"studio/pipeline/deform/rig.py": "\nimport studio.cli.progress\n"})
    assert upward.returncode != 0 and "studio.pipeline.deform.rig -> studio.cli.progress" in upward.stdout
    qt = _lint_copy(tmp_path / "qt", {"studio/newcore.py": '"""A module beside the layers."""\nimport PySide6\n'})
    assert qt.returncode != 0 and "studio.newcore" in qt.stdout
    qt_in_core = _lint_copy(tmp_path / "qt_core", {"studio/core/newcore.py": "import PySide6.QtCore\n"})
    assert qt_in_core.returncode != 0 and "studio.core.newcore -> PySide6" in qt_in_core.stdout
