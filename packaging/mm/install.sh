#!/usr/bin/env bash
# Build and install the mm stack that AnimatedDrawings' .mar files need (mmcv-full 1.7.0, mmdet 2.27,
# mmpose 0.29) into the Python environment given, the way that works with torch 2.x:
#   - setuptools<82 (mmcv's setup.py and mmengine import pkg_resources), numpy<2, and --no-build-isolation on
#     every step that prepares the sdist (pip download too: it runs setup.py to read the metadata);
#   - a torch/torchvision pair that imports together: when torchvision does not import (the project's
#     torch==2.13.0 has none here), the script says so and installs the pair that works (--keep-torch stops);
#   - mmcv-full 1.7.0's setup.py patched from -std=c++14 to what torch's headers need (c++17, c++20 for 2.14+);
#   - CUDA ops with FORCE_CUDA=1 (needs nvcc and a CUDA build of torch) for TORCH_CUDA_ARCH_LIST (default: the
#     GPU's); FORCE_CUDA=0 builds CPU ops only; unset: CUDA ops when nvcc and a GPU are both present;
#   - the built wheel is cached under ${XDG_CACHE_HOME:-~/.cache}/drawing-studio/wheels, keyed by torch, CUDA,
#     FORCE_CUDA and the arch list, so a second install takes seconds and asking for CUDA never reuses CPU ops.
# Usage: packaging/mm/install.sh [--python PY] [--dry-run] [--keep-torch]
set -euo pipefail

MMCV_VERSION=1.7.0
PROJECT_TORCH=2.13.0  # the [torch] extra's pin in pyproject.toml

run() { echo "+ $*"; [ "$DRY" = 1 ] || "$@"; }
die() { echo "install.sh: $*" >&2; exit 1; }  # one line: the arguments joined by spaces

# The torch/torchvision pair that imports on this machine kind (DESIGN.md §3): "torch torchvision CUDA size".
torch_pair() {
  case "$1" in
    x86_64) echo "2.14.1 0.29.1 13.0 about 5.6 GB in the venv (CUDA 13.0 builds with their nvidia libraries," \
                 "which run on a CPU too)" ;;
    aarch64) echo "2.9.1 0.24.1 cpu about 0.7 GB in the venv (CPU builds)" ;;
    *) return 1 ;;
  esac
}

# The C++ standard torch's headers need: c++20 from torch 2.14 on, else c++17 (mmcv-full asks for c++14).
cxx_std_for() {
  local header="$1" version="$2"
  if [ -f "$header" ]; then
    if grep -qs "C++20" "$header"; then echo c++20; else echo c++17; fi
  else  # a dry run that plans another torch: its version decides
    case "$version" in 2.1[4-9].*|2.[2-9][0-9].*|[3-9].*) echo c++20 ;; *) echo c++17 ;; esac
  fi
}

# Download mmcv-full's sdist into $1 and patch its C++ standard. --no-build-isolation: pip runs the sdist's
# setup.py to read its metadata, and in an isolated env that setup.py finds no pkg_resources (setuptools >= 82).
fetch_sdist() {
  local work="$1"
  run "$PY" -m pip download --no-build-isolation --no-deps --no-binary :all: "mmcv-full==$MMCV_VERSION" -d "$work"
  if [ "$DRY" = 0 ]; then
    tar -xzf "$work/mmcv-full-$MMCV_VERSION.tar.gz" -C "$work"
    sed -i "s/-std=c++14/-std=$CXX_STD/g" "$work/mmcv-full-$MMCV_VERSION/setup.py"
  fi
}

# Build the unpacked sdist in $1 into a wheel in $2, against the torch already in the environment.
build_wheel() {
  run mkdir -p "$2"
  run "$PY" -m pip wheel --no-build-isolation --no-deps -w "$2" "$1/mmcv-full-$MMCV_VERSION"
}

# One line of facts from the target Python: torch version|CUDA|GPU capability|ATen header|torchvision ("ok" or
# why it does not import). Fails when torch does not import.
probe_python() {
  "$PY" - <<'EOF' 2>/dev/null
import os, torch
cap = "none"
if torch.cuda.is_available():
    cap = "%d.%d" % torch.cuda.get_device_capability(0)
header = os.path.join(os.path.dirname(torch.__file__), "include", "ATen", "ATen.h")
try:
    import torchvision  # noqa: F401
    tv = "ok"
except Exception as exc:  # the reason, on one line
    tv = (str(exc).strip().splitlines() or [type(exc).__name__])[-1].replace("|", "/")
print("|".join([torch.__version__.split("+")[0], torch.version.cuda or "cpu", cap, header, tv]))
EOF
}

# Install the torch/torchvision pair that imports, after saying why and what it costs.
install_torch_pair() {
  local why="$1" machine pair
  machine=$(uname -m)
  pair=$(torch_pair "$machine") || die "torchvision does not import in $PY ($why), and no working" \
    "torch/torchvision pair is known for $machine: install a matching pair yourself (see 'studio doctor')."
  read -r PAIR_TORCH PAIR_TV PAIR_CUDA PAIR_SIZE <<<"$pair"
  if [ "$KEEP_TORCH" = 1 ]; then
    die "torchvision does not import in $PY ($why). mmcv's checkpoint loader needs a torchvision built for" \
      "this very torch: install the pair together, for example 'pip install torch==$PAIR_TORCH" \
      "torchvision==$PAIR_TV' (see 'studio doctor'), or run without --keep-torch to have this script do it."
  fi
  echo "install.sh: torchvision does not import in $PY ($why)."
  echo "  mmcv-full 1.x imports torchvision, which must be built for the very torch beside it; for the project's"
  echo "  pin, torch $PROJECT_TORCH (CPU), this package index has only CUDA builds of torchvision, which do not import."
  echo "  Installing the pair that works on $machine instead: torch==$PAIR_TORCH torchvision==$PAIR_TV, $PAIR_SIZE."
  echo "  This moves $PY off the project's torch pin ($PROJECT_TORCH); run with --keep-torch to stop here instead."
  run "$PY" -m pip install "torch==$PAIR_TORCH" "torchvision==$PAIR_TV"
  if [ "$DRY" = 1 ]; then
    TORCH=$PAIR_TORCH TORCH_CUDA=$PAIR_CUDA HEADER=""
  else
    IFS='|' read -r TORCH TORCH_CUDA GPU_CAP HEADER TV <<<"$(probe_python)"
    [ "$TV" = ok ] || die "torchvision still does not import after installing the pair ($TV)"
  fi
}

# CPU or CUDA ops, from FORCE_CUDA, nvcc and the GPU; sets FLAVOUR (the cache key's part) and the build's env.
choose_ops() {
  local nvcc=0
  command -v nvcc >/dev/null 2>&1 && nvcc=1
  case "${FORCE_CUDA:-}" in
    1) [ "$nvcc" = 1 ] || die "FORCE_CUDA=1 asks for CUDA ops, but nvcc is not on PATH: install the CUDA" \
         "toolkit that matches torch's CUDA ($TORCH_CUDA), or build in a CUDA devel image, or unset FORCE_CUDA" \
         "for CPU ops." ;;
    0|"") ;;
    *) die "FORCE_CUDA must be 1 (CUDA ops) or 0 (CPU ops), not '$FORCE_CUDA'" ;;
  esac
  if [ "${FORCE_CUDA:-}" = 1 ] || { [ -z "${FORCE_CUDA:-}" ] && [ "$nvcc" = 1 ] && [ "$GPU_CAP" != none ]; }; then
    [ "$TORCH_CUDA" != cpu ] || die "CUDA ops asked for, but torch $TORCH is a CPU build: install a CUDA" \
      "build of torch (and its torchvision) first, or set FORCE_CUDA=0 for CPU ops."
    if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
      [ "$GPU_CAP" != none ] || die "FORCE_CUDA=1 without a visible GPU: set TORCH_CUDA_ARCH_LIST to the" \
        "GPUs' compute capabilities, e.g. TORCH_CUDA_ARCH_LIST='8.0;9.0' for A100 and H100/H200."
      TORCH_CUDA_ARCH_LIST=$GPU_CAP
    fi
    export FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST
    FLAVOUR="cu${TORCH_CUDA//./}-FORCE_CUDA1-arch${TORCH_CUDA_ARCH_LIST//[^0-9A-Za-z.+]/_}"
    echo "install.sh: building mmcv-full $MMCV_VERSION with CUDA ops" \
      "(FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST)"
  else
    # mmcv's setup.py builds CUDA ops whenever torch sees a GPU: hide it, so the CPU key holds CPU ops only.
    export FORCE_CUDA=0 CUDA_VISIBLE_DEVICES=""
    FLAVOUR="cpu"
    echo "install.sh: building mmcv-full $MMCV_VERSION with CPU ops only" \
      "(FORCE_CUDA=1 with nvcc and TORCH_CUDA_ARCH_LIST builds CUDA ops)"
  fi
}

main() {
  PY=python3 DRY=0 KEEP_TORCH=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --python) PY="$2"; shift 2 ;;
      --dry-run) DRY=1; shift ;;
      --keep-torch) KEEP_TORCH=1; shift ;;
      -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
      *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
  done
  local facts
  facts=$(probe_python) || die "torch is not installed in $PY; install it first (pip install torch==$PROJECT_TORCH)"
  IFS='|' read -r TORCH TORCH_CUDA GPU_CAP HEADER TV <<<"$facts"
  [ "$TV" = ok ] || install_torch_pair "$TV"
  CXX_STD=$(cxx_std_for "$HEADER" "$TORCH")
  echo "install.sh: compiling mmcv-full's ops as $CXX_STD (what torch $TORCH's headers need)"
  choose_ops

  run "$PY" -m pip install "setuptools==80.9.0" "numpy<2" "opencv-python-headless<4.12" wheel ninja
  local wheel_dir="${XDG_CACHE_HOME:-$HOME/.cache}/drawing-studio/wheels/mmcv_full-$MMCV_VERSION-torch$TORCH-$FLAVOUR"
  if ls "$wheel_dir"/mmcv_full-*.whl >/dev/null 2>&1; then
    echo "install.sh: using the cached wheel in $wheel_dir"
  else
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
    fetch_sdist "$WORK"
    build_wheel "$WORK" "$wheel_dir"
  fi
  # --force-reinstall: a CPU build of the same version may be installed already, and pip would keep it.
  run "$PY" -m pip install --no-build-isolation --no-deps --force-reinstall "$wheel_dir"/mmcv_full-*.whl
  run "$PY" -m pip install addict "yapf==0.40.1" "mmdet==2.27.0" --no-build-isolation
  run "$PY" -m pip install --no-deps "mmpose==0.29.0"
  run "$PY" -m pip install json_tricks munkres xtcocotools "scipy>=1.11"  # mmpose went in with --no-deps
  echo "install.sh: done; check it with: studio doctor"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
