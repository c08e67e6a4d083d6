"""The `studio` command: the window (no command, a FILE, or --screenshot), or a command-line tool (render, …)."""

from __future__ import annotations

import sys
from typing import Sequence

from studio.cli import COMMANDS


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and (args[0] in COMMANDS or args[0] in ("-h", "--help", "-v", "--verbose", "--version")):
        from studio.cli import main as cli_main

        return cli_main(args)
    if args[:1] == ["--help-cli"]:
        from studio.cli import main as cli_main

        return cli_main(["--help"])
    from studio.ui.app import run  # PySide6 loads only for the window

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
