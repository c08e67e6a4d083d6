#!/usr/bin/env bash
# Set up (first time only) and open Drawing Studio on its built-in sample, annotated and animating.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(uname -s)" = "Linux" ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  scripts/qt-libs.sh offscreen
  scripts/setup.sh
  echo "run.sh: no display here: writing a picture of the window to out/studio.png and the sample's GIFs to out/"
  .venv/bin/studio --screenshot out/studio.png
  exec .venv/bin/studio demo "$@"
fi
# On an X display (a Wayland session's XWayland included) Qt's xcb platform plugin needs more than offscreen does.
scripts/qt-libs.sh "$([ -n "${DISPLAY:-}" ] && echo xcb || echo offscreen)"
scripts/setup.sh
exec .venv/bin/studio "$@"
