#!/usr/bin/env bash
# The installed Disco: meson install into a scratch folder (--destdir, from
# the existing build: no rebuild, no CUDA compile), then the installed
# disco-run finds an example pipeline by name and runs it with its data path
# resolved from the installed location, lists the pipelines, and the man
# pages, pipelines, datasets script and docs are where DESIGN says.
#   usage: test-install.sh BUILD_DIR SOURCE_DIR PREFIX BINDIR LIBDIR DATADIR MANDIR man|no-man docs|no-docs
#
# The destdir is not the prefix the binaries were built for, so the test
# points the installed library at its plugins (DISCO_PLUGIN_PATH), the
# loader at the library (LD_LIBRARY_PATH) and disco-run at the installed
# pipelines (DISCO_PIPELINE_PATH), as a relocated install would need; an
# install into its real prefix needs none of them. DISCO_DATA_PATH names
# the source tree, whose data/datasets holds MNIST, as a user's data folder.
set -uo pipefail
build=$1 src=$2 prefix=$3 bindir=$4 libdir=$5 datadir=$6 mandir=$7 man=$8 docs=$9
. "$src/tests/common/tap.sh"

dest=$work/dest
root=$dest$prefix
share=$root/$datadir/disco-1.0
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$work/install.log" 2>&1
check "meson install --destdir succeeds" "[ $? -eq 0 ]" || cat "$work/install.log"

for tool in disco-run disco-inspect disco-plot disco-sweep; do
  check "$tool is installed" "[ -x '$root/$bindir/$tool' ]"
  if [ "$man" = man ]; then
    check "man page of $tool" "[ -s '$root/$mandir/man1/$tool.1' ] && grep -q '^\\.TH DISCO' '$root/$mandir/man1/$tool.1'"
  fi
done
[ "$man" = man ] || echo "# help2man not found at configure time: man pages not checked"
if [ "$man" = man ] && command -v man >/dev/null; then
  check "the disco-run man page explains NAME and renders without a warning" \
        "grep -qF 'DISCO_PIPELINE_PATH' '$root/$mandir/man1/disco-run.1' && [ -z \"\$(LC_ALL=C MANWIDTH=80 man -l '$root/$mandir/man1/disco-run.1' 2>&1 >/dev/null)\" ]"
fi
check "the example pipelines and sweeps are installed" \
      "[ -f '$share/pipelines/quick.pipeline' ] && [ -f '$share/pipelines/table1.sweep' ] && [ \$(ls '$share/pipelines' | wc -l) -eq \$(ls '$src/pipelines' | wc -l) ]"
check "install-datasets.sh is installed, executable, with its checksums" \
      "[ -x '$share/data/install-datasets.sh' ] && [ -f '$share/data/datasets.md5' ]"
check "the docs are installed" "[ -f '$share/README.md' ] && [ -f '$share/docs/nodes.json' ] && [ -f '$share/docs/figures/table1-pipeline.png' ]"
check "the API reference's sources are not installed with the docs" "[ ! -e '$share/docs/reference' ]"
if [ "$docs" = docs ]; then
  reference=$root/$datadir/doc/disco-1.0
  check "the API reference is installed in <datadir>/doc/disco-1.0" \
        "[ -f '$reference/index.html' ] && [ -f '$reference/class.Pipeline.html' ] && [ -f '$reference/node-in-c.html' ] && [ -f '$reference/disco-1.0.devhelp2' ]"
else
  echo "# gi-docgen not found at configure time (-Ddocs): the API reference is not checked"
fi

export LD_LIBRARY_PATH=$root/$libdir
export DISCO_PLUGIN_PATH=$root/$libdir/disco-1.0
export DISCO_PIPELINE_PATH=$share/pipelines
export DISCO_DATA_PATH=$src
run=$root/$bindir/disco-run
mkdir "$work/elsewhere"
cd "$work/elsewhere" || exit 1

"$run" --list-pipelines >"$work/list" 2>"$work/err"
check "--list-pipelines exits 0" "[ $? -eq 0 ]"
check "--list-pipelines names the folder and each pipeline with its first comment line" \
      "grep -qxF '# $share/pipelines' '$work/list' && grep -qE '^quick +The quick default: MNIST learned' '$work/list' && grep -qE '^mnist-1x256-linear-threshold +Table 1 of Rossbroich' '$work/list'"
check "--list-pipelines lists .pipeline files only" "! grep -q 'sweep' '$work/list'"

if [ -f "$src/data/datasets/mnist/train-images-idx3-ubyte" ]; then
  "$run" -o "$work/run" quick data.limit=100 data.epochs=1 >"$work/stdout" 2>"$work/stderr"
  status=$?
  check "the installed disco-run runs 'quick' by name" "[ $status -eq 0 ]" || cat "$work/stderr"
  check "'quick' is the installed quick.pipeline" "grep -qF 'disco-run: $share/pipelines/quick.pipeline on cpu' '$work/stderr'"
  check "the run wrote its report" "grep -q '\"test\"' '$work/run/results.json'"
  # Without a data folder that has the datasets, the error names the
  # installed path (beside the installed pipeline) and no run starts.
  DISCO_DATA_PATH= XDG_DATA_HOME=$work/empty "$run" -o "$work/run2" quick data.limit=100 \
    >/dev/null 2>"$work/err"
  check "without datasets: exit 1 naming the installed data path" \
        "[ $? -eq 1 ] && grep -qF '$share/pipelines/../data/datasets/mnist' '$work/err' && [ ! -e '$work/run2' ]"
else
  echo "# MNIST not in $src/data/datasets (data/install-datasets.sh): the run is not checked"
fi
"$run" no-such-pipeline 2>"$work/err"
check "an unknown name exits 1 naming where it looked" \
      "[ $? -eq 1 ] && grep -qF 'no-such-pipeline: no such pipeline file' '$work/err' && grep -qF '$share/pipelines' '$work/err'"

tap_done
