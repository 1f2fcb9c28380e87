#!/usr/bin/env bash
# An install into its own prefix, as a user does it: a CPU-only build
# configured with --prefix in a scratch folder, meson install, then the
# installed disco-run finds the installed plugin, the installed example
# pipeline by name (`quick`) and its data through the installed data folder,
# with nothing pointing it there. Only the loader needs to be told where the
# library is (LD_LIBRARY_PATH: a prefix outside ld.so.conf), and the datasets
# come from the source tree (DISCO_DATA_PATH), as install-datasets.sh would
# put them.
#   usage: test-install-prefix.sh SOURCE_DIR
set -uo pipefail
src=$1
. "$src/tests/common/tap.sh"

prefix=$work/prefix
meson setup "$work/build" "$src" --prefix="$prefix" --libdir=lib -Dcuda=disabled \
  -Dintrospection=false -Ddocs=disabled -Dmpi=disabled >"$work/setup.log" 2>&1
check "meson setup --prefix succeeds" "[ $? -eq 0 ]" || tail -20 "$work/setup.log"
meson install -C "$work/build" --quiet >"$work/install.log" 2>&1
check "meson install into the prefix succeeds" "[ $? -eq 0 ]" || tail -20 "$work/install.log"

cd "$work" || exit 1
export LD_LIBRARY_PATH=$prefix/lib DISCO_DATA_PATH=$src
unset DISCO_PLUGIN_PATH DISCO_PIPELINE_PATH
"$prefix/bin/disco-run" -q -o "$work/out" quick data.limit=100 data.epochs=1 2>"$work/err"
check "the installed disco-run runs the installed quick pipeline" \
  "[ $? -eq 0 ] && [ -s '$work/out/results.json' ] && [ ! -s '$work/err' ]"
check "its report names the installed pipeline's data" \
  "grep -qF '\"path\": \"' '$work/out/results.json'"
"$prefix/bin/disco-run" --list-pipelines >"$work/list" 2>&1
check "--list-pipelines lists the installed folder" \
  "grep -qF '$prefix/share/disco-1.0/pipelines' '$work/list' && grep -q '^ *quick' '$work/list'"
"$prefix/bin/disco-inspect" microcircuit >"$work/inspect" 2>&1
check "the installed disco-inspect finds the installed plugin" "grep -q 'size' '$work/inspect'"
tap_done
