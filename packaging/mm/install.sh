#!/usr/bin/env bash
# Build and install the mm stack that AnimatedDrawings' .mar files need (mmcv-full 1.7.0, mmdet 2.27,
# mmpose 0.29) into the current Python environment, the way that works with torch 2.x:
#   - setuptools<82 (mmcv's setup.py and mmengine import pkg_resources), numpy<2, --no-build-isolation;
#   - mmcv-full 1.7.0's setup.py patched from -std=c++14 to -std=c++17 (torch >= 2) or c++20 (torch >= 2.14);
#   - with nvcc and a GPU: FORCE_CUDA=1 and TORCH_CUDA_ARCH_LIST from the GPU's compute capability,
#     so the ops are compiled with CUDA (without them TorchServe is "Healthy" and every prediction is a 500);
#   - the built wheel is cached under ${XDG_CACHE_HOME:-~/.cache}/drawing-studio/wheels, so a second
#     install takes seconds instead of about 10 minutes.
# Usage: packaging/mm/install.sh [--python PY] [--dry-run]
set -euo pipefail

PY=python3
DRY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PY="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

MMCV_VERSION=1.7.0
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/drawing-studio/wheels"
run() { echo "+ $*"; [ "$DRY" = 1 ] || "$@"; }

if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "install.sh: torch is not installed in $PY; install it first (pip install torch==2.13.0)" >&2
  exit 1
fi
if ! "$PY" -c "import torchvision" 2>/dev/null; then
  echo "install.sh: torchvision does not import in $PY ($("$PY" -c "import torchvision" 2>&1 | tail -1))." >&2
  echo "  mmcv's checkpoint loader needs a torchvision built for this very torch: install the pair together," >&2
  echo "  for example 'pip install torch==2.14.1 torchvision==0.29.1' (see 'studio doctor')." >&2
  exit 1
fi
TORCH=$("$PY" -c "import torch; print(torch.__version__.split('+')[0])")
TORCH_CUDA=$("$PY" -c "import torch; print(torch.version.cuda or 'cpu')")

# mmcv-full 1.7.0 asks for C++14; torch 2.x headers need C++17, and newer torch (2.14+) C++20.
CXX_STD=c++17
if grep -qs "C++20" "$("$PY" -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'include', 'ATen', 'ATen.h'))")"; then
  CXX_STD=c++20
fi
echo "install.sh: compiling mmcv-full's ops as $CXX_STD (what torch $TORCH's headers need)"

if command -v nvcc >/dev/null 2>&1 && "$PY" -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  ARCH=$("$PY" -c "import torch; ma,mi=torch.cuda.get_device_capability(0); print(f'{ma}.{mi}')")
  export FORCE_CUDA=1
  export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-$ARCH}"
  FLAVOUR="cu${TORCH_CUDA//./}-sm${TORCH_CUDA_ARCH_LIST//[^0-9]/}"
  echo "install.sh: building mmcv-full $MMCV_VERSION with CUDA ops (FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST)"
else
  FLAVOUR="cpu"
  echo "install.sh: no nvcc or no GPU: building mmcv-full $MMCV_VERSION with CPU ops only"
fi

run "$PY" -m pip install "setuptools==80.9.0" "numpy<2" "opencv-python-headless<4.12" wheel ninja
WHEEL_DIR="$CACHE/mmcv_full-$MMCV_VERSION-torch$TORCH-$FLAVOUR"
if ls "$WHEEL_DIR"/mmcv_full-*.whl >/dev/null 2>&1; then
  echo "install.sh: using the cached wheel in $WHEEL_DIR"
else
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  run "$PY" -m pip download --no-deps --no-binary :all: "mmcv-full==$MMCV_VERSION" -d "$WORK"
  if [ "$DRY" = 0 ]; then
    tar -xzf "$WORK"/mmcv-full-$MMCV_VERSION.tar.gz -C "$WORK"
    sed -i "s/-std=c++14/-std=$CXX_STD/g" "$WORK/mmcv-full-$MMCV_VERSION/setup.py"
  fi
  run mkdir -p "$WHEEL_DIR"
  run "$PY" -m pip wheel --no-build-isolation --no-deps -w "$WHEEL_DIR" "$WORK/mmcv-full-$MMCV_VERSION"
fi
run "$PY" -m pip install --no-build-isolation --no-deps "$WHEEL_DIR"/mmcv_full-*.whl
run "$PY" -m pip install addict "yapf==0.40.1" "mmdet==2.27.0" --no-build-isolation
run "$PY" -m pip install --no-deps "mmpose==0.29.0"
run "$PY" -m pip install json_tricks munkres xtcocotools
echo "install.sh: done; check it with: studio doctor"
