"""``studio_batch_main``: the CLI's main (studio.cli.main.main), for the batch tests. ``python
tests/batch_cli_fixture.py ARGS`` runs the CLI in a fresh process, as one "pod" of an Indexed Job."""

from __future__ import annotations

import sys
from typing import Callable, Sequence

import pytest


@pytest.fixture
def studio_batch_main() -> Callable[[Sequence[str]], int]:
    import studio.cli.main as cli

    return cli.main


if __name__ == "__main__":
    from studio.cli.main import main

    sys.exit(main(sys.argv[1:]))
