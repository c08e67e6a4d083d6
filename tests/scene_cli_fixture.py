"""``studio_main``: studio.cli.main.main with the ``scene`` command in it, for the scene tests.

studio/cli/scene.py is wired into main.py by its owner; until then this fixture adds it to a fresh parser and to
COMMANDS for the test's duration (and does nothing once main.py has it).
"""

from __future__ import annotations

import argparse
from typing import Callable, Sequence

import pytest


@pytest.fixture
def studio_main(monkeypatch: pytest.MonkeyPatch) -> Callable[[Sequence[str]], int]:
    import studio.cli.main as cli
    from studio.cli import scene

    if "scene" not in cli.COMMANDS:
        original = cli.build_parser

        def build_parser() -> argparse.ArgumentParser:
            parser = original()
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            scene.add_parser(sub)
            return parser

        monkeypatch.setattr(cli, "build_parser", build_parser)
        monkeypatch.setitem(cli.COMMANDS, "scene", scene.run)
    return cli.main
