"""``studio_main``: the CLI's main (studio.cli.main.main), for the scene tests that run ``studio scene``."""

from __future__ import annotations

from typing import Callable, Sequence

import pytest


@pytest.fixture
def studio_main() -> Callable[[Sequence[str]], int]:
    import studio.cli.main as cli

    return cli.main
