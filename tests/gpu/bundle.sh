#!/usr/bin/env bash
# tests/gpu/bundle.sh: the device check for a GPU machine that cannot build
# Disco (no Debian packages there, no network to get them).
#
#   tests/gpu/bundle.sh make [BUNDLE]   here, on Debian 12 with the project's
#                                       packages and CUDA in /usr/local/cuda:
#                                       builds with -Dcuda=enabled and packs the
#                                       GPU tests, the benchmarks, disco-run, the
#                                       plugins and every shared library they
#                                       need (the dynamic loader and libc
#                                       included; CUDA's own libraries and the
#                                       driver excluded) into BUNDLE
#                                       (default .gpu-bundle.tar.xz, about 20 MB)
#   tests/gpu/bundle.sh run [BUNDLE]    there, from the root of a copy of the
#                                       checkout carrying BUNDLE: unpacks it in
#                                       /tmp and runs the GPU tests and the
#                                       benchmarks with the bundled loader, so
#                                       the machine's own libc version does not
#                                       matter; CUDA's libraries come from that
#                                       machine (/usr/local/cuda, or where
#                                       ldconfig knows them)
#
# `run` works here too: without a GPU every CUDA case skips with its reason,
# which checks the bundle itself (loader, libraries, plugins).
set -uo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-}
bundle=${2:-.gpu-bundle.tar.xz}
say () { printf 'bundle.sh: %s\n' "$*"; }

# CUDA's libraries and the driver belong to the machine that runs the bundle.
is_cuda_library () {
  case $1 in libcuda.so*|libcudart.so*|libcublas.so*|libcublasLt.so*|libnvidia-*) return 0 ;; esac
  return 1
}

make_bundle () {
  local build=build-bundle stage root
  export PATH=/usr/local/cuda/bin:$PATH
  if [ ! -d "$build" ]; then
    meson setup "$build" -Dcuda=enabled -Dintrospection=false -Dbuildtype=release >/dev/null \
      || { say "FAIL: meson setup"; return 1; }
  fi
  ninja -C "$build" >/dev/null || { say "FAIL: build"; return 1; }

  stage=$(mktemp -d)
  root=$stage/disco-bundle
  mkdir -p "$root/bin" "$root/lib" "$root/plugins/cuda"
  for test in "$build"/tests/gpu/test-cuda-*; do
    [ -f "$test" ] && [ -x "$test" ] && cp "$test" "$root/bin/"
  done
  for tool in disco-bench-cuda disco-bench-ode-batched disco-bench-train disco-run; do
    cp "$build/tools/$tool" "$root/bin/"
  done
  cp "$build"/plugin/libdisco-nodes.so "$build"/plugin/libdisco-cuda.so "$root/plugins/"
  # The CUDA backend's module, which the plugin loads where a driver is.
  cp "$build"/plugin/cuda/libdisco-cuda-module.so "$root/plugins/cuda/"

  # Every library any of them loads, under the name it is asked for.
  for object in "$root"/bin/* "$root"/plugins/*.so "$root"/plugins/cuda/*.so; do
    LD_LIBRARY_PATH="$build/disco:$build/kernels" ldd "$object" | while read -r name arrow path rest; do
      [ "$arrow" = "=>" ] && [ -n "$path" ] && [ -e "$path" ] || continue
      is_cuda_library "$name" && continue
      [ -e "$root/lib/$name" ] || cp -L "$path" "$root/lib/$name"
    done
  done
  cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib/"
  git rev-parse HEAD > "$root/commit" 2>/dev/null || true
  tar -C "$stage" -cJf "$bundle" disco-bundle || { say "FAIL: tar"; return 1; }
  rm -rf "$stage"
  say "wrote $bundle ($(du -h "$bundle" | cut -f1)); carry it and run: tests/gpu/bundle.sh run $bundle"
}

cuda_library_path () {
  local dirs=() dir
  for dir in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda/lib \
             /usr/lib/x86_64-linux-gnu /usr/local/nvidia/lib64 /usr/lib64; do
    [ -d "$dir" ] && dirs+=("$dir")
  done
  # libcuda.so.1 (the driver) wherever ldconfig has it.
  dir=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 / { print $NF; exit }')
  [ -n "$dir" ] && dirs+=("$(dirname "$dir")")
  local IFS=:
  echo "${dirs[*]}"
}

run_bundle () {
  local root=/tmp/disco-bundle status=0 start libpath
  start=$(date +%s)
  [ -r "$bundle" ] || { say "FAIL: no bundle $bundle (make one with: tests/gpu/bundle.sh make)"; return 2; }
  rm -rf "$root"
  tar -C /tmp -xJf "$bundle" || { say "FAIL: cannot unpack $bundle"; return 2; }
  say "bundle of commit $(cat "$root/commit" 2>/dev/null || echo '?')"
  libpath="$root/lib:$(cuda_library_path)"
  export DISCO_PLUGIN_PATH=$root/plugins DISCO_SOURCE_ROOT=$PWD
  local loader=("$root/lib/ld-linux-x86-64.so.2" --library-path "$libpath")

  nvidia-smi 2>&1 | head -15 || say "no nvidia-smi"
  # CUDA's own libraries are not in the bundle (cuBLAS alone is 0.5 GB).
  local found_cublas=no dir
  for dir in ${libpath//:/ }; do
    [ -e "$dir/libcublas.so.13" ] && found_cublas=$dir
  done
  ldconfig -p 2>/dev/null | grep -q 'libcublas\.so\.13 ' && found_cublas=ldconfig
  if [ "$found_cublas" = no ]; then
    say "note: no libcublas.so.13 in the linker cache or in $libpath: the CUDA backend cannot load (the tests say so)"
  fi
  for test in "$root"/bin/test-cuda-*; do
    local out rc
    say "$(basename "$test")"
    out=$(timeout 120 "${loader[@]}" "$test" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    if [ $rc -ne 0 ]; then
      say "FAIL: $(basename "$test") (status $rc)"
      status=1
    elif nvidia-smi >/dev/null 2>&1 && grep -q '# SKIP' <<<"$out"; then
      # A test that skipped where a GPU is present did not test anything.
      say "FAIL: $(basename "$test") skipped cases on a machine with a GPU"
      status=1
    fi
  done
  say "benchmark: disco-bench-cuda"
  timeout 150 "${loader[@]}" "$root/bin/disco-bench-cuda" || { say "FAIL: disco-bench-cuda"; status=1; }
  say "benchmark: disco-bench-ode-batched --quick"
  timeout 120 "${loader[@]}" "$root/bin/disco-bench-ode-batched" --quick || { say "FAIL: disco-bench-ode-batched"; status=1; }
  if [ -d data/datasets/mnist ]; then
    say "benchmark: disco-bench-train --tables -n 5"
    timeout 240 "${loader[@]}" "$root/bin/disco-bench-train" --tables -n 5 || { say "FAIL: disco-bench-train"; status=1; }
  fi
  say "done after $(( $(date +%s) - start )) s, status $status"
  return $status
}

case $mode in
  make) make_bundle ;;
  run) run_bundle ;;
  *) echo "usage: tests/gpu/bundle.sh make|run [BUNDLE]" >&2; exit 2 ;;
esac
