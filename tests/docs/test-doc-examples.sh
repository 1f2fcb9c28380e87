#!/usr/bin/env bash
# The code of the reference's pages "Writing a node in C" and "Writing a
# node in Python" (docs/reference/node-in-*.md) works as the pages say: the
# C blocks, put together, build as a plugin module that disco-inspect
# describes and disco-run runs; the Python blocks, put together, run.
#   usage: test-doc-examples.sh BUILD_DIR SOURCE_DIR CC PYTHON
set -uo pipefail
build=$1 src=$2 cc=$3 python=$4
. "$src/tests/common/tap.sh"

# code_blocks LANG FILE: the fenced ```LANG blocks of FILE, in order.
code_blocks() {
  awk -v lang="$1" '/^```/ { if (inside) { inside = 0; next } if ($0 == "```" lang) { inside = 1; next } }
                    inside { print }' "$2"
}

code_blocks c "$src/docs/reference/node-in-c.md" >"$work/disco-clip.c"
mkdir "$work/plugins"
# shellcheck disable=SC2046
$cc -shared -fPIC -Wall -Wextra -Wno-unused-parameter -Werror -o "$work/plugins/libdisco-clip.so" \
  "$work/disco-clip.c" -I"$src" -I"$build/disco" \
  $(pkg-config --cflags --libs gobject-2.0 gio-2.0 gmodule-2.0) -L"$build/disco" -ldisco-1.0 \
  >"$work/cc.log" 2>&1
check "the C page's code builds as a plugin module (-Wall -Wextra -Werror)" "[ $? -eq 0 ]" ||
  sed 's/^/# /' "$work/cc.log"

export DISCO_PLUGIN_PATH=$work/plugins
"$build/tools/disco-inspect" clip >"$work/inspect" 2>&1
check "disco-inspect describes the C page's node: ports, property with range and default" \
      "grep -qF 'Clips every value to [-limit, limit]' '$work/inspect' &&
       grep -qE '^  input +: any tensor' '$work/inspect' &&
       grep -qE 'Range: 0 … 3.40282e\\+38. Default: 1\$' '$work/inspect'" || sed 's/^/# /' "$work/inspect"

cat >"$work/clip.pipeline" <<'PIPELINE'
[numbers]
node = constant-source
shape = 4,3
value = 0.5
step = 0.25
ticks = 10
ticks-per-epoch = 5

[clipped]
node = clip
input = numbers
limit = 1.5
PIPELINE
"$build/tools/disco-run" -q -o "$work/run" "$work/clip.pipeline" >"$work/run.log" 2>&1
check "disco-run runs it; its end_epoch hook reports each epoch" \
      "[ $? -eq 0 ] && grep -qF 'clipped: epoch 1: 0 values clipped' '$work/run.log' &&
       grep -qF 'clipped: epoch 2: 60 values clipped' '$work/run.log'" || sed 's/^/# /' "$work/run.log"
"$build/tools/disco-run" -q -o "$work/run2" "$work/clip.pipeline" clipped.limit=0 >"$work/run2.log" 2>&1
check "its prepare hook refuses limit=0 with the file and line" \
      "[ $? -eq 1 ] && grep -qF 'clip.pipeline:9: node \"clipped\": \"limit\" must be positive' '$work/run2.log'" ||
  sed 's/^/# /' "$work/run2.log"
unset DISCO_PLUGIN_PATH

code_blocks python "$src/docs/reference/node-in-python.md" >"$work/clip.py"
"$python" "$work/clip.py" >"$work/py.log" 2>&1
check "the Python page's code runs: hooks called, values clipped" \
      "[ $? -eq 0 ] && grep -qF 'epoch 1: 0 values clipped' '$work/py.log' &&
       grep -qF 'epoch 2: 60 values clipped' '$work/py.log' && grep -qF '1.5 1.5 1.5' '$work/py.log'" ||
  sed 's/^/# /' "$work/py.log"

tap_done
