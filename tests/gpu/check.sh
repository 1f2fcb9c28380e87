#!/usr/bin/env bash
# tests/gpu/check.sh: the device check of the CUDA backend, for a GPU machine.
#
#   tests/gpu/check.sh [build-dir]        (default: build-gpu)
#
# From a fresh checkout on a machine with an NVIDIA GPU and CUDA in
# /usr/local/cuda: configure with -Dcuda=enabled (sm_90 + compute_90 PTX),
# build, print nvidia-smi, run the 'gpu' test suite (every CUDA kernel
# against its CPU reference), then tools/disco-bench-cuda.  Sized to finish
# in under 5 minutes on an H100/H200 with 16 cores (not yet timed there).
#
# Disco builds against Debian 12 packages (GLib, json-glib, cairo, libpng,
# OpenBLAS).  A GPU machine without them (no network to install them) can be
# given them as .deb files: on a Debian 12 machine, in the repo root,
#   mkdir -p .debs && (cd .debs && apt-get download $(tests/gpu/check.sh --deb-list))
# then carry .debs and run with DISCO_DEPS_DEBS=.debs; they are unpacked
# into /tmp/disco-deps (never into /) and found through pkg-config's sysroot.
set -uo pipefail

deb_list="libglib2.0-dev libglib2.0-dev-bin libglib2.0-0 libjson-glib-dev libjson-glib-1.0-0
libcairo2-dev libcairo2 libpng-dev libpng16-16 libopenblas-dev libopenblas0-pthread
libopenblas-pthread-dev libopenblas0 libblas3 liblapack3 libgfortran5 libpixman-1-dev libpixman-1-0
libfreetype-dev libfontconfig-dev libmount-dev libblkid-dev libselinux1-dev libpcre2-dev
libffi-dev zlib1g-dev pkgconf libpkgconf3 pkgconf-bin"
if [ "${1:-}" = "--deb-list" ]; then
  echo $deb_list
  exit 0
fi

cd "$(dirname "$0")/../.."
build=${1:-build-gpu}
start=$(date +%s)
export PATH=/usr/local/cuda/bin:$PATH

say () { printf 'check.sh: %s\n' "$*"; }
elapsed () { echo "$(( $(date +%s) - start )) s"; }

say "nvidia-smi:"
if ! nvidia-smi; then
  say "FAIL: nvidia-smi failed: no usable NVIDIA GPU or driver on this machine"
  exit 1
fi
nvcc --version | tail -2 || { say "FAIL: nvcc not found (looked in /usr/local/cuda/bin and PATH)"; exit 1; }

# Debian packages carried as .debs, unpacked beside the system, not over it.
if [ -n "${DISCO_DEPS_DEBS:-}" ]; then
  root=/tmp/disco-deps
  mkdir -p "$root"
  for deb in "$DISCO_DEPS_DEBS"/*.deb; do dpkg -x "$deb" "$root"; done
  multiarch=usr/lib/x86_64-linux-gnu
  export PKG_CONFIG_PATH="$root/$multiarch/pkgconfig:$root/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export PKG_CONFIG_SYSROOT_DIR="$root"
  export LD_LIBRARY_PATH="$root/$multiarch:$root/$multiarch/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LIBRARY_PATH="$LD_LIBRARY_PATH"
  export PATH="$root/usr/bin:$PATH"
  say "using the packages unpacked from $DISCO_DEPS_DEBS into $root"
fi

missing=()
for tool in meson ninja pkg-config; do
  command -v "$tool" >/dev/null || missing+=("program $tool")
done
if command -v pkg-config >/dev/null; then
  for pc in glib-2.0 gobject-2.0 gio-2.0 gmodule-2.0 json-glib-1.0 cairo libpng openblas; do
    pkg-config --exists "$pc" || missing+=("pkg-config module $pc")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "FAIL: this machine lacks what Disco builds against:"
  printf '  - %s\n' "${missing[@]}"
  say "carry the Debian 12 packages as .debs and set DISCO_DEPS_DEBS (see the top of this script),"
  say "or build a self-contained bundle on the development machine and run that here:"
  say "  tests/gpu/bundle.sh make   (there; carry .gpu-bundle.tar.xz)"
  say "  tests/gpu/bundle.sh run    (here)"
  exit 2
fi

introspection=false
command -v g-ir-scanner >/dev/null && introspection=true

say "configure ($build, -Dcuda=enabled, introspection=$introspection)"
if [ ! -d "$build" ]; then
  meson setup "$build" -Dcuda=enabled -Dintrospection=$introspection || { say "FAIL: meson setup"; exit 1; }
else
  meson configure "$build" -Dcuda=enabled || { say "FAIL: meson configure"; exit 1; }
fi
grep -q "CUDA backend built *: True\|CUDA backend built *: YES" "$build/meson-logs/meson-log.txt" \
  || say "warning: meson's summary does not show the CUDA backend as built"

say "build ($(nproc) jobs)"
ninja -C "$build" -j"$(nproc)" || { say "FAIL: build"; exit 1; }
say "built after $(elapsed)"

status=0
say "GPU tests (suite gpu)"
if ! meson test -C "$build" --no-rebuild --suite gpu --print-errorlogs --verbose; then
  say "FAIL: GPU tests"
  status=1
fi
if grep -q "# SKIP" "$build/meson-logs/testlog.txt"; then
  say "FAIL: the GPU tests skipped: the CUDA device was not usable from the tests"
  status=1
fi

say "benchmark (tools/disco-bench-cuda)"
if ! timeout 150 "$build/tools/disco-bench-cuda"; then
  say "FAIL: benchmark"
  status=1
fi

say "benchmark (tools/disco-bench-ode-batched: lockstep solve, CPU and CUDA tables)"
if ! timeout 120 "$build/tools/disco-bench-ode-batched" --quick; then
  say "FAIL: lockstep solve benchmark"
  status=1
fi

# Needs MNIST (data/install-datasets.sh); skipped without it.
if [ -d data/datasets/mnist ]; then
  say "benchmark (tools/disco-bench-train --tables: 3x256 training minibatch, host and CUDA tables)"
  if ! timeout 240 "$build/tools/disco-bench-train" --tables -n 5; then
    say "FAIL: device-path training benchmark"
    status=1
  fi
fi

# The issue's goal: one Fashion-MNIST epoch of the 3×256 network (linear
# threshold, tsit5) on the GPU. The four .gz files (30 MB, real files, not
# the setup's links into /usr/share) must be in data/datasets/fashion-mnist.
fmnist=data/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ -r "$fmnist" ]; then
  say "one Fashion-MNIST epoch, 3x256 linear threshold, device = cuda"
  epoch_start=$(date +%s%N)
  if timeout 150 "$build/tools/disco-run" -q -o "$build/fmnist-epoch" \
       pipelines/fmnist-3x256-linear-threshold.pipeline data.epochs=1 pipeline.device=cuda; then
    say "epoch took $(( ($(date +%s%N) - epoch_start) / 1000000 )) ms (goal: under 10 s on an H100)"
    grep -o '"accuracy": [0-9.]*' "$build/fmnist-epoch/results.json" | tail -1
  else
    say "FAIL: the Fashion-MNIST epoch on CUDA"
    status=1
  fi
else
  say "skipped the Fashion-MNIST epoch: $fmnist is not readable (copy the 4 files there)"
fi

say "done after $(elapsed), status $status"
exit $status
