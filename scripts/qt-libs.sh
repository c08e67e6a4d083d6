#!/usr/bin/env bash
# Make sure the system libraries Qt needs (offscreen too) are present; install them with apt when we can.
# DESIGN.md §7: libglib2.0-0 libgl1 libegl1 libfontconfig1 libxkbcommon0 libdbus-1-3.
set -euo pipefail
[ "$(uname -s)" = "Linux" ] || exit 0
missing=()
for lib in libglib-2.0.so.0 libGL.so.1 libEGL.so.1 libfontconfig.so.1 libxkbcommon.so.0 libdbus-1.so.3; do
  ldconfig -p 2>/dev/null | grep -q "$lib" || missing+=("$lib")
done
[ ${#missing[@]} -eq 0 ] && exit 0
packages="libglib2.0-0 libgl1 libegl1 libfontconfig1 libxkbcommon0 libdbus-1-3"
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "qt-libs.sh: installing Qt's system libraries (${missing[*]} missing): $packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
else
  echo "qt-libs.sh: Qt needs ${missing[*]}; install them, e.g. 'sudo apt-get install $packages'" >&2
  exit 1
fi
