"""The studio window on its built-in sample, shown offscreen and previewing: a fixture for the window tests."""

from __future__ import annotations

from typing import Any, Iterator

import pytest


@pytest.fixture
def window(qtbot: Any) -> Iterator[Any]:
    from studio.core.settings import AppSettings  # Qt loads only for the tests that ask for a window
    from studio.ui.app import create_app, wait_for_preview

    _, w = create_app(settings=AppSettings())
    w.show()
    assert wait_for_preview(w), w.banner.label.text()
    yield w
    w.controller.forget_changes()  # no "save changes?" prompt: it would wait for a click forever
    w.close()
    w.deleteLater()
