#!/usr/bin/env bash
# The plugin disco-cuda loads the CUDA backend's module (which links CUDA's
# runtime and cuBLAS) only where the CUDA driver's library is: elsewhere a
# run maps none of CUDA's libraries.  A driver is faked with the CUDA
# toolkit's stub libcuda.so, which loads but finds no device: then the
# module loads, registers nothing, and the run goes on on the CPU; with the
# module missing beside the plugin, the run says which file it missed.
#   usage: test-cuda-plugin.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$1
src=$2
. "$src/tests/common/tap.sh"
run=$build/tools/disco-run
pipeline=$src/pipelines/digits-1x64-linear-threshold.pipeline
# (GLib writes debug messages to stdout, the loader its LD_DEBUG lines to
# stderr: both go to one log.)
export G_MESSAGES_DEBUG=Disco-CUDA
unset DISCO_CUDA

if /usr/bin/python3 -c 'import ctypes; ctypes.CDLL("libcuda.so.1")' 2>/dev/null; then
  ok "# SKIP without a driver: this machine has libcuda.so.1"
else
  LD_DEBUG=files "$run" -q -o "$work/none" "$pipeline" data.epochs=1 data.limit=50 \
    >"$work/log" 2>&1
  check "no CUDA driver: the module is not loaded, no CUDA library is mapped, the run succeeds" \
    "[ $? -eq 0 ] && grep -q 'CUDA backend not loaded: no CUDA driver' '$work/log' \
     && ! grep -qE 'file=.*(libcublas|libcudart|disco-cuda-module)' '$work/log'"
fi

stub=
for dir in /usr/local/cuda/lib64/stubs /usr/local/cuda/targets/x86_64-linux/lib/stubs; do
  [ -e "$dir/libcuda.so" ] && stub=$dir/libcuda.so && break
done
if [ -z "$stub" ]; then
  ok "# SKIP a faked driver: no CUDA stub libcuda.so"
  ok "# SKIP a missing module: no CUDA stub libcuda.so"
else
  mkdir -p "$work/driver"
  ln -s "$stub" "$work/driver/libcuda.so.1"
  LD_DEBUG=files LD_LIBRARY_PATH="$work/driver${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$run" -q -o "$work/faked" "$pipeline" data.epochs=1 data.limit=50 >"$work/log" 2>&1
  check "a driver without a device: the module is loaded, registers nothing, the run succeeds" \
    "[ $? -eq 0 ] && grep -qE 'file=.*disco-cuda-module' '$work/log' \
     && grep -q 'CUDA backend not registered' '$work/log'"

  # The plugin alone in a folder of its own: its cuda/ module is missing.
  mkdir -p "$work/plugins"
  cp "$build/plugin/libdisco-cuda.so" "$work/plugins/"
  DISCO_PLUGIN_PATH=$work/plugins LD_LIBRARY_PATH="$work/driver${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$run" -q -o "$work/missing" "$pipeline" data.epochs=1 data.limit=50 >"$work/log" 2>&1
  check "the module missing: a warning names the file it looked for" \
    "grep -q '$work/plugins/cuda/libdisco-cuda-module.so' '$work/log'"
fi

tap_done
