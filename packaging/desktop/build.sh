#!/usr/bin/env bash
# Build the Drawing Studio desktop bundle (PyInstaller, one folder) into OUT:
#   packaging/desktop/build.sh OUT            # OUT/drawing-studio/studio is the program
#   PYTHON=/path/to/venv/bin/python packaging/desktop/build.sh OUT
# PYTHON (default: the repository's .venv) must have the studio installed and PyInstaller (the test extra has it).
# Besides the program, OUT/drawing-studio/ gets drawing-studio.desktop, drawing-studio.svg and a 256 px
# drawing-studio.png rendered from the SVG.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT" >&2
    exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
out="$1"

if [ ! -x "$python" ]; then
    echo "build.sh: error: no Python at $python (set PYTHON, or run scripts/test.sh once to create .venv)" >&2
    exit 1
fi
if ! "$python" -c "import PyInstaller" 2>/dev/null; then
    echo "build.sh: error: PyInstaller is not installed in $python (pip install pyinstaller, or the test extra)" >&2
    exit 1
fi
if ! "$python" -c "import studio.launcher, studio.motions" 2>/dev/null; then
    echo "build.sh: error: the studio is not installed in $python (pip install -e $repo)" >&2
    exit 1
fi

mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# PyInstaller writes OUT/drawing-studio itself (replacing an older one); its work folder is thrown away.
"$python" -m PyInstaller --noconfirm --log-level WARN --distpath "$out" --workpath "$work/build" \
    "$here/studio.spec"

bundle="$out/drawing-studio"
# The bundle carries the xcb libraries of this machine; any it lacks, the target must have for the X11 window.
xcb_plugin="$bundle/_internal/PySide6/Qt/plugins/platforms/libqxcb.so"
missing="$(LD_LIBRARY_PATH="$bundle/_internal" ldd "$xcb_plugin" 2>/dev/null | awk '/not found/ {print $1}' | sort -u)"
if [ -n "$missing" ]; then
    echo "build.sh: warning: not bundled (missing here; scripts/qt-libs.sh xcb installs them):" $missing >&2
fi
cp "$here/drawing-studio.desktop" "$here/drawing-studio.svg" "$bundle/"
QT_QPA_PLATFORM=offscreen "$python" "$here/render_icon.py" "$here/drawing-studio.svg" "$bundle/drawing-studio.png" 256
echo "$bundle"
