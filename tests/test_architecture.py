"""Architecture contract: Qt lives only in studio/ui; the pipeline imports nothing above it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

STUDIO = Path(__file__).resolve().parents[1] / "studio"
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph")
CORE_AND_UP = ("studio.ui", "studio.cli", "studio.render", "studio.motion_source", "studio.sample", "studio.annotate", "studio.doctor")


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
    offenders = {str(p.relative_to(STUDIO)): sorted(n for n in _imports(p) if n.startswith(CORE_AND_UP))
                 for p in (STUDIO / "pipeline").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_core_loads_no_qt() -> None:
    """Import every non-ui module in a fresh interpreter; PySide6 must not end up in sys.modules."""
    modules = [".".join(p.relative_to(STUDIO.parent).with_suffix("").parts) for p in _modules(STUDIO)]
    modules = [m[: -len(".__init__")] if m.endswith(".__init__") else m for m in modules]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"print(sorted(k for k in sys.modules if k.split('.')[0] in {QT!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
