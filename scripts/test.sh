#!/usr/bin/env bash
# Set up (first time only) and run the whole test suite, including the architecture contract.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/qt-libs.sh
scripts/setup.sh
.venv/bin/lint-imports
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
