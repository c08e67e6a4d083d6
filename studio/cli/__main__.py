"""``python -m studio.cli``: the command line without the window."""

import sys

from studio.cli.main import main

sys.exit(main())
