#!/usr/bin/env bash
# Make sure the system libraries Qt needs are present; install what is missing with apt when we can (as root, or
# through sudo), else say what to install. Quiet when everything is there.
#   qt-libs.sh offscreen   Qt without a display (DESIGN.md §7)
#   qt-libs.sh xcb         + what the window needs on an X display: the xcb platform plugin's libraries
#                          (ldd on PySide6/Qt/plugins/platforms/libqxcb.so and the libQt6XcbQpa.so.6 it loads)
#   qt-libs.sh [test]      offscreen, plus xcb, Xvfb and xauth where they can be had, for the test that opens the
#                          real window on a virtual X server (scripts/test.sh; without them that test skips)
set -euo pipefail
[ "$(uname -s)" = "Linux" ] || exit 0
mode=${1:-test}

# soname=Debian package, or command=Debian package for programs
offscreen="libglib-2.0.so.0=libglib2.0-0 libGL.so.1=libgl1 libEGL.so.1=libegl1 libfontconfig.so.1=libfontconfig1
  libxkbcommon.so.0=libxkbcommon0 libdbus-1.so.3=libdbus-1-3"
xcb="libxcb.so.1=libxcb1 libX11.so.6=libx11-6 libX11-xcb.so.1=libx11-xcb1 libxkbcommon-x11.so.0=libxkbcommon-x11-0
  libxcb-cursor.so.0=libxcb-cursor0 libxcb-icccm.so.4=libxcb-icccm4 libxcb-keysyms.so.1=libxcb-keysyms1
  libxcb-shape.so.0=libxcb-shape0 libxcb-image.so.0=libxcb-image0 libxcb-util.so.1=libxcb-util1
  libxcb-randr.so.0=libxcb-randr0 libxcb-render.so.0=libxcb-render0 libxcb-render-util.so.0=libxcb-render-util0
  libxcb-shm.so.0=libxcb-shm0 libxcb-sync.so.1=libxcb-sync1 libxcb-xfixes.so.0=libxcb-xfixes0
  libxcb-xkb.so.1=libxcb-xkb1"
xvfb="Xvfb=xvfb xauth=xauth"
case "$mode" in
  offscreen) required="$offscreen"; optional="" ;;
  xcb) required="$offscreen $xcb"; optional="" ;;
  test) required="$offscreen"; optional="$xcb $xvfb" ;;
  *) echo "usage: qt-libs.sh [offscreen|xcb|test]" >&2; exit 2 ;;
esac

# ldconfig lives in /sbin, which a normal user's PATH may lack
ldconfig=$(PATH="$PATH:/sbin:/usr/sbin" command -v ldconfig || true)
known=$([ -n "$ldconfig" ] && "$ldconfig" -p 2>/dev/null || true)
missing() {  # the entries of "$1" (name=package) that are not installed: "name=package ..."
  local entry name
  for entry in $1; do
    name=${entry%%=*}
    if [[ $name == lib*.so.* ]]; then
      grep -qF $'\t'"$name " <<<"$known" || echo "$entry"
    else
      command -v "$name" >/dev/null 2>&1 || echo "$entry"
    fi
  done
}
names() { local e out=(); for e in $1; do out+=("${e%%=*}"); done; echo "${out[*]}"; }
packages() { local e out=(); for e in $1; do out+=("${e#*=}"); done; echo "${out[*]}"; }

need_required=$(missing "$required")
need_optional=$(missing "$optional")
[ -z "$need_required$need_optional" ] && exit 0
need=$(echo $need_required $need_optional)

install() {  # apt-get install "$@" as root, through sudo without a password, or through sudo asking for one
  local run=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || return 1
    if sudo -n true 2>/dev/null; then
      run=(sudo -n)
    elif [ -t 0 ]; then
      run=(sudo)  # asks for the password
    else
      return 1
    fi
  fi
  command -v apt-get >/dev/null 2>&1 || return 1
  echo "qt-libs.sh: installing $*${run:+ (with sudo)}"
  local log  # apt's chatter is shown only when it fails
  if ! log=$("${run[@]}" apt-get update -qq 2>&1 &&
             "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" 2>&1); then
    echo "$log" >&2
    return 1
  fi
}

if install $(packages "$need"); then
  exit 0
fi
if [ -n "$need_required" ]; then
  echo "qt-libs.sh: Qt needs $(names "$need_required"), not installed here; on Debian or Ubuntu:" \
       "sudo apt-get install $(packages "$need_required")" >&2
  exit 1
fi
echo "qt-libs.sh: the test that opens the window under Xvfb will skip: $(names "$need_optional") not installed" \
     "(on Debian or Ubuntu: sudo apt-get install $(packages "$need_optional"))" >&2
