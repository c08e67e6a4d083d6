"""Shared fixtures: the real sample files in ../shared/data, skipped with a reason when absent."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Widget tests run without a display; settings and recovery files of tests never touch the user's own.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_HOME = Path(tempfile.mkdtemp(prefix="studio-test-home-"))
for _name, _sub in (("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state"), ("XDG_DATA_HOME", "data"),
                    ("STUDIO_CONFIG_DIR", "config/drawing-studio"), ("STUDIO_RECOVERY_DIR", "recovery")):
    os.environ[_name] = str(_HOME / _sub)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SHARED_REASON = "../shared/data is not present (it is not part of a user's clone)"

# Fixture modules (tests/ is on sys.path): their fixtures are found by name, with no import in the test files.
pytest_plugins = ["s3_fixture", "window_fixture"]


@pytest.fixture(scope="session")
def shared() -> Path:
    """The folder of real files other people made; tests using it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(SHARED_REASON)
    return SHARED
