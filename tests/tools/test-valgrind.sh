#!/usr/bin/env bash
# Short training runs under valgrind's memcheck: no invalid access, no use of
# uninitialised values, no leak (definitely or indirectly lost) in Disco's
# code, also on the paths that stop a run. Third-party findings are
# suppressed in tests/valgrind.supp. Skipped (status 77) without valgrind or
# in a sanitizer build.
#   usage: test-valgrind.sh BUILD_DIR SOURCE_DIR SANITIZE
set -uo pipefail
build=$1
src=$2
sanitize=${3:-none}
if ! command -v valgrind >/dev/null; then
  echo "1..0 # SKIP valgrind is not installed (apt-get install valgrind)"
  exit 77
fi
if [ "$sanitize" != none ]; then
  echo "1..0 # SKIP a sanitizer build (b_sanitize=$sanitize) does not run under valgrind"
  exit 77
fi
. "$src/tests/common/tap.sh"
. "$src/tests/common/images-pipeline.sh"
run=$build/tools/disco-run
digits=$src/pipelines/digits-1x64-linear-threshold.pipeline
export G_SLICE=always-malloc G_DEBUG=gc-friendly DISCO_CUDA=0

# memcheck NAME EXPECTED_STATUS disco-run arguments...: status 99 means
# valgrind found something.
memcheck() {
  local name=$1 expected=$2
  shift 2
  valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    --suppressions="$src/tests/valgrind.supp" --num-callers=40 \
    "$run" -q "$@" >"$work/$name.log" 2>&1
  local status=$?
  if [ $status -eq "$expected" ]; then
    ok "$name: clean under valgrind (exit status $status)"
  else
    fail "$name: exit status $status, expected $expected: $(grep -v '^$' "$work/$name.log" | head -60)"
  fi
}

# Two training minibatches per phase with the ODE solver (open loop,
# feedback weights, closed loop, rule, Adam, report, checkpoint).
memcheck "training, tsit5" 0 -o "$work/ode" "$digits" data.limit=100 data.epochs=1

# The same with fixed points, the recorded trajectory and the drawing nodes.
images_pipeline "$src" "$digits" 2 >"$work/images.pipeline"
printf '[curves]\nnode = learning-curves\n' >>"$work/images.pipeline"
memcheck "training, equilibrium, images" 0 -o "$work/images" "$work/images.pipeline" \
  settle.method=equilibrium data.limit=100 data.epochs=1

# A run stopped by a non-finite value (exit status 1) frees what it held.
memcheck "a diverging run" 1 -o "$work/div" "$digits" adam.learning-rate=10 \
  settle.method=equilibrium data.limit=100 data.epochs=2

tap_done
