"""``studio_batch_main``: studio.cli.main.main with the ``batch`` command in it, for the batch tests.

studio/cli/batch.py is wired into main.py by its owner; until then ``with_batch`` adds it to the parser and to
COMMANDS (and does nothing once main.py has it). ``python tests/batch_cli_fixture.py ARGS`` runs the wired CLI in
a fresh process, as one "pod" of an Indexed Job.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

import pytest


def with_batch(set_attr: Callable[[object, str, object], None], set_item: Callable[[dict, str, object], None]
               ) -> Callable[[Sequence[str]], int]:
    """studio.cli.main.main with ``batch`` wired through the given setters (monkeypatch's, or plain ones)."""
    import studio.cli.main as cli
    from studio.cli import batch

    if "batch" not in cli.COMMANDS:
        original = cli.build_parser

        def build_parser() -> argparse.ArgumentParser:
            parser = original()
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            batch.add_parser(sub)
            return parser

        set_attr(cli, "build_parser", build_parser)
        set_item(cli.COMMANDS, "batch", batch.run)
    return cli.main


@pytest.fixture
def studio_batch_main(monkeypatch: pytest.MonkeyPatch) -> Callable[[Sequence[str]], int]:
    return with_batch(monkeypatch.setattr, monkeypatch.setitem)


if __name__ == "__main__":
    main = with_batch(setattr, lambda d, k, v: d.__setitem__(k, v))
    sys.exit(main(sys.argv[1:]))
