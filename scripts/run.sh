#!/usr/bin/env bash
# Set up (first time only) and run Drawing Studio on its built-in sample character.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/studio demo "$@"
