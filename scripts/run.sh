#!/usr/bin/env bash
# Set up (first time only) and open Drawing Studio on its built-in sample, rigged and animating.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/qt-libs.sh
scripts/setup.sh
if [ "$(uname -s)" = "Linux" ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "run.sh: no display here: writing a picture of the window to out/studio.png and the sample's GIFs to out/"
  .venv/bin/studio --screenshot out/studio.png
  exec .venv/bin/studio demo "$@"
fi
exec .venv/bin/studio "$@"
